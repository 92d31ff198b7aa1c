//! The route table: which [`Handler`] serves a WebSocket path.

use std::sync::Arc;

use crate::Handler;
use crate::upgrade::Protocols;

/// The routes, in the order they were added, and the fallback for every other path; each
/// with the subprotocols it speaks.
#[derive(Default)]
pub(crate) struct Routes {
    table: Vec<(Route, Arc<dyn Handler>, Protocols)>,
    fallback: Option<(Arc<dyn Handler>, Protocols)>,
}

#[derive(Debug, Clone)]
enum Route {
    Exact(String),
    Prefix(String),
}

impl Routes {
    /// Serves exactly `path`.
    pub(crate) fn exact(&mut self, path: &str, handler: Arc<dyn Handler>, protocols: Protocols) {
        self.table
            .push((Route::Exact(path.to_owned()), handler, protocols));
    }

    /// Serves every path that starts with `prefix`.
    pub(crate) fn prefix(&mut self, prefix: &str, handler: Arc<dyn Handler>, protocols: Protocols) {
        self.table
            .push((Route::Prefix(prefix.to_owned()), handler, protocols));
    }

    /// Serves every other path.
    pub(crate) fn fallback(&mut self, handler: Arc<dyn Handler>, protocols: Protocols) {
        self.fallback = Some((handler, protocols));
    }

    /// How many routes there are (the fallback not counted).
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// The route serving `path` (the first that matches, else the fallback): an index for
    /// [`Routes::handler`]. `None`: no route, the upgrade gets 404.
    pub(crate) fn route_for(&self, path: &str) -> Option<u16> {
        let i = self
            .table
            .iter()
            .position(|(route, ..)| match route {
                Route::Exact(p) => p == path,
                Route::Prefix(p) => path.starts_with(p.as_str()),
            })
            .or_else(|| self.fallback.as_ref().map(|_| self.table.len()))?;
        u16::try_from(i).ok()
    }

    /// The handler of a route that [`Routes::route_for`] gave.
    pub(crate) fn handler(&self, route: u16) -> &dyn Handler {
        self.get(route).0.as_ref()
    }

    /// The subprotocols of a route that [`Routes::route_for`] gave.
    pub(crate) fn protocols(&self, route: u16) -> &Protocols {
        self.get(route).1
    }

    fn get(&self, route: u16) -> (&Arc<dyn Handler>, &Protocols) {
        match self.table.get(usize::from(route)) {
            Some((_, h, p)) => (h, p),
            None => {
                self.fallback.as_ref().map(|(h, p)| (h, p)).expect(
                    "INVARIANT: route_for gives the fallback's index only when there is one",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Routes;
    use crate::NoopHandler;
    use crate::upgrade::Protocols;
    use std::sync::Arc;

    #[test]
    fn first_match_then_fallback() {
        let mut r = Routes::default();
        r.exact("/echo", Arc::new(NoopHandler), Protocols::default());
        r.prefix("/rooms/", Arc::new(NoopHandler), Protocols::new(["a"]));
        assert_eq!(r.route_for("/echo"), Some(0));
        assert_eq!(r.route_for("/rooms/a"), Some(1));
        assert_eq!(r.route_for("/echo/x"), None);
        r.fallback(Arc::new(NoopHandler), Protocols::new(["b"]).required());
        assert_eq!(r.route_for("/echo/x"), Some(2));
        let _ = r.handler(2);
        assert!(r.protocols(2).is_required());
        assert_eq!(r.protocols(1).supported().collect::<Vec<_>>(), ["a"]);
    }
}

//! The server's side of each connection on its shard: registering it, running its route's
//! handler, and unregistering it. This is the whole of what a shard knows of the server
//! (the [`Host`] it is handed when it starts).

use std::sync::Arc;

use oyez_frame::CloseCode;

use crate::registry::ConnEntry;
use crate::request::RequestInfo;
use crate::routes::Routes;
use crate::shard::{Adoption, Host};
use crate::{Conn, Message, Server};

/// A shard's [`Host`]: the server and its routes.
#[derive(Clone)]
pub(crate) struct Dispatch {
    pub(crate) server: Server,
    pub(crate) routes: Arc<Routes>,
}

impl Host for Dispatch {
    type Conn = Conn;

    fn open(&self, shard: u16, slot: u32, adoption: &mut Adoption) -> Conn {
        let entry = self.server.register(shard, slot, adoption);
        Conn {
            entry,
            request: None,
            server: self.server.clone(),
        }
    }

    fn entry(conn: &Conn) -> &ConnEntry {
        &conn.entry
    }

    fn on_open(&self, conn: &Conn, route: u16, request: Arc<RequestInfo>) {
        let open = Conn {
            request: Some(request),
            ..conn.clone()
        };
        self.routes.handler(route).on_open(&open);
    }

    fn on_message(&self, conn: &Conn, route: u16, msg: Message) {
        self.routes.handler(route).on_message(conn, msg);
    }

    fn on_close(&self, conn: &Conn, route: u16, code: CloseCode, reason: &str) {
        self.routes.handler(route).on_close(conn, code, reason);
    }

    fn closed(&self, conn: Conn) {
        self.server.unregister(&conn.entry);
    }

    fn refused(&self, peer: std::net::SocketAddr) {
        self.server.refused(peer);
    }
}

#[cfg(test)]
mod tests {
    /// An idle connection is its slab entry plus its registry entry (an `Arc<ConnEntry>`)
    /// and a few index slots: the idle-memory bar (at most 512 bytes per idle connection,
    /// measured by `ws-load idle`) rests on these sizes. Growing either is a decision to make
    /// knowingly, with a new measurement.
    #[test]
    fn an_idle_connection_stays_small() {
        use std::mem::size_of;
        assert!(
            size_of::<oyez_frame::Session>() <= 184,
            "{}",
            size_of::<oyez_frame::Session>()
        );
        let connection = crate::shard::connection_size::<crate::Conn>();
        assert!(connection <= 232, "{connection}");
        assert!(
            size_of::<crate::registry::ConnEntry>() <= 80,
            "{}",
            size_of::<crate::registry::ConnEntry>()
        );
    }
}

//! A connection's life as the server counts it: handed to a shard, registered there,
//! unregistered when it ends.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Server;
use crate::Stats;
use crate::registry::ConnEntry;
use crate::shard::{Adoption, Cmd};

impl Server {
    /// Hands an upgraded connection to the next shard (round robin).
    pub(crate) fn adopt(&self, adoption: Adoption) {
        let inner = &self.inner;
        inner.live.send_modify(|n| *n += 1);
        Stats::add(&inner.stats.connections_opened, 1);
        let n = inner.next_shard.fetch_add(1, Ordering::Relaxed) % inner.shards.len();
        inner.shards[n].post(Cmd::Adopt(Box::new(adoption)));
    }

    /// Whether another connection would go over [`crate::ServerConfig::max_connections`].
    pub(crate) fn at_capacity(&self) -> bool {
        self.inner
            .config
            .max_connections
            .is_some_and(|max| *self.inner.live.borrow() >= max)
    }

    /// Registers a connection a shard adopted into `slot`: its id, and its entry in every
    /// index.
    pub(crate) fn register(&self, shard: u16, slot: u32, a: &mut Adoption) -> Arc<ConnEntry> {
        let registry = &self.inner.registry;
        let entry = Arc::new(ConnEntry::new(
            registry.new_id(shard, slot),
            registry.intern_path(&a.path),
            a.query.take(),
            a.peer,
            a.deflate.is_some(),
        ));
        registry.insert(entry.clone());
        if let Some(identity) = a.identity.take() {
            // Before `on_open` and before the 101: the connection is who it is from the start.
            let info = registry.identify(&entry, *identity);
            self.inner.clusters.join(&info);
        }
        entry
    }

    /// A connection ended: out of every index, its session out of the mega roster, its
    /// place in its address's count given back.
    pub(crate) fn unregister(&self, entry: &ConnEntry) {
        if let Some(session) = self.inner.registry.remove(entry.id) {
            self.inner.clusters.leave(&session.session_id);
        }
        self.inner.door.leave(entry.peer().ip());
        self.conn_ended();
    }

    /// A connection handed to a shard from `peer` could not be taken.
    pub(crate) fn refused(&self, peer: std::net::SocketAddr) {
        self.inner.door.leave(peer.ip());
        self.conn_ended();
    }

    /// A connection handed to a shard is over (or was never taken).
    fn conn_ended(&self) {
        self.inner.live.send_modify(|n| *n = n.saturating_sub(1));
        Stats::add(&self.inner.stats.connections_closed, 1);
    }

    /// Tells every shard to close its connections with 1001 and stop, and waits until every
    /// connection has ended.
    pub(crate) async fn stop_shards(&self) {
        for shard in &self.inner.shards {
            shard.post(Cmd::Shutdown);
        }
        let _ = self.inner.live.subscribe().wait_for(|n| *n == 0).await;
    }
}

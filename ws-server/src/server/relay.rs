//! What the other instances send: delivered here, never published again.

use std::sync::Arc;

use tracing::debug;

use super::Server;
use crate::cluster::{Incoming, Relayed, from_mega, from_tina4};
use crate::stats::Origin;

/// Delivers what other instances send, until their streams end or the server is gone.
pub(crate) fn spawn_relays(server: &Server, incoming: Incoming) {
    if let Some(mut rx) = incoming.tina4 {
        let weak = Arc::downgrade(&server.inner);
        tokio::spawn(async move {
            while let Some(env) = rx.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                let kind = env.kind.as_str();
                let n = from_tina4(env).map_or(0, |r| Server { inner }.relay(&r, Origin::Tina4));
                debug!(delivered = n, kind, "relayed a tina4 envelope");
            }
        });
    }
    if let Some(mut rx) = incoming.mega {
        let weak = Arc::downgrade(&server.inner);
        tokio::spawn(async move {
            while let Some(item) = rx.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                if inner.clusters.is_bridged_copy(&item) {
                    inner.stats.bridged_skipped();
                    continue;
                }
                if let Some(r) = from_mega(item) {
                    Server { inner }.relay(&r, Origin::Mega);
                }
            }
        });
    }
}

impl Server {
    /// Local delivery of what another instance sent, from cluster `from`.
    fn relay(&self, r: &Relayed, from: Origin) -> usize {
        self.inner.stats.relayed(from);
        self.deliver(&r.msg, r.audience(), from)
    }
}

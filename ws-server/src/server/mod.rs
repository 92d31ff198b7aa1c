//! The server handle: what a running server is made of, and its public API
//! ([`Server`], in `api`), fan-out to the shards (`deliver`), what other instances send
//! (`relay`), a connection's life as the server counts it (`lifecycle`), and the memory a
//! burst of connections freed given back (`trim`).

mod api;
mod deliver;
mod lifecycle;
mod relay;
mod reload;
mod trim;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use tokio::sync::watch;

use crate::cluster::Clusters;
use crate::door::Door;
use crate::registry::Registry;
use crate::shard::ShardHandle;
use crate::tls::TlsStore;
use crate::{ServerConfig, Stats};

pub(crate) use relay::spawn_relays;
pub(crate) use trim::spawn_trimmer;

/// A running server. Cheap to clone (an `Arc`); every clone is the same server.
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<Shared>,
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.inner.local_addr)
            .field("connections", &self.inner.registry.len())
            .finish_non_exhaustive()
    }
}

/// What a running server is made of.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) registry: Registry,
    pub(crate) stats: Arc<Stats>,
    /// Set to stop accepting and close every connection.
    pub(crate) shutdown: watch::Sender<bool>,
    /// Set once the server has shut down and every connection has ended.
    pub(crate) done: watch::Receiver<bool>,
    pub(crate) local_addr: SocketAddr,
    pub(crate) clusters: Clusters,
    pub(crate) shards: Vec<Arc<ShardHandle>>,
    /// The shard the next connection goes to (round robin).
    pub(crate) next_shard: AtomicUsize,
    /// Connections upgraded and not yet ended (including those on their way to a shard).
    pub(crate) live: watch::Sender<usize>,
    /// The per-address limits.
    pub(crate) door: Door,
    /// The certificate new `wss://` handshakes use, when serving TLS.
    pub(crate) tls: Option<Arc<TlsStore>>,
}

/// The parts a [`Server`] is built from (by the builder).
pub(crate) struct Parts {
    pub(crate) config: ServerConfig,
    pub(crate) stats: Arc<Stats>,
    pub(crate) local_addr: SocketAddr,
    pub(crate) clusters: Clusters,
    pub(crate) shards: Vec<Arc<ShardHandle>>,
    pub(crate) done: watch::Receiver<bool>,
    pub(crate) tls: Option<Arc<TlsStore>>,
}

impl Server {
    pub(crate) fn new(parts: Parts) -> Self {
        let Parts {
            config,
            stats,
            local_addr,
            clusters,
            shards,
            done,
            tls,
        } = parts;
        let door = Door::new(
            config.max_connections_per_ip,
            config.max_upgrades_per_sec,
            config.limit_loopback,
        );
        Self {
            inner: Arc::new(Shared {
                door,
                config,
                registry: Registry::new(shards.len()),
                stats,
                shutdown: watch::channel(false).0,
                done,
                local_addr,
                clusters,
                shards,
                next_shard: AtomicUsize::new(0),
                live: watch::channel(0).0,
                tls,
            }),
        }
    }
}

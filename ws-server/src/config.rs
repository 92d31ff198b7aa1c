//! Server settings.

use std::net::SocketAddr;
use std::time::Duration;

use oyez_frame::Limits;

/// How the server behaves. The defaults are the `ws-server` binary's (whose environment
/// variables set these: `ws-server --help`).
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen (default `127.0.0.1:8080`).
    pub bind: SocketAddr,
    /// Frame, message and handshake limits.
    pub limits: Limits,
    /// Bound on each connection's outbound backlog in bytes (default 1 MiB; 0 = unbounded).
    /// A message for a client whose backlog is already at the bound drops that client with
    /// close code 1008 "slow client"; so the backlog exceeds the bound by at most one message.
    pub max_backlog: usize,
    /// Exact origins allowed to connect; `None` allows all. When set, a request without an
    /// `Origin` header is rejected too (403).
    pub allowed_origins: Option<Vec<String>>,
    /// Close connections silent for this long with 1001 "idle timeout" (default off).
    pub idle_timeout: Option<Duration>,
    /// Send a ping after this long without traffic (default off).
    pub keepalive: Option<Duration>,
    /// How long a client may take to complete the upgrade (default 10 s).
    pub handshake_timeout: Duration,
    /// The most connections at once (default: no limit); more get 503.
    pub max_connections: Option<usize>,
    /// Event-loop threads that own the upgraded connections (default 0: one per available
    /// core). Each runs its connections' callbacks.
    pub shards: usize,
    /// Serve `wss://` with this certificate and key (default: plain `ws://`). Every
    /// connection on the port is then TLS; [`crate::Server::reload_tls`] reads the files
    /// again.
    pub tls: Option<crate::TlsConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            limits: Limits::default(),
            max_backlog: 1 << 20,
            allowed_origins: None,
            idle_timeout: None,
            keepalive: None,
            handshake_timeout: Duration::from_secs(10),
            max_connections: None,
            shards: 0,
            tls: None,
        }
    }
}

//! Server settings.

use std::net::SocketAddr;
use std::time::Duration;

use oyez_frame::Limits;
use oyez_frame::deflate::DeflateConfig;

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
    /// The most connections open at once from one client address (default: no limit);
    /// more get 429 "too many connections from your address", until some close.
    pub max_connections_per_ip: Option<usize>,
    /// The most upgrades one client address may start in any one second (default: no
    /// limit); more get 429 with `Retry-After: 1`.
    pub max_upgrades_per_sec: Option<u32>,
    /// Whether the two per-address limits apply to loopback peers too (default false: a
    /// proxy on the same host makes every client 127.0.0.1).
    pub limit_loopback: bool,
    /// Event-loop threads that own the upgraded connections (default 0: one per available
    /// core). Each runs its connections' callbacks.
    pub shards: usize,
    /// permessage-deflate (RFC 7692) for clients that offer it (on by default; `None`: off,
    /// every offer declined). Its level, smallest message compressed and whether clients may
    /// keep their compression context are [`DeflateConfig`]'s; a broadcast is compressed once
    /// for every recipient that agreed it. What it costs: [`oyez_frame::deflate`].
    pub deflate: Option<DeflateConfig>,
    /// Serve `wss://` with this certificate and key (default: plain `ws://`). Every
    /// connection on the port is then TLS; [`crate::Server::reload_tls`] reads the files
    /// again.
    pub tls: Option<crate::TlsConfig>,
    /// Once the number of connections has been steady for a quarter of a second after a
    /// burst of connections opened or ended (256 or more), give the memory the burst freed
    /// back to the system (glibc's `malloc_trim`; Linux with glibc only). Default true: an
    /// idle server after a burst of 10,000 handshakes holds about 570 KiB less. Its cost is
    /// one walk of the allocator's free memory per burst, on a blocking thread.
    pub trim_heap: bool,
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
            max_connections_per_ip: None,
            max_upgrades_per_sec: None,
            limit_loopback: false,
            shards: 0,
            deflate: Some(DeflateConfig::default()),
            tls: None,
            trim_heap: true,
        }
    }
}

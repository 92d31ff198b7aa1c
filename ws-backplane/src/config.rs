//! Choosing a backplane: its kind and URL.

use std::sync::Arc;

use crate::Error;
use crate::transport::Transport;
use crate::transport::memory::MemoryHub;

/// Which transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackplaneKind {
    /// The in-process hub.
    Memory,
    /// Redis pub/sub.
    Redis,
    /// Core NATS.
    Nats,
}

impl BackplaneKind {
    /// The URL used when none is given: `redis://localhost:6379`, `nats://localhost:4222`.
    pub const fn default_url(self) -> &'static str {
        match self {
            Self::Memory => "memory://",
            Self::Redis => "redis://localhost:6379",
            Self::Nats => "nats://localhost:4222",
        }
    }
}

/// A chosen backplane: kind and URL. (The `ws-server` binary reads it from
/// `TINA4_WS_BACKPLANE` and `TINA4_WS_BACKPLANE_URL`.)
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), oyez_backplane::Error> {
/// use oyez_backplane::{BackplaneConfig, BackplaneKind, transport::memory::MemoryHub};
///
/// let config = BackplaneConfig::new(BackplaneKind::Nats, None);
/// assert_eq!(config.url, "nats://localhost:4222");
/// let memory = BackplaneConfig::new(BackplaneKind::Memory, None);
/// let transport = memory.connect(&MemoryHub::new()).await?;
/// assert_eq!(transport.kind(), "memory");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackplaneConfig {
    /// The transport.
    pub kind: BackplaneKind,
    /// Its URL.
    pub url: String,
}

impl BackplaneConfig {
    /// A typed configuration (the library users' builder).
    pub fn new(kind: BackplaneKind, url: Option<&str>) -> Self {
        Self {
            kind,
            url: url.map_or_else(|| kind.default_url().to_owned(), str::to_owned),
        }
    }

    /// Opens the transport. `hub` serves [`BackplaneKind::Memory`]. Returns at once even if
    /// the broker is down (the transport connects in the background).
    ///
    /// # Errors
    /// A URL the client rejects, or a transport compiled out (feature off).
    pub async fn connect(&self, hub: &MemoryHub) -> Result<Arc<dyn Transport>, Error> {
        match self.kind {
            BackplaneKind::Memory => Ok(Arc::new(hub.transport())),
            #[cfg(feature = "redis")]
            BackplaneKind::Redis => Ok(Arc::new(crate::transport::redis::RedisTransport::connect(
                &self.url,
            )?)),
            #[cfg(feature = "nats")]
            BackplaneKind::Nats => Ok(Arc::new(
                crate::transport::nats::NatsTransport::connect(&self.url).await?,
            )),
            #[allow(unreachable_patterns)]
            _ => Err(Error::Config {
                name: "kind",
                value: format!("{:?}", self.kind),
                reason: "compiled without this transport",
            }),
        }
    }
}

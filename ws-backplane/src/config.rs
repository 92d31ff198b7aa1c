//! Choosing a backplane: from the environment as the reference reads it, or typed.

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

/// A chosen backplane: kind and URL.
///
/// ```
/// use oyez_backplane::{BackplaneConfig, BackplaneKind};
/// let env = |name: &str| match name {
///     "TINA4_WS_BACKPLANE" => Some(" NATS ".to_owned()),
///     _ => None,
/// };
/// let config = BackplaneConfig::from_env(env)?.expect("a backplane");
/// assert_eq!((config.kind, config.url.as_str()), (BackplaneKind::Nats, "nats://localhost:4222"));
/// assert!(BackplaneConfig::from_env(|_| None)?.is_none()); // unset: local only
/// # Ok::<(), oyez_backplane::Error>(())
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

    /// Reads `TINA4_WS_BACKPLANE` (trimmed, lower-cased: `redis`, `nats`, `memory`; unset or
    /// empty: `None`, local only) and `TINA4_WS_BACKPLANE_URL` through `get`.
    ///
    /// # Errors
    /// [`Error::Config`] naming an unknown value: a startup error, where the reference would
    /// quietly go local-only.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, Error> {
        let Some(raw) = get("TINA4_WS_BACKPLANE") else {
            return Ok(None);
        };
        let kind = match raw.trim().to_ascii_lowercase().as_str() {
            "" => return Ok(None),
            "redis" => BackplaneKind::Redis,
            "nats" => BackplaneKind::Nats,
            "memory" => BackplaneKind::Memory,
            _ => {
                return Err(Error::Config {
                    name: "TINA4_WS_BACKPLANE",
                    value: raw,
                    reason: "expected redis, nats or memory (or unset for none)",
                });
            }
        };
        let url = get("TINA4_WS_BACKPLANE_URL")
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty());
        Ok(Some(Self::new(kind, url.as_deref())))
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
                name: "TINA4_WS_BACKPLANE",
                value: format!("{:?}", self.kind),
                reason: "compiled without this transport",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values() {
        let env = |v: &'static str, url: Option<&'static str>| {
            move |name: &str| match name {
                "TINA4_WS_BACKPLANE" => Some(v.to_owned()),
                "TINA4_WS_BACKPLANE_URL" => url.map(str::to_owned),
                _ => None,
            }
        };
        assert_eq!(BackplaneConfig::from_env(env("", None)).unwrap(), None);
        assert_eq!(BackplaneConfig::from_env(env("  ", None)).unwrap(), None);
        let c = BackplaneConfig::from_env(env("Redis", Some("redis://10.0.0.1:7000")))
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.kind, c.url.as_str()),
            (BackplaneKind::Redis, "redis://10.0.0.1:7000")
        );
        assert_eq!(
            BackplaneConfig::from_env(env("memory", None))
                .unwrap()
                .unwrap()
                .kind,
            BackplaneKind::Memory
        );
        let e = BackplaneConfig::from_env(env("kafka", None)).unwrap_err();
        assert!(
            e.to_string().contains("kafka") && e.to_string().contains("TINA4_WS_BACKPLANE"),
            "{e}"
        );
    }
}

//! The binary's settings, read from environment variables.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::{Error, ServerConfig};

/// One documented setting: its environment variable, default and meaning.
#[derive(Debug, Clone, Copy)]
pub struct SettingDoc {
    /// The environment variable.
    pub env: &'static str,
    /// The default, as text.
    pub default: &'static str,
    /// What it does.
    pub help: &'static str,
}

/// Every setting the binary reads, for `--help` and the README.
pub const SETTINGS: &[SettingDoc] = &[
    SettingDoc {
        env: "TINA4_WS_PORT",
        default: "8080",
        help: "TCP port to listen on",
    },
    SettingDoc {
        env: "TINA4_WS_HOST",
        default: "127.0.0.1",
        help: "address to bind (0.0.0.0 for all interfaces)",
    },
    SettingDoc {
        env: "TINA4_WS_ALLOWED_ORIGINS",
        default: "(unset: any origin)",
        help: "comma-separated exact origins; when set, other or missing Origin headers get 403",
    },
    SettingDoc {
        env: "TINA4_WS_IDLE_TIMEOUT",
        default: "0 (off)",
        help: "close connections silent this many seconds with 1001 \"idle timeout\"",
    },
    SettingDoc {
        env: "TINA4_WS_KEEPALIVE",
        default: "0 (off)",
        help: "send a ping after this many seconds without traffic",
    },
    SettingDoc {
        env: "TINA4_WS_MAX_BACKLOG",
        default: "1048576",
        help: "bytes queued per client before it is dropped with 1008 \"slow client\" (0 = unbounded)",
    },
    SettingDoc {
        env: "TINA4_WS_MAX_CONNECTIONS",
        default: "0 (no limit)",
        help: "most connections at once; more get 503",
    },
    SettingDoc {
        env: "TINA4_WS_SHARDS",
        default: "0 (one per core)",
        help: "event-loop threads that own the upgraded connections and run their handlers",
    },
    SettingDoc {
        env: "WS_API_TOKEN",
        default: "(unset: /api/* disabled)",
        help: "bearer token that enables the /api/roster, /api/broadcast and /api/direct endpoints",
    },
    SettingDoc {
        env: "RUST_LOG",
        default: "info",
        help: "log filter (tracing-subscriber EnvFilter syntax); logs go to stderr",
    },
    SettingDoc {
        env: "TINA4_WS_BACKPLANE",
        default: "(unset: local only)",
        help: "Tina4 cluster backplane: redis, nats or memory (broadcasts on the tina4:ws channel)",
    },
    SettingDoc {
        env: "TINA4_WS_BACKPLANE_URL",
        default: "redis://localhost:6379 | nats://localhost:4222",
        help: "the Tina4 backplane's URL",
    },
    SettingDoc {
        env: "MEGA_WS_CLUSTER_URL",
        default: "(unset: no mega cluster)",
        help: "mega cluster broker: nats://… or redis://… (or memory)",
    },
    SettingDoc {
        env: "MEGA_WS_APP",
        default: "ws",
        help: "mega app name (subjects <prefix>.<app>.bcast|direct|roster)",
    },
    SettingDoc {
        env: "MEGA_WS_PREFIX",
        default: "mega.ws",
        help: "mega subject prefix",
    },
    SettingDoc {
        env: "MEGA_WS_ROSTER",
        default: "none",
        help: "presence roster driver: nats (shared over the cluster broker) or none",
    },
    SettingDoc {
        env: "MEGA_WS_ROSTER_TTL_MS",
        default: "30000",
        help: "remote roster members expire this long after their last heartbeat",
    },
];

/// Reads a [`ServerConfig`] from variables looked up with `get` (the process environment in
/// the binary; a map in tests).
///
/// # Errors
/// [`Error::Setting`] naming the variable whose value cannot be used.
pub fn config_from_env(get: impl Fn(&str) -> Option<String>) -> Result<ServerConfig, Error> {
    let get = |name: &str| {
        get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut config = ServerConfig::default();
    let port: u16 = parse(&get, "TINA4_WS_PORT")?.unwrap_or(8080);
    let host: IpAddr =
        parse(&get, "TINA4_WS_HOST")?.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    config.bind = SocketAddr::new(host, port);
    config.allowed_origins = get("TINA4_WS_ALLOWED_ORIGINS").map(|v| {
        v.split(',')
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect()
    });
    config.idle_timeout = parse::<u64>(&get, "TINA4_WS_IDLE_TIMEOUT")?
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    config.keepalive = parse::<u64>(&get, "TINA4_WS_KEEPALIVE")?
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    if let Some(max) = parse(&get, "TINA4_WS_MAX_BACKLOG")? {
        config.max_backlog = max;
    }
    config.max_connections = parse::<usize>(&get, "TINA4_WS_MAX_CONNECTIONS")?.filter(|n| *n > 0);
    config.shards = parse(&get, "TINA4_WS_SHARDS")?.unwrap_or(0);
    config.api_token = get("WS_API_TOKEN");
    Ok(config)
}

/// The clusters the binary joins, from the environment.
#[derive(Debug, Default)]
pub struct ClusterSettings {
    /// The Tina4 backplane (`TINA4_WS_BACKPLANE`, `TINA4_WS_BACKPLANE_URL`).
    pub tina4: Option<oyez_backplane::BackplaneConfig>,
    /// The mega cluster's broker and settings (`MEGA_WS_*`).
    pub mega: Option<(oyez_backplane::BackplaneConfig, oyez_backplane::MegaConfig)>,
}

/// Reads the cluster settings with `get`.
///
/// # Errors
/// [`Error::Setting`] naming a variable whose value cannot be used (an unknown backplane, a
/// URL scheme that is not `nats`, `redis` or `memory`, a bad roster driver or TTL).
pub fn clusters_from_env(get: impl Fn(&str) -> Option<String>) -> Result<ClusterSettings, Error> {
    use oyez_backplane::{BackplaneConfig, BackplaneKind, MegaConfig, RosterDriver};
    let get = |name: &str| {
        get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let tina4 = BackplaneConfig::from_env(get).map_err(|e| Error::Setting {
        name: "TINA4_WS_BACKPLANE",
        reason: e.to_string(),
    })?;
    let mega = match get("MEGA_WS_CLUSTER_URL") {
        None => None,
        Some(url) => {
            let kind = match url.split("://").next().unwrap_or_default() {
                "nats" => BackplaneKind::Nats,
                "redis" => BackplaneKind::Redis,
                "memory" => BackplaneKind::Memory,
                _ => {
                    return Err(Error::Setting {
                        name: "MEGA_WS_CLUSTER_URL",
                        reason: format!("{url:?}: expected nats://, redis:// or memory"),
                    });
                }
            };
            let mut config =
                MegaConfig::new(&get("MEGA_WS_APP").unwrap_or_else(|| "ws".to_owned()));
            config.prefix = get("MEGA_WS_PREFIX");
            config.roster = match get("MEGA_WS_ROSTER").as_deref() {
                None | Some("none") => RosterDriver::None,
                Some("nats") => RosterDriver::Nats,
                Some(other) => {
                    return Err(Error::Setting {
                        name: "MEGA_WS_ROSTER",
                        reason: format!("{other:?}: expected nats or none"),
                    });
                }
            };
            if let Some(ttl) = parse::<u64>(&get, "MEGA_WS_ROSTER_TTL_MS")?.filter(|t| *t > 0) {
                config.ttl = Duration::from_millis(ttl);
            }
            Some((BackplaneConfig::new(kind, Some(&url)), config))
        }
    };
    Ok(ClusterSettings { tina4, mega })
}

fn parse<T: core::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<T>, Error>
where
    T::Err: core::fmt::Display,
{
    get(name)
        .map(|v| {
            v.parse::<T>().map_err(|e| Error::Setting {
                name,
                reason: format!("{v:?}: {e}"),
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn defaults() {
        let c = config_from_env(env(&[])).unwrap();
        assert_eq!(c.bind, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(
            (
                c.max_backlog,
                c.idle_timeout,
                c.allowed_origins,
                c.api_token
            ),
            (1 << 20, None, None, None)
        );
    }

    #[test]
    fn clusters() {
        let none = clusters_from_env(env(&[])).unwrap();
        assert!(none.tina4.is_none() && none.mega.is_none());
        let both = clusters_from_env(env(&[
            ("TINA4_WS_BACKPLANE", "redis"),
            ("MEGA_WS_CLUSTER_URL", "nats://127.0.0.1:4222"),
            ("MEGA_WS_APP", "chat"),
            ("MEGA_WS_ROSTER", "nats"),
            ("MEGA_WS_ROSTER_TTL_MS", "5000"),
        ]))
        .unwrap();
        assert_eq!(both.tina4.unwrap().url, "redis://localhost:6379");
        let (bp, mega) = both.mega.unwrap();
        assert_eq!(
            (bp.kind, mega.app.as_str(), mega.roster, mega.ttl),
            (
                oyez_backplane::BackplaneKind::Nats,
                "chat",
                oyez_backplane::RosterDriver::Nats,
                Duration::from_secs(5)
            )
        );
        for (name, value) in [
            ("TINA4_WS_BACKPLANE", "kafka"),
            ("MEGA_WS_CLUSTER_URL", "amqp://x"),
            ("MEGA_WS_ROSTER", "etcd"),
        ] {
            let mut pairs = vec![(name, value)];
            if name == "MEGA_WS_ROSTER" {
                pairs.push(("MEGA_WS_CLUSTER_URL", "nats://x"));
            }
            let e = clusters_from_env(env(&pairs)).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn values_and_errors() {
        let c = config_from_env(env(&[
            ("TINA4_WS_PORT", "9000"),
            ("TINA4_WS_ALLOWED_ORIGINS", "http://a, http://b,"),
            ("TINA4_WS_IDLE_TIMEOUT", "30"),
            ("TINA4_WS_MAX_BACKLOG", "0"),
            ("TINA4_WS_SHARDS", "3"),
        ]))
        .unwrap();
        assert_eq!(c.shards, 3);
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(
            c.allowed_origins,
            Some(vec!["http://a".to_owned(), "http://b".to_owned()])
        );
        assert_eq!(
            (c.idle_timeout, c.max_backlog),
            (Some(Duration::from_secs(30)), 0)
        );
        let e = config_from_env(env(&[("TINA4_WS_PORT", "eighty")])).unwrap_err();
        assert!(e.to_string().contains("TINA4_WS_PORT"), "{e}");
    }
}

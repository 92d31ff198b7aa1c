//! The binary's settings: every environment variable it reads, read here and nowhere else.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use oyez_backplane::{BackplaneConfig, BackplaneKind, MegaConfig, RosterDriver};
use oyez_server::ServerConfig;

/// A setting whose value cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}: {reason}")]
pub(crate) struct SettingError {
    /// The setting's environment variable.
    pub(crate) name: &'static str,
    /// What is wrong.
    pub(crate) reason: String,
}

/// Everything the binary is configured with.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The server's settings.
    pub(crate) server: ServerConfig,
    /// `WS_API_TOKEN`: enables `/api/*`.
    pub(crate) api_token: Option<String>,
    /// The clusters to join.
    pub(crate) clusters: ClusterSettings,
    /// `RUST_LOG`: the log filter (`info` by default).
    pub(crate) log_filter: String,
}

impl Settings {
    /// Reads every setting with `get` (the process environment in the binary; a map in
    /// tests). A value that is empty or only spaces counts as unset.
    pub(crate) fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Ok(Self {
            server: server_from_env(&get)?,
            api_token: get("WS_API_TOKEN"),
            clusters: clusters_from_env(&get)?,
            log_filter: get("RUST_LOG").unwrap_or_else(|| "info".to_owned()),
        })
    }
}

/// One documented setting: its environment variable, default and meaning.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SettingDoc {
    /// The environment variable.
    pub(crate) env: &'static str,
    /// The default, as text.
    pub(crate) default: &'static str,
    /// What it does.
    pub(crate) help: &'static str,
}

/// Every setting the binary reads, for `--help` and the README.
pub(crate) const SETTINGS: &[SettingDoc] = &[
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
        env: "TINA4_WS_TLS_CERT",
        default: "(unset: plain ws://)",
        help: "PEM certificate chain (leaf first); with TINA4_WS_TLS_KEY, serves wss:// (SIGHUP reloads both)",
    },
    SettingDoc {
        env: "TINA4_WS_TLS_KEY",
        default: "(unset)",
        help: "PEM private key for TINA4_WS_TLS_CERT (PKCS#8, PKCS#1 or SEC1)",
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

/// The server's settings.
fn server_from_env(get: &impl Fn(&str) -> Option<String>) -> Result<ServerConfig, SettingError> {
    let mut config = ServerConfig::default();
    let port: u16 = parse(get, "TINA4_WS_PORT")?.unwrap_or(8080);
    let host: IpAddr =
        parse(get, "TINA4_WS_HOST")?.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    config.bind = SocketAddr::new(host, port);
    config.allowed_origins = get("TINA4_WS_ALLOWED_ORIGINS").map(|v| {
        v.split(',')
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect()
    });
    config.idle_timeout = parse::<u64>(get, "TINA4_WS_IDLE_TIMEOUT")?
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    config.keepalive = parse::<u64>(get, "TINA4_WS_KEEPALIVE")?
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    if let Some(max) = parse(get, "TINA4_WS_MAX_BACKLOG")? {
        config.max_backlog = max;
    }
    config.max_connections = parse::<usize>(get, "TINA4_WS_MAX_CONNECTIONS")?.filter(|n| *n > 0);
    config.shards = parse(get, "TINA4_WS_SHARDS")?.unwrap_or(0);
    config.tls = match (get("TINA4_WS_TLS_CERT"), get("TINA4_WS_TLS_KEY")) {
        (Some(cert), Some(key)) => Some(oyez_server::TlsConfig {
            cert: cert.into(),
            key: key.into(),
        }),
        (None, None) => None,
        (cert, _) => {
            return Err(SettingError {
                name: if cert.is_some() {
                    "TINA4_WS_TLS_KEY"
                } else {
                    "TINA4_WS_TLS_CERT"
                },
                reason: "TINA4_WS_TLS_CERT and TINA4_WS_TLS_KEY go together".to_owned(),
            });
        }
    };
    Ok(config)
}

/// The clusters the binary joins, from the environment.
#[derive(Debug, Default)]
pub(crate) struct ClusterSettings {
    /// The Tina4 backplane (`TINA4_WS_BACKPLANE`, `TINA4_WS_BACKPLANE_URL`).
    pub(crate) tina4: Option<BackplaneConfig>,
    /// The mega cluster's broker and settings (`MEGA_WS_*`).
    pub(crate) mega: Option<(BackplaneConfig, MegaConfig)>,
}

/// `TINA4_WS_BACKPLANE` (case-insensitive: `redis`, `nats`, `memory`; unset: none, local
/// only) and `TINA4_WS_BACKPLANE_URL`, as the reference reads them; an unknown value is an
/// error that names it, where the reference would quietly go local-only.
fn tina4_from_env(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<BackplaneConfig>, SettingError> {
    let Some(raw) = get("TINA4_WS_BACKPLANE") else {
        return Ok(None);
    };
    let kind = match raw.to_ascii_lowercase().as_str() {
        "redis" => BackplaneKind::Redis,
        "nats" => BackplaneKind::Nats,
        "memory" => BackplaneKind::Memory,
        _ => {
            return Err(SettingError {
                name: "TINA4_WS_BACKPLANE",
                reason: format!("{raw:?}: expected redis, nats or memory (or unset for none)"),
            });
        }
    };
    Ok(Some(BackplaneConfig::new(
        kind,
        get("TINA4_WS_BACKPLANE_URL").as_deref(),
    )))
}

/// The cluster settings.
fn clusters_from_env(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<ClusterSettings, SettingError> {
    let tina4 = tina4_from_env(get)?;
    let mega = match get("MEGA_WS_CLUSTER_URL") {
        None => None,
        Some(url) => {
            let kind = match url.split("://").next().unwrap_or_default() {
                "nats" => BackplaneKind::Nats,
                "redis" => BackplaneKind::Redis,
                "memory" => BackplaneKind::Memory,
                _ => {
                    return Err(SettingError {
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
                    return Err(SettingError {
                        name: "MEGA_WS_ROSTER",
                        reason: format!("{other:?}: expected nats or none"),
                    });
                }
            };
            if let Some(ttl) = parse::<u64>(get, "MEGA_WS_ROSTER_TTL_MS")?.filter(|t| *t > 0) {
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
) -> Result<Option<T>, SettingError>
where
    T::Err: core::fmt::Display,
{
    get(name)
        .map(|v| {
            v.parse::<T>().map_err(|e| SettingError {
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

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingError> {
        Settings::from_env(env(pairs))
    }

    #[test]
    fn defaults() {
        let s = settings(&[]).unwrap();
        let c = s.server;
        assert_eq!(c.bind, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(
            (
                c.max_backlog,
                c.idle_timeout,
                c.allowed_origins,
                s.api_token
            ),
            (1 << 20, None, None, None)
        );
        assert!(s.clusters.tina4.is_none() && s.clusters.mega.is_none());
    }

    #[test]
    fn clusters() {
        let both = settings(&[
            ("TINA4_WS_BACKPLANE", "redis"),
            ("MEGA_WS_CLUSTER_URL", "nats://127.0.0.1:4222"),
            ("MEGA_WS_APP", "chat"),
            ("MEGA_WS_ROSTER", "nats"),
            ("MEGA_WS_ROSTER_TTL_MS", "5000"),
        ])
        .unwrap()
        .clusters;
        assert_eq!(both.tina4.unwrap().url, "redis://localhost:6379");
        let (bp, mega) = both.mega.unwrap();
        assert_eq!(
            (bp.kind, mega.app.as_str(), mega.roster, mega.ttl),
            (
                BackplaneKind::Nats,
                "chat",
                RosterDriver::Nats,
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
            let e = settings(&pairs).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    /// `TINA4_WS_BACKPLANE` as the reference reads it: case and spaces do not matter, empty
    /// is unset, an unknown value is an error naming it.
    #[test]
    fn tina4_backplane() {
        let tina4 = |pairs: &[(&str, &str)]| settings(pairs).map(|s| s.clusters.tina4);
        assert_eq!(tina4(&[("TINA4_WS_BACKPLANE", "")]).unwrap(), None);
        assert_eq!(tina4(&[("TINA4_WS_BACKPLANE", "  ")]).unwrap(), None);
        let c = tina4(&[
            ("TINA4_WS_BACKPLANE", " Redis "),
            ("TINA4_WS_BACKPLANE_URL", "redis://10.0.0.1:7000"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (c.kind, c.url.as_str()),
            (BackplaneKind::Redis, "redis://10.0.0.1:7000")
        );
        let c = tina4(&[("TINA4_WS_BACKPLANE", " NATS ")]).unwrap().unwrap();
        assert_eq!(
            (c.kind, c.url.as_str()),
            (BackplaneKind::Nats, "nats://localhost:4222")
        );
        let c = tina4(&[("TINA4_WS_BACKPLANE", "memory")]).unwrap().unwrap();
        assert_eq!(c.kind, BackplaneKind::Memory);
        let e = tina4(&[("TINA4_WS_BACKPLANE", "kafka")]).unwrap_err();
        assert!(
            e.to_string().contains("kafka") && e.to_string().contains("TINA4_WS_BACKPLANE"),
            "{e}"
        );
    }

    #[test]
    fn values_and_errors() {
        let s = settings(&[
            ("TINA4_WS_PORT", "9000"),
            ("TINA4_WS_ALLOWED_ORIGINS", "http://a, http://b,"),
            ("TINA4_WS_IDLE_TIMEOUT", "30"),
            ("TINA4_WS_MAX_BACKLOG", "0"),
            ("TINA4_WS_SHARDS", "3"),
            ("WS_API_TOKEN", " t0ken "),
        ])
        .unwrap();
        let c = s.server;
        assert_eq!(s.api_token.as_deref(), Some("t0ken"));
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
        let e = settings(&[("TINA4_WS_PORT", "eighty")]).unwrap_err();
        assert!(e.to_string().contains("TINA4_WS_PORT"), "{e}");
    }

    #[test]
    fn tls_takes_a_certificate_and_a_key() {
        let s = settings(&[
            ("TINA4_WS_TLS_CERT", "/c.pem"),
            ("TINA4_WS_TLS_KEY", "/k.pem"),
        ])
        .unwrap();
        let tls = s.server.tls.unwrap();
        assert_eq!(
            (tls.cert.to_str(), tls.key.to_str()),
            (Some("/c.pem"), Some("/k.pem"))
        );
        assert!(settings(&[]).unwrap().server.tls.is_none());
        let e = settings(&[("TINA4_WS_TLS_CERT", "/c.pem")]).unwrap_err();
        assert!(e.to_string().contains("TINA4_WS_TLS_KEY"), "{e}");
        let e = settings(&[("TINA4_WS_TLS_KEY", "/k.pem")]).unwrap_err();
        assert!(e.to_string().contains("TINA4_WS_TLS_CERT"), "{e}");
    }

    /// Every variable read here is in the table `--help` prints.
    #[test]
    fn every_setting_is_documented() {
        let source = include_str!("settings.rs");
        let code = &source[..source.find("#[cfg(test)]").unwrap_or(source.len())];
        // Every run of text between two consecutive quotes that looks like a variable name.
        let quotes: Vec<usize> = code.match_indices('"').map(|(i, _)| i).collect();
        for pair in quotes.windows(2) {
            let quoted = &code[pair[0] + 1..pair[1]];
            let is_var = quoted.len() > 3
                && quoted.contains('_')
                && quoted
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if is_var {
                assert!(
                    SETTINGS.iter().any(|d| d.env == quoted),
                    "{quoted} is read but not in SETTINGS"
                );
            }
        }
    }
}

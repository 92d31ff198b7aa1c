//! The binary's settings: every environment variable it reads, read here and nowhere else.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use oyez_backplane::{BackplaneConfig, BackplaneKind, MegaConfig, RosterDriver};
use oyez_server::ServerConfig;
use oyez_server::deflate::DeflateConfig;

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
    /// `WS_JWT_*`: signed identities, when a secret or a public key is set.
    pub(crate) auth: Option<oyez_server::apps::auth::Verifier>,
    /// Where and how the Prometheus metrics are served (`WS_METRICS_*`).
    pub(crate) metrics: MetricsSettings,
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
            auth: crate::auth::verifier(&crate::auth::AuthSettings {
                algorithm: get("WS_JWT_ALGORITHM"),
                secret: get("WS_JWT_SECRET"),
                public_key: get("WS_JWT_PUBLIC_KEY"),
                public_key_file: get("WS_JWT_PUBLIC_KEY_FILE"),
                leeway: parse(&get, "WS_JWT_LEEWAY")?,
                issuer: get("WS_JWT_ISSUER"),
                audience: get("WS_JWT_AUDIENCE"),
            })?,
            metrics: metrics_from_env(&get)?,
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
        env: "TINA4_WS_MAX_CONNECTIONS_PER_IP",
        default: "0 (no limit)",
        help: "most connections at once from one client address; more get 429",
    },
    SettingDoc {
        env: "TINA4_WS_MAX_UPGRADES_PER_SEC",
        default: "0 (no limit)",
        help: "most upgrades one client address may start in any second; more get 429",
    },
    SettingDoc {
        env: "TINA4_WS_LIMIT_LOOPBACK",
        default: "false",
        help: "apply the two per-address limits to loopback clients too (a local proxy is one address)",
    },
    SettingDoc {
        env: "TINA4_WS_TRIM_HEAP",
        default: "true",
        help: "after a burst of 256 or more connections opening or ending, give the memory it freed back to the system once the count is steady (glibc)",
    },
    SettingDoc {
        env: "TINA4_WS_SHARDS",
        default: "0 (one per core)",
        help: "event-loop threads that own the upgraded connections and run their handlers",
    },
    SettingDoc {
        env: "TINA4_WS_DEFLATE",
        default: "on",
        help: "permessage-deflate for clients that offer it: on or off (broadcasts are compressed once)",
    },
    SettingDoc {
        env: "TINA4_WS_DEFLATE_LEVEL",
        default: "3",
        help: "compression level, 0 (none) to 9 (smallest, slowest)",
    },
    SettingDoc {
        env: "TINA4_WS_DEFLATE_MIN_SIZE",
        default: "64",
        help: "messages shorter than this many bytes are sent uncompressed",
    },
    SettingDoc {
        env: "TINA4_WS_DEFLATE_CLIENT_CONTEXT",
        default: "off",
        help: "on: clients may keep their compression context (costs their window per connection)",
    },
    SettingDoc {
        env: "TINA4_WS_DEFLATE_CLIENT_WINDOW_BITS",
        default: "15",
        help: "with TINA4_WS_DEFLATE_CLIENT_CONTEXT=on, the largest client window kept, 8 to 15",
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
        env: "WS_JWT_SECRET",
        default: "(unset)",
        help: "HS256 secret (32 bytes or more): every connection then needs a signed token",
    },
    SettingDoc {
        env: "WS_JWT_PUBLIC_KEY",
        default: "(unset)",
        help: "RS256 (RSA) or ES256 (P-256) public key, PEM (\\n for line breaks): tokens required",
    },
    SettingDoc {
        env: "WS_JWT_PUBLIC_KEY_FILE",
        default: "(unset)",
        help: "the same public key, from a PEM file",
    },
    SettingDoc {
        env: "WS_JWT_ALGORITHM",
        default: "(the key's)",
        help: "HS256, RS256 or ES256; must match the key (a token's own alg is never taken)",
    },
    SettingDoc {
        env: "WS_JWT_LEEWAY",
        default: "30",
        help: "seconds of clock leeway on a token's exp and nbf",
    },
    SettingDoc {
        env: "WS_JWT_ISSUER",
        default: "(unset: any)",
        help: "when set, a token's iss must equal it",
    },
    SettingDoc {
        env: "WS_JWT_AUDIENCE",
        default: "(unset: any)",
        help: "when set, a token's aud must be or include it",
    },
    SettingDoc {
        env: "WS_METRICS_ADDR",
        default: "(unset: none)",
        help: "host:port of a listener of its own that serves the Prometheus metrics at GET /metrics (bind it to a private address)",
    },
    SettingDoc {
        env: "WS_METRICS_TOKEN",
        default: "(unset)",
        help: "bearer token for GET /metrics; without WS_METRICS_ADDR it also serves /metrics on the WebSocket port",
    },
    SettingDoc {
        env: "WS_METRICS_PATHS",
        default: "false",
        help: "true: also export connections per path (oyez_path_connections{path}; one series per distinct path)",
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
    config.max_connections_per_ip =
        parse::<usize>(get, "TINA4_WS_MAX_CONNECTIONS_PER_IP")?.filter(|n| *n > 0);
    config.max_upgrades_per_sec =
        parse::<u32>(get, "TINA4_WS_MAX_UPGRADES_PER_SEC")?.filter(|n| *n > 0);
    config.limit_loopback = parse_bool(get, "TINA4_WS_LIMIT_LOOPBACK")?.unwrap_or(false);
    config.trim_heap = parse_bool(get, "TINA4_WS_TRIM_HEAP")?.unwrap_or(true);
    config.shards = parse(get, "TINA4_WS_SHARDS")?.unwrap_or(0);
    config.deflate = deflate_from_env(get)?;
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

/// Where the Prometheus metrics are served.
#[derive(Debug, Default)]
pub(crate) struct MetricsSettings {
    /// `WS_METRICS_ADDR`: a listener of its own.
    pub(crate) addr: Option<SocketAddr>,
    /// `WS_METRICS_TOKEN`: required wherever `/metrics` is served; without `addr`, it
    /// serves `/metrics` on the WebSocket port.
    pub(crate) token: Option<String>,
    /// `WS_METRICS_PATHS`: per-path connection counts.
    pub(crate) path_labels: bool,
}

impl MetricsSettings {
    /// Whether `/metrics` is on the WebSocket port (a token without a listener of its own).
    pub(crate) const fn on_main_port(&self) -> bool {
        self.addr.is_none() && self.token.is_some()
    }
}

fn metrics_from_env(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<MetricsSettings, SettingError> {
    let path_labels = parse_bool(get, "WS_METRICS_PATHS")?.unwrap_or(false);
    Ok(MetricsSettings {
        addr: parse(get, "WS_METRICS_ADDR")?,
        token: get("WS_METRICS_TOKEN"),
        path_labels,
    })
}

/// `TINA4_WS_DEFLATE` and its `TINA4_WS_DEFLATE_*` settings; `None` when it is off.
fn deflate_from_env(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<DeflateConfig>, SettingError> {
    if !parse_bool(get, "TINA4_WS_DEFLATE")?.unwrap_or(true) {
        return Ok(None);
    }
    let mut d = DeflateConfig::default();
    if let Some(level) = parse::<u8>(get, "TINA4_WS_DEFLATE_LEVEL")? {
        if level > 9 {
            return Err(SettingError {
                name: "TINA4_WS_DEFLATE_LEVEL",
                reason: format!("{level}: expected 0 to 9"),
            });
        }
        d = d.with_level(level);
    }
    if let Some(min) = parse(get, "TINA4_WS_DEFLATE_MIN_SIZE")? {
        d = d.with_min_size(min);
    }
    d = d.with_client_context_takeover(
        parse_bool(get, "TINA4_WS_DEFLATE_CLIENT_CONTEXT")?.unwrap_or(false),
    );
    if let Some(bits) = parse::<u8>(get, "TINA4_WS_DEFLATE_CLIENT_WINDOW_BITS")? {
        if !(8..=15).contains(&bits) {
            return Err(SettingError {
                name: "TINA4_WS_DEFLATE_CLIENT_WINDOW_BITS",
                reason: format!("{bits}: expected 8 to 15"),
            });
        }
        d = d.with_client_max_window_bits(bits);
    }
    Ok(Some(d))
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

/// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (in any case).
fn parse_bool(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<bool>, SettingError> {
    get(name)
        .map(|v| match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(SettingError {
                name,
                reason: format!("{v:?}: expected on or off (true or false)"),
            }),
        })
        .transpose()
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
    fn door_limits_and_signed_identities() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            (
                s.server.max_connections_per_ip,
                s.server.max_upgrades_per_sec,
                s.server.limit_loopback
            ),
            (None, None, false)
        );
        assert!(s.server.trim_heap);
        assert!(
            !settings(&[("TINA4_WS_TRIM_HEAP", "false")])
                .unwrap()
                .server
                .trim_heap
        );
        assert!(s.auth.is_none());
        let s = settings(&[
            ("TINA4_WS_MAX_CONNECTIONS_PER_IP", "20"),
            ("TINA4_WS_MAX_UPGRADES_PER_SEC", "5"),
            ("TINA4_WS_LIMIT_LOOPBACK", "Yes"),
            ("WS_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("WS_JWT_LEEWAY", "5"),
        ])
        .unwrap();
        assert_eq!(
            (
                s.server.max_connections_per_ip,
                s.server.max_upgrades_per_sec,
                s.server.limit_loopback
            ),
            (Some(20), Some(5), true)
        );
        assert_eq!(
            s.auth.map(|v| v.algorithm()),
            Some(oyez_server::apps::auth::Algorithm::Hs256)
        );
        for (name, value) in [
            ("TINA4_WS_LIMIT_LOOPBACK", "maybe"),
            ("WS_JWT_SECRET", "too short"),
            ("WS_JWT_LEEWAY", "-1"),
            ("WS_JWT_ALGORITHM", "none"),
        ] {
            let e = settings(&[(name, value)]).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn deflate() {
        let on = settings(&[]).unwrap().server.deflate.unwrap();
        assert_eq!(on, DeflateConfig::default());
        assert!(
            settings(&[("TINA4_WS_DEFLATE", "off")])
                .unwrap()
                .server
                .deflate
                .is_none()
        );
        let d = settings(&[
            ("TINA4_WS_DEFLATE", "ON"),
            ("TINA4_WS_DEFLATE_LEVEL", "9"),
            ("TINA4_WS_DEFLATE_MIN_SIZE", "256"),
            ("TINA4_WS_DEFLATE_CLIENT_CONTEXT", "on"),
            ("TINA4_WS_DEFLATE_CLIENT_WINDOW_BITS", "10"),
        ])
        .unwrap()
        .server
        .deflate
        .unwrap();
        assert_eq!(
            (
                d.level(),
                d.min_size(),
                d.client_context_takeover(),
                d.client_max_window_bits()
            ),
            (9, 256, true, 10)
        );
        for (name, value) in [
            ("TINA4_WS_DEFLATE", "maybe"),
            ("TINA4_WS_DEFLATE_LEVEL", "10"),
            ("TINA4_WS_DEFLATE_MIN_SIZE", "-1"),
            ("TINA4_WS_DEFLATE_CLIENT_CONTEXT", "sometimes"),
            ("TINA4_WS_DEFLATE_CLIENT_WINDOW_BITS", "7"),
        ] {
            let e = settings(&[(name, value)]).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn metrics() {
        let m = settings(&[]).unwrap().metrics;
        assert!(m.addr.is_none() && m.token.is_none() && !m.path_labels && !m.on_main_port());
        let m = settings(&[("WS_METRICS_TOKEN", "t")]).unwrap().metrics;
        assert!(m.on_main_port());
        let m = settings(&[
            ("WS_METRICS_ADDR", "127.0.0.1:9464"),
            ("WS_METRICS_TOKEN", "t"),
            ("WS_METRICS_PATHS", "1"),
        ])
        .unwrap()
        .metrics;
        assert_eq!(m.addr, Some(SocketAddr::from(([127, 0, 0, 1], 9464))));
        assert!(m.path_labels && !m.on_main_port());
        for (name, value) in [("WS_METRICS_ADDR", "9464"), ("WS_METRICS_PATHS", "maybe")] {
            let e = settings(&[(name, value)]).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
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

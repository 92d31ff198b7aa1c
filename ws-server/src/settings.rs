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
        env: "WS_API_TOKEN",
        default: "(unset: /api/* disabled)",
        help: "bearer token that enables the /api/roster, /api/broadcast and /api/direct endpoints",
    },
    SettingDoc {
        env: "RUST_LOG",
        default: "info",
        help: "log filter (tracing-subscriber EnvFilter syntax); logs go to stderr",
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
    config.api_token = get("WS_API_TOKEN");
    Ok(config)
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
    fn values_and_errors() {
        let c = config_from_env(env(&[
            ("TINA4_WS_PORT", "9000"),
            ("TINA4_WS_ALLOWED_ORIGINS", "http://a, http://b,"),
            ("TINA4_WS_IDLE_TIMEOUT", "30"),
            ("TINA4_WS_MAX_BACKLOG", "0"),
        ]))
        .unwrap();
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

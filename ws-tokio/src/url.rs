//! `ws://` and `wss://` URLs, as far as a client needs them.

use crate::Error;

/// A parsed WebSocket URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WsUrl {
    /// `wss://`.
    pub(crate) tls: bool,
    /// The host as it goes in TLS's server name and `connect`: no brackets around IPv6.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The `Host` header: the authority as written, with the port if it was given.
    pub(crate) authority: String,
    /// The request target: path and query (`/` if empty); the fragment is dropped.
    pub(crate) target: String,
}

impl WsUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, Error> {
        let (tls, rest) = if let Some(rest) = strip_scheme(url, "ws://") {
            (false, rest)
        } else if let Some(rest) = strip_scheme(url, "wss://") {
            (true, rest)
        } else {
            return Err(Error::Url("the scheme is not ws:// or wss://"));
        };
        let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(Error::Url("no host, or user info (not supported)"));
        }
        if authority.bytes().any(|b| b.is_ascii_control() || b == b' ')
            || target.bytes().any(|b| b.is_ascii_control() || b == b' ')
        {
            return Err(Error::Url("control characters or spaces"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or(Error::Url("unclosed IPv6 literal"))?;
            match after {
                "" => (host, None),
                p => (
                    host,
                    Some(
                        p.strip_prefix(':')
                            .ok_or(Error::Url("junk after the IPv6 literal"))?,
                    ),
                ),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            None => {
                if tls {
                    443
                } else {
                    80
                }
            }
            Some(p) => p
                .parse()
                .map_err(|_| Error::Url("a port that is not a number"))?,
        };
        if host.is_empty() {
            return Err(Error::Url("no host"));
        }
        Ok(Self {
            tls,
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            target,
        })
    }
}

fn strip_scheme<'a>(url: &'a str, scheme: &str) -> Option<&'a str> {
    let head = url.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| &url[scheme.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_a_client_meets() {
        let u = WsUrl::parse("wss://example.com/chat?room=a#frag").unwrap();
        assert_eq!(
            (
                u.tls,
                u.host.as_str(),
                u.port,
                u.authority.as_str(),
                u.target.as_str()
            ),
            (true, "example.com", 443, "example.com", "/chat?room=a")
        );
        let u = WsUrl::parse("ws://127.0.0.1:9001?x=1").unwrap();
        assert_eq!((u.port, u.target.as_str()), (9001, "/?x=1"));
        let u = WsUrl::parse("WS://[::1]:8080").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.authority.as_str()),
            ("::1", 8080, "[::1]:8080")
        );
        let u = WsUrl::parse("ws://[::1]/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 80));
        for bad in [
            "http://a/",
            "ws://",
            "ws://u@h/",
            "ws://h:x/",
            "ws://[::1/",
            "ws://h/a b",
            "ws://:80/",
        ] {
            assert!(WsUrl::parse(bad).is_err(), "{bad}");
        }
    }
}

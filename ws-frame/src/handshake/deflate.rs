//! permessage-deflate negotiation (RFC 7692 §5, §7.1), both roles: reading and judging a
//! client's offers, answering with what the server will do, writing a client's offer and
//! checking the server's answer against it.

use super::extensions::{self, Extension};
use crate::Error;
use crate::deflate::{DeflateConfig, MAX_WINDOW_BITS, Params};

/// The extension's name.
pub(crate) const NAME: &str = "permessage-deflate";

/// One client offer's parameters, each validated (RFC 7692 §7.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: the parameter without a value (the client supports it in the answer).
    client_max_window_bits: Option<Option<u8>>,
}

/// A window size as RFC 7692 §7.1.2 writes it: a decimal 8 to 15, no leading zero, no sign.
fn window_bits(value: &str) -> Option<u8> {
    match value {
        "8" => Some(8),
        "9" => Some(9),
        "10" => Some(10),
        "11" => Some(11),
        "12" => Some(12),
        "13" => Some(13),
        "14" => Some(14),
        "15" => Some(15),
        _ => None,
    }
}

/// The offer `ext` makes, or `None` when it is not an acceptable one: not
/// permessage-deflate, or a parameter that is unknown, repeated, or has a value it may not
/// have (RFC 7692 §7.1: "a server MUST decline an extension negotiation offer" then).
fn parse_offer(ext: &Extension<'_>) -> Option<Offer> {
    if !ext.name.eq_ignore_ascii_case(NAME) {
        return None;
    }
    let mut offer = Offer::default();
    let mut seen = [false; 4];
    for (key, value) in &ext.params {
        let value = value.as_deref();
        let i = match *key {
            "server_no_context_takeover" => {
                value.is_none().then_some(())?;
                offer.server_no_context_takeover = true;
                0
            }
            "client_no_context_takeover" => {
                value.is_none().then_some(())?;
                offer.client_no_context_takeover = true;
                1
            }
            "server_max_window_bits" => {
                offer.server_max_window_bits = Some(window_bits(value?)?);
                2
            }
            "client_max_window_bits" => {
                offer.client_max_window_bits = Some(match value {
                    None => None,
                    Some(v) => Some(window_bits(v)?),
                });
                3
            }
            _ => return None,
        };
        if std::mem::replace(&mut seen[i], true) {
            return None;
        }
    }
    Some(offer)
}

/// What a server that is configured with `config` answers to `offer`.
fn answer(offer: &Offer, config: &DeflateConfig) -> Params {
    let own = config.max_window_bits();
    // Always server_no_context_takeover (§7.1.1.1 lets the server add it unasked): every
    // message is compressed on its own, so a broadcast is compressed once for everyone.
    let mut p = Params::default()
        .with_server_no_context_takeover(true)
        .with_server_max_window_bits(match offer.server_max_window_bits {
            // §7.1.2.1: the same or a smaller value than offered.
            Some(bits) => Some(bits.min(own)),
            None => (own < MAX_WINDOW_BITS).then_some(own),
        });
    let keep_client_context = config.client_context_takeover() && !offer.client_no_context_takeover;
    // §7.1.2.2: the answer may limit the client's window only if the offer allows it.
    let client_bits = offer.client_max_window_bits.map(|offered| {
        offered
            .unwrap_or(MAX_WINDOW_BITS)
            .min(config.client_max_window_bits())
    });
    match (keep_client_context, client_bits) {
        (true, Some(bits)) => {
            p = p.with_client_max_window_bits((bits < MAX_WINDOW_BITS).then_some(bits));
        }
        // The client may use 32 KiB: keep its context only if that is allowed.
        (true, None) if config.client_max_window_bits() == MAX_WINDOW_BITS => {}
        _ => p = p.with_client_no_context_takeover(true),
    }
    p
}

/// The server side: the first acceptable offer among `values` (every
/// `Sec-WebSocket-Extensions` header of the request, in order), answered as `config` allows;
/// `None` when no offer is acceptable.
pub(crate) fn negotiate<'a>(
    values: impl Iterator<Item = &'a [u8]>,
    config: &DeflateConfig,
) -> Option<Params> {
    for value in values {
        // A value that breaks the grammar offers nothing that can be trusted.
        let Ok(list) = extensions::parse(value) else {
            continue;
        };
        if let Some(offer) = list.iter().find_map(parse_offer) {
            return Some(answer(&offer, config));
        }
    }
    None
}

/// Whether `user_agent` is Safari 15.0 to 15.3, whose permessage-deflate ignores
/// `client_no_context_takeover` (it keeps its context anyway, so a server that inflates each
/// message on its own fails on its second message). uWebSockets turns compression off for
/// these versions; so does [`super::server::negotiate_deflate`] when its answer would ask for
/// `client_no_context_takeover`.
pub(crate) fn is_safari_15_0_to_15_3(user_agent: &str) -> bool {
    let Some(at) = user_agent.find(" Version/15.") else {
        return false;
    };
    let rest = &user_agent[at + " Version/15.".len()..];
    let Some(end) = rest.find(' ') else {
        return false;
    };
    let minor = &rest[..end];
    matches!(minor, "0" | "1" | "2" | "3") && rest[end..].contains(" Safari/")
}

/// The client side: the offer for `config`, as a `Sec-WebSocket-Extensions` value.
///
/// It offers `client_max_window_bits` (with a value when `config` caps its own window) and
/// `client_no_context_takeover` (a hint that holds: this crate never keeps its compression
/// context), and asks for what `config` requests of the server.
pub(crate) fn offer(config: &DeflateConfig) -> String {
    let mut s = String::from(NAME);
    s.push_str("; client_no_context_takeover; client_max_window_bits");
    if config.max_window_bits() < MAX_WINDOW_BITS {
        s.push_str(&format!("={}", config.max_window_bits()));
    }
    if config.request_server_no_context_takeover() {
        s.push_str("; server_no_context_takeover");
    }
    if let Some(bits) = config.request_server_max_window_bits() {
        s.push_str(&format!("; server_max_window_bits={bits}"));
    }
    s
}

/// The client side: the parameters the server's answer (`values`: its
/// `Sec-WebSocket-Extensions` headers) agrees to, checked against the offer `config` made.
/// `Ok(None)` when the server declined (no extension in its answer).
///
/// # Errors
/// [`Error::UnofferedExtension`] for an extension other than permessage-deflate, or
/// permessage-deflate when none was offered; [`Error::InvalidExtensionResponse`] for an
/// answer RFC 7692 §7.1 says to fail the connection on: a header that breaks the grammar,
/// the extension twice, a parameter that is unknown, repeated or has a bad value, a
/// `client_max_window_bits` with no value, or a `server_max_window_bits` larger than asked.
pub(crate) fn check_response<'a>(
    values: impl Iterator<Item = &'a [u8]>,
    config: Option<&DeflateConfig>,
) -> Result<Option<Params>, Error> {
    let mut agreed = None;
    for value in values {
        let list = extensions::parse(value).map_err(|_| Error::InvalidExtensionResponse)?;
        for ext in &list {
            let Some(config) = config.filter(|_| ext.name.eq_ignore_ascii_case(NAME)) else {
                return Err(Error::UnofferedExtension);
            };
            if agreed.is_some() {
                return Err(Error::InvalidExtensionResponse);
            }
            agreed = Some(parse_response(ext, config)?);
        }
    }
    Ok(agreed)
}

fn parse_response(ext: &Extension<'_>, config: &DeflateConfig) -> Result<Params, Error> {
    let bad = Error::InvalidExtensionResponse;
    let mut p = Params::default();
    let mut seen = [false; 4];
    for (key, value) in &ext.params {
        let value = value.as_deref();
        let i = match *key {
            "server_no_context_takeover" if value.is_none() => {
                p = p.with_server_no_context_takeover(true);
                0
            }
            "client_no_context_takeover" if value.is_none() => {
                p = p.with_client_no_context_takeover(true);
                1
            }
            "server_max_window_bits" => {
                let bits = value.and_then(window_bits).ok_or(bad)?;
                if config
                    .request_server_max_window_bits()
                    .is_some_and(|asked| bits > asked)
                {
                    return Err(bad);
                }
                p = p.with_server_max_window_bits(Some(bits));
                2
            }
            // We always offer client_max_window_bits; the answer must give it a value.
            "client_max_window_bits" => {
                let bits = value.and_then(window_bits).ok_or(bad)?;
                p = p.with_client_max_window_bits(Some(bits));
                3
            }
            _ => return Err(bad),
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(bad);
        }
    }
    if config.request_server_max_window_bits().is_some() && p.server_max_window_bits().is_none() {
        // §7.1.2.1: a server accepts a limit on its window by stating it.
        return Err(bad);
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(values: &[&str]) -> Option<String> {
        server_with(values, &DeflateConfig::default())
    }

    fn server_with(values: &[&str], config: &DeflateConfig) -> Option<String> {
        negotiate(values.iter().map(|v| v.as_bytes()), config).map(|p| p.to_string())
    }

    #[test]
    fn the_server_takes_the_first_acceptable_offer() {
        assert_eq!(
            server(&["permessage-deflate"]).as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        );
        // What browsers offer.
        assert_eq!(
            server(&["permessage-deflate; client_max_window_bits"]).as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        );
        // The first offer is unacceptable (an unknown parameter); the second is taken.
        assert_eq!(
            server(&["permessage-deflate; x=1, permessage-deflate; server_max_window_bits=10"])
                .as_deref(),
            Some(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10"
            )
        );
        // Another extension first, then ours; offers spread over two headers.
        assert!(server(&["x-webkit-deflate-frame", "permessage-deflate"]).is_some());
        // Window 8 is accepted (compressed with zlib's 9, whose streams fit 256 bytes).
        assert!(
            server(&["permessage-deflate; server_max_window_bits=8"])
                .unwrap()
                .ends_with("server_max_window_bits=8")
        );
        assert_eq!(server(&["x-foo", "permessage-deflat"]), None);
        assert_eq!(server(&[]), None);
    }

    #[test]
    fn each_parameter_is_validated() {
        for bad in [
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover=yes",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits=+9",
            "permessage-deflate; client_max_window_bits=0",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate; unknown",
            "permessage-deflate; Server_No_Context_Takeover",
            "permessage-deflate; server_max_window_bits=\"1 0\"",
            "permessage-deflate; server_max_window_bits=\"10",
        ] {
            assert_eq!(server(&[bad]), None, "{bad}");
        }
        // A quoted value is the token inside.
        assert!(server(&["permessage-deflate; server_max_window_bits=\"10\""]).is_some());
    }

    #[test]
    fn client_context_takeover_when_allowed() {
        let allow = DeflateConfig::default().with_client_context_takeover(true);
        assert_eq!(
            server_with(&["permessage-deflate; client_max_window_bits"], &allow).as_deref(),
            Some("permessage-deflate; server_no_context_takeover")
        );
        let capped = allow.with_client_max_window_bits(10);
        assert_eq!(
            server_with(&["permessage-deflate; client_max_window_bits"], &capped).as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_max_window_bits=10")
        );
        assert_eq!(
            server_with(&["permessage-deflate; client_max_window_bits=9"], &capped).as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_max_window_bits=9")
        );
        // No client_max_window_bits offered: its window may be 32 KiB, over the cap, so the
        // server asks it to keep no context instead.
        assert_eq!(
            server_with(&["permessage-deflate"], &capped).as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        );
        // A client that says it keeps no context is taken at its word.
        assert!(
            server_with(&["permessage-deflate; client_no_context_takeover"], &allow)
                .unwrap()
                .contains("client_no_context_takeover")
        );
        // A server window cap is stated even when the client did not ask.
        let small = DeflateConfig::default().with_max_window_bits(12);
        assert!(
            server_with(&["permessage-deflate"], &small)
                .unwrap()
                .ends_with("server_max_window_bits=12")
        );
        assert!(
            server_with(&["permessage-deflate; server_max_window_bits=14"], &small)
                .unwrap()
                .ends_with("server_max_window_bits=12")
        );
    }

    #[test]
    fn safari_15_0_to_15_3() {
        let ua = |v: &str| {
            format!(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Safari/605.1.15"
            )
        };
        for v in ["15.0", "15.1", "15.2", "15.3"] {
            assert!(is_safari_15_0_to_15_3(&ua(v)), "{v}");
        }
        for v in ["15.4", "15.10", "14.1", "16.0", "15.3.1"] {
            assert!(!is_safari_15_0_to_15_3(&ua(v)), "{v}");
        }
        assert!(!is_safari_15_0_to_15_3(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
        ));
    }

    fn client(values: &[&str], config: &DeflateConfig) -> Result<Option<String>, Error> {
        check_response(values.iter().map(|v| v.as_bytes()), Some(config))
            .map(|p| p.map(|p| p.to_string()))
    }

    #[test]
    fn the_client_checks_the_answer() {
        let c = DeflateConfig::default();
        assert_eq!(
            offer(&c),
            "permessage-deflate; client_no_context_takeover; client_max_window_bits"
        );
        assert_eq!(client(&[], &c), Ok(None));
        assert_eq!(
            client(
                &["permessage-deflate; server_no_context_takeover; client_max_window_bits=9"],
                &c
            ),
            Ok(Some(
                "permessage-deflate; server_no_context_takeover; client_max_window_bits=9".into()
            ))
        );
        let bad = Err(Error::InvalidExtensionResponse);
        for answer in [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; unknown",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate, permessage-deflate",
            "permessage-deflate; server_max_window_bits=\"1",
        ] {
            assert_eq!(client(&[answer], &c), bad, "{answer}");
        }
        assert_eq!(client(&["x-foo"], &c), Err(Error::UnofferedExtension));
        assert_eq!(
            check_response([&b"permessage-deflate"[..]].into_iter(), None),
            Err(Error::UnofferedExtension)
        );
        // Asked for a window of 10: the server must state one, no larger.
        let asked = c
            .with_request_server_max_window_bits(Some(10))
            .with_request_server_no_context_takeover(true);
        assert_eq!(
            offer(&asked),
            "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=10"
        );
        assert_eq!(client(&["permessage-deflate"], &asked), bad);
        assert_eq!(
            client(&["permessage-deflate; server_max_window_bits=11"], &asked),
            bad
        );
        assert!(client(&["permessage-deflate; server_max_window_bits=9"], &asked).is_ok());
        // Our window capped: the offer says so.
        assert!(offer(&c.with_max_window_bits(9)).ends_with("client_max_window_bits=9"));
    }

    #[test]
    fn both_sides_agree() {
        for config in [
            DeflateConfig::default(),
            DeflateConfig::default().with_client_context_takeover(true),
            DeflateConfig::default()
                .with_max_window_bits(9)
                .with_request_server_max_window_bits(Some(8)),
        ] {
            let answer = server_with(&[&offer(&config)], &config).unwrap();
            assert!(client(&[&answer], &config).unwrap().is_some(), "{answer}");
        }
    }
}

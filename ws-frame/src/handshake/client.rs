//! The client side of the opening handshake.

use core::fmt::Write as _;

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};

use super::derive_accept_key;
use super::head::{Head, field_offsets, find_end, map_httparse};
use crate::{Error, Limits};

/// A client's upgrade request, written with [`ClientHandshake::new`]; it remembers what is
/// needed to check the server's answer.
///
/// ```
/// use bytes::BytesMut;
/// use oyez_frame::handshake::client::ClientHandshake;
///
/// let mut out = BytesMut::new();
/// let hs = ClientHandshake::new("example.com", "/chat", &["chat"], &[], &mut out);
/// assert!(out.starts_with(b"GET /chat HTTP/1.1\r\nHost: example.com\r\n"));
/// assert_eq!(hs.key().len(), 24);
/// ```
#[derive(Clone, Debug)]
pub struct ClientHandshake {
    key: String,
    expected_accept: String,
    protocols: Vec<String>,
    /// The permessage-deflate offered, to check the answer against.
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateConfig>,
}

/// What a client's upgrade request carries besides its host and target, for
/// [`ClientHandshake::with_options`].
///
/// ```
/// use bytes::BytesMut;
/// use oyez_frame::handshake::client::{ClientHandshake, ClientOptions};
///
/// let mut options = ClientOptions::default();
/// options.protocols = &["chat"];
/// options.headers = &[("Origin", "http://example.com")];
/// let mut out = BytesMut::new();
/// ClientHandshake::with_options("example.com", "/", &options, &mut out);
/// assert!(out.windows(6).any(|w| w == b"Origin"));
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientOptions<'a> {
    /// Subprotocols to offer, in order of preference.
    pub protocols: &'a [&'a str],
    /// Extra headers, written as given (e.g. `Origin`).
    pub headers: &'a [(&'a str, &'a str)],
    /// permessage-deflate to offer, with these settings (none by default). The offer has
    /// `client_no_context_takeover` and `client_max_window_bits`, and asks the server for
    /// what [`DeflateConfig`](crate::deflate::DeflateConfig) requests of it.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub deflate: Option<crate::deflate::DeflateConfig>,
}

impl ClientHandshake {
    /// Writes a GET upgrade request for `target` (path and query) on `host` (with the port if
    /// it is not the default) into `dst`, with a fresh random `Sec-WebSocket-Key`, offering
    /// `protocols`, plus `extra_headers` (e.g. `Origin`).
    ///
    /// # Warning
    /// `host`, `target` and `extra_headers` are written as given; they must not contain CR or
    /// LF.
    pub fn new(
        host: &str,
        target: &str,
        protocols: &[&str],
        extra_headers: &[(&str, &str)],
        dst: &mut BytesMut,
    ) -> Self {
        let options = ClientOptions {
            protocols,
            headers: extra_headers,
            ..ClientOptions::default()
        };
        Self::with_options(host, target, &options, dst)
    }

    /// As [`ClientHandshake::new`], with everything the request offers in `options`
    /// (subprotocols, headers, permessage-deflate).
    ///
    /// # Warning
    /// As [`ClientHandshake::new`]: nothing written may contain CR or LF.
    pub fn with_options(
        host: &str,
        target: &str,
        options: &ClientOptions<'_>,
        dst: &mut BytesMut,
    ) -> Self {
        Self::write(host, target, options, fresh_nonce(), dst)
    }

    /// As [`ClientHandshake::new`] with a given 16-byte nonce (for tests and vectors).
    pub fn with_key(
        host: &str,
        target: &str,
        protocols: &[&str],
        extra_headers: &[(&str, &str)],
        nonce: [u8; 16],
        dst: &mut BytesMut,
    ) -> Self {
        let options = ClientOptions {
            protocols,
            headers: extra_headers,
            ..ClientOptions::default()
        };
        Self::write(host, target, &options, nonce, dst)
    }

    fn write(
        host: &str,
        target: &str,
        options: &ClientOptions<'_>,
        nonce: [u8; 16],
        dst: &mut BytesMut,
    ) -> Self {
        let key = base64::engine::general_purpose::STANDARD.encode(nonce);
        let mut head = String::with_capacity(200);
        let _ = write!(
            head,
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        );
        if !options.protocols.is_empty() {
            let _ = write!(
                head,
                "Sec-WebSocket-Protocol: {}\r\n",
                options.protocols.join(", ")
            );
        }
        #[cfg(feature = "deflate")]
        if let Some(config) = &options.deflate {
            let _ = write!(
                head,
                "Sec-WebSocket-Extensions: {}\r\n",
                super::deflate::offer(config)
            );
        }
        for (name, value) in options.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        dst.put_slice(head.as_bytes());
        Self {
            expected_accept: derive_accept_key(key.as_bytes()),
            key,
            protocols: options.protocols.iter().map(|p| (*p).to_owned()).collect(),
            #[cfg(feature = "deflate")]
            deflate: options.deflate,
        }
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Parses and checks the server's response at the front of `buf`.
    ///
    /// `Ok(None)`: not all of it has arrived. `Ok(Some(response))`: the head was split off
    /// `buf`; frames the server sent right after it stay in `buf`.
    ///
    /// # Errors
    /// [`Error::UnexpectedStatus`], [`Error::ResponseMissingUpgrade`],
    /// [`Error::ResponseMissingConnectionUpgrade`], [`Error::AcceptMismatch`],
    /// [`Error::UnofferedProtocol`], [`Error::UnofferedExtension`]; and
    /// [`Error::HandshakeTooLarge`], [`Error::TooManyHeaders`], [`Error::MalformedHttp`] for a
    /// head that is not a sane HTTP/1.1 response.
    pub fn parse_response(
        &self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Response>, Error> {
        let Some(end) = find_end(buf, limits)? else {
            return Ok(None);
        };
        let mut headers = vec![httparse::EMPTY_HEADER; limits.max_handshake_headers()];
        let mut res = httparse::Response::new(&mut headers);
        match res.parse(&buf[..end]).map_err(map_httparse)? {
            httparse::Status::Complete(n) if n == end => {}
            _ => return Err(Error::MalformedHttp),
        }
        let status = res.code.ok_or(Error::MalformedHttp)?;
        let fields = field_offsets(&buf[..end], res.headers);
        let head = Head::split_off(buf, end, fields);
        if status != 101 {
            return Err(Error::UnexpectedStatus(status));
        }
        if !head.has_token("upgrade", "websocket") {
            return Err(Error::ResponseMissingUpgrade);
        }
        if !head.has_token("connection", "upgrade") {
            return Err(Error::ResponseMissingConnectionUpgrade);
        }
        if head.get("sec-websocket-accept").map(<[u8]>::trim_ascii)
            != Some(self.expected_accept.as_bytes())
        {
            return Err(Error::AcceptMismatch);
        }
        let protocol = match head.get("sec-websocket-protocol") {
            None => None,
            Some(p) => {
                let p =
                    core::str::from_utf8(p.trim_ascii()).map_err(|_| Error::UnofferedProtocol)?;
                if !self.protocols.iter().any(|offered| offered == p) {
                    return Err(Error::UnofferedProtocol);
                }
                Some(p.to_owned())
            }
        };
        #[cfg(feature = "deflate")]
        let deflate = super::deflate::check_response(
            head.all("sec-websocket-extensions"),
            self.deflate.as_ref(),
        )?
        .zip(self.deflate.as_ref())
        .map(|(params, config)| params.agreed(config));
        // Without the feature we offer no extension, so the server may not use one (RFC 6455
        // §4.1).
        #[cfg(not(feature = "deflate"))]
        if head.get("sec-websocket-extensions").is_some() {
            return Err(Error::UnofferedExtension);
        }
        Ok(Some(Response {
            head,
            protocol,
            #[cfg(feature = "deflate")]
            deflate,
        }))
    }
}

/// A fresh random key nonce.
fn fresh_nonce() -> [u8; 16] {
    let mut raw = [0u8; 16];
    if getrandom::fill(&mut raw).is_err() {
        // The key only needs to be fresh, not secret (RFC 6455 §4.1); fall back to std's
        // randomly keyed hasher.
        use std::hash::BuildHasher;
        let state = std::collections::hash_map::RandomState::new();
        raw[..8].copy_from_slice(&state.hash_one(1u8).to_ne_bytes());
        raw[8..].copy_from_slice(&state.hash_one(2u8).to_ne_bytes());
    }
    raw
}

/// The server's accepted `101` response.
#[derive(Clone, Debug)]
pub struct Response {
    head: Head,
    protocol: Option<String>,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::Agreed>,
}

impl Response {
    /// The subprotocol the server chose, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The permessage-deflate the server agreed to (checked against the offer), for
    /// [`Session::set_deflate`](crate::Session::set_deflate); `None` if it declined or none
    /// was offered.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub const fn deflate(&self) -> Option<crate::deflate::Agreed> {
        self.deflate
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.head.get(name)
    }

    /// Every header, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.head.iter()
    }

    /// The raw head.
    pub fn as_bytes(&self) -> &Bytes {
        &self.head.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::server;

    fn pair(protocols: &[&str]) -> (ClientHandshake, BytesMut) {
        let mut req = BytesMut::new();
        let hs = ClientHandshake::new(
            "127.0.0.1:9001",
            "/echo?a=b",
            protocols,
            &[("Origin", "http://o")],
            &mut req,
        );
        let parsed = server::parse_request(&mut req, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            (parsed.path(), parsed.query(), parsed.origin()),
            ("/echo", Some("a=b"), Some("http://o"))
        );
        let acc = server::accept(&parsed).unwrap();
        let mut res = BytesMut::new();
        server::write_response(
            &acc,
            server::negotiate_protocol(&parsed, &["b", "a"]),
            &[],
            &mut res,
        );
        (hs, res)
    }

    #[test]
    fn client_and_server_agree() {
        let (hs, mut res) = pair(&["a", "b"]);
        res.extend_from_slice(b"\x81\x00"); // an early frame
        let r = hs
            .parse_response(&mut res, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(r.protocol(), Some("a"));
        assert_eq!(&res[..], b"\x81\x00");
    }

    #[test]
    fn keys_are_fresh() {
        let a = ClientHandshake::new("h", "/", &[], &[], &mut BytesMut::new());
        let b = ClientHandshake::new("h", "/", &[], &[], &mut BytesMut::new());
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn every_mismatch_is_named() {
        let (hs, res) = pair(&[]);
        let good = std::str::from_utf8(&res).unwrap().to_owned();
        let cases: &[(&str, &str, Error)] = &[
            (
                "101 Switching Protocols",
                "404 Not Found",
                Error::UnexpectedStatus(404),
            ),
            ("Upgrade: websocket\r\n", "", Error::ResponseMissingUpgrade),
            (
                "Connection: Upgrade\r\n",
                "Connection: close\r\n",
                Error::ResponseMissingConnectionUpgrade,
            ),
            (
                "Sec-WebSocket-Accept: ",
                "Sec-WebSocket-Accept: x",
                Error::AcceptMismatch,
            ),
            (
                "\r\n\r\n",
                "\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
                Error::UnofferedProtocol,
            ),
            (
                "\r\n\r\n",
                "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                Error::UnofferedExtension,
            ),
        ];
        for (from, to, expected) in cases {
            assert!(good.contains(from));
            let bad = good.replacen(from, to, 1);
            let got = hs.parse_response(&mut BytesMut::from(bad.as_str()), &Limits::default());
            assert_eq!(got.unwrap_err(), *expected, "{to}");
        }
        for cut in 0..good.len() {
            assert!(
                hs.parse_response(&mut BytesMut::from(&good[..cut]), &Limits::default())
                    .unwrap()
                    .is_none()
            );
        }
    }
}

//! The server side of the opening handshake.

use core::fmt::Write as _;
use core::ops::Range;

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};

use super::derive_accept_key;
use super::head::{Head, field_offsets, find_end, map_httparse, offset_in, tokens};
use crate::{Error, Limits};

/// A parsed HTTP/1.x request head. Any request parses; [`accept`] decides whether it is a
/// valid WebSocket upgrade, so a server can serve plain HTTP on the same port.
///
/// It owns the head's bytes (one buffer, split off the input without copying) and offsets
/// into them.
#[derive(Clone, Debug)]
pub struct Request {
    head: Head,
    method: Range<usize>,
    target: Range<usize>,
    /// The minor HTTP version: 1 for HTTP/1.1.
    version: u8,
}

impl Request {
    /// The method, e.g. `GET`.
    pub fn method(&self) -> &str {
        self.head.str_at(self.method.clone())
    }

    /// The request target as sent: path and query, e.g. `/chat?room=a`.
    pub fn target(&self) -> &str {
        self.head.str_at(self.target.clone())
    }

    /// The path: the target up to `?`.
    pub fn path(&self) -> &str {
        let t = self.target();
        t.split_once('?').map_or(t, |(path, _)| path)
    }

    /// The query: the target after `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.target().split_once('?').map(|(_, q)| q)
    }

    /// The minor version of HTTP/1.x (1 for HTTP/1.1).
    pub const fn version(&self) -> u8 {
        self.version
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.head.get(name)
    }

    /// The value of the first header named `name`, if it is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// Every header, in order, as (name, value).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.head.iter()
    }

    /// The `Host` header.
    pub fn host(&self) -> Option<&str> {
        self.header_str("host")
    }

    /// The `Origin` header (sent by browsers; compare it with an allow-list).
    pub fn origin(&self) -> Option<&str> {
        self.header_str("origin")
    }

    /// The subprotocols the client offers, in its order of preference.
    pub fn protocols(&self) -> impl Iterator<Item = &str> + '_ {
        self.head
            .all("sec-websocket-protocol")
            .flat_map(tokens)
            .filter_map(|t| core::str::from_utf8(t).ok())
    }

    /// Whether this request asks for a WebSocket upgrade (`Upgrade: websocket`), valid or not.
    pub fn is_upgrade(&self) -> bool {
        self.head.has_token("upgrade", "websocket")
    }

    /// The raw head, request line to blank line.
    pub fn as_bytes(&self) -> &Bytes {
        &self.head.bytes
    }
}

/// Parses an HTTP/1.x request head from the front of `buf`.
///
/// `Ok(None)`: the head has not fully arrived; read more and call again (the size limit keeps
/// this from going on forever). `Ok(Some(request))`: the head was split off `buf`; anything
/// after it (early frames) is left in `buf`.
///
/// # Errors
/// [`Error::HandshakeTooLarge`] and [`Error::TooManyHeaders`] (HTTP 431),
/// [`Error::MalformedHttp`] (400).
pub fn parse_request(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Request>, Error> {
    let Some(end) = find_end(buf, limits)? else {
        return Ok(None);
    };
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_handshake_headers()];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&buf[..end]).map_err(map_httparse)? {
        httparse::Status::Complete(n) if n == end => {}
        _ => return Err(Error::MalformedHttp),
    }
    let (Some(method), Some(path), Some(version)) = (req.method, req.path, req.version) else {
        return Err(Error::MalformedHttp);
    };
    let method = offset_in(&buf[..end], method.as_bytes());
    let target = offset_in(&buf[..end], path.as_bytes());
    let fields = field_offsets(&buf[..end], req.headers);
    let head = Head::split_off(buf, end, fields);
    Ok(Some(Request {
        head,
        method,
        target,
        version,
    }))
}

/// A valid upgrade request, ready to be answered with [`write_response`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accept {
    accept_key: String,
}

impl Accept {
    /// The `Sec-WebSocket-Accept` value.
    pub fn accept_key(&self) -> &str {
        &self.accept_key
    }
}

/// Checks that `req` is a valid WebSocket upgrade (RFC 6455 §4.2.1) and computes the accept
/// value.
///
/// # Errors
/// In the order checked: [`Error::MethodNotGet`], [`Error::HttpVersion`],
/// [`Error::MissingHost`] (400); [`Error::MissingUpgrade`] (426);
/// [`Error::MissingConnectionUpgrade`] (400); [`Error::UnsupportedVersion`] (426, answer with
/// `Sec-WebSocket-Version: 13`, which [`write_error`] does); [`Error::InvalidKey`] (400).
pub fn accept(req: &Request) -> Result<Accept, Error> {
    if req.method() != "GET" {
        return Err(Error::MethodNotGet);
    }
    if req.version() != 1 {
        return Err(Error::HttpVersion);
    }
    if req.host().is_none_or(str::is_empty) {
        return Err(Error::MissingHost);
    }
    if !req.is_upgrade() {
        return Err(Error::MissingUpgrade);
    }
    if !req.head.has_token("connection", "upgrade") {
        return Err(Error::MissingConnectionUpgrade);
    }
    let mut versions = req.head.all("sec-websocket-version");
    if versions.next().map(<[u8]>::trim_ascii) != Some(b"13") || versions.next().is_some() {
        return Err(Error::UnsupportedVersion);
    }
    let mut keys = req.head.all("sec-websocket-key");
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(Error::InvalidKey);
    };
    let key = key.trim_ascii();
    let mut raw = [0u8; 18];
    match base64::engine::general_purpose::STANDARD.decode_slice(key, &mut raw) {
        Ok(16) => {}
        _ => return Err(Error::InvalidKey),
    }
    Ok(Accept {
        accept_key: derive_accept_key(key),
    })
}

/// The first subprotocol the client offers (in its order of preference) that `supported`
/// contains, if any.
pub fn negotiate_protocol<'r>(req: &'r Request, supported: &[&str]) -> Option<&'r str> {
    req.protocols().find(|p| supported.contains(p))
}

/// The permessage-deflate parameters to agree to (RFC 7692): the first acceptable offer among
/// the request's `Sec-WebSocket-Extensions` headers, answered as `config` allows; `None` when
/// the client offers none that is acceptable (an offer with an unknown, repeated or
/// malformed parameter is not), and for Safari 15.0 to 15.3 when the answer would ask for
/// `client_no_context_takeover`, which those versions mishandle (as uWebSockets does).
///
/// Write the answer, `params.to_string()`, as the 101's `Sec-WebSocket-Extensions` header
/// ([`write_response`]'s `extra_headers`), and hand `params.agreed(config)` to the
/// connection's [`Session::set_deflate`](crate::Session::set_deflate). The answer always has
/// `server_no_context_takeover`: every message is compressed on its own, which lets a
/// broadcast be compressed once for every recipient.
///
/// ```
/// use bytes::BytesMut;
/// use oyez_frame::Limits;
/// use oyez_frame::deflate::DeflateConfig;
/// use oyez_frame::handshake::server::{negotiate_deflate, parse_request};
///
/// let mut head = BytesMut::from(
///     "GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Extensions: permessage-deflate; \
///      client_max_window_bits\r\n\r\n",
/// );
/// let req = parse_request(&mut head, &Limits::default())?.expect("a whole head");
/// let params = negotiate_deflate(&req, &DeflateConfig::default()).expect("offered");
/// assert_eq!(
///     params.to_string(),
///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
/// );
/// # Ok::<(), oyez_frame::Error>(())
/// ```
#[cfg(feature = "deflate")]
#[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
pub fn negotiate_deflate(
    req: &Request,
    config: &crate::deflate::DeflateConfig,
) -> Option<crate::deflate::Params> {
    let params = super::deflate::negotiate(req.head.all("sec-websocket-extensions"), config)?;
    if params.client_no_context_takeover()
        && req
            .header_str("user-agent")
            .is_some_and(super::deflate::is_safari_15_0_to_15_3)
    {
        return None;
    }
    Some(params)
}

/// Writes the `101 Switching Protocols` response, with the chosen subprotocol (which must be
/// one the client offered) and any extra headers.
///
/// # Warning
/// `extra_headers` are written as given; they must not contain CR or LF.
pub fn write_response(
    accept: &Accept,
    protocol: Option<&str>,
    extra_headers: &[(&str, &str)],
    dst: &mut BytesMut,
) {
    let mut head = String::with_capacity(160);
    head.push_str("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
    head.push_str(&accept.accept_key);
    head.push_str("\r\n");
    if let Some(p) = protocol {
        let _ = write!(head, "Sec-WebSocket-Protocol: {p}\r\n");
    }
    for (name, value) in extra_headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str("\r\n");
    dst.put_slice(head.as_bytes());
}

/// Writes a complete error response for a failed upgrade: the status from
/// [`Error::http_status`] (400 if it has none), a short plain-text body, `Connection: close`,
/// and for 426 the `Sec-WebSocket-Version: 13` and `Upgrade: websocket` headers.
pub fn write_error(err: &Error, dst: &mut BytesMut) {
    let status = err.http_status().unwrap_or(400);
    let extra: &[(&str, &str)] = if status == 426 {
        &[("Sec-WebSocket-Version", "13"), ("Upgrade", "websocket")]
    } else {
        &[]
    };
    write_plain_response(status, extra, &format!("{err}\n"), dst);
}

/// Writes a complete plain-text HTTP/1.1 response with `Connection: close`, for rejections
/// decided outside this crate (e.g. 403 for an origin not on an allow-list).
pub fn write_plain_response(
    status: u16,
    extra_headers: &[(&str, &str)],
    body: &str,
    dst: &mut BytesMut,
) {
    let mut head = String::with_capacity(160 + body.len());
    let _ = write!(
        head,
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason_phrase(status),
        body.len()
    );
    for (name, value) in extra_headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str("\r\n");
    head.push_str(body);
    dst.put_slice(head.as_bytes());
}

/// The standard reason phrase for the statuses a WebSocket endpoint sends.
pub const fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        409 => "Conflict",
        410 => "Gone",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_REQUEST: &str = "GET /chat?x=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

    fn parse(s: &str) -> Result<Option<Request>, Error> {
        parse_request(&mut BytesMut::from(s), &Limits::default())
    }

    fn check(s: &str) -> Result<Accept, Error> {
        accept(&parse(s)?.expect("a whole head"))
    }

    #[test]
    fn rfc_request_is_accepted() {
        let mut buf = BytesMut::from(RFC_REQUEST);
        buf.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]); // an early frame
        let req = parse_request(&mut buf, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            &buf[..],
            &[0x81, 0x80, 1, 2, 3, 4],
            "early bytes stay in the buffer"
        );
        assert_eq!(
            (req.method(), req.path(), req.query()),
            ("GET", "/chat", Some("x=1"))
        );
        assert_eq!(req.origin(), Some("http://example.com"));
        assert_eq!(req.protocols().collect::<Vec<_>>(), ["chat", "superchat"]);
        assert_eq!(
            negotiate_protocol(&req, &["superchat", "chat"]),
            Some("chat")
        );
        assert_eq!(negotiate_protocol(&req, &["mqtt"]), None);
        let acc = accept(&req).unwrap();
        assert_eq!(acc.accept_key(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let mut out = BytesMut::new();
        write_response(&acc, Some("chat"), &[("X-Test", "1")], &mut out);
        assert_eq!(
            &out[..],
            &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\nX-Test: 1\r\n\r\n"[..]
        );
    }

    #[test]
    fn partial_heads_wait() {
        for cut in 0..RFC_REQUEST.len() {
            assert!(parse(&RFC_REQUEST[..cut]).unwrap().is_none(), "{cut}");
        }
    }

    #[test]
    fn each_rule_has_its_status() {
        let cases: &[(&str, &str, Error)] = &[
            ("GET /chat", "POST /chat", Error::MethodNotGet),
            ("HTTP/1.1\r\nHost", "HTTP/1.0\r\nHost", Error::HttpVersion),
            ("Host: server.example.com\r\n", "", Error::MissingHost),
            (
                "Upgrade: websocket\r\n",
                "Upgrade: h2c\r\n",
                Error::MissingUpgrade,
            ),
            (
                "Connection: Upgrade\r\n",
                "Connection: keep-alive\r\n",
                Error::MissingConnectionUpgrade,
            ),
            (
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Version: 8",
                Error::UnsupportedVersion,
            ),
            (
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                "",
                Error::InvalidKey,
            ),
            (
                "dGhlIHNhbXBsZSBub25jZQ==",
                "dGhlIHNhbXBsZQ==",
                Error::InvalidKey,
            ),
            (
                "dGhlIHNhbXBsZSBub25jZQ==",
                "not base64 at all!!",
                Error::InvalidKey,
            ),
        ];
        for (from, to, expected) in cases {
            assert!(RFC_REQUEST.contains(from), "{from}");
            let bad = RFC_REQUEST.replacen(from, to, 1);
            assert_eq!(check(&bad), Err(*expected), "{to}");
        }
        assert_eq!(
            check(&RFC_REQUEST.replace("Upgrade: websocket", "upgrade: WebSocket")).map(|_| ()),
            Ok(())
        );
        assert_eq!(
            check(&RFC_REQUEST.replace("Connection: Upgrade", "Connection: keep-alive, upgrade"))
                .map(|_| ()),
            Ok(())
        );
        let two_keys = RFC_REQUEST.replace(
            "Origin",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin",
        );
        assert_eq!(check(&two_keys), Err(Error::InvalidKey));
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost a\r\n\r\n").unwrap_err(),
            Error::MalformedHttp
        );
        assert_eq!(
            parse("\x16\x03\x01\x02\x00\n\n").unwrap_err(),
            Error::MalformedHttp
        );
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits::default().with_max_handshake_bytes(64);
        let err = parse_request(&mut BytesMut::from(RFC_REQUEST), &limits).unwrap_err();
        assert_eq!(
            (err, err.http_status()),
            (Error::HandshakeTooLarge, Some(431))
        );
        // No end in sight: rejected as soon as the limit is reached, not buffered forever.
        let endless = "GET / HTTP/1.1\r\nX: ".to_string() + &"a".repeat(100);
        assert_eq!(
            parse_request(&mut BytesMut::from(endless.as_str()), &limits).unwrap_err(),
            Error::HandshakeTooLarge
        );
        let limits = Limits::default().with_max_handshake_headers(3);
        assert_eq!(
            parse_request(&mut BytesMut::from(RFC_REQUEST), &limits).unwrap_err(),
            Error::TooManyHeaders
        );
    }

    #[test]
    fn error_responses() {
        let mut out = BytesMut::new();
        write_error(&Error::UnsupportedVersion, &mut out);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
        out.clear();
        write_error(&Error::InvalidKey, &mut out);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}

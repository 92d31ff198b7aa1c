//! Plain HTTP on the WebSocket port: a hook for the requests that are not upgrades.
//!
//! A server answers only what its embedder registers: with no [`HttpHandler`]
//! ([`crate::Builder::http`]), a request that is not an upgrade gets the WebSocket routes'
//! answer (426 on a route, 404 elsewhere). With one, the server reads the request's body
//! (`Content-Length`, at most 1 MiB, else 413; within the handshake timeout, else 408) and
//! asks the handler; `None` falls through to that same answer. The server writes the
//! response with `Content-Length` and `Connection: close`, and without a body for `HEAD`.
//! [`crate::apps::Site`] is the binary's handler (health, the chat demo, the API).

use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;
use oyez_frame::handshake::server::{Request, reason_phrase};

use crate::Server;

/// The largest request body the server reads for an [`HttpHandler`].
pub(crate) const MAX_BODY: usize = 1 << 20;

/// A plain HTTP request: its head and its body.
#[derive(Debug)]
pub struct HttpRequest {
    head: Request,
    body: Bytes,
    peer: SocketAddr,
}

impl HttpRequest {
    pub(crate) const fn new(head: Request, body: Bytes, peer: SocketAddr) -> Self {
        Self { head, body, peer }
    }

    /// The method, e.g. `GET`.
    pub fn method(&self) -> &str {
        self.head.method()
    }

    /// The path: the target up to `?`.
    pub fn path(&self) -> &str {
        self.head.path()
    }

    /// The query: the target after `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.head.query()
    }

    /// The value of query parameter `name`, percent-decoded (`%XX`, and `+` as a space);
    /// borrowed when it has no escapes.
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        crate::query::param(self.query()?, name)
    }

    /// The value of the first header named `name` (case-insensitive), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header_str(name)
    }

    /// Whether the request carries `Authorization: Bearer <token>` with this `token`
    /// (compared in constant time).
    pub fn has_bearer(&self, token: &str) -> bool {
        self.header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), token.as_bytes()))
    }

    /// The request head, with every header.
    pub const fn head(&self) -> &Request {
        &self.head
    }

    /// The body (empty without a `Content-Length`).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The peer's address.
    pub const fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    pub(crate) fn into_head(self) -> Request {
        self.head
    }
}

/// A response to a plain HTTP request.
///
/// The constructors set `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`;
/// [`HttpResponse::with_header`] replaces either or adds others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    status: u16,
    content_type: Cow<'static, str>,
    headers: Vec<(Cow<'static, str>, String)>,
    body: Bytes,
}

impl HttpResponse {
    /// A response with `status`, a body, and its `Content-Type`.
    pub fn new(
        status: u16,
        content_type: impl Into<Cow<'static, str>>,
        body: impl Into<Bytes>,
    ) -> Self {
        Self {
            status,
            content_type: content_type.into(),
            headers: vec![
                ("Cache-Control".into(), "no-store".to_owned()),
                ("X-Content-Type-Options".into(), "nosniff".to_owned()),
            ],
            body: body.into(),
        }
    }

    /// A `text/plain; charset=utf-8` response.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "text/plain; charset=utf-8", body.into())
    }

    /// An `application/json` response.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "application/json", body.into())
    }

    /// A `200` `text/html; charset=utf-8` response.
    pub fn html(body: &'static str) -> Self {
        Self::new(200, "text/html; charset=utf-8", body)
    }

    /// The response with header `name` set to `value` (replacing one of that name).
    #[must_use]
    pub fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
    ) -> Self {
        let (name, value) = (name.into(), value.into());
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(h) => h.1 = value,
            None => self.headers.push((name, value)),
        }
        self
    }

    /// The status code.
    pub const fn status(&self) -> u16 {
        self.status
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The response on the wire; without its body for a `HEAD` request.
    pub(crate) fn to_bytes(&self, head_only: bool) -> Vec<u8> {
        use std::fmt::Write as _;
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            self.status,
            reason_phrase(self.status),
            self.content_type,
            self.body.len()
        );
        for (n, v) in &self.headers {
            let _ = write!(head, "{n}: {v}\r\n");
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut out = head.into_bytes();
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// Equal bytes, in a time that depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What [`HttpHandler::handle`] returns: a future of the response, or `None` to leave the
/// request to the server (426 on a WebSocket route, 404 elsewhere).
pub type HttpFuture<'a> = Pin<Box<dyn Future<Output = Option<HttpResponse>> + Send + 'a>>;

/// Answers plain HTTP requests on the WebSocket port ([`crate::Builder::http`]).
///
/// A function or closure `Fn(&HttpRequest, &Server) -> Option<HttpResponse>` is one; an
/// implementation of the trait may await (a database, another service) without holding up
/// the accept loop or a shard: each request runs in its own task, under the handshake
/// timeout.
///
/// ```
/// use oyez_server::{HttpRequest, HttpResponse, Server};
///
/// fn health(req: &HttpRequest, _: &Server) -> Option<HttpResponse> {
///     (req.path() == "/healthz").then(|| HttpResponse::text(200, "ok\n"))
/// }
/// # let _ = oyez_server::Builder::new(oyez_server::ServerConfig::default()).http(health);
/// ```
pub trait HttpHandler: Send + Sync + 'static {
    /// Answers `req`, or returns `None` to leave it to the server.
    fn handle<'a>(&'a self, req: &'a HttpRequest, server: &'a Server) -> HttpFuture<'a>;
}

impl<F> HttpHandler for F
where
    F: Fn(&HttpRequest, &Server) -> Option<HttpResponse> + Send + Sync + 'static,
{
    fn handle<'a>(&'a self, req: &'a HttpRequest, server: &'a Server) -> HttpFuture<'a> {
        Box::pin(std::future::ready(self(req, server)))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_comparison() {
        use super::constant_time_eq;
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secre"));
    }
}

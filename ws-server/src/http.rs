//! Plain HTTP on the WebSocket port: `/healthz`, the chat demo (`/`, `/chat`,
//! `/chat/roster`), and the `/api/*` endpoints when a token is set.
//!
//! # The chat demo
//!
//! `GET /` and `GET /chat` serve one self-contained page (`static/chat.html`, embedded in the
//! binary: no build step, no external assets). The page joins room `R` as user `U` by opening
//! a WebSocket to `/chat/R?user=U&session=S` (a fresh random `S` per page load), so the room
//! is an ordinary path of the binary: every message goes to the connections on the same path
//! on every instance (Tina4 `path` envelopes), and `?user=&session=` joins a user session
//! with namespace `/chat/R`.
//!
//! The page learns who is present from `GET /chat/roster?room=R`, a public, read-only view of
//! [`Server::roster`] limited to namespace `/chat/R` (no other namespace is reachable without
//! the API token), which it polls every two seconds and again whenever a peer says `hello`.
//! The roster is cluster-wide when the mega roster is on (`MEGA_WS_ROSTER=nats`), else this
//! instance's own.

use std::borrow::Cow;

use base64::Engine as _;
use bytes::BytesMut;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use oyez_frame::handshake::server::{Request, reason_phrase};

use crate::registry::ConnId;
use crate::server::roster_json;
use crate::{Error, Message, Server};

/// The largest request body the API accepts.
const MAX_BODY: usize = 1 << 20;

/// The chat demo's page.
const CHAT_PAGE: &str = include_str!("../static/chat.html");

/// The WebSocket path prefix of the demo's rooms; the roster endpoint serves only these.
const CHAT_PREFIX: &str = "/chat/";

/// The longest room name the demo accepts.
const MAX_ROOM: usize = 64;

/// Whether a request that is not an upgrade is plain HTTP (else it gets the WebSocket
/// routes' answer, e.g. 426).
pub(crate) fn is_http_route(path: &str) -> bool {
    matches!(path, "/healthz" | "/" | "/chat" | "/chat/roster") || path.starts_with("/api/")
}

/// A demo room name: 1 to 64 of `A-Z a-z 0-9 _ -`, so that the room's path needs no
/// escaping and the namespace is the same string however a client spells the URL.
pub(crate) fn valid_room(room: &str) -> bool {
    (1..=MAX_ROOM).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

struct Reply {
    status: u16,
    content_type: &'static str,
    body: Cow<'static, str>,
}

impl Reply {
    fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n").into(),
        }
    }

    fn json(status: u16, body: String) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.into(),
        }
    }

    fn html(body: &'static str) -> Self {
        Self {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: body.into(),
        }
    }
}

pub(crate) async fn serve(
    mut stream: TcpStream,
    mut buf: BytesMut,
    req: Request,
    server: &Server,
    deadline: tokio::time::Instant,
) -> Result<(), Error> {
    let len = req
        .header_str("content-length")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let reply = if len > MAX_BODY {
        Reply::text(413, "body too large")
    } else {
        while buf.len() < len {
            match tokio::time::timeout_at(deadline, stream.read_buf(&mut buf)).await {
                Ok(Ok(0)) => return Err(Error::HandshakeEof),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => return Err(Error::Timeout),
            }
        }
        route(&req, &buf[..len], server)
    };
    // A HEAD answer has the GET answer's headers and no body.
    let body = if req.method() == "HEAD" {
        ""
    } else {
        &*reply.body
    };
    let out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n{}",
        reply.status,
        reason_phrase(reply.status),
        reply.content_type,
        reply.body.len(),
        body
    );
    stream.write_all(out.as_bytes()).await?;
    let _ = stream.shutdown().await;
    Ok(())
}

fn route(req: &Request, body: &[u8], server: &Server) -> Reply {
    let (method, path) = (req.method(), req.path());
    let get = matches!(method, "GET" | "HEAD");
    match path {
        "/healthz" if get => return Reply::text(200, "ok"),
        "/" | "/chat" if get => return Reply::html(CHAT_PAGE),
        "/chat/roster" if get => return chat_roster(req, server),
        "/healthz" | "/" | "/chat" | "/chat/roster" => {
            return Reply::text(405, "method not allowed");
        }
        _ => {}
    }
    let Some(token) = &server.inner.config.api_token else {
        return Reply::text(404, "not found");
    };
    let authorized = req
        .header_str("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), token.as_bytes()));
    if !authorized {
        return Reply::text(401, "unauthorized");
    }
    match (method, path) {
        ("GET", "/api/roster") => {
            let ns = req
                .query()
                .and_then(|q| query_param(q, "ns"))
                .unwrap_or_default();
            Reply::json(200, roster_json(&server.roster(&ns)))
        }
        ("POST", "/api/broadcast") => match api_broadcast(body, server) {
            Ok(n) => Reply::json(200, format!("{{\"delivered\":{n}}}")),
            Err(e) => Reply::text(400, e),
        },
        ("POST", "/api/direct") => match api_direct(body, server) {
            Ok(n) => Reply::json(200, format!("{{\"delivered\":{n}}}")),
            Err(e) => Reply::text(400, e),
        },
        (_, "/api/roster" | "/api/broadcast" | "/api/direct") => {
            Reply::text(405, "method not allowed")
        }
        _ => Reply::text(404, "not found"),
    }
}

/// `GET /chat/roster?room=R`: the sessions in namespace `/chat/R`, as `/api/roster` gives
/// them. Only demo rooms: any other namespace needs the API token.
fn chat_roster(req: &Request, server: &Server) -> Reply {
    let room = req
        .query()
        .and_then(|q| query_param(q, "room"))
        .unwrap_or_default();
    if !valid_room(&room) {
        return Reply::text(400, "room must be 1 to 64 of A-Z a-z 0-9 _ -");
    }
    Reply::json(
        200,
        roster_json(&server.roster(&format!("{CHAT_PREFIX}{room}"))),
    )
}

/// `{path? | room?, text | b64, exclude?}`
fn api_broadcast(body: &[u8], server: &Server) -> Result<usize, &'static str> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "body is not JSON")?;
    let msg = if let Some(text) = v.get("text").and_then(Value::as_str) {
        Message::text(text)
    } else if let Some(b64) = v.get("b64").and_then(Value::as_str) {
        let data = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| "b64 is not base64")?;
        Message::binary(data)
    } else {
        return Err("need text or b64");
    };
    let exclude: Vec<ConnId> = match v.get("exclude") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s
            .parse()
            .map(|id| vec![id])
            .map_err(|_| "exclude is not a connection id")?,
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|i| {
                i.as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or("exclude is not a list of connection ids")
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("exclude is not a connection id"),
    };
    let room = v.get("room").and_then(Value::as_str);
    let path = v.get("path").and_then(Value::as_str);
    Ok(match (room, path) {
        (Some(_), Some(_)) => return Err("give path or room, not both"),
        (Some(room), None) => server.broadcast_to_room(room, msg, &exclude),
        (None, path) => server.broadcast(msg, &exclude, path),
    })
}

/// `{userId, message}`: the message (any JSON) reaches the user's connections as text.
fn api_direct(body: &[u8], server: &Server) -> Result<usize, &'static str> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "body is not JSON")?;
    let user = v
        .get("userId")
        .and_then(Value::as_str)
        .ok_or("need userId")?;
    let message = v.get("message").ok_or("need message")?;
    Ok(server.direct_to_user(user, Message::text(message.to_string())))
}

/// The value of `name` in a query string, percent-decoded; borrowed when it has no escapes.
pub(crate) fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| {
            if v.contains(['%', '+']) {
                Cow::Owned(percent_decode(v))
            } else {
                Cow::Borrowed(v)
            }
        })
    })
}

/// Decodes `%XX` escapes and `+` (a space, as forms and `URLSearchParams` write it); a `%`
/// not followed by two hex digits stays as it is, and invalid UTF-8 becomes U+FFFD.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let (hi, lo) = (bytes[i + 1], bytes[i + 2]);
                let hex = (hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit())
                    .then(|| core::str::from_utf8(&bytes[i + 1..i + 3]).ok())
                    .flatten()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        assert_eq!(
            query_param("ns=%2Fchat&x=1", "ns").as_deref(),
            Some("/chat")
        );
        assert_eq!(query_param("a=b+c", "a").as_deref(), Some("b c"));
        assert_eq!(query_param("a=%zz%", "a").as_deref(), Some("%zz%"));
        assert_eq!(query_param("a=%+1", "a").as_deref(), Some("% 1"));
        assert_eq!(
            query_param("user=Ana%20Mar%C3%ADa", "user").as_deref(),
            Some("Ana María")
        );
        assert_eq!(query_param("a=1", "b"), None);
    }

    #[test]
    fn room_names() {
        assert!(valid_room("lobby"));
        assert!(valid_room("Team_2-b"));
        assert!(valid_room(&"r".repeat(64)));
        assert!(!valid_room(&"r".repeat(65)));
        assert!(!valid_room(""));
        assert!(!valid_room("a b"));
        assert!(!valid_room("a/b"));
        assert!(!valid_room("caf\u{e9}"));
    }

    #[test]
    fn demo_routes_are_http_only_where_they_must_be() {
        for p in ["/", "/chat", "/chat/roster", "/healthz", "/api/roster"] {
            assert!(is_http_route(p), "{p}");
        }
        // The rooms themselves are WebSocket paths.
        for p in ["/chat/lobby", "/echo", "/rooms/a", "/chatx"] {
            assert!(!is_http_route(p), "{p}");
        }
    }

    #[test]
    fn the_page_is_embedded() {
        assert!(CHAT_PAGE.starts_with("<!doctype html>"));
        assert!(CHAT_PAGE.contains("/chat/roster?room="));
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secre"));
    }
}

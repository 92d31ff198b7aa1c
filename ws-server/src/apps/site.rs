//! The binary's plain HTTP: `/healthz`, the chat demo (`/`, `/chat`, `/chat/roster`), and
//! the `/api/*` endpoints when a token is set.
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

use base64::Engine as _;
use serde_json::Value;

use crate::http::{HttpFuture, HttpHandler, HttpRequest, HttpResponse};
use crate::registry::roster_json;
use crate::{Audience, ConnId, Message, MetricsEndpoint, Server};

/// The chat demo's page.
const CHAT_PAGE: &str = include_str!("../../static/chat.html");

/// The WebSocket path prefix of the demo's rooms; the roster endpoint serves only these.
const CHAT_PREFIX: &str = "/chat/";

/// The longest room name the demo accepts.
const MAX_ROOM: usize = 64;

/// The binary's plain HTTP routes, as an [`HttpHandler`]:
///
/// | route | answer |
/// | --- | --- |
/// | `GET /healthz` | `200 ok` |
/// | `GET /`, `GET /chat` | the chat demo page |
/// | `GET /chat/roster?room=R` | `[{"sessionId","userId","metadata"?}]` of namespace `/chat/R` (`R`: 1 to 64 of `A-Z a-z 0-9 _ -`, else 400); 404 [without the public roster](Site::without_public_roster) |
/// | `GET /api/roster?ns=/path` | the roster of a namespace |
/// | `POST /api/broadcast` | `{"path"?: "/p" \| "room"?: "r", "text": "…" \| "b64": "…", "exclude"?: "<conn id>" \| ["…"]}` → `{"delivered": N}` |
/// | `POST /api/direct` | `{"userId": "u", "message": <any JSON>}` → `{"delivered": N}` |
/// | `GET /metrics` | the Prometheus metrics, with [`Site::with_metrics`] ([`MetricsEndpoint`]: its path, its token) |
///
/// `/api/*` exists only with a token, and requires `Authorization: Bearer <token>` (401
/// otherwise; compared in constant time). Other methods on these paths get 405; other
/// paths are left to the server.
#[derive(Clone, Debug)]
pub struct Site {
    api_token: Option<String>,
    public_roster: bool,
    metrics: Option<MetricsEndpoint>,
}

impl Default for Site {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Site {
    /// The site, with `/api/*` enabled by `api_token`.
    pub const fn new(api_token: Option<String>) -> Self {
        Self {
            api_token,
            public_roster: true,
            metrics: None,
        }
    }

    /// Without the public `/chat/roster` (404), as the binary runs with signed identities:
    /// user ids are then not for anyone who asks. `/api/roster` stays, behind its token.
    #[must_use]
    pub const fn without_public_roster(mut self) -> Self {
        self.public_roster = false;
        self
    }

    /// Also answers `metrics`' path (`GET /metrics`) with the server's Prometheus metrics.
    #[must_use]
    pub fn with_metrics(mut self, metrics: MetricsEndpoint) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

impl HttpHandler for Site {
    fn handle<'a>(&'a self, req: &'a HttpRequest, server: &'a Server) -> HttpFuture<'a> {
        Box::pin(std::future::ready(self.route(req, server)))
    }
}

fn text(status: u16, body: &str) -> HttpResponse {
    HttpResponse::text(status, format!("{body}\n"))
}

/// A demo room name: 1 to 64 of `A-Z a-z 0-9 _ -`, so that the room's path needs no
/// escaping and the namespace is the same string however a client spells the URL.
fn valid_room(room: &str) -> bool {
    (1..=MAX_ROOM).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Site {
    fn route(&self, req: &HttpRequest, server: &Server) -> Option<HttpResponse> {
        if let Some(answer) = self.metrics.as_ref().and_then(|m| m.answer(req, server)) {
            return Some(answer);
        }
        let (method, path) = (req.method(), req.path());
        let get = matches!(method, "GET" | "HEAD");
        match path {
            "/healthz" if get => return Some(text(200, "ok")),
            "/" | "/chat" if get => return Some(HttpResponse::html(CHAT_PAGE)),
            "/chat/roster" if !self.public_roster => return Some(text(404, "not found")),
            "/chat/roster" if get => return Some(chat_roster(req, server)),
            "/healthz" | "/" | "/chat" | "/chat/roster" => {
                return Some(text(405, "method not allowed"));
            }
            p if !p.starts_with("/api/") => return None,
            _ => {}
        }
        let Some(token) = &self.api_token else {
            return Some(text(404, "not found"));
        };
        if !req.has_bearer(token) {
            return Some(text(401, "unauthorized"));
        }
        let delivered = |n: usize| HttpResponse::json(200, format!("{{\"delivered\":{n}}}"));
        Some(match (method, path) {
            ("GET", "/api/roster") => {
                let ns = req.query_param("ns").unwrap_or_default();
                HttpResponse::json(200, roster_json(&server.roster(&ns)))
            }
            ("POST", "/api/broadcast") => match api_broadcast(req.body(), server) {
                Ok(n) => delivered(n),
                Err(e) => text(400, e),
            },
            ("POST", "/api/direct") => match api_direct(req.body(), server) {
                Ok(n) => delivered(n),
                Err(e) => text(400, e),
            },
            (_, "/api/roster" | "/api/broadcast" | "/api/direct") => {
                text(405, "method not allowed")
            }
            _ => text(404, "not found"),
        })
    }
}

/// `GET /chat/roster?room=R`: the sessions in namespace `/chat/R`, as `/api/roster` gives
/// them. Only demo rooms: any other namespace needs the API token.
fn chat_roster(req: &HttpRequest, server: &Server) -> HttpResponse {
    let room = req.query_param("room").unwrap_or_default();
    if !valid_room(&room) {
        return text(400, "room must be 1 to 64 of A-Z a-z 0-9 _ -");
    }
    HttpResponse::json(
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
    let to = match (room, path) {
        (Some(_), Some(_)) => return Err("give path or room, not both"),
        (Some(room), None) => Audience::room(room),
        (None, Some(path)) => Audience::path(path),
        (None, None) => Audience::all(),
    };
    Ok(server.broadcast(to.except_ids(&exclude), msg))
}

/// `{userId, message}`: the message (any JSON) reaches the user's connections as text.
fn api_direct(body: &[u8], server: &Server) -> Result<usize, &'static str> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "body is not JSON")?;
    let user = v
        .get("userId")
        .and_then(Value::as_str)
        .ok_or("need userId")?;
    let message = v.get("message").ok_or("need message")?;
    Ok(server.broadcast(Audience::user(user), Message::text(message.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_page_is_embedded() {
        assert!(CHAT_PAGE.starts_with("<!doctype html>"));
        assert!(CHAT_PAGE.contains("/chat/roster?room="));
    }
}

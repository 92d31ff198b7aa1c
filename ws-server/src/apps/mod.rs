//! The `ws-server` binary's application, usable on its own: its WebSocket routes' handlers
//! ([`Echo`], [`Rooms`], [`All`], [`PathChat`]), its plain HTTP ([`Site`]: health, the chat
//! demo, the API), signed identities ([`auth`]: the upgrade hook the binary uses when a key
//! is configured), and [`mount`], which registers the routes and the site on a [`Builder`]
//! as the binary does. Nothing here is served unless it is registered.

pub mod auth;
mod site;

use serde_json::Value;
use serde_json::value::RawValue;

pub use site::Site;

use crate::upgrade::Protocols;
use crate::{Audience, Builder, Conn, Handler, Message};

/// The subprotocol every route of the binary speaks (plain text and binary messages, as
/// without one): a client may offer it, and a browser that offers a token as a subprotocol
/// (`bearer.<token>`, see [`auth`]) must offer it too, since a browser fails a connection
/// whose answer names none of its offer.
pub const PROTOCOL: &str = "oyez";

/// Registers the binary's routes on `builder`: `/echo` ([`Echo`]), `/rooms/<name>`
/// ([`Rooms`]), `/all` ([`All`]), every other path ([`PathChat`]), each speaking
/// [`PROTOCOL`] (not required), and `site` for plain HTTP.
pub fn mount(builder: Builder, site: Site) -> Builder {
    let speaks = || Protocols::new([PROTOCOL]);
    builder
        .route_with("/echo", Echo, speaks())
        .route_prefix_with("/rooms/", Rooms, speaks())
        .route_with("/all", All, speaks())
        .fallback_with(PathChat, speaks())
        .http(site)
}

/// Echoes every message to its sender (text stays text, binary stays binary).
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl Handler for Echo {
    fn on_message(&self, conn: &Conn, msg: Message) {
        conn.send(msg);
    }
}

/// `/rooms/<name>`: the connection joins room `<name>`; each message goes to the room,
/// excluding the sender.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rooms;

impl Rooms {
    fn room(conn: &Conn) -> &str {
        conn.path().strip_prefix("/rooms/").unwrap_or_default()
    }
}

impl Handler for Rooms {
    fn on_open(&self, conn: &Conn) {
        join_session_from_query(conn);
        conn.server().join_room(conn.id(), Self::room(conn));
    }

    fn on_message(&self, conn: &Conn, msg: Message) {
        if !direct_message(conn, &msg) {
            let to = Audience::room(Self::room(conn)).except(conn.id());
            conn.relay(to, msg);
        }
    }
}

/// `/all`: each message goes to every connection, excluding the sender.
#[derive(Debug, Clone, Copy, Default)]
pub struct All;

impl Handler for All {
    fn on_open(&self, conn: &Conn) {
        join_session_from_query(conn);
    }

    fn on_message(&self, conn: &Conn, msg: Message) {
        if !direct_message(conn, &msg) {
            conn.relay(Audience::all().except(conn.id()), msg);
        }
    }
}

/// Any other path: each message goes to the connections on the same path, excluding the
/// sender.
#[derive(Debug, Clone, Copy, Default)]
pub struct PathChat;

impl Handler for PathChat {
    fn on_open(&self, conn: &Conn) {
        join_session_from_query(conn);
    }

    fn on_message(&self, conn: &Conn, msg: Message) {
        if !direct_message(conn, &msg) {
            let to = Audience::path(conn.path()).except(conn.id());
            conn.relay(to, msg);
        }
    }
}

/// `?user=U&session=S` on any path joins session `S` of user `U`, in namespace = the path;
/// a connection with an identity from its upgrade ([`auth`]) keeps it, and the query is
/// ignored.
fn join_session_from_query(conn: &Conn) {
    if let (Some(user), Some(session)) = (conn.query_param("user"), conn.query_param("session")) {
        conn.server().join_session(conn.id(), &user, &session, None);
    }
}

/// A text `{"type":"direct","to":"U2","payload":…}` from a connection with a user session is
/// delivered to every connection of user `U2` as the text
/// `{"type":"direct","from":"U","payload":…}` (payload verbatim). Returns whether `msg` was
/// such a message.
fn direct_message(conn: &Conn, msg: &Message) -> bool {
    /// The fields a direct message needs; others are ignored. `payload` stays raw, so it is
    /// relayed byte for byte.
    #[derive(serde::Deserialize)]
    struct Direct<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        to: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        payload: Option<&'a RawValue>,
    }
    let Some(text) = msg.as_text() else {
        return false;
    };
    if !text.trim_start().starts_with('{') {
        return false;
    }
    let Ok(d) = serde_json::from_str::<Direct<'_>>(text) else {
        return false;
    };
    let (Some("direct"), Some(to)) = (d.kind.as_deref(), d.to.as_deref()) else {
        return false;
    };
    let Some(from) = conn.server().session_of(conn.id()).map(|s| s.user_id) else {
        return false;
    };
    let mut out = String::with_capacity(text.len() + from.len() + 32);
    out.push_str(r#"{"type":"direct","from":"#);
    out.push_str(&Value::from(from).to_string());
    out.push_str(r#","payload":"#);
    out.push_str(d.payload.map_or("null", RawValue::get));
    out.push('}');
    conn.server()
        .broadcast(Audience::user(to), Message::text(out));
    true
}

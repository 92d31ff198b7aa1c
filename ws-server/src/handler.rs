//! What a route does with its connections ([`Handler`]), and a connection as its handler
//! sees it ([`Conn`]).

use std::net::SocketAddr;
use std::sync::Arc;

use oyez_frame::CloseCode;

use crate::registry::{ConnEntry, SessionInfo};
use crate::request::RequestInfo;
use crate::{Audience, ConnId, Message, Server};

/// What a route does with its connections. Every method has a default that does nothing, so
/// a handler implements only what it needs.
///
/// Callbacks run on the thread of the connection's shard, which serves many connections:
/// keep them short and never block in them; `tokio::spawn` slow work (the runtime's context
/// is entered on shard threads). A callback that panics closes only its connection, with
/// 1011 ([`crate::Stats::handler_panics`]).
pub trait Handler: Send + Sync + 'static {
    /// The connection is open (after the upgrade).
    fn on_open(&self, conn: &Conn) {
        let _ = conn;
    }

    /// A whole message arrived.
    ///
    /// Its payload is often a view of the shard's receive block (no copy is made on the way
    /// in: see [`crate::_design`]), so keeping it beyond the callback keeps that block
    /// (256 KiB) alive; to store a message for long (a history, a cache), copy it, e.g.
    /// `Bytes::copy_from_slice(msg.as_bytes())`. Sending it on, now or from a spawned task,
    /// is what it is for.
    fn on_message(&self, conn: &Conn, msg: Message) {
        let _ = (conn, msg);
    }

    /// The connection ended: `code` is the peer's close code, 1005 if its close had none,
    /// or 1006 if the connection ended without a close handshake.
    fn on_close(&self, conn: &Conn, code: CloseCode, reason: &str) {
        let _ = (conn, code, reason);
    }
}

/// A handler that does nothing: connections are kept, messages dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopHandler;

impl Handler for NoopHandler {}

/// A connection, as handlers see it. Cheap to clone, and usable from any thread.
#[derive(Clone)]
pub struct Conn {
    pub(crate) entry: Arc<ConnEntry>,
    /// The upgrade request's headers: only on the `Conn` given to [`Handler::on_open`].
    pub(crate) request: Option<Arc<RequestInfo>>,
    pub(crate) server: Server,
}

impl Conn {
    /// The connection's id.
    pub fn id(&self) -> ConnId {
        self.entry.id
    }

    /// The request path (without the query).
    pub fn path(&self) -> &str {
        &self.entry.path
    }

    /// The query string, if there was one.
    pub fn query(&self) -> Option<&str> {
        self.entry.query()
    }

    /// The value of query parameter `name`, percent-decoded (`%XX`, and `+` as a space);
    /// borrowed when it has no escapes.
    pub fn query_param(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        crate::query::param(self.query()?, name)
    }

    /// The upgrade request's headers, on the `Conn` given to [`Handler::on_open`] (and its
    /// clones); other callbacks see none. An idle connection keeps no copy of its request:
    /// take what you need in `on_open` (as uWebSockets' upgrade handler does).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.request
            .iter()
            .flat_map(|r| r.headers.iter())
            .map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The first header named `name` (case-insensitive), if it is UTF-8. Like
    /// [`Conn::headers`], only in [`Handler::on_open`].
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| core::str::from_utf8(v).ok())
    }

    /// The identity its upgrade gave it ([`crate::upgrade::Decision::with_identity`]): its
    /// user session, fixed for its life. `None` for a connection without one (which may
    /// still join a session with [`Server::join_session`]).
    pub fn identity(&self) -> Option<SessionInfo> {
        self.entry.identity()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.entry.peer()
    }

    /// Queues a message for this connection. Returns false if the connection is gone or was
    /// dropped as a slow client.
    pub fn send(&self, msg: impl Into<Message>) -> bool {
        self.server.send_one(&self.entry, msg.into())
    }

    /// Relays a message from this connection's client to `to`: [`Server::broadcast`], and
    /// with the mega cluster on, an all or a room audience also goes to the mega cluster as
    /// a `bcast` for the namespace that is this connection's path (a path audience goes
    /// there as a `bcast` for its own path either way; text only: the mega wire carries
    /// JSON). With both clusters on, the server is a bridge: see [`crate::_design`].
    ///
    /// ```no_run
    /// # fn demo(conn: &oyez_server::Conn, msg: oyez_server::Message) {
    /// use oyez_server::Audience;
    /// conn.relay(Audience::room("lobby").except(conn.id()), msg);
    /// # }
    /// ```
    pub fn relay(&self, to: Audience<'_>, msg: impl Into<Message>) -> usize {
        self.server
            .broadcast_from(Some(&self.entry.path), to, msg.into())
    }

    /// Starts the close handshake with `code` and `reason`.
    pub fn close(&self, code: CloseCode, reason: &str) {
        self.server.post_close(&self.entry, code, reason);
    }

    /// The server, for broadcasts, rooms and sessions.
    pub fn server(&self) -> &Server {
        &self.server
    }
}

impl core::fmt::Debug for Conn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Conn")
            .field("id", &self.entry.id)
            .field("path", &self.entry.path)
            .finish_non_exhaustive()
    }
}

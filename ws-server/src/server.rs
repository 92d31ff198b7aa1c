//! The server: builder, handle, accept loop and the upgrade.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::{debug, info};
use oyez_backplane::{MegaConfig, Transport};
use oyez_envelope::tina4::Kind;
use oyez_frame::handshake::server as hs;
use oyez_frame::{CloseCode, SharedFrame};

use crate::cluster::{ClusterPlan, Clusters};
use crate::http;
use crate::registry::{ConnEntry, ConnId, Registry, Scope, SessionInfo, Stats};
use crate::shard::{self, Adoption, Cmd, ShardHandle};
use crate::{Error, Message, ServerConfig};

/// What a route does with its connections. Every method has a default that does nothing, so
/// a handler implements only what it needs.
///
/// Callbacks run on the thread of the connection's shard, which serves many connections:
/// keep them short and never block in them; `tokio::spawn` slow work (the runtime's context
/// is entered on shard threads).
pub trait Handler: Send + Sync + 'static {
    /// The connection is open (after the upgrade).
    fn on_open(&self, conn: &Conn) {
        let _ = conn;
    }

    /// A whole message arrived.
    ///
    /// Its payload is often a view of the shard's receive block (see the `shard` module's
    /// docs: no copy is made on the way in), so keeping it beyond the callback keeps that
    /// block (256 KiB) alive; to store a message for long (a history, a cache), copy it, e.g.
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

/// What is kept of the upgrade request for [`Handler::on_open`].
pub(crate) struct RequestInfo {
    pub(crate) headers: Vec<(String, Vec<u8>)>,
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
        self.entry.query.as_deref()
    }

    /// The value of query parameter `name`, percent-decoded (`%XX`, and `+` as a space);
    /// borrowed when it has no escapes.
    pub fn query_param(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        http::query_param(self.query()?, name)
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

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.entry.peer()
    }

    /// Queues a message for this connection. Returns false if the connection is gone or was
    /// dropped as a slow client.
    pub fn send(&self, msg: impl Into<Message>) -> bool {
        self.server.push_one(&self.entry, &msg.into().to_frame())
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

type Routes = Vec<(Route, Arc<dyn Handler>)>;

#[derive(Debug, Clone)]
enum Route {
    Exact(String),
    Prefix(String),
}

/// Builds a [`Server`].
///
/// ```no_run
/// # async fn demo() -> Result<(), oyez_server::Error> {
/// use oyez_server::{Builder, Conn, Handler, Message, ServerConfig};
///
/// struct Echo;
/// impl Handler for Echo {
///     fn on_message(&self, conn: &Conn, msg: Message) {
///         conn.send(msg);
///     }
/// }
///
/// let server = Builder::new(ServerConfig::default()).route("/echo", Echo).bind().await?;
/// println!("listening on {}", server.local_addr());
/// server.closed().await;
/// # Ok(()) }
/// ```
pub struct Builder {
    config: ServerConfig,
    routes: Routes,
    fallback: Option<Arc<dyn Handler>>,
    plan: ClusterPlan,
}

impl Builder {
    /// A builder with `config` and no routes.
    pub fn new(config: ServerConfig) -> Self {
        Self {
            config,
            routes: Vec::new(),
            fallback: None,
            plan: ClusterPlan::default(),
        }
    }

    /// Serves WebSocket connections to exactly `path` with `handler`.
    #[must_use]
    pub fn route(mut self, path: &str, handler: impl Handler) -> Self {
        self.routes
            .push((Route::Exact(path.to_owned()), Arc::new(handler)));
        self
    }

    /// Serves WebSocket connections to every path that starts with `prefix`.
    #[must_use]
    pub fn route_prefix(mut self, prefix: &str, handler: impl Handler) -> Self {
        self.routes
            .push((Route::Prefix(prefix.to_owned()), Arc::new(handler)));
        self
    }

    /// Serves every other path with `handler` (without one, other paths get 404).
    #[must_use]
    pub fn fallback(mut self, handler: impl Handler) -> Self {
        self.fallback = Some(Arc::new(handler));
        self
    }

    /// Joins the Tina4 cluster over `transport`: `all`, `path` and `room` broadcasts are
    /// published as `tina4:ws` envelopes, and other instances' are delivered here.
    #[must_use]
    pub fn tina4_cluster(mut self, transport: Arc<dyn Transport>) -> Self {
        self.plan.tina4 = Some(transport);
        self
    }

    /// Joins the mega cluster over `transport`: direct messages, namespace broadcasts
    /// ([`Server::broadcast_ns`]) and, with the roster on, the presence roster.
    #[must_use]
    pub fn mega_cluster(mut self, transport: Arc<dyn Transport>, config: MegaConfig) -> Self {
        self.plan.mega = Some((transport, config));
        self
    }

    /// Binds the listener, joins the clusters, and starts accepting in the background.
    ///
    /// # Errors
    /// The bind failed, or a cluster transport refused to subscribe.
    pub async fn bind(self) -> Result<Server, Error> {
        let listener = TcpListener::bind(self.config.bind).await?;
        let (clusters, incoming) = self.plan.start().await?;
        let local_addr = listener.local_addr()?;
        let (shutdown, _) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        let count = match self.config.shards {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
        .min(crate::registry::MAX_SHARDS);
        let slot = Arc::new(std::sync::OnceLock::new());
        let runtime = tokio::runtime::Handle::current();
        let shards = (0..count)
            .map(|i| {
                let i = u16::try_from(i).expect("at most u16::MAX shards");
                shard::start(i, slot.clone(), runtime.clone())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let server = Server {
            inner: Arc::new(Shared {
                config: self.config,
                routes: self.routes,
                fallback: self.fallback,
                registry: Registry::new(count),
                stats: Stats::default(),
                shutdown,
                done: done_rx,
                local_addr,
                clusters,
                shards,
                next_shard: AtomicUsize::new(0),
                live: watch::channel(0).0,
            }),
        };
        let _ = slot.set(server.clone());
        crate::cluster::spawn_relays(&server, incoming);
        info!(addr = %local_addr, "listening");
        tokio::spawn(accept_loop(listener, server.clone(), done_tx));
        Ok(server)
    }
}

impl core::fmt::Debug for Builder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    routes: Routes,
    fallback: Option<Arc<dyn Handler>>,
    pub(crate) registry: Registry,
    pub(crate) stats: Stats,
    pub(crate) shutdown: watch::Sender<bool>,
    done: watch::Receiver<bool>,
    local_addr: SocketAddr,
    pub(crate) clusters: Clusters,
    shards: Vec<Arc<ShardHandle>>,
    next_shard: AtomicUsize,
    /// Connections handed to a shard and not yet ended.
    live: watch::Sender<usize>,
}

/// A handle to a running server: broadcast, rooms, sessions, counts, shutdown. Cheap to clone.
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<Shared>,
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.inner.local_addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The number of open connections.
    pub fn client_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// The server's counters.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// Sends `msg` to every connection (or only those on `path`), except the `exclude`d ones.
    /// The message is encoded once; returns how many connections it was queued for.
    ///
    /// With the Tina4 cluster on, the message then goes to the other instances too (kind
    /// `path` with a path, `all` without), carrying the first excluded id.
    pub fn broadcast(
        &self,
        msg: impl Into<Message>,
        exclude: &[ConnId],
        path: Option<&str>,
    ) -> usize {
        let msg = msg.into();
        let scope = path.map_or(Scope::All, Scope::Path);
        let n = self.deliver(&msg.to_frame(), scope, |e| !exclude.contains(&e.id));
        let kind = if path.is_some() {
            Kind::Path
        } else {
            Kind::All
        };
        self.publish_tina4(kind, &msg, None, path, exclude);
        n
    }

    /// A mega namespace broadcast: `message` (JSON) goes to every connection on path `ns`
    /// here, except those whose session is listed, and to the other instances of the mega
    /// cluster as a `bcast` envelope.
    pub fn broadcast_ns(
        &self,
        ns: &str,
        channel: Option<&str>,
        message: &str,
        except_session_ids: &[String],
    ) -> usize {
        let n = self.deliver(&Message::text(message).to_frame(), Scope::Path(ns), |e| {
            !e.has_session_in(except_session_ids)
        });
        if let (Some(m), Ok(raw)) = (
            &self.inner.clusters.mega,
            serde_json::value::RawValue::from_string(message.to_owned()),
        ) {
            let channel = channel.map_or(oyez_envelope::mega::Channel::Absent, |c| {
                oyez_envelope::mega::Channel::Name(c.to_owned())
            });
            m.publish_broadcast(ns, channel, raw, except_session_ids.to_vec());
        }
        n
    }

    /// Sends `msg` to one connection. Returns false if it is not here.
    pub fn send_to(&self, id: ConnId, msg: impl Into<Message>) -> bool {
        self.inner
            .registry
            .get(id)
            .is_some_and(|e| self.push_one(&e, &msg.into().to_frame()))
    }

    /// Closes one connection with `code` and `reason`. Returns false if it is not here.
    pub fn close_conn(&self, id: ConnId, code: CloseCode, reason: &str) -> bool {
        self.inner
            .registry
            .get(id)
            .map(|e| self.post_close(&e, code, reason))
            .is_some()
    }

    /// Adds a connection to a room. Returns false if the connection is not here.
    pub fn join_room(&self, id: ConnId, room: &str) -> bool {
        self.inner.registry.join_room(id, room)
    }

    /// Removes a connection from a room. Returns whether it was in it.
    pub fn leave_room(&self, id: ConnId, room: &str) -> bool {
        self.inner.registry.leave_room(id, room)
    }

    /// Sends `msg` to the members of `room`, except the `exclude`d ones.
    ///
    /// With the Tina4 cluster on, the message then goes to the room's members on the other
    /// instances too (even when the room has no member here, as the reference does).
    pub fn broadcast_to_room(
        &self,
        room: &str,
        msg: impl Into<Message>,
        exclude: &[ConnId],
    ) -> usize {
        let msg = msg.into();
        let n = self.deliver(&msg.to_frame(), Scope::Room(room), |e| {
            !exclude.contains(&e.id)
        });
        self.publish_tina4(Kind::Room, &msg, Some(room), None, exclude);
        n
    }

    /// Attaches a user session to a connection (namespace = the connection's path).
    /// Returns false if the connection is not here.
    pub fn join_session(
        &self,
        id: ConnId,
        user_id: &str,
        session_id: &str,
        metadata: Option<&str>,
    ) -> bool {
        let Some(entry) = self.inner.registry.get(id) else {
            return false;
        };
        let info = SessionInfo {
            ns: entry.path.to_string(),
            user_id: user_id.to_owned(),
            session_id: session_id.to_owned(),
            metadata: metadata.map(str::to_owned),
        };
        match self.inner.registry.join_session(id, info.clone()) {
            Ok(old) => {
                if let Some(old) = old {
                    self.mega_leave(&old.session_id);
                }
                self.mega_join(&info);
                true
            }
            Err(_) => false,
        }
    }

    /// The user session joined on a connection, if any.
    pub fn session_of(&self, id: ConnId) -> Option<SessionInfo> {
        self.inner.registry.get(id).and_then(|e| e.session())
    }

    /// Sends `msg` to every connection of `user_id`. Returns how many (here).
    ///
    /// With the mega cluster on, the message also goes to the user's sessions on the other
    /// instances (a text that is JSON as that JSON, other text as a JSON string; binary
    /// stays local).
    pub fn direct_to_user(&self, user_id: &str, msg: impl Into<Message>) -> usize {
        let msg = msg.into();
        let n = self.deliver(&msg.to_frame(), Scope::User(user_id), |_| true);
        self.publish_direct(user_id, &msg);
        n
    }

    /// The sessions in namespace `ns`: cluster-wide with the mega roster on, else this
    /// instance's.
    pub fn roster(&self, ns: &str) -> Vec<SessionInfo> {
        self.mega_roster(ns).unwrap_or_else(|| {
            self.inner
                .registry
                .sessions()
                .into_iter()
                .filter(|s| s.ns == ns)
                .collect()
        })
    }

    /// Stops accepting, closes every connection with 1001 "server shutdown", and waits until
    /// they are gone (at most the close timeout, 5 s, for peers that do not answer).
    ///
    /// Then it leaves the clusters: a roster `remove` for every session that was here, and
    /// the backplane connections are closed.
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        self.closed().await;
        self.leave_clusters().await;
    }

    /// Resolves once the server has shut down and every connection has ended.
    pub async fn closed(&self) {
        let mut done = self.inner.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }

    /// Queues `frame` for the connections in `scope` that `keep` accepts: one command per
    /// shard, however many of its connections the frame is for. Returns how many.
    pub(crate) fn deliver(
        &self,
        frame: &SharedFrame,
        scope: Scope<'_>,
        keep: impl FnMut(&ConnEntry) -> bool,
    ) -> usize {
        let per_shard = self.inner.registry.targets(scope, keep);
        let mut n = 0;
        for (shard, to) in self.inner.shards.iter().zip(per_shard) {
            n += to.len();
            match to.len() {
                0 => {}
                1 => shard.post(Cmd::DeliverOne {
                    frame: frame.clone(),
                    to: to[0],
                }),
                _ => shard.post(Cmd::Deliver {
                    frame: frame.clone(),
                    to,
                }),
            }
        }
        self.inner
            .stats
            .frames_queued
            .fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    /// Queues `frame` for one connection; false if it is gone or was dropped as slow.
    pub(crate) fn push_one(&self, entry: &ConnEntry, frame: &SharedFrame) -> bool {
        if entry.is_gone() {
            return false;
        }
        self.inner.shards[entry.id.shard()].post(Cmd::DeliverOne {
            frame: frame.clone(),
            to: entry.target(),
        });
        self.inner
            .stats
            .frames_queued
            .fetch_add(1, Ordering::Relaxed);
        true
    }

    pub(crate) fn post_close(&self, entry: &ConnEntry, code: CloseCode, reason: &str) {
        self.inner.shards[entry.id.shard()].post(Cmd::Close {
            to: entry.target(),
            code,
            reason: reason.into(),
        });
    }

    /// A shard's connection ended.
    pub(crate) fn conn_ended(&self) {
        self.inner.live.send_modify(|n| *n = n.saturating_sub(1));
        self.inner
            .stats
            .connections_closed
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The route serving `path`: an index for [`Server::handler`].
    fn route_for(&self, path: &str) -> Option<u16> {
        let routes = &self.inner.routes;
        let i = routes
            .iter()
            .position(|(route, _)| match route {
                Route::Exact(p) => p == path,
                Route::Prefix(p) => path.starts_with(p.as_str()),
            })
            .or_else(|| self.inner.fallback.as_ref().map(|_| routes.len()))?;
        u16::try_from(i).ok()
    }

    /// The handler of a route that [`Server::route_for`] gave.
    pub(crate) fn handler(&self, route: u16) -> &dyn Handler {
        let i = usize::from(route);
        match self.inner.routes.get(i) {
            Some((_, h)) => h.as_ref(),
            None => {
                self.inner.fallback.as_deref().expect(
                    "INVARIANT: route_for gives the fallback's index only when there is one",
                )
            }
        }
    }
}

/// Waits until the flag is set (or its sender is gone). Returns no guard, so it can sit in a
/// `select!` beside branches that await.
pub(crate) async fn until_true(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|v| *v).await;
}

async fn accept_loop(listener: TcpListener, server: Server, done: watch::Sender<bool>) {
    let mut shutdown = server.inner.shutdown.subscribe();
    let tasks = tokio_util_tracker::Tracker::default();
    loop {
        tokio::select! {
            () = until_true(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let server = server.clone();
                    tasks.spawn(async move {
                        if let Err(e) = serve(stream, peer, server).await {
                            debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    debug!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    }
    drop(listener);
    info!("stopped accepting; closing connections");
    tasks.wait().await;
    for shard in &server.inner.shards {
        shard.post(Cmd::Shutdown);
    }
    let _ = server.inner.live.subscribe().wait_for(|n| *n == 0).await;
    info!("shut down");
    done.send_replace(true);
}

/// A tiny task tracker: counts live tasks and wakes the waiter when none remain.
mod tokio_util_tracker {
    use std::future::Future;
    use std::sync::Arc;

    use tokio::sync::watch;

    #[derive(Debug)]
    pub(super) struct Tracker {
        live: Arc<watch::Sender<usize>>,
    }

    impl Default for Tracker {
        fn default() -> Self {
            Self {
                live: Arc::new(watch::channel(0).0),
            }
        }
    }

    impl Tracker {
        pub(super) fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
            let live = self.live.clone();
            live.send_modify(|n| *n += 1);
            tokio::spawn(async move {
                fut.await;
                live.send_modify(|n| *n -= 1);
            });
        }

        pub(super) async fn wait(&self) {
            let _ = self.live.subscribe().wait_for(|n| *n == 0).await;
        }
    }
}

/// Reads the request head (under the handshake timeout), then upgrades or answers HTTP.
async fn serve(mut stream: TcpStream, peer: SocketAddr, server: Server) -> Result<(), Error> {
    let shared = &server.inner;
    let _ = stream.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(1024);
    let deadline = tokio::time::Instant::now() + shared.config.handshake_timeout;
    let req = loop {
        match hs::parse_request(&mut buf, &shared.config.limits) {
            Ok(Some(req)) => break req,
            Ok(None) => {}
            Err(e) => return reject(&mut stream, &server, e).await,
        }
        match tokio::time::timeout_at(deadline, stream.read_buf(&mut buf)).await {
            Ok(Ok(0)) => return Err(Error::HandshakeEof),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {
                shared
                    .stats
                    .handshakes_rejected
                    .fetch_add(1, Ordering::Relaxed);
                let mut out = BytesMut::new();
                hs::write_plain_response(408, &[], "handshake timeout\n", &mut out);
                let _ = stream.write_all(&out).await;
                return Err(Error::Timeout);
            }
        }
    };
    if !req.is_upgrade() && http::is_http_route(req.path()) {
        return http::serve(stream, buf, req, &server, deadline).await;
    }
    let Some(route) = server.route_for(req.path()) else {
        return respond(&mut stream, &server, 404, "no such route\n").await;
    };
    let accept = match hs::accept(&req) {
        Ok(a) => a,
        Err(e) => return reject(&mut stream, &server, e).await,
    };
    if let Some(allowed) = &shared.config.allowed_origins
        && !req.origin().is_some_and(|o| allowed.iter().any(|a| a == o))
    {
        return respond(&mut stream, &server, 403, "origin not allowed\n").await;
    }
    if shared
        .config
        .max_connections
        .is_some_and(|max| *shared.live.borrow() >= max)
    {
        return respond(&mut stream, &server, 503, "too many connections\n").await;
    }
    // The shard writes the 101 once the connection is registered, so a client that has seen
    // it is reached by every broadcast sent after.
    let mut response = BytesMut::new();
    hs::write_response(&accept, None, &[], &mut response);

    let request = RequestInfo {
        headers: req
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_vec()))
            .collect(),
    };
    let adoption = Adoption {
        stream: stream.into_std()?,
        path: req.path().to_owned(),
        query: req.query().map(Into::into),
        peer,
        request: Arc::new(request),
        route,
        response: response.freeze(),
        early: buf,
    };
    drop(req);
    shared.live.send_modify(|n| *n += 1);
    shared
        .stats
        .connections_opened
        .fetch_add(1, Ordering::Relaxed);
    let n = shared.next_shard.fetch_add(1, Ordering::Relaxed) % shared.shards.len();
    shared.shards[n].post(Cmd::Adopt(Box::new(adoption)));
    Ok(())
}

async fn reject(stream: &mut TcpStream, server: &Server, e: oyez_frame::Error) -> Result<(), Error> {
    server
        .inner
        .stats
        .handshakes_rejected
        .fetch_add(1, Ordering::Relaxed);
    debug!(error = %e, "upgrade rejected");
    let mut out = BytesMut::new();
    hs::write_error(&e, &mut out);
    stream.write_all(&out).await?;
    let _ = stream.shutdown().await;
    Ok(())
}

async fn respond(
    stream: &mut TcpStream,
    server: &Server,
    status: u16,
    body: &str,
) -> Result<(), Error> {
    server
        .inner
        .stats
        .handshakes_rejected
        .fetch_add(1, Ordering::Relaxed);
    let mut out = BytesMut::new();
    hs::write_plain_response(status, &[], body, &mut out);
    stream.write_all(&out).await?;
    let _ = stream.shutdown().await;
    Ok(())
}

/// Sessions as the HTTP roster endpoint returns them: `[{sessionId, userId, metadata?}]`.
pub(crate) fn roster_json(sessions: &[SessionInfo]) -> String {
    let mut out = String::from("[");
    for (i, s) in sessions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"sessionId\":");
        out.push_str(&serde_json::Value::from(s.session_id.as_str()).to_string());
        out.push_str(",\"userId\":");
        out.push_str(&serde_json::Value::from(s.user_id.as_str()).to_string());
        if let Some(m) = &s.metadata {
            out.push_str(",\"metadata\":");
            out.push_str(m);
        }
        out.push('}');
    }
    out.push(']');
    out
}

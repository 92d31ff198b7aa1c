//! Who may connect, and as whom: the upgrade hook ([`UpgradeHook`], on
//! [`crate::Builder::upgrade_hook`]), the subprotocols a route speaks ([`Protocols`]), and
//! the identity a connection is given at its upgrade ([`Identity`]).
//!
//! # When the hook runs
//!
//! In the connection's own handshake task, after the server's checks and before the `101`:
//! no route, 404; a malformed upgrade, 400/426; an `Origin` off the allow-list, 403; the
//! server full, 503; the client's address over its limits, 429
//! ([`ServerConfig::max_connections_per_ip`](crate::ServerConfig::max_connections_per_ip),
//! [`ServerConfig::max_upgrades_per_sec`](crate::ServerConfig::max_upgrades_per_sec)); no
//! offered subprotocol that a route which requires one speaks, 400. Then the hook decides:
//! it may await (a database, a token introspection call) without holding up the accept loop
//! or a shard, but the handshake timeout still runs
//! ([`ServerConfig::handshake_timeout`](crate::ServerConfig::handshake_timeout), counted
//! from the first byte): a hook that has not decided by then gets the client a 503 "upgrade
//! hook timed out", and so does a hook that panics (500). Every refusal counts in
//! [`Stats::handshakes_rejected`](crate::Stats::handshakes_rejected); the hook's own in
//! [`Stats::upgrades_refused`](crate::Stats::upgrades_refused), the limits' 429s in
//! [`Stats::upgrades_limited`](crate::Stats::upgrades_limited).
//!
//! # What it decides
//!
//! [`Decision::accept`], optionally with a subprotocol (one the client offered: the route's
//! pick, [`UpgradeRequest::protocol`], is the default), an [`Identity`] and extra response
//! headers; or [`Decision::refuse`] with a status (401, 403, 429, 503…) and a short body. A
//! decision the server cannot honour (a protocol the client did not offer, a header with CR
//! or LF or one the server writes itself, metadata that is not JSON, a status outside
//! 400–599) is the hook's bug: the client gets 500 and the server logs why.
//!
//! # Identities
//!
//! An identity attached at the upgrade is the connection's user session from its first
//! callback on: [`crate::Audience::user`] reaches it, direct messages come from it, and the
//! roster ([`crate::Server::roster`], and the mega roster across instances) lists it. It is
//! fixed: [`crate::Server::join_session`] refuses to replace it, so a connection cannot
//! change who it is afterwards. Handlers read it with [`crate::Conn::identity`].
//!
//! ```
//! use oyez_server::upgrade::{Decision, Identity, UpgradeRequest};
//! use oyez_server::Server;
//!
//! // A ban list, a maintenance switch, and a (toy) identity from a header.
//! fn door(req: &UpgradeRequest, _: &Server) -> Decision {
//!     if req.peer_addr().ip().is_unspecified() {
//!         return Decision::refuse(403, "banned\n");
//!     }
//!     match req.header("x-user") {
//!         Some(user) => Decision::accept().with_identity(Identity::new(user)),
//!         None => Decision::refuse(401, "who are you?\n").with_header("WWW-Authenticate", "Bearer"),
//!     }
//! }
//! # let _ = oyez_server::Builder::new(oyez_server::ServerConfig::default()).upgrade_hook(door);
//! ```

use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use oyez_frame::handshake::server::Request;

pub use crate::identity::Identity;

use crate::Server;

/// The subprotocols a route speaks, in the server's order of preference, and whether a
/// client must offer one of them ([`crate::Builder::route_with`]).
///
/// The server picks the first protocol the client offers (in the client's order) that the
/// route speaks; with none, the connection goes on without a subprotocol, or, if the route
/// requires one, is refused with 400.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Protocols {
    supported: Vec<String>,
    required: bool,
}

impl Protocols {
    /// A route that speaks `supported` and also takes clients that offer none of them.
    pub fn new<S: Into<String>>(supported: impl IntoIterator<Item = S>) -> Self {
        Self {
            supported: supported.into_iter().map(Into::into).collect(),
            required: false,
        }
    }

    /// Refuses (400) a client that offers none of the route's protocols.
    #[must_use]
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The protocols, in the order given.
    pub fn supported(&self) -> impl Iterator<Item = &str> {
        self.supported.iter().map(String::as_str)
    }

    /// Whether a client must offer one.
    pub const fn is_required(&self) -> bool {
        self.required
    }

    /// The first of `offered` that the route speaks.
    pub(crate) fn pick<'r>(&self, mut offered: impl Iterator<Item = &'r str>) -> Option<&'r str> {
        offered.find(|p| self.supported.iter().any(|s| s == p))
    }
}

/// An upgrade request, as the [`UpgradeHook`] sees it: the request head (path, query,
/// headers, the offered subprotocols), the peer's address, and the subprotocol the route
/// picked.
#[derive(Debug)]
pub struct UpgradeRequest {
    head: Request,
    peer: SocketAddr,
    protocol: Option<String>,
}

impl UpgradeRequest {
    pub(crate) const fn new(head: Request, peer: SocketAddr, protocol: Option<String>) -> Self {
        Self {
            head,
            peer,
            protocol,
        }
    }

    /// The path: the target up to `?`.
    pub fn path(&self) -> &str {
        self.head.path()
    }

    /// The query: the target after `?`, if there is one.
    pub fn query(&self) -> Option<&str> {
        self.head.query()
    }

    /// The value of query parameter `name`, percent-decoded (`%XX`, and `+` as a space).
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        crate::query::param(self.query()?, name)
    }

    /// The value of the first header named `name` (case-insensitive), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header_str(name)
    }

    /// The `Origin` header (the allow-list, if any, has already accepted it).
    pub fn origin(&self) -> Option<&str> {
        self.head.origin()
    }

    /// The subprotocols the client offers, in its order of preference.
    pub fn offered_protocols(&self) -> impl Iterator<Item = &str> + '_ {
        self.head.protocols()
    }

    /// The subprotocol the route picked from the offer (see [`Protocols`]), which the `101`
    /// carries unless the decision names another.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The request head, with every header.
    pub const fn head(&self) -> &Request {
        &self.head
    }

    /// The peer's address (the TCP peer: behind a proxy, the proxy's).
    pub const fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    pub(crate) fn into_parts(self) -> (Request, Option<String>) {
        (self.head, self.protocol)
    }
}

/// What the [`UpgradeHook`] decided: accept (with a subprotocol, an identity, headers) or
/// refuse (a status and a short body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub(crate) verdict: Verdict,
    pub(crate) headers: Vec<(Cow<'static, str>, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Accept {
        protocol: Option<String>,
        identity: Option<Identity>,
    },
    Refuse {
        status: u16,
        body: Cow<'static, str>,
    },
}

impl Decision {
    /// Upgrade the connection (with the route's subprotocol, if it picked one).
    pub const fn accept() -> Self {
        Self {
            verdict: Verdict::Accept {
                protocol: None,
                identity: None,
            },
            headers: Vec::new(),
        }
    }

    /// Answer `status` (400–599: 401, 403, 429, 503…) with a short plain-text `body`, and
    /// close.
    pub fn refuse(status: u16, body: impl Into<Cow<'static, str>>) -> Self {
        Self {
            verdict: Verdict::Refuse {
                status,
                body: body.into(),
            },
            headers: Vec::new(),
        }
    }

    /// Answer with subprotocol `protocol`, which the client must have offered (instead of
    /// the route's pick). No effect on a refusal.
    #[must_use]
    pub fn with_protocol(mut self, protocol: impl Into<String>) -> Self {
        if let Verdict::Accept { protocol: p, .. } = &mut self.verdict {
            *p = Some(protocol.into());
        }
        self
    }

    /// Gives the connection `identity`, fixed for its life. No effect on a refusal.
    #[must_use]
    pub fn with_identity(mut self, identity: Identity) -> Self {
        if let Verdict::Accept { identity: i, .. } = &mut self.verdict {
            *i = Some(identity);
        }
        self
    }

    /// Adds a response header (to the `101`, or to the refusal: `WWW-Authenticate`,
    /// `Retry-After`…). The server writes its own (`Upgrade`, `Connection`,
    /// `Sec-WebSocket-*`, `Content-Type`, `Content-Length`); naming one of them is refused.
    #[must_use]
    pub fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
    ) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// 101 for an acceptance, else the refusal's status.
    pub const fn status(&self) -> u16 {
        match &self.verdict {
            Verdict::Accept { .. } => 101,
            Verdict::Refuse { status, .. } => *status,
        }
    }

    /// The identity an acceptance attaches.
    pub const fn identity(&self) -> Option<&Identity> {
        match &self.verdict {
            Verdict::Accept { identity, .. } => identity.as_ref(),
            Verdict::Refuse { .. } => None,
        }
    }
}

/// What [`UpgradeHook::decide`] returns: a future of the decision.
pub type UpgradeFuture<'a> = Pin<Box<dyn Future<Output = Decision> + Send + 'a>>;

/// Decides whether an upgrade goes ahead, and as whom ([`crate::Builder::upgrade_hook`]; see
/// the [module docs](self) for when it runs).
///
/// A function or closure `Fn(&UpgradeRequest, &Server) -> Decision` is one; an
/// implementation of the trait may await, within the handshake timeout.
pub trait UpgradeHook: Send + Sync + 'static {
    /// Decides on `req`.
    fn decide<'a>(&'a self, req: &'a UpgradeRequest, server: &'a Server) -> UpgradeFuture<'a>;
}

impl<F> UpgradeHook for F
where
    F: Fn(&UpgradeRequest, &Server) -> Decision + Send + Sync + 'static,
{
    fn decide<'a>(&'a self, req: &'a UpgradeRequest, server: &'a Server) -> UpgradeFuture<'a> {
        Box::pin(std::future::ready(self(req, server)))
    }
}

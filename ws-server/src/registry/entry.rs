//! The shared side of one connection: who it is and where it belongs.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::SessionInfo;
use crate::ConnId;
use crate::id::Target;
use crate::sync::lock;

/// The shared side of one connection: who it is and where it is. Its socket, session and
/// outbound queue live on its shard, which is the only place they are touched; everyone else
/// reaches them through the shard's inbox.
#[derive(Debug)]
pub(crate) struct ConnEntry {
    pub(crate) id: ConnId,
    /// Shared with every connection on the same path (interned by the registry).
    pub(crate) path: Arc<str>,
    /// Boxed once more, to be one pointer: most connections have none, and so the entry
    /// (72 bytes) and its `Arc` counts fit the allocator's 96-byte size class (80 did not).
    query: Option<Box<Box<str>>>,
    /// The peer's address, as IP and port (smaller than a `SocketAddr`).
    peer_ip: IpAddr,
    peer_port: u16,
    /// permessage-deflate was agreed: a broadcast to it keeps a compressed form.
    deflate: bool,
    /// Set when the connection has ended or was dropped as a slow client: sends fail fast.
    gone: AtomicBool,
    /// `None` until it joins a room or a session (boxed: an idle connection stays small).
    pub(super) membership: Mutex<Option<Box<Membership>>>,
}

/// Where a connection belongs: its rooms and its user session.
#[derive(Debug, Default)]
pub(super) struct Membership {
    /// A connection is in few rooms: a list is smaller than a set.
    pub(super) rooms: Vec<String>,
    pub(super) session: Option<Box<SessionInfo>>,
    /// The session is the identity the upgrade gave: it cannot be replaced.
    pub(super) identified: bool,
}

impl ConnEntry {
    pub(crate) fn new(
        id: ConnId,
        path: Arc<str>,
        query: Option<Box<str>>,
        peer: SocketAddr,
        deflate: bool,
    ) -> Self {
        Self {
            id,
            path,
            query: query.map(Box::new),
            peer_ip: peer.ip(),
            peer_port: peer.port(),
            deflate,
            gone: AtomicBool::new(false),
            membership: Mutex::new(None),
        }
    }

    /// The query of its upgrade request (without the `?`), if it had one.
    pub(crate) fn query(&self) -> Option<&str> {
        self.query.as_deref().map(|q| &**q)
    }

    /// Its user session, if it joined one.
    pub(crate) fn session(&self) -> Option<SessionInfo> {
        lock(&self.membership)
            .as_ref()
            .and_then(|m| m.session.as_deref().cloned())
    }

    /// Its identity: the user session the upgrade gave it, if any.
    pub(crate) fn identity(&self) -> Option<SessionInfo> {
        lock(&self.membership)
            .as_ref()
            .filter(|m| m.identified)
            .and_then(|m| m.session.as_deref().cloned())
    }

    /// Whether its user session is one of `ids` (no lock taken when `ids` is empty).
    pub(crate) fn has_session_in(&self, ids: &[String]) -> bool {
        !ids.is_empty()
            && lock(&self.membership)
                .as_ref()
                .and_then(|m| m.session.as_ref())
                .is_some_and(|s| ids.contains(&s.session_id))
    }

    /// Whether permessage-deflate was agreed with it.
    pub(crate) const fn deflate(&self) -> bool {
        self.deflate
    }

    /// Whether sends to this connection are refused (it ended, or was dropped as slow).
    pub(crate) fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }

    pub(crate) fn set_gone(&self) {
        self.gone.store(true, Ordering::Relaxed);
    }

    /// The address of this connection on its shard.
    pub(crate) const fn target(&self) -> Target {
        self.id.target()
    }

    /// The peer's address (an IPv6 one without its flow info and scope id).
    pub(crate) const fn peer(&self) -> SocketAddr {
        SocketAddr::new(self.peer_ip, self.peer_port)
    }
}

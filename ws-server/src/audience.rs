//! Which connections a message is for: the one vocabulary of the broadcast API, of local
//! fan-out, and of the cluster envelopes (mapped to and from them in
//! [`crate::cluster`]'s `wire` module).

use crate::ConnId;

/// The connections an [`Audience`] starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope<'a> {
    /// Every connection.
    All,
    /// The connections on a path (the request path, without the query). A mega namespace
    /// is a path.
    Path(&'a str),
    /// The members of a room ([`crate::Server::join_room`]).
    Room(&'a str),
    /// The connections of a user ([`crate::Server::join_session`]).
    User(&'a str),
}

/// Which connections a message is for: a [`Scope`], less the connections and user sessions
/// it excludes. Borrowed and `Copy`, so saying it costs no allocation.
///
/// ```
/// use oyez_server::{Audience, ConnId, Scope};
///
/// let sender = ConnId(7);
/// let to = Audience::room("lobby").except(sender);
/// assert_eq!(to.scope(), Scope::Room("lobby"));
/// assert!(!to.admits(sender, None) && to.admits(ConnId(8), None));
///
/// let muted = [ConnId(8), ConnId(9)];
/// let to = Audience::all().except_ids(&muted);
/// assert!(!to.admits(ConnId(9), None) && to.admits(sender, None));
///
/// let skip = ["s1".to_owned()];
/// let ns = Audience::path("/chat").except_sessions(&skip);
/// assert!(!ns.admits(ConnId(8), Some("s1")) && ns.admits(ConnId(8), Some("s2")));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Audience<'a> {
    scope: Scope<'a>,
    except: Except<'a>,
    except_sessions: &'a [String],
}

/// The connections an [`Audience`] leaves out: one (held, so that
/// `Audience::path(p).except(conn.id())` borrows nothing) or a borrowed list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Except<'a> {
    One(ConnId),
    Ids(&'a [ConnId]),
}

impl<'a> Audience<'a> {
    /// Every connection.
    pub const fn all() -> Self {
        Self::new(Scope::All)
    }

    /// The connections on `path`.
    pub const fn path(path: &'a str) -> Self {
        Self::new(Scope::Path(path))
    }

    /// The members of `room`.
    pub const fn room(room: &'a str) -> Self {
        Self::new(Scope::Room(room))
    }

    /// The connections of user `user_id`.
    pub const fn user(user_id: &'a str) -> Self {
        Self::new(Scope::User(user_id))
    }

    /// Everyone in `scope`.
    pub const fn new(scope: Scope<'a>) -> Self {
        Self {
            scope,
            except: Except::Ids(&[]),
            except_sessions: &[],
        }
    }

    /// Leaves out one connection (typically the sender), instead of any left out before.
    #[must_use]
    pub const fn except(mut self, id: ConnId) -> Self {
        self.except = Except::One(id);
        self
    }

    /// Leaves out these connections, instead of any left out before.
    #[must_use]
    pub const fn except_ids(mut self, ids: &'a [ConnId]) -> Self {
        self.except = Except::Ids(ids);
        self
    }

    /// Leaves out the connections whose user session is one of these (the mega cluster's
    /// `exceptSessionIds`).
    #[must_use]
    pub const fn except_sessions(mut self, session_ids: &'a [String]) -> Self {
        self.except_sessions = session_ids;
        self
    }

    /// Where it starts from.
    pub const fn scope(&self) -> Scope<'a> {
        self.scope
    }

    /// The connections left out.
    pub const fn excluded(&self) -> &[ConnId] {
        match &self.except {
            Except::One(id) => core::slice::from_ref(id),
            Except::Ids(ids) => ids,
        }
    }

    /// The user sessions left out.
    pub const fn excluded_sessions(&self) -> &'a [String] {
        self.except_sessions
    }

    /// Whether a connection in the scope, with id `id` and user session `session` (if it
    /// joined one), is not excluded.
    pub fn admits(&self, id: ConnId, session: Option<&str>) -> bool {
        !self.excluded().contains(&id)
            && session.is_none_or(|s| !self.except_sessions.iter().any(|e| e == s))
    }
}

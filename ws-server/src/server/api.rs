//! The server's public API: broadcasts, single sends, rooms, user sessions, the roster,
//! counters and shutdown.

use std::net::SocketAddr;

use oyez_frame::CloseCode;

use super::Server;
use crate::registry::SessionInfo;
use crate::stats::Origin;
use crate::{Audience, ConnId, Message, Stats};

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

    /// Sends `msg` to the connections of `to` here, and publishes it for the other instances
    /// of the clusters the server joined. The message is encoded once, however many
    /// connections it is for; returns how many here it was queued for.
    ///
    /// ```no_run
    /// # fn demo(server: &oyez_server::Server, sender: oyez_server::ConnId) {
    /// use oyez_server::Audience;
    /// server.broadcast(Audience::all(), "to everyone");
    /// server.broadcast(Audience::path("/chat").except(sender), "to /chat but the sender");
    /// server.broadcast(Audience::room("lobby"), "to the room");
    /// server.broadcast(Audience::user("alice"), "to each of alice's connections");
    /// # }
    /// ```
    ///
    /// With the Tina4 cluster on, an audience of all, a path or a room goes to the other
    /// instances as a `tina4:ws` envelope (carrying the first excluded connection id: the
    /// wire has room for one), even when it has no member here, as the reference does. With
    /// the mega cluster on, a user's messages go to the user's sessions on the other
    /// instances as a `direct` envelope, and a path's as a `bcast` for that namespace (a
    /// text that is JSON as that JSON, other text as a JSON string; binary stays off the
    /// mega wire). With both clusters on, the mega copy of what also went over Tina4 is a
    /// bridged copy (see [`crate::_design`], the bridge). A client's message to all or a
    /// room reaches mega nodes too through [`crate::Conn::relay`], which knows the sender's
    /// namespace. Namespace broadcasts with a channel or excepted sessions are
    /// [`Server::broadcast_ns`].
    pub fn broadcast(&self, to: Audience<'_>, msg: impl Into<Message>) -> usize {
        self.broadcast_from(None, to, msg.into())
    }

    /// [`Server::broadcast`], for a message from a client on namespace `ns` (its path) when
    /// given: with the mega cluster on, an all or room audience then goes to mega too, as a
    /// `bcast` for `ns` ([`crate::Conn::relay`]).
    pub(crate) fn broadcast_from(&self, ns: Option<&str>, to: Audience<'_>, msg: Message) -> usize {
        let n = self.deliver(&msg, to, Origin::Local);
        self.inner.clusters.publish(to, &msg, ns);
        n
    }

    /// A mega namespace broadcast: `message` (JSON text) goes to every connection on path
    /// `ns` here, except those whose session is listed, and to the other instances of the
    /// mega cluster as a `bcast` envelope on `channel` (a message that is not JSON is
    /// delivered here only).
    pub fn broadcast_ns(
        &self,
        ns: &str,
        channel: Option<&str>,
        message: &str,
        except_session_ids: &[String],
    ) -> usize {
        let to = Audience::path(ns).except_sessions(except_session_ids);
        let msg = Message::text(message);
        let n = self.deliver(&msg, to, Origin::Local);
        self.inner.clusters.publish_ns(to, &msg, channel);
        n
    }

    /// Sends `msg` to one connection. Returns false if it is not here.
    pub fn send_to(&self, id: ConnId, msg: impl Into<Message>) -> bool {
        self.inner
            .registry
            .get(id)
            .is_some_and(|e| self.send_one(&e, msg.into()))
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

    /// Attaches a user session to a connection (namespace = the connection's path), and
    /// announces it to the mega roster; a session joined this way may be replaced by
    /// another. Returns false if the connection is not here, or if it has an identity from
    /// its upgrade ([`crate::upgrade`]): that one is fixed for the connection's life.
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
                    self.inner.clusters.leave(&old.session_id);
                }
                self.inner.clusters.join(&info);
                true
            }
            Err(_) => false,
        }
    }

    /// The user session joined on a connection, if any.
    pub fn session_of(&self, id: ConnId) -> Option<SessionInfo> {
        self.inner.registry.get(id).and_then(|e| e.session())
    }

    /// The sessions in namespace `ns`: cluster-wide with the mega roster on, else this
    /// instance's.
    pub fn roster(&self, ns: &str) -> Vec<SessionInfo> {
        self.inner.clusters.roster(ns).unwrap_or_else(|| {
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
        self.inner.clusters.stop().await;
    }

    /// Resolves once the server has shut down and every connection has ended.
    pub async fn closed(&self) {
        let mut done = self.inner.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }
}

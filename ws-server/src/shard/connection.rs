//! One connection on its shard: small while idle; what only a busy or closing connection
//! needs is boxed apart.

use std::net::TcpStream;
use std::time::Instant;

use bytes::BytesMut;
use oyez_frame::{CloseCode, Session};

use super::write_queue::WriteQueue;

/// Connection flag: in the shard's `dirty` list.
pub(super) const DIRTY: u8 = 1;
/// Connection flag: in the shard's `again` list.
pub(super) const AGAIN: u8 = 2;
/// Connection flag: the peer hung up (or the socket failed): read until the end of the
/// stream, since no new readiness event will come for it.
pub(super) const HUP: u8 = 4;
/// Connection flag: a `wss://` connection, whose TLS session is in the shard's
/// [`super::tls::TlsSessions`].
pub(super) const TLS: u8 = 8;
/// Connection flag: its session holds a busy session's buffers, and it is in the shard's
/// list of such connections (see [`super::quiet`]).
pub(super) const HELD: u8 = 16;
/// Connection flag: settled since the last sweep of [`super::quiet`].
pub(super) const ACTIVE: u8 = 32;

/// One connection on its shard: an idle connection is only this (and its registry entry).
/// `C` is the value its callbacks get ([`super::Host::Conn`]).
pub(super) struct Connection<C> {
    pub(super) stream: TcpStream,
    /// The route serving the connection (handed back to the host with each callback).
    pub(super) route: u16,
    /// [`DIRTY`], [`AGAIN`], [`HUP`], [`TLS`], [`HELD`], [`ACTIVE`].
    pub(super) flags: u8,
    pub(super) session: Session,
    pub(super) conn: C,
    /// The tick of this connection's entry in the timer heap, 0 for none (see
    /// [`super::timers::Timers`]).
    pub(super) armed: u64,
    /// `None` while the connection is idle.
    pub(super) extra: Option<Box<Extra>>,
}

/// The state of a connection that is not idle.
#[derive(Default)]
pub(super) struct Extra {
    /// Bytes of an incomplete frame.
    pub(super) rbuf: BytesMut,
    /// Output the socket has not taken yet.
    pub(super) out: WriteQueue,
    /// Hang up at this time (a slow client's grace, or lingering output after the close).
    pub(super) hangup: Option<Instant>,
    /// How the connection ended, once known.
    pub(super) closed: Option<(CloseCode, String)>,
}

impl<C> Connection<C> {
    pub(super) fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    pub(super) fn hangup(&self) -> Option<Instant> {
        self.extra.as_ref().and_then(|e| e.hangup)
    }

    /// Whether bytes of an unfinished frame wait in the connection's own buffer.
    pub(super) fn has_partial(&self) -> bool {
        self.extra.as_ref().is_some_and(|e| !e.rbuf.is_empty())
    }

    /// Bytes queued and not yet written.
    pub(super) fn backlog(&self) -> usize {
        self.session.pending_bytes() + self.extra.as_ref().map_or(0, |e| e.out.len())
    }

    /// Records how the connection ended, unless already known.
    pub(super) fn set_closed(&mut self, code: CloseCode, reason: impl FnOnce() -> String) {
        let e = self.extra();
        if e.closed.is_none() {
            e.closed = Some((code, reason()));
        }
    }

    /// Records a protocol error of the session as how the connection ended (its close code,
    /// 1002 when it has none, and its text as the reason).
    pub(super) fn set_failed(&mut self, e: &oyez_frame::Error) {
        self.set_closed(e.close_code().unwrap_or(CloseCode::PROTOCOL_ERROR), || {
            e.to_string()
        });
    }

    /// Frees the extra state once nothing in it is in use.
    pub(super) fn trim(&mut self) {
        if self.extra.as_ref().is_some_and(|e| {
            e.rbuf.is_empty() && e.out.is_empty() && e.hangup.is_none() && e.closed.is_none()
        }) {
            self.extra = None;
        }
    }
}

#[cfg(test)]
mod tests {
    /// An idle connection is its slab entry and its registry entry (in an `Arc`): their sizes
    /// are most of the server's idle memory per connection (the registry entry's 72 bytes
    /// and the `Arc`'s counts fill one 96-byte allocation).
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn an_idle_connection_stays_small() {
        use std::mem::size_of;
        let slab = size_of::<Option<super::Connection<crate::Conn>>>();
        assert!(slab <= 216, "{slab}");
        let entry = size_of::<crate::registry::ConnEntry>();
        assert!(entry <= 72, "{entry}");
    }
}

//! The read path: bytes from the socket to the session, and the session's messages to the
//! handler.
//!
//! A connection keeps no read buffer while no bytes are pending: a read goes into the
//! shard's receive block, and the frames it completes are views of the block; only the rest
//! of an unfinished frame moves into a buffer of the connection's own, sized for that frame
//! by the session's rule (from the shard's [`FramePool`](super::pool::FramePool) when the
//! frame is larger than a read).

use std::io;
use std::time::Instant;

use bytes::BytesMut;
use oyez_frame::{CloseCode, Event};
use tracing::debug;

use super::Host;
use super::connection::{AGAIN, Connection, HUP, TLS};
use super::event_loop::Shard;
use super::guard::guarded;
use super::pool::reserved;
use super::recv::recv_uninit;
use crate::Message;

/// A partial frame's buffer grows by at least this much per read.
const READ_CHUNK: usize = 16 << 10;
/// The size of the shard's receive block. Reads with no partial frame pending go straight
/// into the block's unused part, never zeroed (see [`recv_uninit`]); each read takes the part
/// it filled, and the frames in it are handed out as views of the block, with no copy. A
/// block is freed when the last payload viewing it is dropped.
const RX_BLOCK: usize = 256 << 10;
/// How much of the receive block reads use before the next one asks to start again at its
/// beginning (a read of this size or more asks every time).
const RECLAIM_AFTER: usize = 16 << 10;
/// The most one read into the receive block takes. What a read takes of a frame that does
/// not end in it is copied once into the frame's own buffer (the rest is read straight into
/// that), so this bounds the copy per large frame.
const FRESH_READ: usize = 64 << 10;
/// A read of at least this many bytes settles its connection (writes its replies) right
/// away, while what they were made from is still in cache; after smaller reads, the writes
/// wait for the end of the loop iteration, where the output of several messages (or
/// several connections' output) goes out together.
const SETTLE_AT_ONCE: usize = 4 << 10;
/// The most one read of a frame in progress takes, so that one busy peer cannot starve the
/// others (the rest is read on the next loop iteration): 1 MiB, the rest of a 1 MiB message
/// in one `recv` (256 KiB took four, and measured 6% slower at 1 MiB).
const READ_BUDGET: usize = 1 << 20;

/// What a read found.
enum ReadOutcome {
    /// The socket has nothing more for now.
    Drained,
    /// The read used its room or budget: read again on the next loop iteration.
    More,
    /// End of stream, or an error: the connection is over.
    Ended,
}

impl<H: Host> Shard<H> {
    /// Reads what the socket has (up to the budget), feeds it to the session and hands the
    /// session's events to the handler.
    pub(super) fn read(&mut self, host: &H, slot: u32, now: Instant) {
        let Some(c) = self.conn_mut(slot) else { return };
        if c.session.is_closed() {
            // Nothing more is wanted from this peer; the socket closes once output is out.
            return;
        }
        if c.flags & TLS != 0 {
            return self.read_tls(host, slot, now);
        }
        let (outcome, got) = if c.has_partial() {
            self.read_more(host, slot, now)
        } else {
            self.read_fresh(host, slot, now)
        };
        self.counters.bytes_received(got);
        let Some(c) = self.conn_mut(slot) else { return };
        let outcome = match outcome {
            // After a hang-up, nothing more to read is the end too (no readiness event
            // will come again).
            ReadOutcome::Drained if c.flags & HUP != 0 && got == 0 => ReadOutcome::Ended,
            other => other,
        };
        match outcome {
            // A short read after a hang-up may leave the end of the stream unread, and no
            // new readiness event will announce it: read again.
            ReadOutcome::Drained if c.flags & HUP == 0 => {}
            ReadOutcome::Drained | ReadOutcome::More => {
                if c.flags & AGAIN == 0 {
                    c.flags |= AGAIN;
                    self.again.push(slot);
                }
            }
            ReadOutcome::Ended => {
                // The peer closed TCP without (finishing) the close handshake.
                c.set_closed(CloseCode::ABNORMAL, String::new);
                self.finish(host, slot);
                return;
            }
        }
        if got >= SETTLE_AT_ONCE {
            // Write the replies while what they were made from is still in cache.
            self.settle(host, slot, now);
        } else {
            self.mark_dirty(slot);
        }
    }

    /// A read with no partial frame pending: one `recv` into the shard's receive block (see
    /// [`RX_BLOCK`]). A short read means the socket is drained (new bytes bring a new
    /// readiness event).
    fn read_fresh(&mut self, host: &H, slot: u32, now: Instant) -> (ReadOutcome, usize) {
        // Once every payload of the block has been dropped (an echo's reply written, say),
        // the next read starts at its beginning again, into memory still in cache: asked
        // once the reads since the last start have used `RECLAIM_AFTER` (small reads go on
        // from where the last one ended, without the question's cost each time).
        // A block with less room than one read makes way for a fresh one.
        if self.rx.capacity() <= RX_BLOCK - RECLAIM_AFTER
            && !self.rx.try_reclaim(RX_BLOCK)
            && self.rx.capacity() < FRESH_READ
        {
            self.rx = reserved(RX_BLOCK);
        }
        let Some(Some(c)) = self.conns.get_mut(slot as usize) else {
            return (ReadOutcome::Drained, 0);
        };
        let room = self.rx.capacity().min(FRESH_READ);
        let n = loop {
            match recv_uninit(&c.stream, &mut self.rx, room) {
                Ok(0) => return (ReadOutcome::Ended, 0),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return (ReadOutcome::Drained, 0);
                }
                Err(_) => return (ReadOutcome::Ended, 0),
            }
        };
        // A frame larger than this read goes on in a buffer of its own, from the pool, sized
        // by the session's rule; else the frames are views of the block.
        if let Some(room) = c.session.buffer_room(&self.rx) {
            let mut buf = self.pool.take(room);
            buf.extend_from_slice(&self.rx);
            self.rx.clear();
            self.handle_input(host, slot, buf, now);
        } else {
            self.handle_block(host, slot, now);
        }
        let outcome = if n == room {
            ReadOutcome::More
        } else {
            ReadOutcome::Drained
        };
        (outcome, n)
    }

    /// A read that continues a partial frame: one `recv` straight into the frame's own
    /// buffer (up to the budget). A short read means the socket is drained.
    fn read_more(&mut self, host: &H, slot: u32, now: Instant) -> (ReadOutcome, usize) {
        let Some(c) = self.conns.get_mut(slot as usize).and_then(Option::as_mut) else {
            return (ReadOutcome::Drained, 0);
        };
        let mut buf = c
            .extra
            .as_mut()
            .map(|e| std::mem::take(&mut e.rbuf))
            .unwrap_or_default();
        // The room the rest of the frame wants, by the session's rule (the decoder reserved
        // it already when it saw the frame's header; growing past it would move the whole
        // buffer); a header still incomplete reads a chunk.
        match c.session.buffer_room(&buf) {
            Some(room) if room > buf.capacity() => buf.reserve(room - buf.len()),
            Some(_) => {}
            None if buf.capacity() == buf.len() => buf.reserve(READ_CHUNK),
            None => {}
        }
        let room = (buf.capacity() - buf.len()).min(READ_BUDGET);
        let result = loop {
            match recv_uninit(&c.stream, &mut buf, room) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => break result,
            }
        };
        let (outcome, got) = match result {
            Ok(0) => (ReadOutcome::Ended, 0),
            Ok(n) if n == room => (ReadOutcome::More, n),
            Ok(n) => (ReadOutcome::Drained, n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => (ReadOutcome::Drained, 0),
            Err(_) => (ReadOutcome::Ended, 0),
        };
        if got > 0 {
            self.handle_input(host, slot, buf, now);
        } else {
            c.extra().rbuf = buf;
        }
        (outcome, got)
    }

    /// Feeds `input` to the session of `slot` and dispatches its events; keeps what is left
    /// of a partial frame.
    pub(super) fn handle_input(&mut self, host: &H, slot: u32, mut input: BytesMut, now: Instant) {
        let Some(c) = self.conn_mut(slot) else { return };
        feed::<H>(c, now, &mut input);
        if !input.is_empty() {
            if input.capacity() == input.len() {
                // Maybe a view of the receive block (the decoder reserves room for a partial
                // payload, which moves it out; a partial header it leaves): a connection
                // waiting for the rest of a frame keeps only its own bytes, not the block.
                input = BytesMut::from(&input[..]);
            }
            c.extra().rbuf = input;
        }
        self.dispatch(host, slot, now);
    }

    /// Feeds what the last read put in the receive block (and only that: the block's length)
    /// to the session of `slot`, its frames split off the block itself, and dispatches the
    /// events; what is left, the start of a frame the read did not finish, is copied into
    /// the connection's own buffer (the block moves on).
    fn handle_block(&mut self, host: &H, slot: u32, now: Instant) {
        let Some(Some(c)) = self.conns.get_mut(slot as usize) else {
            self.rx.clear();
            return;
        };
        feed::<H>(c, now, &mut self.rx);
        if !self.rx.is_empty() {
            c.extra().rbuf = BytesMut::from(&self.rx[..]);
            self.rx.clear();
        }
        self.dispatch(host, slot, now);
    }

    /// Hands the session's events to the handler. What a callback sends to its own
    /// connection goes into the session right after the callback returns, so replies keep
    /// their order relative to everything the session itself sends (pongs, a close after a
    /// protocol error).
    pub(super) fn dispatch(&mut self, host: &H, slot: u32, now: Instant) {
        loop {
            let Some(Some(c)) = self.conns.get_mut(slot as usize) else {
                return;
            };
            let Some(event) = c.session.poll_event() else {
                break;
            };
            let msg = match event {
                Event::Text(text) => Message::Text(text),
                Event::Binary(data) => Message::Binary(data),
                Event::Closed { code, reason, .. } => {
                    c.set_closed(code, || reason.as_str().to_owned());
                    continue;
                }
                _ => continue,
            };
            self.counters.message_received();
            let (route, conn) = (c.route, &c.conn);
            let ok = guarded(&self.stats, "on_message", H::entry(conn).id, || {
                host.on_message(conn, route, msg);
            });
            if !ok {
                self.handler_failed(slot, now);
            }
            self.drain_local(host, now);
        }
        // A protocol error deferred behind the messages just handed out takes effect now.
        let Some(c) = self.conn_mut(slot) else { return };
        if let Some(e) = c.session.error() {
            c.set_failed(&e);
        }
        self.mark_dirty(slot);
    }
}

/// Feeds `input` to the session of `c`; after a protocol error the connection is closing and
/// `input` is emptied (nothing more of this peer's is read).
fn feed<H: Host>(c: &mut Connection<H::Conn>, now: Instant, input: &mut BytesMut) {
    if let Err(e) = c.session.handle_bytes(now, input) {
        debug!(id = %H::entry(&c.conn).id, error = %e, "protocol error");
        c.set_failed(&e);
        input.clear();
    }
}

//! `wss://` connections on their shard. The TLS handshake ran on tokio; the shard holds each
//! TLS connection's `rustls::ServerConnection` beside it (in [`TlsSessions`], by slot, so a
//! plain connection's slab entry stays as small as before) and drives rustls itself: socket
//! bytes in through `read_tls` and `process_new_packets`, plaintext out of its reader into
//! the session; the session's output into its writer, TLS records out with `write_tls`.
//! Plain connections never come here (their [`TLS`](super::connection::TLS) flag is clear).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use bytes::BytesMut;
use oyez_frame::CloseCode;
use rustls::ServerConnection;
use tracing::debug;

use super::Host;
use super::connection::AGAIN;
use super::event_loop::Shard;
use super::write_queue::WriteQueue;

/// The most TLS bytes one read takes from a connection before the others get their turn.
const TLS_READ_BUDGET: usize = 1 << 20;
/// A partial frame's buffer grows by at least this much.
const TLS_READ_CHUNK: usize = 16 << 10;

/// The TLS sessions of a shard's `wss://` connections, by slot.
#[derive(Default)]
pub(super) struct TlsSessions {
    by_slot: HashMap<u32, Box<ServerConnection>>,
}

impl TlsSessions {
    pub(super) fn insert(&mut self, slot: u32, tls: Box<ServerConnection>) {
        self.by_slot.insert(slot, tls);
    }

    /// The connection in `slot` ended: a `close_notify` goes out if the socket takes it.
    #[cold]
    #[inline(never)]
    pub(super) fn finish(&mut self, slot: u32, stream: &TcpStream) {
        if let Some(mut tls) = self.by_slot.remove(&slot) {
            tls.send_close_notify();
            let _ = tls.write_tls(&mut &*stream);
        }
    }

    /// Whether TLS records wait for the socket.
    #[inline(never)]
    pub(super) fn wants_write(&self, slot: u32) -> bool {
        self.by_slot.get(&slot).is_some_and(|t| t.wants_write())
    }

    /// Moves queued plaintext into the session (as much as rustls buffers) and TLS records to
    /// the socket, until the queue is empty or the socket is full.
    ///
    /// Kept out of line, as is the read path: the plain connections' hot path (which only
    /// tests the flag) compiles as it did without TLS.
    #[inline(never)]
    pub(super) fn write(
        &mut self,
        slot: u32,
        stream: &TcpStream,
        out: &mut WriteQueue,
    ) -> io::Result<()> {
        let Some(tls) = self.by_slot.get_mut(&slot) else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        loop {
            while tls.wants_write() {
                match tls.write_tls(&mut &*stream) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            if out.is_empty() || out.write_with(|b| tls.writer().write(b))? == 0 {
                return Ok(());
            }
        }
    }
}

impl<H: Host> Shard<H> {
    /// The read path of a `wss://` connection: TLS records from the socket (up to the
    /// budget), their plaintext appended to the connection's partial-frame buffer and fed to
    /// the session; the end of the stream, a TLS error or a `close_notify` end it.
    #[inline(never)]
    pub(super) fn read_tls(&mut self, host: &H, slot: u32, now: Instant) {
        let Some(Some(c)) = self.conns.get_mut(slot as usize) else {
            return;
        };
        let Some(tls) = self.tls.by_slot.get_mut(&slot) else {
            return;
        };
        let mut buf = c
            .extra
            .as_mut()
            .map(|e| std::mem::take(&mut e.rbuf))
            .unwrap_or_default();
        let before = buf.len();
        let (mut ended, mut taken, mut drained) = (false, 0usize, false);
        while !ended && !drained && taken < TLS_READ_BUDGET {
            match tls.read_tls(&mut &c.stream) {
                Ok(0) => ended = true,
                Ok(n) => taken += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => drained = true,
                Err(_) => ended = true,
            }
            match tls.process_new_packets() {
                Ok(state) => {
                    let n = state.plaintext_bytes_to_read();
                    let closed = state.peer_has_closed();
                    if n > 0 {
                        let room = c.session.buffer_room(&buf);
                        append_plaintext(tls, &mut buf, n, room);
                    }
                    ended |= closed;
                }
                Err(e) => {
                    debug!(id = %H::entry(&c.conn).id, error = %e, "tls error");
                    // rustls queued an alert for the peer: send it if the socket takes it.
                    let _ = tls.write_tls(&mut &c.stream);
                    ended = true;
                }
            }
        }
        self.counters.bytes_received(taken);
        if buf.len() > before {
            self.handle_input(host, slot, buf, now);
        } else if let Some(c) = self.conn_mut(slot) {
            c.extra().rbuf = buf;
        }
        let Some(c) = self.conn_mut(slot) else { return };
        if ended {
            // The peer closed TCP (or TLS) without finishing the close handshake, or broke
            // TLS; a finished handshake has closed the session and ends it in `settle`.
            if !c.session.is_closed() {
                c.set_closed(CloseCode::ABNORMAL, String::new);
            }
            self.finish(host, slot);
            return;
        }
        if !drained && c.flags & AGAIN == 0 {
            c.flags |= AGAIN;
            self.again.push(slot);
        }
        self.mark_dirty(slot);
    }
}

/// Reads `n` plaintext bytes out of the session onto the end of `buf`, growing it to the
/// room the frame in progress needs when the session knows it.
fn append_plaintext(tls: &mut ServerConnection, buf: &mut BytesMut, n: usize, room: Option<usize>) {
    match room {
        Some(room) if room > buf.capacity() => buf.reserve(room - buf.len()),
        _ if buf.capacity() - buf.len() < n => buf.reserve(n.max(TLS_READ_CHUNK)),
        _ => {}
    }
    let start = buf.len();
    buf.resize(start + n, 0);
    match tls.reader().read(&mut buf[start..]) {
        Ok(got) => buf.truncate(start + got),
        Err(_) => buf.truncate(start),
    }
}

//! Opening and closing a connection on its shard.

use std::os::fd::AsRawFd;
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Interest, Token};
use oyez_frame::{CloseCode, Role, Session};
use tracing::{debug, error};

use super::Host;
use super::connection::{Connection, TLS};
use super::event_loop::Shard;
use super::guard::guarded;
use super::inbox::Adoption;
use crate::id::MAX_SLOTS;

impl<H: Host> Shard<H> {
    /// Takes over an upgraded connection: a slot, the poller, the host's registration, the
    /// session, the 101, `on_open`, then any bytes that came with the upgrade request.
    pub(super) fn adopt(&mut self, host: &H, mut a: Adoption, now: Instant) {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => match u32::try_from(self.conns.len()) {
                Ok(s) if s < MAX_SLOTS => {
                    self.conns.push(None);
                    s
                }
                _ => {
                    host.refused(a.peer);
                    return;
                }
            },
        };
        let registered = self.poll.registry().register(
            &mut SourceFd(&a.stream.as_raw_fd()),
            Token(slot as usize),
            Interest::READABLE | Interest::WRITABLE,
        );
        if let Err(e) = registered {
            error!(peer = %a.peer, error = %e, "cannot register the connection");
            self.free.push(slot);
            host.refused(a.peer);
            return;
        }
        let conn = host.open(self.handle.index, slot, &mut a);
        let id = H::entry(&conn).id;
        let Adoption {
            stream,
            tls,
            peer,
            request,
            route,
            response,
            early,
            deflate,
            ..
        } = a;
        let mut session = Session::new(Role::Server, self.config, now);
        if let Some(agreed) = deflate {
            session.set_deflate(agreed);
        }
        if self.shutting_down {
            let _ = session.close(now, CloseCode::GOING_AWAY, "server shutdown");
        }
        let mut c = Connection {
            stream,
            session,
            conn,
            route,
            armed: 0,
            extra: None,
            flags: 0,
        };
        let is_tls = tls.is_some();
        if let Some(tls) = tls {
            self.tls.insert(slot, tls);
            c.flags |= TLS;
        }
        // The 101 goes first, ahead of anything the session or `on_open` sends.
        c.extra().out.push(response);
        debug!(id = %id, %peer, path = &*H::entry(&c.conn).path, "open");
        self.conns[slot as usize] = Some(c);
        self.live += 1;
        // The one callback that sees the request's headers.
        let Some(Some(c)) = self.conns.get(slot as usize) else {
            return;
        };
        let ok = guarded(&self.stats, "on_open", id, || {
            host.on_open(&c.conn, route, request);
        });
        if !ok {
            self.handler_failed(slot, now);
        }
        self.drain_local(host, now);
        if !early.is_empty() {
            self.counters.bytes_received(early.len());
            self.handle_input(host, slot, early, now);
        }
        if is_tls {
            // Plaintext rustls decrypted behind the request has no readiness event to come.
            self.read_tls(host, slot, now);
        }
        // Whatever the socket already holds is announced by the first readiness event.
        self.mark_dirty(slot);
    }

    /// A callback of this connection panicked: close it with 1011.
    pub(super) fn handler_failed(&mut self, slot: u32, now: Instant) {
        if let Some(c) = self.conn_mut(slot) {
            let _ = c
                .session
                .close(now, CloseCode::INTERNAL_ERROR, "internal error");
            self.mark_dirty(slot);
        }
    }

    /// Ends a connection: the handler's `on_close`, the host's unregistration, the socket.
    pub(super) fn finish(&mut self, host: &H, slot: u32) {
        let Some(c) = self.conns.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        self.free.push(slot);
        self.live -= 1;
        self.forget_busy(c.flags);
        let entry = H::entry(&c.conn);
        entry.set_gone();
        let id = entry.id;
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&c.stream.as_raw_fd()));
        let (code, reason) = c
            .extra
            .and_then(|e| e.closed)
            .unwrap_or((CloseCode::ABNORMAL, String::new()));
        debug!(id = %id, code = code.as_u16(), "closed");
        self.counters.closed(code.as_u16());
        guarded(&self.stats, "on_close", id, || {
            host.on_close(&c.conn, c.route, code, &reason);
        });
        host.closed(c.conn);
        if c.flags & TLS != 0 {
            self.tls.finish(slot, &c.stream);
        }
        drop(c.stream);
        self.drain_local(host, Instant::now());
    }
}

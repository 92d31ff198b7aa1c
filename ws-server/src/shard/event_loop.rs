//! The shard's event loop: wait for readiness, a command or a timer; apply commands; read
//! what is readable; run due timers; write what is queued.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mio::{Events, Poll, Token};
use oyez_frame::CloseCode;
use oyez_frame::session::Config;
use tracing::{debug, error};

use super::connection::{AGAIN, Connection, DIRTY, HUP, TLS};
use super::inbox::{Batch, Cmd, Local, ShardHandle, local_is_empty, take_local, take_one_local};
use super::pool::{FramePool, POOL_TRIM_EVERY};
use super::quiet::Quiet;
use super::timers::Timers;
use super::tls::TlsSessions;
use super::write_queue::WriteQueue;
use super::{Host, ShardConfig, WAKER};
use crate::Stats;
use crate::id::Target;
use crate::stats::ShardCounters;

/// One shard: a slab of connections and what its loop keeps between iterations.
pub(super) struct Shard<H: Host> {
    pub(super) handle: Arc<ShardHandle>,
    pub(super) poll: Poll,
    pub(super) config: Config,
    pub(super) max_backlog: usize,
    pub(super) stats: Arc<Stats>,
    /// This shard's own counters (per message; only this thread writes them).
    pub(super) counters: Arc<ShardCounters>,
    pub(super) conns: Vec<Option<Connection<H::Conn>>>,
    pub(super) free: Vec<u32>,
    pub(super) live: usize,
    pub(super) timers: Timers,
    /// Connections with output or state to settle before the next wait.
    pub(super) dirty: Vec<u32>,
    /// Connections that used their read budget and may have more to read.
    pub(super) again: Vec<u32>,
    pub(super) shutting_down: bool,
    /// The commands being worked on (kept to reuse its capacity).
    work: Batch,
    /// Output on its way to one connection's socket (kept to reuse its capacity).
    pub(super) out: WriteQueue,
    /// Where reads with no partial frame pending go (see `read::RX_BLOCK`).
    pub(super) rx: BytesMut,
    /// Buffers for frames larger than a read.
    pub(super) pool: FramePool,
    /// When the pool next lets go of unused buffers beyond its spares.
    pool_trim_at: Instant,
    /// The TLS sessions of the `wss://` connections.
    pub(super) tls: TlsSessions,
    /// The connections whose sessions hold buffers, for the sweep that takes them back.
    pub(super) quiet: Quiet,
}

impl<H: Host> Shard<H> {
    pub(super) fn new(handle: Arc<ShardHandle>, poll: Poll, config: &ShardConfig) -> Self {
        let index = handle.index;
        Self {
            handle,
            poll,
            config: config.session,
            max_backlog: config.max_backlog,
            stats: config.stats.clone(),
            counters: config.stats.shard(index),
            conns: Vec::new(),
            free: Vec::new(),
            live: 0,
            timers: Timers::new(Instant::now()),
            dirty: Vec::new(),
            again: Vec::new(),
            shutting_down: false,
            work: Batch::default(),
            out: WriteQueue::default(),
            rx: BytesMut::new(),
            pool: FramePool::default(),
            pool_trim_at: Instant::now(),
            tls: TlsSessions::default(),
            quiet: Quiet::default(),
        }
    }

    /// Runs until a [`Cmd::Shutdown`] and the end of the last connection.
    pub(super) fn run(&mut self, host: &H) {
        self.handle.enter();
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = if self.again.is_empty() {
                let now = Instant::now();
                match (self.timers.wait(now), self.quiet.wait(now)) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    error!(shard = self.handle.index, error = %e, "poll failed");
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            let now = Instant::now();
            self.drain_inbox(host, now);
            for ev in &events {
                let Token(t) = ev.token();
                if ev.token() == WAKER {
                    continue;
                }
                let Ok(slot) = u32::try_from(t) else { continue };
                if (ev.is_read_closed() || ev.is_error())
                    && let Some(c) = self.conn_mut(slot)
                {
                    c.flags |= HUP;
                }
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    self.read(host, slot, now);
                }
                // Edge-triggered readiness reports every ready bit at each wake-up (a read's
                // too, and every ACK that frees room): settle for it only when output waits
                // for the room (a no-op settle was two of every three per 16 KiB echo).
                if ev.is_writable() || ev.is_write_closed() {
                    let closed = ev.is_write_closed();
                    self.mark_dirty_if(slot, |c| closed || c.flags & TLS != 0 || c.backlog() > 0);
                }
            }
            for slot in std::mem::take(&mut self.again) {
                if let Some(c) = self.conn_mut(slot) {
                    c.flags &= !AGAIN;
                }
                self.read(host, slot, now);
            }
            self.run_timers(host, now);
            self.settle_dirty(host, now);
            if events.is_empty() || now >= self.pool_trim_at {
                // A shard that waited for nothing, or once a second.
                self.pool.trim();
                self.pool_trim_at = now + POOL_TRIM_EVERY;
            }
            self.sweep_quiet(now);
            if self.shutting_down && self.live == 0 {
                debug!(shard = self.handle.index, "shard stopped");
                return;
            }
        }
    }

    pub(super) fn conn_mut(&mut self, slot: u32) -> Option<&mut Connection<H::Conn>> {
        self.conns.get_mut(slot as usize)?.as_mut()
    }

    /// The connection at `to`, if it is still the one addressed.
    pub(super) fn target_mut(&mut self, to: Target) -> Option<&mut Connection<H::Conn>> {
        self.conn_mut(to.slot)
            .filter(|c| H::entry(&c.conn).id == to.id)
    }

    /// Puts `slot` in the `dirty` list (settled at the end of the loop iteration).
    pub(super) fn mark_dirty(&mut self, slot: u32) {
        self.mark_dirty_if(slot, |_| true);
    }

    /// Puts `slot` in the `dirty` list if it is not there yet and `wanted` says so.
    fn mark_dirty_if(&mut self, slot: u32, wanted: impl FnOnce(&Connection<H::Conn>) -> bool) {
        if let Some(c) = self.conn_mut(slot)
            && c.flags & DIRTY == 0
            && wanted(c)
        {
            c.flags |= DIRTY;
            self.dirty.push(slot);
        }
    }

    // ---- commands ----

    fn drain_inbox(&mut self, host: &H, now: Instant) {
        let mut work = std::mem::take(&mut self.work);
        self.handle.take_inbox(&mut work);
        for cmd in work.cmds.drain(..) {
            self.apply(host, cmd, &work.targets, &work.frames, now);
        }
        work.clear();
        self.work = work;
    }

    /// Applies what callbacks on this thread queued.
    pub(super) fn drain_local(&mut self, host: &H, now: Instant) {
        loop {
            match take_one_local() {
                Local::Empty => return,
                // A reply runs no callback, so it cannot have queued anything: the queue
                // was emptied by taking it (an echo's common case, without asking again).
                Local::One(cmd @ Cmd::Reply { .. }) => {
                    self.apply(host, cmd, &[], &[], now);
                    debug_assert!(local_is_empty(), "a reply queued something");
                    return;
                }
                Local::One(cmd) => {
                    self.apply(host, cmd, &[], &[], now);
                    continue;
                }
                Local::Many => {}
            }
            let mut work = std::mem::take(&mut self.work);
            take_local(&mut work);
            for cmd in work.cmds.drain(..) {
                self.apply(host, cmd, &work.targets, &work.frames, now);
            }
            work.clear();
            self.work = work;
        }
    }

    /// Applies one command; `targets` and `frames` are its batch's.
    fn apply(
        &mut self,
        host: &H,
        cmd: Cmd,
        targets: &[Target],
        frames: &[oyez_frame::SharedFrame],
        now: Instant,
    ) {
        match cmd {
            Cmd::Adopt(a) => self.adopt(host, *a, now),
            Cmd::Deliver { frame, to, at } => {
                if let Some(at) = at {
                    self.counters.delivering(at);
                }
                let (Some(frame), Some(to)) = (
                    frames.get(frame as usize),
                    targets.get(to.start as usize..to.end as usize),
                ) else {
                    return; // not reached: the batch holds what its commands name
                };
                for &t in to {
                    self.deliver(frame, t, now);
                }
            }
            Cmd::Reply { to, msg } => self.reply(msg, to, now),
            Cmd::Close { to, code, reason } => {
                if let Some(c) = self.target_mut(to) {
                    let _ = c.session.close(now, code, &reason);
                    self.mark_dirty(to.slot);
                }
            }
            Cmd::Shutdown => {
                self.shutting_down = true;
                for slot in 0..u32::try_from(self.conns.len()).unwrap_or(u32::MAX) {
                    if let Some(c) = self.conn_mut(slot) {
                        let _ = c
                            .session
                            .close(now, CloseCode::GOING_AWAY, "server shutdown");
                        self.mark_dirty(slot);
                    }
                }
            }
        }
    }
}

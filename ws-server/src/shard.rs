//! Shards: the threads that own upgraded connections.
//!
//! After the upgrade, a connection's socket moves from tokio onto one shard: a thread running
//! a `mio` event loop over a slab of connections, in the manner of uWebSockets. A shard owns
//! each of its connections' socket, [`Session`] and outbound queue, and runs their handlers'
//! callbacks. Everyone else reaches a connection through its shard's inbox ([`Cmd`]), which
//! wakes the shard; from inside a callback on the same shard, commands go to a thread-local
//! queue instead, with no lock and no wake-up.
//!
//! Why not a tokio task per connection: an idle tokio connection costs its task, its I/O
//! registration and its channel, over a kilobyte before any WebSocket state; a slab entry
//! costs only the state. And a broadcast reaches a shard as one command, however many of its
//! connections it is for, so fan-out is a loop over the slab, not a wake-up per recipient.
//!
//! Per connection, the shard keeps no read buffer while no bytes are pending (a read goes into
//! the shard's receive block, and the frames it completes are views of the block; only the
//! rest of an unfinished frame moves into a buffer of the connection's own, sized for that
//! frame) and no write buffer while nothing waits for the socket. Everything queued for one
//! connection goes out in one vectored write per loop iteration.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, IoSlice};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use tracing::{debug, error};
use oyez_frame::session::Config;
use oyez_frame::{CloseCode, Event, Role, Session, SharedFrame};

use crate::registry::{ConnEntry, ConnId, MAX_SLOTS, lock};
use crate::server::{Conn, RequestInfo};
use crate::{Message, Server};

/// The waker's token; connection tokens are slab indexes.
const WAKER: Token = Token(usize::MAX);
/// A partial frame's buffer grows by at least this much per read.
const READ_CHUNK: usize = 16 << 10;
/// The size of the shard's receive block. Reads with no partial frame pending go straight
/// into the block's unused part, never zeroed (see [`recv_uninit`]); each read takes the part
/// it filled, and the frames in it are handed out as views of the block, with no copy. A
/// block is freed when the last payload viewing it is dropped.
const RX_BLOCK: usize = 256 << 10;
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
/// others (the rest is read on the next loop iteration). As much as the decoder reserves for
/// a frame at a time: the rest of a 1 MiB message in one `recv` (256 KiB took four, and
/// measured 6% slower at 1 MiB).
const READ_BUDGET: usize = oyez_frame::MAX_RESERVE;
/// The most buffers one vectored write takes on the stack.
const MAX_IOVECS: usize = 64;
/// The most buffers one vectored write takes (Linux's `IOV_MAX`): a longer queue (a burst of
/// small broadcasts) goes out in fewer, larger writes, from an `IoSlice` list built for it.
const MAX_IOVECS_LONG: usize = 1024;
/// How long a slow client dropped for its backlog gets to take its close frame.
const SLOW_CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Gives each shard of the process a distinct identity, for the thread-local fast path.
static NEXT_UID: AtomicU32 = AtomicU32::new(1);

/// One connection's address: its slot on its shard, and its id (a slot is reused once its
/// connection ends, so the id tells a stale command from a live one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) slot: u32,
    pub(crate) id: ConnId,
}

/// What others ask of a shard.
pub(crate) enum Cmd {
    /// Take over an upgraded connection.
    Adopt(Box<Adoption>),
    /// Queue one frame (encoded once) for each of these connections.
    Deliver { frame: SharedFrame, to: Vec<Target> },
    /// Queue one frame for one connection.
    DeliverOne { frame: SharedFrame, to: Target },
    /// Start the close handshake on one connection.
    Close {
        to: Target,
        code: CloseCode,
        reason: Box<str>,
    },
    /// Close every connection with 1001 and stop once they are gone.
    Shutdown,
}

/// An upgraded connection, handed from the accept side to a shard.
pub(crate) struct Adoption {
    pub(crate) stream: TcpStream,
    pub(crate) path: String,
    pub(crate) query: Option<Box<str>>,
    pub(crate) peer: std::net::SocketAddr,
    pub(crate) request: Arc<RequestInfo>,
    /// The route serving the connection ([`Server::handler`]).
    pub(crate) route: u16,
    /// The `101 Switching Protocols` response, written once the connection is registered.
    pub(crate) response: Bytes,
    /// Bytes that arrived after the upgrade request.
    pub(crate) early: BytesMut,
}

/// The shareable side of a shard: its inbox and the waker of its event loop.
pub(crate) struct ShardHandle {
    uid: u32,
    pub(crate) index: u16,
    inbox: Mutex<Vec<Cmd>>,
    waker: Waker,
}

impl core::fmt::Debug for ShardHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ShardHandle")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// On a shard's thread: that shard's uid, and the commands its callbacks queued for it.
    static LOCAL: RefCell<(u32, Vec<Cmd>)> = const { RefCell::new((0, Vec::new())) };
}

impl ShardHandle {
    /// Hands `cmd` to the shard: straight onto its local queue when called from one of its
    /// own callbacks, else into its inbox, waking it if the inbox was empty.
    pub(crate) fn post(&self, cmd: Cmd) {
        let cmd = LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            if local.0 == self.uid {
                local.1.push(cmd);
                None
            } else {
                Some(cmd)
            }
        });
        let Some(cmd) = cmd else { return };
        let was_empty = {
            let mut inbox = lock(&self.inbox);
            inbox.push(cmd);
            inbox.len() == 1
        };
        if was_empty && let Err(e) = self.waker.wake() {
            error!(shard = self.index, error = %e, "cannot wake the shard");
        }
    }
}

/// Starts shard `index` on its own thread. Callbacks run inside `runtime`'s context, so a
/// handler may `tokio::spawn`.
pub(crate) fn start(
    index: u16,
    server_slot: Arc<std::sync::OnceLock<Server>>,
    runtime: tokio::runtime::Handle,
) -> io::Result<Arc<ShardHandle>> {
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    let handle = Arc::new(ShardHandle {
        uid: NEXT_UID.fetch_add(1, Ordering::Relaxed),
        index,
        inbox: Mutex::new(Vec::new()),
        waker,
    });
    let own = handle.clone();
    std::thread::Builder::new()
        .name(format!("ws-shard-{index}"))
        .spawn(move || {
            let _runtime = runtime.enter();
            // The server is set right after every shard has started; commands only come after.
            let mut shard = Shard::new(own, poll);
            shard.run(&server_slot);
        })?;
    Ok(handle)
}

/// Connection flag: in the shard's `dirty` list.
const DIRTY: u8 = 1;
/// Connection flag: in the shard's `again` list.
const AGAIN: u8 = 2;

/// What a read found.
enum ReadOutcome {
    /// The socket has nothing more for now.
    Drained,
    /// The read used its room or budget: read again on the next loop iteration.
    More,
    /// End of stream, or an error: the connection is over.
    Ended,
}

/// One connection on its shard: small, since an idle connection is only this (and its
/// registry entry). What only a busy or closing connection needs is in [`Extra`].
struct Connection {
    stream: TcpStream,
    /// The route serving the connection ([`Server::handler`]).
    route: u16,
    /// [`DIRTY`], [`AGAIN`].
    flags: u8,
    session: Session,
    conn: Conn,
    /// The tick of this connection's entry in the timer heap, 0 for none (see
    /// [`Shard::timers`]).
    armed: u64,
    /// `None` while the connection is idle.
    extra: Option<Box<Extra>>,
}

/// The state of a connection that is not idle.
#[derive(Default)]
struct Extra {
    /// Bytes of an incomplete frame.
    rbuf: BytesMut,
    /// Output the socket has not taken yet.
    out: WriteQueue,
    /// Hang up at this time (a slow client's grace, or lingering output after the close).
    hangup: Option<Instant>,
    /// How the connection ended, once known.
    closed: Option<(CloseCode, String)>,
}

impl Connection {
    fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    fn hangup(&self) -> Option<Instant> {
        self.extra.as_ref().and_then(|e| e.hangup)
    }

    /// Bytes queued and not yet written.
    fn backlog(&self) -> usize {
        self.session.pending_bytes() + self.extra.as_ref().map_or(0, |e| e.out.len)
    }

    /// Records how the connection ended, unless already known.
    fn set_closed(&mut self, code: CloseCode, reason: impl FnOnce() -> String) {
        let e = self.extra();
        if e.closed.is_none() {
            e.closed = Some((code, reason()));
        }
    }

    /// Frees the extra state once nothing in it is in use.
    fn trim(&mut self) {
        if self.extra.as_ref().is_some_and(|e| {
            e.rbuf.is_empty() && e.out.is_empty() && e.hangup.is_none() && e.closed.is_none()
        }) {
            self.extra = None;
        }
    }
}

/// Output waiting for the socket.
#[derive(Default)]
struct WriteQueue {
    bufs: VecDeque<Bytes>,
    len: usize,
    /// The head buffer has been partly written: a frame may be cut in the middle on the wire.
    head_started: bool,
}

impl WriteQueue {
    fn push(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.len += b.len();
            self.bufs.push_back(b);
        }
    }

    fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }

    /// Whether a frame may be cut in the middle on the wire, so nothing else can follow.
    fn is_mid_frame(&self) -> bool {
        self.head_started && !self.bufs.is_empty()
    }

    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(head) = self.bufs.front_mut() else {
                break;
            };
            if n >= head.len() {
                n -= head.len();
                self.bufs.pop_front();
                self.head_started = false;
            } else {
                head.advance(n);
                self.head_started = true;
                n = 0;
            }
        }
        if self.bufs.is_empty() && self.bufs.capacity() > 16 {
            // A burst is over: do not keep its memory while idle.
            self.bufs = VecDeque::new();
        }
    }

    fn clear(&mut self) {
        self.bufs = VecDeque::new();
        self.len = 0;
        self.head_started = false;
    }

    /// Writes until the queue is empty or the socket is full: `send` for one buffer,
    /// `sendmsg` for several (a socket's own calls, cheaper than `write`/`writev`, which go
    /// through the file layer and take the file position lock).
    fn write_to(&mut self, stream: &TcpStream) -> io::Result<()> {
        let socket = socket2::SockRef::from(stream);
        while !self.bufs.is_empty() {
            let sent = if self.bufs.len() == 1 {
                socket.send(&self.bufs[0])
            } else if self.bufs.len() > MAX_IOVECS {
                let slices: Vec<IoSlice<'_>> = self
                    .bufs
                    .iter()
                    .take(MAX_IOVECS_LONG)
                    .map(|b| IoSlice::new(b))
                    .collect();
                socket.send_vectored(&slices)
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let mut n = 0;
                for (slot, b) in slices.iter_mut().zip(&self.bufs) {
                    *slot = IoSlice::new(b);
                    n += 1;
                }
                socket.send_vectored(&slices[..n])
            };
            match sent {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => self.advance(written),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

struct Shard {
    handle: Arc<ShardHandle>,
    poll: Poll,
    config: Config,
    max_backlog: usize,
    conns: Vec<Option<Connection>>,
    free: Vec<u32>,
    live: usize,
    /// Deadlines, earliest first: (tick, slot, connection id). A tick is a millisecond since
    /// `epoch`, rounded up (at least 1). A connection has at most one live entry, the one its `armed`
    /// names; an entry it no longer names is skipped when it comes up.
    timers: BinaryHeap<Reverse<(u64, u32, u64)>>,
    epoch: Instant,
    /// Connections with output or state to settle before the next wait.
    dirty: Vec<u32>,
    /// Connections that used their read budget and may have more to read.
    again: Vec<u32>,
    shutting_down: bool,
    /// The commands being worked on (kept to reuse its capacity).
    work: Vec<Cmd>,
    /// Output on its way to one connection's socket (kept to reuse its capacity).
    out: WriteQueue,
    /// Where reads with no partial frame pending go (see [`RX_BLOCK`]).
    rx: BytesMut,
    /// Buffers for frames larger than a read.
    pool: FramePool,
    /// When the pool next lets go of unused buffers beyond its spares.
    pool_trim_at: Instant,
}

impl Shard {
    fn new(handle: Arc<ShardHandle>, poll: Poll) -> Self {
        Self {
            handle,
            poll,
            config: Config::default(),
            max_backlog: 0,
            conns: Vec::new(),
            free: Vec::new(),
            live: 0,
            timers: BinaryHeap::new(),
            epoch: Instant::now(),
            dirty: Vec::new(),
            again: Vec::new(),
            shutting_down: false,
            work: Vec::new(),
            out: WriteQueue::default(),
            rx: BytesMut::new(),
            pool: FramePool::default(),
            pool_trim_at: Instant::now(),
        }
    }

    fn run(&mut self, server_slot: &std::sync::OnceLock<Server>) {
        LOCAL.with(|l| l.borrow_mut().0 = self.handle.uid);
        let mut events = Events::with_capacity(1024);
        let mut server: Option<Server> = None;
        loop {
            let timeout = if self.again.is_empty() {
                self.timers.peek().map(|&Reverse((tick, ..))| {
                    (self.epoch + Duration::from_millis(tick))
                        .saturating_duration_since(Instant::now())
                })
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
            let server = match &server {
                Some(s) => s,
                None => match server_slot.get() {
                    Some(s) => {
                        self.config = Config::default()
                            .with_limits(s.inner.config.limits)
                            .with_idle_timeout(s.inner.config.idle_timeout)
                            .with_keepalive(s.inner.config.keepalive);
                        self.max_backlog = s.inner.config.max_backlog;
                        server.insert(s.clone())
                    }
                    None => continue,
                },
            };
            let now = Instant::now();
            self.drain_inbox(server, now);
            for ev in &events {
                let Token(t) = ev.token();
                if ev.token() == WAKER {
                    continue;
                }
                let Ok(slot) = u32::try_from(t) else { continue };
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    self.read(server, slot, now);
                }
                if ev.is_writable() || ev.is_write_closed() {
                    self.mark_dirty(slot);
                }
            }
            for slot in std::mem::take(&mut self.again) {
                if let Some(c) = self.conn_mut(slot) {
                    c.flags &= !AGAIN;
                }
                self.read(server, slot, now);
            }
            self.run_timers(server, now);
            self.settle_dirty(server, now);
            if events.is_empty() || now >= self.pool_trim_at {
                // A shard that waited for nothing, or once a second.
                self.pool.trim();
                self.pool_trim_at = now + POOL_TRIM_EVERY;
            }
            if self.shutting_down && self.live == 0 {
                debug!(shard = self.handle.index, "shard stopped");
                return;
            }
        }
    }

    /// A callback of this connection panicked: close it with 1011.
    fn handler_failed(&mut self, slot: u32, now: Instant) {
        if let Some(c) = self.conn_mut(slot) {
            let _ = c
                .session
                .close(now, CloseCode::INTERNAL_ERROR, "internal error");
            self.mark_dirty(slot);
        }
    }

    fn conn_mut(&mut self, slot: u32) -> Option<&mut Connection> {
        self.conns.get_mut(slot as usize)?.as_mut()
    }

    /// The connection at `to`, if it is still the one addressed.
    fn target_mut(&mut self, to: Target) -> Option<&mut Connection> {
        self.conn_mut(to.slot).filter(|c| c.conn.entry.id == to.id)
    }

    fn mark_dirty(&mut self, slot: u32) {
        if let Some(c) = self.conn_mut(slot)
            && c.flags & DIRTY == 0
        {
            c.flags |= DIRTY;
            self.dirty.push(slot);
        }
    }

    // ---- commands ----

    fn drain_inbox(&mut self, server: &Server, now: Instant) {
        let mut work = std::mem::take(&mut self.work);
        std::mem::swap(&mut work, &mut *lock(&self.handle.inbox));
        for cmd in work.drain(..) {
            self.apply(server, cmd, now);
        }
        self.work = work;
    }

    /// Applies what callbacks on this thread queued.
    fn drain_local(&mut self, server: &Server, now: Instant) {
        loop {
            let mut work = std::mem::take(&mut self.work);
            LOCAL.with(|l| std::mem::swap(&mut work, &mut l.borrow_mut().1));
            if work.is_empty() {
                self.work = work;
                return;
            }
            for cmd in work.drain(..) {
                self.apply(server, cmd, now);
            }
            self.work = work;
        }
    }

    fn apply(&mut self, server: &Server, cmd: Cmd, now: Instant) {
        match cmd {
            Cmd::Adopt(a) => self.adopt(server, *a, now),
            Cmd::Deliver { frame, to } => {
                for t in to {
                    self.deliver(server, &frame, t, now);
                }
            }
            Cmd::DeliverOne { frame, to } => self.deliver(server, &frame, to, now),
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

    /// Queues `frame` for one connection, or drops the connection if its backlog is at the
    /// bound (as uWebSockets' `maxBackpressure` does: a single message larger than the bound
    /// still goes to a client that keeps up, so the backlog exceeds the bound by at most one
    /// message).
    fn deliver(&mut self, server: &Server, frame: &SharedFrame, to: Target, now: Instant) {
        let max = self.max_backlog;
        let Some(c) = self.target_mut(to) else { return };
        if !c.session.is_open() || c.hangup().is_some() {
            return;
        }
        let backlog = c.backlog();
        if max > 0 && backlog >= max {
            server
                .inner
                .stats
                .slow_dropped
                .fetch_add(1, Ordering::Relaxed);
            debug!(id = %to.id, backlog, "slow client dropped");
            drop_slow_client(c, now);
        } else {
            let _ = c.session.send_shared(frame);
        }
        self.mark_dirty(to.slot);
    }

    fn adopt(&mut self, server: &Server, a: Adoption, now: Instant) {
        let Adoption {
            stream,
            path,
            query,
            peer,
            request,
            route,
            response,
            early,
        } = a;
        let slot = match self.free.pop() {
            Some(s) => s,
            None => match u32::try_from(self.conns.len()) {
                Ok(s) if s < MAX_SLOTS => {
                    self.conns.push(None);
                    s
                }
                _ => {
                    server.conn_ended();
                    return;
                }
            },
        };
        let registered = self.poll.registry().register(
            &mut SourceFd(&stream.as_raw_fd()),
            Token(slot as usize),
            Interest::READABLE | Interest::WRITABLE,
        );
        if let Err(e) = registered {
            error!(%peer, error = %e, "cannot register the connection");
            self.free.push(slot);
            server.conn_ended();
            return;
        }
        let id = server.inner.registry.new_id(self.handle.index, slot);
        let entry = Arc::new(ConnEntry::new(
            id,
            server.inner.registry.intern_path(&path),
            query,
            peer,
        ));
        server.inner.registry.insert(entry.clone());
        let conn = Conn {
            entry,
            request: None,
            server: server.clone(),
        };
        let mut session = Session::new(Role::Server, self.config, now);
        if self.shutting_down {
            let _ = session.close(now, CloseCode::GOING_AWAY, "server shutdown");
        }
        self.conns[slot as usize] = Some(Connection {
            stream,
            session,
            conn: conn.clone(),
            route,
            armed: 0,
            extra: None,
            flags: 0,
        });
        // The 101 goes first, ahead of anything the session or `on_open` sends.
        if let Some(c) = self.conn_mut(slot) {
            c.extra().out.push(response);
        }
        self.live += 1;
        debug!(id = %id, %peer, path = conn.path(), "open");
        // The one callback that sees the request's headers.
        let open = Conn {
            request: Some(request),
            ..conn
        };
        let ok = guarded(server, "on_open", id, || {
            server.handler(route).on_open(&open)
        });
        drop(open);
        if !ok {
            self.handler_failed(slot, now);
        }
        self.drain_local(server, now);
        if !early.is_empty() {
            self.handle_input(server, slot, early, now);
        }
        // Whatever the socket already holds is announced by the first readiness event.
        self.mark_dirty(slot);
    }

    // ---- input ----

    /// Reads what the socket has (up to the budget), feeds it to the session and hands the
    /// session's events to the handler.
    fn read(&mut self, server: &Server, slot: u32, now: Instant) {
        let Some(c) = self.conn_mut(slot) else { return };
        if c.session.is_closed() {
            // Nothing more is wanted from this peer; the socket closes once output is out.
            return;
        }
        let partial = c.extra.as_ref().is_some_and(|e| !e.rbuf.is_empty());
        let (outcome, got) = if partial {
            self.read_more(server, slot, now)
        } else {
            self.read_fresh(server, slot, now)
        };
        let Some(c) = self.conn_mut(slot) else { return };
        match outcome {
            ReadOutcome::Drained => {}
            ReadOutcome::More => {
                if c.flags & AGAIN == 0 {
                    c.flags |= AGAIN;
                    self.again.push(slot);
                }
            }
            ReadOutcome::Ended => {
                // The peer closed TCP without (finishing) the close handshake.
                c.set_closed(CloseCode::ABNORMAL, String::new);
                self.finish(server, slot);
                return;
            }
        }
        if got >= SETTLE_AT_ONCE {
            // Write the replies while what they were made from is still in cache.
            self.settle(server, slot, now);
        } else {
            self.mark_dirty(slot);
        }
    }

    /// A read with no partial frame pending: one `read` into the shard's receive block (see
    /// [`RX_BLOCK`]). A short read means the socket is drained (new bytes bring a new
    /// readiness event).
    fn read_fresh(&mut self, server: &Server, slot: u32, now: Instant) -> (ReadOutcome, usize) {
        // Once every payload of the block has been dropped (an echo's reply written, say),
        // the next read starts at its beginning again, into memory still in cache.
        // A block with less room than one read makes way for a fresh one.
        if !self.rx.try_reclaim(RX_BLOCK) && self.rx.capacity() < FRESH_READ {
            self.rx = new_block();
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
        // A frame larger than this read goes on in a buffer of its own, from the pool; else
        // the frames are views of the block.
        let input = match oyez_frame::FrameHeader::decode(&self.rx) {
            Ok(Some((h, used)))
                if used as u64 + h.payload_len > n as u64
                    && h.payload_len <= self.config.limits().max_frame_payload() as u64 =>
            {
                let whole = usize::try_from(h.payload_len)
                    .map_or(usize::MAX, |len| len.saturating_add(used));
                let mut buf = self.pool.take(oyez_frame::room_for_frame(n, whole));
                buf.extend_from_slice(&self.rx);
                self.rx.clear();
                buf
            }
            _ => self.rx.split_to(n),
        };
        self.handle_input(server, slot, input, now);
        let outcome = if n == room {
            ReadOutcome::More
        } else {
            ReadOutcome::Drained
        };
        (outcome, n)
    }

    /// A read that continues a partial frame: one `recv` straight into the frame's own
    /// buffer (up to the budget). A short read means the socket is drained.
    fn read_more(&mut self, server: &Server, slot: u32, now: Instant) -> (ReadOutcome, usize) {
        let Some(c) = self.conns.get_mut(slot as usize).and_then(Option::as_mut) else {
            return (ReadOutcome::Drained, 0);
        };
        let mut buf = c
            .extra
            .as_mut()
            .map(|e| std::mem::take(&mut e.rbuf))
            .unwrap_or_default();
        // The decoder reserved room for the rest of the frame (see oyez_frame::MAX_RESERVE);
        // growing here would move the whole buffer.
        if buf.capacity() == buf.len() {
            buf.reserve(READ_CHUNK);
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
            self.handle_input(server, slot, buf, now);
        } else {
            c.extra().rbuf = buf;
        }
        (outcome, got)
    }

    /// Feeds `input` to the session of `slot` and dispatches its events; keeps what is left
    /// of a partial frame.
    fn handle_input(&mut self, server: &Server, slot: u32, mut input: BytesMut, now: Instant) {
        let Some(c) = self.conn_mut(slot) else { return };
        if let Err(e) = c.session.handle_bytes(now, &mut input) {
            debug!(id = %c.conn.entry.id, error = %e, "protocol error");
            c.set_closed(e.close_code().unwrap_or(CloseCode::PROTOCOL_ERROR), || {
                e.to_string()
            });
            input = BytesMut::new();
        }
        if !input.is_empty() {
            if input.capacity() == input.len() {
                // Maybe a view of the receive block (the decoder reserves room for a partial
                // payload, which moves it out; a partial header it leaves): a connection
                // waiting for the rest of a frame keeps only its own bytes, not the block.
                input = BytesMut::from(&input[..]);
            }
            c.extra().rbuf = input;
        }
        self.dispatch(server, slot, now);
    }

    /// Hands the session's events to the handler. What a callback sends to its own
    /// connection goes into the session right after the callback returns, so replies keep
    /// their order relative to everything the session itself sends (pongs, a close after a
    /// protocol error).
    fn dispatch(&mut self, server: &Server, slot: u32, now: Instant) {
        loop {
            let Some(c) = self.conn_mut(slot) else { return };
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
            let (route, conn) = (c.route, &c.conn);
            let ok = guarded(server, "on_message", conn.entry.id, || {
                server.handler(route).on_message(conn, msg);
            });
            if !ok {
                self.handler_failed(slot, now);
            }
            self.drain_local(server, now);
        }
        // A protocol error deferred behind the messages just handed out takes effect now.
        let Some(c) = self.conn_mut(slot) else { return };
        if let Some(e) = c.session.error() {
            c.set_closed(e.close_code().unwrap_or(CloseCode::PROTOCOL_ERROR), || {
                e.to_string()
            });
        }
        self.mark_dirty(slot);
    }

    // ---- timers ----

    fn run_timers(&mut self, server: &Server, now: Instant) {
        let now_tick = u64::try_from(now.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX);
        while let Some(&Reverse((at, slot, id))) = self.timers.peek() {
            if at > now_tick {
                break;
            }
            self.timers.pop();
            let Some(c) = self.target_mut(Target {
                slot,
                id: ConnId(id),
            }) else {
                continue;
            };
            if c.armed != at {
                continue; // superseded
            }
            c.armed = 0;
            let was_open = c.session.is_open();
            c.session.handle_timeout(now);
            if was_open && !c.session.is_open() && !c.session.is_closed() {
                server
                    .inner
                    .stats
                    .idle_closed
                    .fetch_add(1, Ordering::Relaxed);
            }
            self.dispatch(server, slot, now);
        }
    }

    /// Makes sure the timer heap holds this connection's next deadline.
    fn rearm(&mut self, slot: u32) {
        let epoch = self.epoch;
        let Some(c) = self.conn_mut(slot) else { return };
        let want = [c.session.poll_timeout(), c.hangup()]
            .into_iter()
            .flatten()
            .min();
        let Some(want) = want else { return };
        let since = want.saturating_duration_since(epoch);
        let rounded = since.as_millis() + u128::from(since.subsec_nanos() % 1_000_000 != 0);
        let tick = u64::try_from(rounded).unwrap_or(u64::MAX).max(1);
        // Only an earlier deadline needs a new entry: a later one is found when the armed
        // entry comes up (the session then has nothing due, and the connection is re-armed).
        if c.armed == 0 || tick < c.armed {
            c.armed = tick;
            let id = c.conn.entry.id.0;
            self.timers.push(Reverse((tick, slot, id)));
        }
    }

    // ---- output ----

    fn settle_dirty(&mut self, server: &Server, now: Instant) {
        while let Some(slot) = self.dirty.pop() {
            self.settle(server, slot, now);
        }
    }

    /// Writes what the connection has queued, ends it if it is over, and re-arms its timer.
    fn settle(&mut self, server: &Server, slot: u32, now: Instant) {
        let Some(c) = self.conns.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        c.flags &= !DIRTY;
        // Output goes through the shard's queue; only what the socket refuses stays with the
        // connection.
        let out = &mut self.out;
        if let Some(e) = c.extra.as_mut() {
            std::mem::swap(out, &mut e.out);
        }
        while let Some(b) = c.session.poll_transmit() {
            out.push(b);
        }
        let written = if out.is_empty() {
            Ok(())
        } else {
            out.write_to(&c.stream)
        };
        if !out.is_empty() {
            // The socket is full: the rest waits with the connection, for its writable event.
            std::mem::swap(out, &mut c.extra().out);
        }
        if let Err(e) = written {
            debug!(id = %c.conn.entry.id, error = %e, "write failed");
            c.set_closed(CloseCode::ABNORMAL, String::new);
            self.finish(server, slot);
            return;
        }
        let drained = c.extra.as_ref().is_none_or(|e| e.out.is_empty());
        if c.session.is_closed() && drained {
            self.finish(server, slot);
            return;
        }
        if c.session.is_closed() && c.hangup().is_none() {
            // Only output remains; a peer that does not take it gets the close timeout.
            c.extra().hangup = Some(now + c.session.config().close_timeout());
        }
        if c.hangup().is_some_and(|at| now >= at) {
            self.finish(server, slot);
            return;
        }
        c.trim();
        self.rearm(slot);
    }

    /// Ends a connection: the handler's `on_close`, the registry, the roster, the socket.
    fn finish(&mut self, server: &Server, slot: u32) {
        let Some(c) = self.conns.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        self.free.push(slot);
        self.live -= 1;
        let entry = &c.conn.entry;
        entry.set_gone();
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&c.stream.as_raw_fd()));
        let (code, reason) = c
            .extra
            .and_then(|e| e.closed)
            .unwrap_or((CloseCode::ABNORMAL, String::new()));
        debug!(id = %entry.id, code = code.as_u16(), "closed");
        guarded(server, "on_close", entry.id, || {
            server.handler(c.route).on_close(&c.conn, code, &reason);
        });
        if let Some(session) = server.inner.registry.remove(entry.id) {
            server.mega_leave(&session.session_id);
        }
        drop(c.stream);
        server.conn_ended();
        self.drain_local(server, Instant::now());
    }
}

/// A fresh receive block (see [`RX_BLOCK`]). Made by reserving rather than with
/// `with_capacity`, so that it does not record a large "original capacity": a partial frame
/// that the decoder moves out of the block then gets room for that frame only, not at least
/// 64 KiB (`bytes` sizes a reserve on a shared buffer by the original's capacity).
fn new_block() -> BytesMut {
    let mut block = BytesMut::new();
    block.reserve(RX_BLOCK);
    block
}

/// The most buffers a shard's [`FramePool`] tracks, in use or not (beyond that, a large
/// frame's buffer is not pooled).
const POOL_MAX: usize = 64;
/// The most unused buffers a shard's [`FramePool`] keeps beyond a loop iteration that had
/// nothing to do, or a second.
const POOL_SPARE: usize = 4;
/// How often a busy shard trims its pool to [`POOL_SPARE`] unused buffers.
const POOL_TRIM_EVERY: Duration = Duration::from_secs(1);

/// Buffers for frames larger than one read, reused once the payloads in them are dropped,
/// so that a stream of large messages does not make the allocator hand memory back to the
/// system and fault it in again for each one (which costs more than the copy it saves).
/// An idle shard keeps at most [`POOL_SPARE`] buffers of at most `FRESH_READ` +
/// `oyez_frame::MAX_RESERVE` bytes; an idle connection, none.
#[derive(Default)]
struct FramePool {
    /// An empty handle at the end of each pooled buffer: it is unique once nothing else uses
    /// the buffer, and `try_reclaim` then gives the whole buffer back.
    handles: Vec<BytesMut>,
}

impl FramePool {
    /// An empty buffer with room for at least `want` bytes.
    fn take(&mut self, want: usize) -> BytesMut {
        if let Some(i) = self.handles.iter_mut().position(|h| h.try_reclaim(want)) {
            return lend(&mut self.handles[i]);
        }
        // Unused buffers too small for this frame make way for it.
        self.handles.retain_mut(|h| !h.try_reclaim(1));
        let mut fresh = BytesMut::new(); // see `new_block` on why not `with_capacity`
        fresh.reserve(want);
        if self.handles.len() == POOL_MAX {
            return fresh; // not pooled
        }
        self.handles.push(fresh);
        let last = self.handles.len() - 1;
        lend(&mut self.handles[last])
    }

    /// Lets go of unused buffers beyond [`POOL_SPARE`].
    fn trim(&mut self) {
        if self.handles.len() > POOL_SPARE {
            let mut spare = 0;
            self.handles.retain_mut(|h| {
                let unused = h.try_reclaim(1);
                spare += usize::from(unused);
                !unused || spare <= POOL_SPARE
            });
        }
    }
}

/// Hands out the buffer `h` holds, keeping an empty handle to its end in `h`.
fn lend(h: &mut BytesMut) -> BytesMut {
    let mut lent = std::mem::take(h);
    *h = lent.split_off(lent.capacity());
    lent
}

/// One `recv` of at most `max` bytes into the unused capacity of `buf`, which it does not
/// zero first; what it got is appended to `buf`. The one `unsafe` of this crate.
#[allow(unsafe_code)]
fn recv_uninit(stream: &TcpStream, buf: &mut BytesMut, max: usize) -> io::Result<usize> {
    let spare = buf.spare_capacity_mut();
    let max = max.min(spare.len());
    let n = socket2::SockRef::from(stream).recv(&mut spare[..max])?;
    // SAFETY: `recv` wrote (initialised) the first `n` bytes of the spare capacity it was
    // given, and `n` is at most its length, so `len + n` bytes of `buf` are initialised.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Runs a handler callback; a panic in it is caught, logged and counted, and costs only its
/// connection (see [`Shard::handler_failed`]), never the shard and its other connections.
fn guarded(server: &Server, what: &str, id: ConnId, f: impl FnOnce()) -> bool {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(()) => true,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(not a string)");
            error!(id = %id, callback = what, panic = msg, "a handler panicked; closing its connection with 1011");
            server
                .inner
                .stats
                .handler_panics
                .fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// The backlog is at its bound: drop everything queued. If no frame is cut in half on the
/// wire, the client still gets a close frame 1008 "slow client" and `SLOW_CLOSE_GRACE` to
/// take it; otherwise we hang up at once.
fn drop_slow_client(c: &mut Connection, now: Instant) {
    c.conn.entry.set_gone();
    while c.session.poll_transmit().is_some() {}
    let out = &mut c.extra().out;
    let mid_frame = out.is_mid_frame();
    out.clear();
    let grace = if mid_frame {
        Duration::ZERO
    } else {
        let _ = c
            .session
            .close(now, CloseCode::POLICY_VIOLATION, "slow client");
        SLOW_CLOSE_GRACE
    };
    c.extra().hangup = Some(now + grace);
}

#[cfg(test)]
mod tests {
    /// A large frame's buffer comes back to the pool once its payloads are dropped, is not
    /// lent twice while in use, and an idle pool keeps at most `POOL_SPARE` buffers.
    #[test]
    fn the_frame_pool_reuses_buffers_once_free() {
        use super::{FramePool, POOL_SPARE};
        let mut pool = FramePool::default();
        let mut a = pool.take(100_000);
        assert!(a.capacity() >= 100_000);
        let a_ptr = a.as_ptr();
        a.extend_from_slice(&[1; 100_000]);
        let payload = a.split_to(60_000).freeze();
        drop(a);
        let b = pool.take(100_000); // `payload` still uses the first buffer
        assert_ne!(b.as_ptr(), a_ptr);
        drop(payload);
        let c = pool.take(100_000);
        assert_eq!(c.as_ptr(), a_ptr, "the first buffer is free again");
        assert!(c.is_empty() && c.capacity() >= 100_000);
        let d = pool.take(200_000); // larger than either: a new one
        assert!(d.capacity() >= 200_000);
        let held: Vec<_> = (0..8).map(|_| pool.take(1_000)).collect();
        drop((b, c, d, held));
        pool.trim();
        assert_eq!(pool.handles.len(), POOL_SPARE);
    }

    /// A partial frame moved out of the receive block gets room for itself, not a share of
    /// the block's size: what a connection waiting for the rest of a small frame holds.
    #[test]
    fn a_partial_frame_leaves_the_block_small() {
        use bytes::BufMut;
        let mut block = super::new_block();
        assert!(block.capacity() >= super::RX_BLOCK);
        block.put_bytes(7, 100);
        let mut view = block.split_to(100);
        let _payload = view.split_to(60).freeze();
        view.reserve(50);
        assert!(view.capacity() < 1024, "{}", view.capacity());
        assert_eq!(&view[..], &[7; 40][..]);
    }

    /// An idle connection is its slab entry plus its registry entry (an `Arc<ConnEntry>`)
    /// and a few index slots: the idle-memory bar (issue 7: at most 512 bytes per idle
    /// connection, measured by `ws-load idle`) rests on these sizes. Growing either is a
    /// decision to make knowingly, with a new measurement.
    #[test]
    fn an_idle_connection_stays_small() {
        use std::mem::size_of;
        assert!(
            size_of::<oyez_frame::Session>() <= 240,
            "{}",
            size_of::<oyez_frame::Session>()
        );
        assert!(
            size_of::<super::Connection>() <= 288,
            "{}",
            size_of::<super::Connection>()
        );
        assert!(
            size_of::<crate::registry::ConnEntry>() <= 80,
            "{}",
            size_of::<crate::registry::ConnEntry>()
        );
    }
}

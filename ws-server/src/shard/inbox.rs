//! A shard's inbox: the commands others send it, and the thread-local fast path for the
//! commands its own callbacks send.

use std::cell::RefCell;
use std::net::{SocketAddr, TcpStream};
use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use mio::Waker;
use oyez_frame::{CloseCode, SharedFrame};
use tracing::error;

use crate::Message;
use crate::id::Target;
use crate::identity::Identity;
use crate::request::RequestInfo;
use crate::stats::Stamp;
use crate::sync::lock;

/// What others ask of a shard.
pub(crate) enum Cmd {
    /// Take over an upgraded connection.
    Adopt(Box<Adoption>),
    /// Queue one frame (encoded once; an index into the batch's [`Batch::frames`]) for
    /// each of these connections (a range of the batch's [`Batch::targets`]); a broadcast
    /// carries its start, for the delivery-time histogram. The frame and the addresses live
    /// in the batch so that a command stays small (64 bytes) to move.
    Deliver {
        frame: u32,
        to: Range<u32>,
        at: Option<Stamp>,
    },
    /// A message one of this shard's callbacks sent to a connection of the shard: encoded
    /// straight into that connection's session, no shared frame made.
    Reply { to: Target, msg: Message },
    /// Start the close handshake on one connection.
    Close {
        to: Target,
        code: CloseCode,
        reason: Box<str>,
    },
    /// Close every connection with 1001 and stop once they are gone.
    Shutdown,
}

/// Commands, and the connections their deliveries go to: one buffer for every delivery's
/// addresses, kept from one batch to the next (the inbox and the shard swap batches), so a
/// delivery to many connections allocates nothing once it has grown.
#[derive(Default)]
pub(crate) struct Batch {
    pub(super) cmds: Vec<Cmd>,
    pub(super) targets: Vec<Target>,
    pub(super) frames: Vec<SharedFrame>,
}

impl Batch {
    const fn new() -> Self {
        Self {
            cmds: Vec::new(),
            targets: Vec::new(),
            frames: Vec::new(),
        }
    }

    /// Ready for the next batch (its buffers kept, its frames dropped).
    pub(super) fn clear(&mut self) {
        self.cmds.clear();
        self.targets.clear();
        self.frames.clear();
    }

    /// Queues `frame` for each of `to`.
    fn deliver(&mut self, frame: &SharedFrame, to: &[Target], at: Option<Stamp>) {
        let index = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let start = index(self.targets.len());
        self.targets.extend_from_slice(to);
        let frame_at = index(self.frames.len());
        self.frames.push(frame.clone());
        self.cmds.push(Cmd::Deliver {
            frame: frame_at,
            to: start..index(self.targets.len()),
            at,
        });
    }
}

/// An upgraded connection, handed from the accept side to a shard.
pub(crate) struct Adoption {
    pub(crate) stream: TcpStream,
    /// The TLS session of a `wss://` connection (none for `ws://`).
    pub(crate) tls: Option<Box<rustls::ServerConnection>>,
    pub(crate) path: String,
    pub(crate) query: Option<Box<str>>,
    pub(crate) peer: SocketAddr,
    pub(crate) request: Arc<RequestInfo>,
    /// The route serving the connection, as the accept side chose it (the shard only hands
    /// it back to its [`super::Host`]).
    pub(crate) route: u16,
    /// The `101 Switching Protocols` response, written once the connection is registered.
    pub(crate) response: Bytes,
    /// Bytes that arrived after the upgrade request.
    pub(crate) early: BytesMut,
    /// Who the upgrade hook said the connection is (registered with it).
    pub(crate) identity: Option<Box<Identity>>,
    /// The permessage-deflate the handshake agreed, if any.
    pub(crate) deflate: Option<oyez_frame::deflate::Agreed>,
}

/// Gives each shard of the process a distinct identity, for the thread-local fast path.
static NEXT_UID: AtomicU32 = AtomicU32::new(1);

thread_local! {
    /// On a shard's thread: that shard's uid, and the commands its callbacks queued for it.
    static LOCAL: RefCell<(u32, Batch)> = const { RefCell::new((0, Batch::new())) };
}

/// The shareable side of a shard: its inbox and the waker of its event loop.
pub(crate) struct ShardHandle {
    uid: u32,
    pub(crate) index: u16,
    inbox: Mutex<Batch>,
    waker: Waker,
}

impl core::fmt::Debug for ShardHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ShardHandle")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl ShardHandle {
    pub(super) fn new(index: u16, waker: Waker) -> Self {
        Self {
            uid: NEXT_UID.fetch_add(1, Ordering::Relaxed),
            index,
            inbox: Mutex::new(Batch::new()),
            waker,
        }
    }

    /// Hands `cmd` to the shard: straight onto its local queue when called from one of its
    /// own callbacks, else into its inbox, waking it if the inbox was empty.
    pub(crate) fn post(&self, cmd: Cmd) {
        self.enqueue(|batch| batch.cmds.push(cmd));
    }

    /// Queues `msg` for `to` (a connection of this shard): from one of the shard's own
    /// callbacks, as a [`Cmd::Reply`] (encoded in place later); from anywhere else, as one
    /// frame made now.
    pub(crate) fn send(&self, to: Target, msg: Message) {
        let msg = LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            if local.0 == self.uid {
                local.1.cmds.push(Cmd::Reply { to, msg });
                None
            } else {
                Some(msg)
            }
        });
        if let Some(msg) = msg {
            self.deliver(&msg.to_frame(), &[to], None);
        }
    }

    /// Queues `frame` for each of `to` (connections of this shard), as [`ShardHandle::post`]
    /// does a command.
    pub(crate) fn deliver(&self, frame: &SharedFrame, to: &[Target], at: Option<Stamp>) {
        self.enqueue(|batch| batch.deliver(frame, to, at));
    }

    fn enqueue(&self, add: impl FnOnce(&mut Batch)) {
        let add = LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            if local.0 == self.uid {
                add(&mut local.1);
                None
            } else {
                Some(add)
            }
        });
        let Some(add) = add else { return };
        let was_empty = {
            let mut inbox = lock(&self.inbox);
            let was_empty = inbox.cmds.is_empty();
            add(&mut inbox);
            was_empty
        };
        if was_empty && let Err(e) = self.waker.wake() {
            error!(shard = self.index, error = %e, "cannot wake the shard");
        }
    }

    /// Makes this thread the shard's: commands its callbacks post go to the local queue.
    pub(super) fn enter(&self) {
        LOCAL.with(|l| l.borrow_mut().0 = self.uid);
    }

    /// Moves the inbox's commands into `work` (empty), leaving the inbox with `work`'s
    /// buffers.
    pub(super) fn take_inbox(&self, work: &mut Batch) {
        std::mem::swap(work, &mut *lock(&self.inbox));
    }
}

/// What this thread's callbacks queued.
pub(super) enum Local {
    Empty,
    /// One command that needs nothing of the batch's targets (a reply, most often), taken
    /// off the queue: the common case, without swapping batches.
    One(Cmd),
    /// More: take them all with [`take_local`].
    Many,
}

/// Whether nothing is queued by this thread's callbacks (for a debug check).
pub(super) fn local_is_empty() -> bool {
    LOCAL.with(|l| {
        let batch = &l.borrow().1;
        batch.cmds.is_empty() && batch.frames.is_empty()
    })
}

/// What this thread's callbacks queued, the one command taken if it is only one.
pub(super) fn take_one_local() -> Local {
    LOCAL.with(|l| {
        let batch = &mut l.borrow_mut().1;
        match batch.cmds.len() {
            0 => Local::Empty,
            1 if batch.frames.is_empty() => batch.cmds.pop().map_or(Local::Empty, Local::One),
            _ => Local::Many,
        }
    })
}

/// Moves the commands this thread's callbacks queued into `work` (empty).
pub(super) fn take_local(work: &mut Batch) {
    LOCAL.with(|l| std::mem::swap(work, &mut l.borrow_mut().1));
}

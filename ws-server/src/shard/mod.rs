//! Shards: the threads that own upgraded connections (the behaviour, for users, is in
//! [`crate::_design`]; this is the map of the code).
//!
//! A shard depends on nothing of the server but what it is handed when it starts: a
//! [`Host`] (the server's side of each connection: registering it, running its handler's
//! callbacks, unregistering it), its [`ShardConfig`], and the [`Stats`] it counts into.
//! Everyone reaches a shard through its [`ShardHandle`].
//!
//! | file | concept |
//! | --- | --- |
//! | `inbox` | the commands others send ([`Cmd`]), and the thread-local fast path for a shard's own callbacks |
//! | `event_loop` | the loop: wait, commands, readiness, timers, writes |
//! | `connection` | one connection's state: idle part and busy part |
//! | `lifecycle` | opening (adopting) and closing a connection, and a failed callback |
//! | `read` | the read path: the receive block, frames larger than a read, dispatching messages |
//! | `recv` | one of the crate's two `unsafe`s: a read into uninitialised memory |
//! | `output` | settling a connection: its queued output to the socket, its end, its timer |
//! | `write_queue` | output the socket has not taken yet, and vectored writes |
//! | `deliver` | queueing a frame for a connection, and backpressure (dropping slow clients) |
//! | `timers` | the timer heap |
//! | `tls` | `wss://` connections: the shard drives each one's rustls session (plain ones never go there) |
//! | `pool` | the pool of buffers for frames larger than a read |
//! | `quiet` | quiet connections giving their session's buffers back, once a second |
//! | `guard` | catching a callback's panic |

mod connection;
mod deliver;
mod event_loop;
mod guard;
mod inbox;
mod lifecycle;
mod output;
mod pool;
mod quiet;
mod read;
mod recv;
mod timers;
mod tls;
mod write_queue;

use std::io;
use std::sync::Arc;

use mio::{Poll, Token, Waker};
use oyez_frame::CloseCode;

pub(crate) use inbox::{Adoption, Cmd, ShardHandle};

use crate::Message;
use crate::Stats;
use crate::registry::ConnEntry;
use crate::request::RequestInfo;

/// The waker's token; connection tokens are slab indexes.
const WAKER: Token = Token(usize::MAX);

/// What a shard needs from the server it works for, handed to it when it starts.
///
/// Callbacks run on the shard's thread; whatever they post to this shard goes to its local
/// queue, which the shard applies right after the callback returns.
pub(crate) trait Host: Send + 'static {
    /// The value a connection's callbacks are given (the public [`crate::Conn`]).
    type Conn: Send + 'static;

    /// Registers a connection this shard adopted into `slot`, and makes its value.
    /// It may take what it keeps out of `adoption` (the query).
    fn open(&self, shard: u16, slot: u32, adoption: &mut Adoption) -> Self::Conn;

    /// A connection's shared entry.
    fn entry(conn: &Self::Conn) -> &ConnEntry;

    /// The connection is open; `request` holds its upgrade request's headers.
    fn on_open(&self, conn: &Self::Conn, route: u16, request: Arc<RequestInfo>);

    /// A whole message arrived.
    fn on_message(&self, conn: &Self::Conn, route: u16, msg: Message);

    /// The connection ended, with the peer's close code (1006 without a close handshake).
    fn on_close(&self, conn: &Self::Conn, route: u16, code: CloseCode, reason: &str);

    /// The connection is over and its socket closed: unregister it.
    fn closed(&self, conn: Self::Conn);

    /// An upgraded connection from `peer` could not be taken (no free slot, or the poller
    /// refused it).
    fn refused(&self, peer: std::net::SocketAddr);
}

/// The size of one idle connection's slab entry, for `C` the host's `Conn` (held down by a
/// test where the host is known).
#[cfg(test)]
pub(crate) const fn connection_size<C>() -> usize {
    size_of::<connection::Connection<C>>()
}

/// How a shard treats its connections.
#[derive(Clone, Debug)]
pub(crate) struct ShardConfig {
    /// Every connection's session settings (limits, keepalive, idle timeout).
    pub(crate) session: oyez_frame::session::Config,
    /// The bound on each connection's outbound backlog in bytes (0: unbounded).
    pub(crate) max_backlog: usize,
    /// Where the shard counts slow clients, idle closes and panics.
    pub(crate) stats: Arc<Stats>,
    /// The runtime whose context callbacks run in (so that a handler may `tokio::spawn`).
    pub(crate) runtime: tokio::runtime::Handle,
}

/// A shard made but not started: its poller and its handle. Made first, so that the server
/// can hold every shard's handle before any shard runs.
pub(crate) struct Seed {
    poll: Poll,
    handle: Arc<ShardHandle>,
}

impl Seed {
    /// Shard `index`'s poller, waker and inbox.
    pub(crate) fn new(index: u16) -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        Ok(Self {
            poll,
            handle: Arc::new(ShardHandle::new(index, waker)),
        })
    }

    /// The handle others post to.
    pub(crate) fn handle(&self) -> Arc<ShardHandle> {
        self.handle.clone()
    }

    /// Starts the shard on its own thread, working for `host`.
    pub(crate) fn spawn<H: Host>(self, host: H, config: ShardConfig) -> io::Result<()> {
        let index = self.handle.index;
        std::thread::Builder::new()
            .name(format!("ws-shard-{index}"))
            .spawn(move || {
                let _runtime = config.runtime.enter();
                event_loop::Shard::new(self.handle, self.poll, &config).run(&host);
            })?;
        Ok(())
    }
}

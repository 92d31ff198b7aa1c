//! One task per connection: it owns the socket and the session.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::debug;
use ws_frame::session::Config;
use ws_frame::{CloseCode, Event, Role, Session};

use crate::registry::{ConnEntry, Outgoing};
use crate::server::{Conn, Handler};
use crate::{Error, Message};

/// Stop taking queued frames off the channel while this much output waits for the socket:
/// the rest stays in the channel, where it counts against the connection's backlog bound.
const WRITE_HIGH_WATER: usize = 256 << 10;
/// Read at least this much per read call.
const READ_CHUNK: usize = 8 << 10;
/// How long a slow client dropped for its backlog gets to take its close frame.
const SLOW_CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

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
        self.len += b.len();
        self.bufs.push_back(b);
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
            let head = self
                .bufs
                .front_mut()
                .expect("wrote no more than was queued");
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
    }

    fn clear(&mut self) {
        self.bufs = VecDeque::new();
        self.len = 0;
        self.head_started = false;
    }

    /// Writes as much as the socket takes without waiting.
    fn try_write(&mut self, stream: &TcpStream) -> std::io::Result<usize> {
        let slices: Vec<IoSlice<'_>> = self.bufs.iter().take(64).map(|b| IoSlice::new(b)).collect();
        let n = stream.try_write_vectored(&slices)?;
        self.advance(n);
        Ok(n)
    }
}

/// Drives one upgraded connection until it ends; `buf` holds bytes that came after the
/// upgrade request.
pub(crate) async fn run(
    stream: TcpStream,
    mut buf: BytesMut,
    conn: &Conn,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    handler: &dyn Handler,
) -> Result<(), Error> {
    let shared = &conn.server.inner;
    let config = Config::default()
        .with_limits(shared.config.limits)
        .with_idle_timeout(shared.config.idle_timeout)
        .with_keepalive(shared.config.keepalive);
    let mut session = Session::new(Role::Server, config, Instant::now());
    let mut out = WriteQueue::default();
    let mut shutdown = shared.shutdown.subscribe();
    let mut shutting_down = false;
    let mut closed: Option<(CloseCode, String)> = None;
    let mut slow_deadline: Option<tokio::time::Instant> = None;
    let entry = &conn.entry;

    handler.on_open(conn);
    if !buf.is_empty() {
        let _ = session.handle_bytes(Instant::now(), &mut buf);
    }

    let result = loop {
        dispatch(&mut session, conn, handler, &mut rx, &mut closed);
        while let Some(b) = session.poll_transmit() {
            out.push(b);
        }
        if session.is_closed() && out.is_empty() {
            break Ok(());
        }
        if slow_deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break Ok(());
        }
        let timer = [
            session.poll_timeout().map(tokio::time::Instant::from_std),
            slow_deadline,
        ]
        .into_iter()
        .flatten()
        .min();
        let take_more = session.is_open() && out.len < WRITE_HIGH_WATER;
        tokio::select! {
            biased;
            () = crate::server::until_true(&mut shutdown), if !shutting_down => {
                shutting_down = true;
                let _ = session.close(Instant::now(), CloseCode::GOING_AWAY, "server shutdown");
            }
            () = entry.overflow.notified(), if slow_deadline.is_none() => {
                drop_slow_client(&mut session, &mut out, &mut slow_deadline);
            }
            ready = stream.writable(), if !out.is_empty() => {
                ready?;
                match out.try_write(&stream) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => break Err(e.into()),
                }
            }
            ready = stream.readable(), if !session.is_closed() => {
                ready?;
                if buf.capacity() - buf.len() < READ_CHUNK {
                    buf.reserve(READ_CHUNK);
                }
                match stream.try_read_buf(&mut buf) {
                    Ok(0) => {
                        // The peer closed TCP without (finishing) the close handshake.
                        closed.get_or_insert((CloseCode::ABNORMAL, String::new()));
                        break Ok(());
                    }
                    Ok(_) => {
                        if let Err(e) = session.handle_bytes(Instant::now(), &mut buf) {
                            debug!(id = %entry.id, error = %e, "protocol error");
                            closed.get_or_insert_with(|| (e.close_code().unwrap_or(CloseCode::PROTOCOL_ERROR), e.to_string()));
                            buf = BytesMut::new();
                        }
                        if buf.is_empty() {
                            // Idle connections hold no read buffer.
                            buf = BytesMut::new();
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => break Err(e.into()),
                }
            }
            msg = rx.recv(), if take_more => match msg {
                Some(Outgoing::Frame(frame)) => {
                    entry.backlog.fetch_sub(frame.len(), Ordering::AcqRel);
                    let _ = session.send_shared(&frame);
                    // Coalesce what else is queued into this wake-up, up to the high-water mark.
                    take_queued(&mut session, entry, &mut rx, WRITE_HIGH_WATER.saturating_sub(out.len));
                }
                Some(Outgoing::Close(code, reason)) => {
                    let _ = session.close(Instant::now(), code, &reason);
                }
                None => break Ok(()),
            },
            _ = sleep_until(timer), if timer.is_some() => {
                let was_open = session.is_open();
                session.handle_timeout(Instant::now());
                if was_open && !session.is_open() && !session.is_closed() {
                    shared.stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    };
    dispatch(&mut session, conn, handler, &mut rx, &mut closed);
    let (code, reason) = closed.unwrap_or((CloseCode::ABNORMAL, String::new()));
    debug!(id = %entry.id, code = code.as_u16(), "closed");
    handler.on_close(conn, code, &reason);
    result
}

/// Moves frames queued for this connection into the session, while less than `budget` bytes
/// wait for the socket; stops at a close request, which it applies.
fn take_queued(
    session: &mut Session,
    entry: &ConnEntry,
    rx: &mut mpsc::UnboundedReceiver<Outgoing>,
    budget: usize,
) {
    while session.pending_bytes() < budget {
        match rx.try_recv() {
            Ok(Outgoing::Frame(frame)) => {
                entry.backlog.fetch_sub(frame.len(), Ordering::AcqRel);
                let _ = session.send_shared(&frame);
            }
            Ok(Outgoing::Close(code, reason)) => {
                let _ = session.close(Instant::now(), code, &reason);
                return;
            }
            Err(_) => return,
        }
    }
}

/// The backlog went over its bound: drop everything queued. If no frame is cut in half on
/// the wire, the client still gets a close frame 1008 "slow client" and `SLOW_CLOSE_GRACE` to
/// take it; otherwise we hang up at once.
fn drop_slow_client(
    session: &mut Session,
    out: &mut WriteQueue,
    slow_deadline: &mut Option<tokio::time::Instant>,
) {
    while session.poll_transmit().is_some() {}
    let mid_frame = out.is_mid_frame();
    out.clear();
    let grace = if mid_frame {
        std::time::Duration::ZERO
    } else {
        let _ = session.close(Instant::now(), CloseCode::POLICY_VIOLATION, "slow client");
        SLOW_CLOSE_GRACE
    };
    *slow_deadline = Some(tokio::time::Instant::now() + grace);
}

/// Hands the session's events to the handler. What a handler sends to its own connection
/// goes into the session right after the handler returns, so replies keep their order relative
/// to everything the session itself sends (pongs, a close after a protocol error).
fn dispatch(
    session: &mut Session,
    conn: &Conn,
    handler: &dyn Handler,
    rx: &mut mpsc::UnboundedReceiver<Outgoing>,
    closed: &mut Option<(CloseCode, String)>,
) {
    while let Some(event) = session.poll_event() {
        match event {
            Event::Text(text) => handler.on_message(conn, Message::Text(text)),
            Event::Binary(data) => handler.on_message(conn, Message::Binary(data)),
            Event::Closed { code, reason, .. } => {
                closed.get_or_insert((code, reason.as_str().to_owned()));
            }
            _ => {}
        }
        take_queued(session, &conn.entry, rx, usize::MAX);
    }
    // A protocol error deferred behind the messages just handed out takes effect now.
    if let Some(e) = session.error() {
        closed.get_or_insert_with(|| {
            (
                e.close_code().unwrap_or(CloseCode::PROTOCOL_ERROR),
                e.to_string(),
            )
        });
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

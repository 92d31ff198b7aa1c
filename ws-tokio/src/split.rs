//! A reader half and a writer half, for two tasks: one receives while the other sends.
//!
//! # How the halves share the work
//!
//! Each half owns its own codec session (the receiving and the sending session): the [`Reader`] decodes,
//! answers pings, replies to the peer's close and runs the timers; the [`Writer`] encodes
//! what the application sends. Neither touches the other's session, so encoding and
//! decoding take no lock. What they share is the transport's write side: one queue of whole
//! frames behind a mutex, taken once per write system call (by the writer when it flushes,
//! by the reader only when the protocol owes the peer a frame), never held across an
//! `await`, so uncontended but for the instant the reader writes an owed frame.
//!
//! **Who writes an owed frame** (a pong, the close reply, a keepalive ping, a close after a
//! protocol error or the idle timeout): the reader queues it behind whatever the writer has
//! queued, and then writes the queue itself, from the `recv` (or `poll_next`) that produced
//! it. So a pong goes out while the writer is idle, or blocked in another task, or never
//! used, with no flush from the application (tokio-tungstenite's split halves only send it
//! with the writer's next flush; fastwebsockets' make the caller route it). If the
//! transport is full, whichever half writes next (the writer's flush, or the reader's next
//! poll) carries on: a frame is never cut by the other half's, because both only append
//! whole frames and write the queue from its head.
//!
//! **The close handshake:** exactly one close frame goes out. A close the writer sends
//! ([`Writer::close`], or [`Message::Close`] into the sink) wakes the reader, which then
//! discards data until the peer's reply and enforces the close timeout; a close the peer
//! starts is replied to by the reader, after which the writer's sends fail with
//! [`Error::Closed`]. If both happen at once, a flag decides which frame goes and the other
//! is dropped. Once the reader sees the end, it writes what is queued and shuts the
//! transport down.
//!
//! # Native halves
//!
//! [`WebSocket::split`] uses [`tokio::io::split`], which works on any stream but takes a
//! lock inside on every read and write call. For a [`TcpStream`] use
//! [`WebSocket::into_split`] (tokio's owned halves: no lock at all), and for any other stream
//! with halves of its own, [`WebSocket::split_with`].

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker, ready};

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use futures_util::task::AtomicWaker;
use oyez_frame::{CloseCode, CloseFrame};
use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::inbound::{Got, Inbound, Owed};
use crate::outbound::Outbound;
use crate::write_queue::WriteQueue;
use crate::{Error, Message, WebSocket};

/// Flag: the receiving session left the open state (the peer closed, the idle timeout, a
/// protocol error, or a close sent before the split): no more messages may be sent.
const READER_CLOSING: u8 = 1;
/// Flag: the writer sent a close frame.
const WRITER_CLOSED: u8 = 2;

/// The receiving half: a [`Stream`] of messages, and [`Reader::recv`].
pub struct Reader<R> {
    io: R,
    inbound: Inbound,
    side: Arc<dyn WriteSide>,
    /// Owed frames produced and not yet queued.
    owed: Vec<Bytes>,
    /// The owed frames include this side's close frame.
    owed_close: bool,
    /// This half's last write got `Pending`: the transport's wake-up is this half's, so it
    /// carries on writing the queue when next polled.
    write_pending: bool,
    end: End,
}

/// The sending half: a [`Sink<Message>`], and [`Writer::send`] / [`Writer::close`].
pub struct Writer<W> {
    shared: Arc<Shared<W>>,
    outbound: Outbound,
    /// Encoded frames taken from the session, moved to the queue under the lock.
    staged: Vec<Bytes>,
    /// The staged frames end with this side's close.
    close_staged: bool,
    /// The queue's length when last seen (it only shrinks behind this half's back, but for
    /// the reader's small owed frames).
    queued: usize,
    write_buffer: usize,
}

#[derive(Debug)]
enum End {
    Open,
    Ending(Option<Result<Message, Error>>),
    Ended,
}

/// The write side both halves use.
struct Shared<W> {
    out: Mutex<Out<W>>,
    flags: AtomicU8,
    /// The reader's task, woken when the writer sends a close.
    reader: AtomicWaker,
}

struct Out<W> {
    io: W,
    queue: WriteQueue,
    /// A close frame is in the queue (or written): nothing more may follow it.
    close_queued: bool,
    /// The transport is shut down.
    shut: bool,
    /// Halves waiting for the queue to be written, woken by whoever writes it.
    writer_waiting: Option<Waker>,
    reader_waiting: Option<Waker>,
}

/// What the reader needs of the write side, with the writer's stream type erased.
trait WriteSide: Send + Sync {
    fn flags(&self) -> &AtomicU8;
    fn reader_waker(&self) -> &AtomicWaker;
    /// Queues owed frames and writes what the transport takes now.
    fn push_owed(
        &self,
        cx: &mut Context<'_>,
        owed: &mut Vec<Bytes>,
        close: bool,
    ) -> Poll<io::Result<()>>;
    /// Writes the queue out, then shuts the transport down.
    fn poll_finish(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// The reader goes away: if the transport's wake-up was its own, let the writer retry.
    fn reader_gone(&self);
}

impl<W> Shared<W> {
    fn lock(&self) -> MutexGuard<'_, Out<W>> {
        // A poisoned lock means a write call panicked; the queue is still whole frames.
        self.out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<W: AsyncWrite + Unpin> Out<W> {
    /// Writes the queue and flushes the transport; wakes the other half on progress.
    fn poll_write(&mut self, cx: &mut Context<'_>, reader: bool) -> Poll<io::Result<()>> {
        let before = self.queue.len();
        let result = match self.queue.poll_write_to(cx, Pin::new(&mut self.io)) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.io).poll_flush(cx),
            other => other,
        };
        if self.queue.len() < before || result.is_ready() {
            let other = if reader {
                self.writer_waiting.take()
            } else {
                self.reader_waiting.take()
            };
            if let Some(w) = other {
                w.wake();
            }
        }
        if result.is_pending() {
            let slot = if reader {
                &mut self.reader_waiting
            } else {
                &mut self.writer_waiting
            };
            if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        result
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> WriteSide for Shared<W> {
    fn flags(&self) -> &AtomicU8 {
        &self.flags
    }

    fn reader_waker(&self) -> &AtomicWaker {
        &self.reader
    }

    fn push_owed(
        &self,
        cx: &mut Context<'_>,
        owed: &mut Vec<Bytes>,
        close: bool,
    ) -> Poll<io::Result<()>> {
        let mut out = self.lock();
        if out.shut {
            owed.clear();
            return Poll::Ready(Ok(()));
        }
        for chunk in owed.drain(..) {
            if !out.close_queued {
                out.queue.push(chunk);
            }
        }
        out.close_queued |= close;
        out.poll_write(cx, true)
    }

    fn poll_finish(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut out = self.lock();
        if out.shut {
            return Poll::Ready(Ok(()));
        }
        ready!(out.poll_write(cx, true))?;
        ready!(Pin::new(&mut out.io).poll_shutdown(cx))?;
        out.shut = true;
        if let Some(w) = out.writer_waiting.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }

    fn reader_gone(&self) {
        if let Some(w) = self.lock().writer_waiting.take() {
            w.wake();
        }
    }
}

/// The reader's route for owed frames.
struct ReaderRoute<'a> {
    owed: &'a mut Vec<Bytes>,
    owed_close: &'a mut bool,
    flags: &'a AtomicU8,
}

impl Owed for ReaderRoute<'_> {
    fn owed(&mut self, chunk: Bytes) {
        self.owed.push(chunk);
    }

    fn left_open(&mut self) -> bool {
        let prev = self.flags.fetch_or(READER_CLOSING, Ordering::AcqRel);
        let ours = prev & WRITER_CLOSED == 0;
        *self.owed_close |= ours;
        ours
    }

    fn closed_elsewhere(&self) -> bool {
        self.flags.load(Ordering::Acquire) & WRITER_CLOSED != 0
    }
}

impl<S> WebSocket<S> {
    /// Splits the connection into halves over the stream's own halves, made by `split`
    /// (e.g. [`TcpStream::into_split`], or a TLS library's native split). Whatever was
    /// accepted and not yet written carries over.
    pub fn split_with<R, W>(self, split: impl FnOnce(S) -> (R, W)) -> (Reader<R>, Writer<W>)
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let Self {
            io,
            inbound,
            outbound,
            queue,
            config,
            end,
        } = self;
        let (r, w) = split(io);
        let open = inbound.session().is_open();
        let shared = Arc::new(Shared {
            out: Mutex::new(Out {
                io: w,
                queue,
                close_queued: !open,
                shut: false,
                writer_waiting: None,
                reader_waiting: None,
            }),
            flags: AtomicU8::new(if open { 0 } else { READER_CLOSING }),
            reader: AtomicWaker::new(),
        });
        let reader = Reader {
            io: r,
            inbound,
            side: shared.clone(),
            owed: Vec::new(),
            owed_close: false,
            write_pending: false,
            end: match end {
                crate::websocket::End::Open => End::Open,
                crate::websocket::End::Ending(item) => End::Ending(item),
                crate::websocket::End::Ended => End::Ended,
            },
        };
        let writer = Writer {
            shared,
            outbound,
            staged: Vec::new(),
            close_staged: false,
            queued: 0,
            write_buffer: config.write_buffer(),
        };
        (reader, writer)
    }
}

impl<S: AsyncRead + AsyncWrite + Send + 'static> WebSocket<S> {
    /// Splits the connection into halves with [`tokio::io::split`]: any stream, but a lock
    /// inside tokio's halves on every read and write call. Prefer
    /// [`WebSocket::into_split`] for a [`TcpStream`], or [`WebSocket::split_with`].
    pub fn split(self) -> (Reader<ReadHalf<S>>, Writer<WriteHalf<S>>) {
        self.split_with(tokio::io::split)
    }
}

impl WebSocket<TcpStream> {
    /// Splits the connection into halves over tokio's owned TCP halves: no lock anywhere on
    /// the read path, one uncontended lock per write call on the write path.
    pub fn into_split(self) -> (Reader<OwnedReadHalf>, Writer<OwnedWriteHalf>) {
        self.split_with(TcpStream::into_split)
    }
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// The next message: `None` once the connection has ended.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Queues what is owed and writes what the transport takes now.
    fn push_owed(&mut self, cx: &mut Context<'_>) -> Result<(), Error> {
        let close = std::mem::take(&mut self.owed_close);
        match self.side.push_owed(cx, &mut self.owed, close) {
            Poll::Ready(Ok(())) => self.write_pending = false,
            Poll::Ready(Err(e)) => return Err(e.into()),
            Poll::Pending => self.write_pending = true,
        }
        Ok(())
    }
}

impl<R: AsyncRead + Unpin> Stream for Reader<R> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match &mut this.end {
                End::Ended => return Poll::Ready(None),
                End::Ending(_) => {
                    if !this.owed.is_empty() || this.write_pending {
                        let _ = this.push_owed(cx);
                    }
                    let _ = ready!(this.side.poll_finish(cx));
                    let End::Ending(item) = std::mem::replace(&mut this.end, End::Ended) else {
                        unreachable!("matched just above")
                    };
                    return Poll::Ready(item);
                }
                End::Open => {}
            }
            let mut route = ReaderRoute {
                owed: &mut this.owed,
                owed_close: &mut this.owed_close,
                flags: this.side.flags(),
            };
            let got = this
                .inbound
                .poll_recv(cx, Pin::new(&mut this.io), &mut route);
            if (!this.owed.is_empty() || this.write_pending)
                && let Err(e) = this.push_owed(cx)
            {
                this.end = End::Ending(Some(Err(e)));
                continue;
            }
            match got {
                Poll::Ready(Got::Message(msg)) => return Poll::Ready(Some(Ok(msg))),
                Poll::Ready(Got::End(item)) => this.end = End::Ending(item),
                Poll::Pending => {
                    this.side.reader_waker().register(cx.waker());
                    // A close the writer sent while this was registering.
                    if this.inbound.session().is_open()
                        && this.side.flags().load(Ordering::Acquire) & WRITER_CLOSED != 0
                    {
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<R> Drop for Reader<R> {
    fn drop(&mut self) {
        if self.write_pending {
            self.side.reader_gone();
        }
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> Writer<W> {
    /// Sends a message (or a ping, a pong, a close) and writes it out.
    ///
    /// # Errors
    /// [`Error::Closed`] once the close handshake has begun (from either half); as
    /// [`WebSocket::send`] otherwise.
    pub async fn send(&mut self, msg: impl Into<Message>) -> Result<(), Error> {
        let msg = msg.into();
        poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
        Pin::new(&mut *self).start_send(msg)?;
        poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Writes out everything accepted.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Sends a close frame (unless the handshake has begun) and writes it out. The peer's
    /// reply arrives through the [`Reader`], which then ends (or reports
    /// [`Error::Lost`] after the close timeout).
    ///
    /// # Errors
    /// [`Error::Send`] for a code that may not be sent; [`Error::Io`].
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.start_close(code, reason)?;
        self.flush().await
    }

    /// Whether messages may still be sent: neither half has begun the close handshake.
    pub fn is_open(&self) -> bool {
        self.shared.flags.load(Ordering::Acquire) & (READER_CLOSING | WRITER_CLOSED) == 0
    }

    fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if !code.is_valid_on_wire() {
            return Err(Error::Send(oyez_frame::Error::CloseCodeNotSendable(
                code.as_u16(),
            )));
        }
        let prev = self.shared.flags.fetch_or(WRITER_CLOSED, Ordering::AcqRel);
        if prev & (READER_CLOSING | WRITER_CLOSED) != 0 {
            // The handshake has begun: its close frame is the one.
            return Ok(());
        }
        self.outbound.close(code, reason)?;
        self.close_staged = true;
        self.shared.reader.wake();
        Ok(())
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> Sink<Message> for Writer<W> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.outbound.pending() + this.queued < this.write_buffer {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut *this).poll_flush(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ if this.queued < this.write_buffer => Poll::Ready(Ok(())),
            _ => Poll::Pending,
        }
    }

    fn start_send(self: Pin<&mut Self>, msg: Message) -> Result<(), Error> {
        let this = self.get_mut();
        match msg {
            Message::Close(frame) => {
                let (code, reason) = close_parts(frame.as_ref());
                this.start_close(code, reason)
            }
            _ if !this.is_open() => Err(Error::Closed),
            msg => this.outbound.encode(msg),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        this.outbound.take(&mut this.staged);
        let mut out = this.shared.lock();
        if out.shut {
            this.staged.clear();
            this.queued = 0;
            return Poll::Ready(if out.queue.is_empty() {
                Ok(())
            } else {
                Err(Error::Closed)
            });
        }
        for chunk in this.staged.drain(..) {
            if !out.close_queued {
                out.queue.push(chunk);
            }
        }
        out.close_queued |= std::mem::take(&mut this.close_staged);
        let result = out.poll_write(cx, false);
        this.queued = out.queue.len();
        drop(out);
        result.map_err(Error::from)
    }

    /// Sends a close frame (code 1000) unless the handshake has begun, and writes it out.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        this.start_close(CloseCode::NORMAL, "")?;
        Pin::new(this).poll_flush(cx)
    }
}

fn close_parts(frame: Option<&CloseFrame>) -> (CloseCode, &str) {
    match frame {
        Some(f) => (f.code.unwrap_or(CloseCode::NORMAL), f.reason.as_str()),
        None => (CloseCode::NORMAL, ""),
    }
}

impl<R> fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("session", self.inbound.session())
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl<W> fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("flags", &self.shared.flags.load(Ordering::Relaxed))
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}

//! [`WebSocket`]: one connection over one stream, as a `Stream` of messages and a `Sink`.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_sink::Sink;
use oyez_frame::{CloseCode, CloseFrame, Role, Session};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::inbound::{Got, Inbound, Owed};
use crate::outbound::Outbound;
use crate::timer::now;
use crate::write_queue::WriteQueue;
use crate::{Config, Error, Message};

/// A WebSocket connection over any tokio stream `S`, in either role, after the opening
/// handshake.
///
/// - Receive with [`WebSocket::recv`] or as a [`Stream`] of `Result<Message, Error>`; send
///   with [`WebSocket::send`] or as a [`Sink<Message>`]; [`WebSocket::close`] runs the close
///   handshake.
/// - Pings are answered, and the peer's close is replied to, by the receiving side itself:
///   the reply goes out during the `recv` (or `poll_next`) that found the ping, with no
///   `flush` needed. So **keep receiving**: pongs, the close reply, keepalive and the idle
///   and close timeouts all run while the stream is polled.
/// - [`Sink::poll_ready`] (and `send`) waits while [`Config::write_buffer`] bytes are
///   accepted and not yet written: that is the backpressure.
/// - [`WebSocket::split`] gives a reader half and a writer half that work from different
///   tasks ([`crate::split`]).
///
/// Make one with [`crate::accept`], [`crate::connect`], [`crate::client::handshake`], or
/// [`WebSocket::from_upgraded`] over a stream that has already done the handshake (a
/// hyper or axum upgrade, see the `upgrade` module, feature `hyper`).
#[derive(Debug)]
pub struct WebSocket<S> {
    pub(crate) io: S,
    pub(crate) inbound: Inbound,
    pub(crate) outbound: Outbound,
    pub(crate) queue: WriteQueue,
    pub(crate) config: Config,
    pub(crate) end: End,
}

/// Where the stream is in its ending.
#[derive(Debug)]
pub(crate) enum End {
    Open,
    /// The session is over: output is being written and the transport shut down; then this
    /// item, then `None`.
    Ending(Option<Result<Message, Error>>),
    Ended,
}

/// The unsplit connection's route for owed frames: after whatever the application has
/// encoded, in the one queue.
struct Route<'a> {
    queue: &'a mut WriteQueue,
    outbound: &'a mut Outbound,
}

impl Owed for Route<'_> {
    fn owed(&mut self, chunk: Bytes) {
        self.outbound.drain_into(self.queue);
        self.queue.push(chunk);
    }
}

impl<S> WebSocket<S> {
    /// A WebSocket over `io`, a stream on which the opening handshake is already done (a
    /// hyper or axum upgrade, an HTTP/2 extended CONNECT stream, a test pipe).
    pub fn from_upgraded(io: S, role: Role, config: Config) -> Self {
        Self::with_early(io, role, config, BytesMut::new())
    }

    /// As [`WebSocket::from_upgraded`], with bytes already read past the handshake (frames
    /// the peer sent right behind it).
    pub fn with_early(io: S, role: Role, config: Config, early: BytesMut) -> Self {
        let session = Session::new(role, *config.session(), now());
        Self {
            io,
            inbound: Inbound::new(session, early, config.read_chunk()),
            outbound: Outbound::new(role, *config.session()),
            queue: WriteQueue::default(),
            config,
            end: End::Open,
        }
    }

    /// The connection with the permessage-deflate its handshake agreed (both directions:
    /// what it receives is inflated, what it sends compressed). For a stream whose handshake
    /// was done elsewhere; [`crate::accept`], [`crate::connect`] and the `upgrade` helpers
    /// negotiate it themselves. Call it before the first message.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    #[must_use]
    pub fn with_deflate(mut self, agreed: oyez_frame::deflate::Agreed) -> Self {
        self.inbound.set_deflate(agreed);
        self.outbound.set_deflate(agreed);
        self
    }

    /// The permessage-deflate in force, if the handshake agreed one.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn deflate(&self) -> Option<&oyez_frame::deflate::Agreed> {
        self.inbound.session().deflate()
    }

    /// The role.
    pub fn role(&self) -> Role {
        self.inbound.session().role()
    }

    /// The configuration.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// Whether messages may still be sent: the close handshake has not begun.
    pub fn is_open(&self) -> bool {
        matches!(self.end, End::Open) && self.inbound.session().is_open()
    }

    /// The stream.
    pub const fn get_ref(&self) -> &S {
        &self.io
    }

    /// The stream, mutably.
    ///
    /// # Warning
    /// Reading from or writing to it directly breaks the framing.
    pub const fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// Bytes accepted and not yet written.
    pub fn buffered_bytes(&self) -> usize {
        self.queue.len() + self.outbound.pending()
    }

    /// Starts the close handshake (a no-op if it has begun).
    fn start_close(&mut self, frame: Option<&CloseFrame>) -> Result<(), Error> {
        if !self.is_open() {
            return Ok(());
        }
        let (code, reason) = match frame {
            Some(f) => (f.code.unwrap_or(CloseCode::NORMAL), f.reason.as_str()),
            None => (CloseCode::NORMAL, ""),
        };
        let mut route = Route {
            queue: &mut self.queue,
            outbound: &mut self.outbound,
        };
        self.inbound.close(code, reason, &mut route)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// The next message: `None` once the connection has ended (after the peer's
    /// [`Message::Close`], or after an error).
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Sends a message (or a ping, a pong, a close) and writes it out.
    ///
    /// # Errors
    /// [`Error::Closed`] once the close handshake has begun; [`Error::Send`] for a control
    /// payload over 125 bytes; [`Error::Io`].
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

    /// Runs the close handshake: sends a close frame with `code` and `reason` (unless one was
    /// sent), then receives until the peer's close arrives, discarding messages, and returns
    /// the peer's close frame (`None` if it carried no code, or if the connection had already
    /// ended).
    ///
    /// # Errors
    /// [`Error::Send`] for a code that may not be sent (1005, 1006, …); [`Error::Lost`] if
    /// the peer does not answer within the close timeout; [`Error::Io`].
    pub async fn close(
        &mut self,
        code: CloseCode,
        reason: &str,
    ) -> Result<Option<CloseFrame>, Error> {
        if self.is_open() {
            let frame = CloseFrame {
                code: Some(code),
                reason: reason.to_owned().into(),
            };
            self.start_close(Some(&frame))?;
        }
        self.flush().await?;
        while let Some(item) = self.recv().await {
            if let Message::Close(frame) = item? {
                return Ok(frame);
            }
        }
        Ok(None)
    }

    /// Writes the queue and flushes the transport.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.outbound.drain_into(&mut self.queue);
        ready!(self.queue.poll_write_to(cx, Pin::new(&mut self.io)))?;
        ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        Poll::Ready(Ok(()))
    }

    /// The session is over: everything out, then the transport shut down.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_write_out(cx))?;
        ready!(Pin::new(&mut self.io).poll_shutdown(cx))?;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match &mut this.end {
                End::Ended => return Poll::Ready(None),
                End::Ending(_) => {
                    // The item stands whatever the hang-up gives (a peer gone already).
                    let _ = ready!(this.poll_finish(cx));
                    let End::Ending(item) = std::mem::replace(&mut this.end, End::Ended) else {
                        unreachable!("matched just above")
                    };
                    return Poll::Ready(item);
                }
                End::Open => {}
            }
            let mut route = Route {
                queue: &mut this.queue,
                outbound: &mut this.outbound,
            };
            let got = this
                .inbound
                .poll_recv(cx, Pin::new(&mut this.io), &mut route);
            match got {
                Poll::Ready(Got::End(item)) => {
                    this.end = End::Ending(item);
                    continue;
                }
                Poll::Ready(Got::Message(msg)) => {
                    if !this.queue.is_empty()
                        && let Poll::Ready(Err(e)) = this.poll_write_out(cx)
                    {
                        // The reply cannot go out: the connection is over.
                        this.end = End::Ending(Some(Err(e)));
                        continue;
                    }
                    return Poll::Ready(Some(Ok(msg)));
                }
                Poll::Pending => {
                    // What the protocol owes goes out now, with no flush from the caller.
                    if !this.queue.is_empty()
                        && let Poll::Ready(Err(e)) = this.poll_write_out(cx)
                    {
                        this.end = End::Ending(Some(Err(e)));
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.buffered_bytes() < this.config.write_buffer() {
            return Poll::Ready(Ok(()));
        }
        this.outbound.drain_into(&mut this.queue);
        match this.queue.poll_write_to(cx, Pin::new(&mut this.io)) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            _ if this.buffered_bytes() < this.config.write_buffer() => Poll::Ready(Ok(())),
            _ => Poll::Pending,
        }
    }

    fn start_send(self: Pin<&mut Self>, msg: Message) -> Result<(), Error> {
        let this = self.get_mut();
        if !this.is_open() {
            return Err(Error::Closed);
        }
        match msg {
            Message::Close(frame) => this.start_close(frame.as_ref()),
            msg => this.outbound.encode(msg),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_write_out(cx)
    }

    /// Sends a close frame (code 1000) unless one was sent, and writes everything out. The
    /// peer's reply still comes through the stream: keep receiving until it ends.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        this.start_close(None)?;
        this.poll_write_out(cx)
    }
}

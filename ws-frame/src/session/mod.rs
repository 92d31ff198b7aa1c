//! The sans-IO connection state machine: bytes and commands in; bytes, events and timeouts out.

mod busy;
mod config;
#[cfg(feature = "deflate")]
mod deflate;

use std::io::IoSlice;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use busy::Busy;
pub use config::Config;
use config::Timers;
#[cfg(feature = "deflate")]
pub(crate) use deflate::compressed_frame;

use crate::{
    CloseCode, CloseFrame, Decoder, Encoder, Error, Frame, OpCode, Role, SharedFrame, Utf8Bytes,
};

/// One WebSocket connection after the opening handshake, with no I/O and no clock.
///
/// The methods fall into four families (after quinn-proto's `Connection`):
///
/// - **(A) getters** on `&self`: [`Session::role`], [`Session::is_closed`],
///   [`Session::buffer_room`] (how large a buffer to read a long frame into), …
/// - **(B) inputs** from the network or the clock: [`Session::handle_bytes`],
///   [`Session::handle_timeout`].
/// - **(C) commands** from the application: [`Session::send`], [`Session::send_shared`],
///   [`Session::close`].
/// - **(D) outputs**, to call after every B or C call, in this order:
///   [`Session::poll_transmit`] until `None` (write each buffer to the socket, in order; or
///   [`Session::transmit_slices`] and [`Session::advance_transmit`] for vectored writes), then
///   [`Session::poll_timeout`] (arm one timer; call `handle_timeout` when it fires), then
///   [`Session::poll_event`] until `None`.
///
/// Time is whatever `Instant` the caller passes, and must never go backwards. Once
/// [`Session::is_closed`] is true, write out what `poll_transmit` still gives and close the
/// transport.
///
/// A protocol error from the peer queues a close frame with the matching code (1002, 1007,
/// 1009) and is returned from `handle_bytes`; after it, inputs and commands do no new work and
/// return the same error. A normal close is an [`Event::Closed`], never an error.
///
/// ```
/// use std::time::Instant;
/// use bytes::BytesMut;
/// use oyez_frame::{Event, Role, Session, session::{Config, Outbound}};
///
/// let now = Instant::now();
/// let mut client = Session::new(Role::Client, Config::default(), now);
/// let mut server = Session::new(Role::Server, Config::default(), now);
///
/// client.send(Outbound::Text("hi"))?;
/// let mut wire = BytesMut::new();
/// while let Some(bytes) = client.poll_transmit() {
///     wire.extend_from_slice(&bytes);
/// }
/// server.handle_bytes(now, &mut wire)?;
/// match server.poll_event() {
///     Some(Event::Text(text)) => assert_eq!(text, "hi"),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), oyez_frame::Error>(())
/// ```
#[derive(Debug)]
pub struct Session {
    /// The configuration but its limits, which the decoder holds.
    timers: Timers,
    decoder: Decoder,
    encoder: Encoder,
    state: State,
    /// Open: when an outstanding keepalive ping times out. CloseSent: when the wait for the
    /// peer's close ends. Otherwise `None`. (Kept beside `state` rather than in it, so that the
    /// state is one byte.)
    deadline: Option<Instant>,
    /// Rare state (a fragmented message being put together, permessage-deflate), boxed: an
    /// idle session without it pays one pointer. `None` whenever it would be empty.
    rare: Option<Box<Rare>>,
    /// The output queue, the events and the own-frame buffer, while busy (boxed, and kept
    /// until [`Session::shrink`]: a busy session allocates nothing per message, an idle one
    /// pays one pointer).
    busy: Option<Box<Busy>>,
    last_rx: Instant,
}

/// What a session needs only sometimes.
#[derive(Debug, Default)]
struct Rare {
    /// A fragmented data message being put together: its opcode and the bytes so far.
    assembling: Option<(OpCode, BytesMut)>,
    /// permessage-deflate, once agreed ([`Session::set_deflate`]).
    #[cfg(feature = "deflate")]
    deflate: Option<deflate::SessionDeflate>,
}

impl Rare {
    fn is_empty(&self) -> bool {
        #[cfg(feature = "deflate")]
        if self.deflate.is_some() {
            return false;
        }
        self.assembling.is_none()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Messages flow (`deadline`: a keepalive ping's pong timeout, if one is outstanding).
    Open,
    /// We sent a close frame and wait for the peer's until `deadline`, discarding data.
    CloseSent,
    /// The close handshake finished, or timed out; only output remains.
    Closed,
    /// The peer broke the protocol; a close frame is queued and nothing else happens.
    /// The decoder holds the error ([`Decoder::error`]).
    Failed,
}

/// What a [`Session`] reports to the application.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete text message (all fragments joined), valid UTF-8.
    Text(Utf8Bytes),
    /// A complete binary message.
    Binary(Bytes),
    /// A ping arrived (answered automatically unless [`Config::auto_pong`] is off).
    Ping(Bytes),
    /// A pong arrived.
    Pong(Bytes),
    /// The connection is closed; reported once. `clean` is true when both close frames were
    /// exchanged. `code` is the peer's code ([`CloseCode::NO_STATUS`] if its close frame had
    /// none), or [`CloseCode::ABNORMAL`] when no close frame came (close or pong timeout).
    Closed {
        /// The close code.
        code: CloseCode,
        /// The peer's reason, or a short local explanation when unclean.
        reason: Utf8Bytes,
        /// Whether the close handshake completed.
        clean: bool,
    },
}

/// A message or control frame to send.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outbound<'a> {
    /// A text message.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
    /// A ping (at most 125 bytes).
    Ping(&'a [u8]),
    /// An unsolicited pong (at most 125 bytes).
    Pong(&'a [u8]),
}

impl Session {
    /// A session that starts at `now`, just after the opening handshake.
    pub fn new(role: Role, config: Config, now: Instant) -> Self {
        Self::with_encoder(Encoder::new(role), config, now)
    }

    /// A session with its own [`Encoder`] (e.g. with fixed masks for tests).
    pub fn with_encoder(encoder: Encoder, config: Config, now: Instant) -> Self {
        let role = encoder.role();
        Self {
            timers: config.timers(),
            decoder: Decoder::new(role, *config.limits()),
            encoder,
            state: State::Open,
            deadline: None,
            rare: None,
            busy: None,
            last_rx: now,
        }
    }

    /// Turns on permessage-deflate (RFC 7692) as the opening handshake agreed it (see
    /// [`crate::deflate`]): RSV1 is accepted on the first frame of a data message, such
    /// messages are inflated as their bytes arrive, and messages sent are compressed (those
    /// of at least [`Agreed::min_size`](crate::deflate::Agreed::min_size) bytes that
    /// compressing makes smaller). Call it right after [`Session::new`], before any bytes.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn set_deflate(&mut self, agreed: crate::deflate::Agreed) {
        self.decoder.set_extension_rsv(crate::FrameHeader::RSV1);
        let d = deflate::SessionDeflate::new(agreed, self.role());
        self.rare.get_or_insert_with(Box::default).deflate = Some(d);
    }

    /// The permessage-deflate in force, if [`Session::set_deflate`] turned it on.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn deflate(&self) -> Option<&crate::deflate::Agreed> {
        self.deflate_ref().map(|d| &d.agreed)
    }

    // ---- (B) inputs ----

    /// Consumes the complete frames at the front of `src` (leaving a partial one there, to be
    /// completed by appending and calling again) and turns them into events and replies.
    ///
    /// When a protocol error follows messages in the same input, the messages come first: the
    /// error takes effect once [`Session::poll_event`] has handed out every event before it,
    /// so whatever the application sends in reply still goes out before the close frame (the
    /// order Autobahn's strict cases check, e.g. 3.2, 4.1.3, 5.15). Until then this returns
    /// `Ok` and reads no further.
    ///
    /// # Errors
    /// A protocol error from the peer. A close frame with [`Error::close_code`] is then queued
    /// for [`Session::poll_transmit`], and this and every later input returns the same error.
    pub fn handle_bytes(&mut self, now: Instant, src: &mut BytesMut) -> Result<(), Error> {
        if let Some(e) = self.deferred() {
            if !self.has_events() {
                return Err(self.fail(e));
            }
            return Ok(());
        }
        match self.state {
            State::Failed => return Err(self.failure()),
            State::Closed => {
                src.clear();
                return Ok(());
            }
            State::Open | State::CloseSent => {}
        }
        if !src.is_empty() {
            self.last_rx = now;
            self.set_pong_deadline(None);
        }
        loop {
            if src.is_empty() && self.decoder.is_idle() {
                // Every frame taken and none begun: nothing the decoder could add.
                return Ok(());
            }
            let step = match self.decoder.decode(src) {
                Ok(Some(frame)) => self.handle_frame(frame),
                // The decoder holds part of a frame.
                #[cfg(feature = "deflate")]
                Ok(None) => return self.handle_partial(src),
                #[cfg(not(feature = "deflate"))]
                Ok(None) => return Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = step {
                return self.protocol_error(e);
            }
            if self.state == State::Closed {
                src.clear();
                return Ok(());
            }
        }
    }

    /// Runs the timers due at `now`: keepalive ping, pong timeout, idle timeout, close timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Closed | State::Failed => {}
            State::CloseSent => {
                if self.deadline.is_some_and(|d| now >= d) {
                    self.finish(
                        CloseCode::ABNORMAL,
                        Utf8Bytes::from_static("close timeout"),
                        false,
                    );
                }
            }
            State::Open => {
                if self.deadline.is_some_and(|d| now >= d) {
                    self.finish(
                        CloseCode::ABNORMAL,
                        Utf8Bytes::from_static("pong timeout"),
                        false,
                    );
                } else if self.idle_deadline().is_some_and(|d| now >= d) {
                    self.start_close(now, CloseCode::GOING_AWAY, "idle timeout");
                } else if self.ping_due().is_some_and(|d| now >= d) {
                    self.push_frame(OpCode::Ping, b"");
                    self.set_pong_deadline(Some(now + self.config().pong_timeout()));
                }
            }
        }
    }

    // ---- (C) commands ----

    /// Queues a message or control frame.
    ///
    /// # Errors
    /// [`Error::Closing`] once the close handshake has begun; [`Error::PayloadTooLarge`] for a
    /// ping or pong over 125 bytes; after a protocol error, that error.
    pub fn send(&mut self, msg: Outbound<'_>) -> Result<(), Error> {
        self.check_open()?;
        let (opcode, payload) = match msg {
            Outbound::Text(text) => (OpCode::Text, text.as_bytes()),
            Outbound::Binary(data) => (OpCode::Binary, data),
            Outbound::Ping(data) => (OpCode::Ping, data),
            Outbound::Pong(data) => (OpCode::Pong, data),
        };
        if opcode.is_control() {
            if payload.len() > 125 {
                return Err(Error::PayloadTooLarge(payload.len() as u64));
            }
            self.push_frame(opcode, payload);
        } else {
            self.push_data(opcode, payload);
        }
        Ok(())
    }

    /// Queues a frame encoded once for many receivers. A server session queues the shared
    /// bytes themselves (no copy); a client session masks a copy.
    ///
    /// # Errors
    /// As [`Session::send`].
    pub fn send_shared(&mut self, frame: &SharedFrame) -> Result<(), Error> {
        self.check_open()?;
        #[cfg(feature = "deflate")]
        if let Some(d) = self.deflate_ref()
            && let Some((level, bits)) = d.shared_key(self.role(), frame.payload().len())
        {
            let shared = if self.role().masks_outgoing() {
                None // a client masks every frame: nothing to share
            } else {
                frame.deflated(level, bits)
            };
            match shared {
                // The broadcast's one compressed form.
                Some(Some(bytes)) => {
                    self.busy().push_shared(bytes.clone());
                }
                // Compressing does not pay: the plain frame.
                Some(None) => self.queue_shared(frame),
                // No shared form for us: compressed here.
                None => self.push_data(frame.opcode(), frame.payload()),
            }
            return Ok(());
        }
        if self.role().masks_outgoing() {
            self.push_frame(frame.opcode(), frame.payload());
        } else {
            self.queue_shared(frame);
        }
        Ok(())
    }

    /// Starts the close handshake: queues a close frame with `code` and `reason` (cut to 123
    /// bytes on a character boundary), then discards incoming data until the peer's close
    /// arrives or [`Config::close_timeout`] passes. Does nothing if already closing.
    ///
    /// # Errors
    /// [`Error::CloseCodeNotSendable`] for a code that may not be sent (1005, 1006, …).
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), Error> {
        if !code.is_valid_on_wire() {
            return Err(Error::CloseCodeNotSendable(code.as_u16()));
        }
        if self.is_open() {
            self.start_close(now, code, reason);
        }
        Ok(())
    }

    // ---- (D) outputs ----

    /// The next bytes to write to the transport, in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.busy.as_deref_mut()?.pop_transmit()
    }

    /// What waits for the transport, head first, as up to `slices.len()` slices for one
    /// vectored write (a frame's header and a shared payload are two); how many it filled, 0
    /// when nothing waits. The other way to take output than [`Session::poll_transmit`]:
    /// write straight from the session's queue, then pass what the transport took to
    /// [`Session::advance_transmit`] (the two ways may be mixed between writes).
    ///
    /// ```
    /// use std::io::{IoSlice, Write};
    /// use std::time::Instant;
    /// use oyez_frame::{Role, Session, session::{Config, Outbound}};
    ///
    /// let mut session = Session::new(Role::Server, Config::default(), Instant::now());
    /// session.send(Outbound::Binary(b"hello"))?;
    /// let mut wire = Vec::new();
    /// let mut slices = [IoSlice::new(&[]); 8];
    /// let n = session.transmit_slices(&mut slices);
    /// let written = wire.write_vectored(&slices[..n]).expect("a Vec takes it all");
    /// session.advance_transmit(written);
    /// assert_eq!(wire, b"\x82\x05hello");
    /// assert_eq!(session.pending_bytes(), 0);
    /// # Ok::<(), oyez_frame::Error>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn transmit_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        self.busy.as_deref().map_or(0, |b| b.slices(slices))
    }

    /// Drops the first `n` bytes of what waits for the transport: what a write of
    /// [`Session::transmit_slices`] took. `n` beyond [`Session::pending_bytes`] counts as all.
    pub fn advance_transmit(&mut self, n: usize) {
        if let Some(busy) = self.busy.as_deref_mut() {
            busy.advance(n);
        }
    }

    /// When [`Session::handle_timeout`] should next be called, if ever.
    #[must_use]
    #[inline]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Closed | State::Failed => None,
            // No timer configured (the common case of a server): nothing to compute, and
            // the caller's check inlined (it runs once per write).
            State::Open if self.deadline.is_none() && !self.timers.any_while_open() => None,
            _ => self.next_deadline(),
        }
    }

    /// [`Session::poll_timeout`] with a timer to compute.
    fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Closed | State::Failed => None,
            State::CloseSent => self.deadline,
            State::Open => [self.deadline, self.idle_deadline(), self.ping_due()]
                .into_iter()
                .flatten()
                .min(),
        }
    }

    /// The next event for the application. Taking the last event before a deferred protocol
    /// error (see [`Session::handle_bytes`]) makes the error take effect: the close frame is
    /// queued and [`Session::error`] reports it.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.busy.as_deref_mut().and_then(|b| b.events.pop_front());
        if event.is_none()
            && let Some(e) = self.deferred()
        {
            self.fail(e);
        }
        event
    }

    // ---- memory ----

    /// Lets go of the buffers a busy session keeps (its output queue, its events, the buffer
    /// it encodes its own frames into) when nothing is in them: call it once a connection has
    /// been quiet for a while, so that an idle connection holds none of them, while a busy
    /// one allocates nothing per message. Does nothing while output or events wait.
    pub fn shrink(&mut self) {
        if self.busy.as_deref().is_some_and(Busy::is_empty) {
            self.busy = None;
        }
    }

    /// Whether the session keeps a busy session's buffers ([`Session::shrink`] lets go of
    /// them).
    pub const fn holds_buffers(&self) -> bool {
        self.busy.is_some()
    }

    // ---- (A) getters ----

    /// The role.
    pub const fn role(&self) -> Role {
        self.encoder.role()
    }

    /// The configuration.
    pub const fn config(&self) -> Config {
        Config::from_parts(*self.decoder.limits(), self.timers)
    }

    /// Whether the session is over: after the close handshake, a close or pong timeout, or a
    /// protocol error. Write out what [`Session::poll_transmit`] still gives, then close the
    /// transport.
    pub const fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed | State::Failed)
    }

    /// Whether messages may still be sent (the close handshake has not begun).
    pub const fn is_open(&self) -> bool {
        matches!(self.state, State::Open)
    }

    /// The protocol error that ended the session, if one did.
    pub const fn error(&self) -> Option<Error> {
        match self.state {
            State::Failed => self.decoder.error(),
            _ => None,
        }
    }

    /// Bytes queued for [`Session::poll_transmit`] and not yet taken.
    #[inline]
    pub fn pending_bytes(&self) -> usize {
        self.busy.as_deref().map_or(0, |b| b.pending)
    }

    /// The capacity a buffer holding `buffered` at its front should have so that the frame in
    /// progress completes in it without the buffer moving, where `buffered` is what the next
    /// [`Session::handle_bytes`] will start from (received and not yet consumed): see
    /// [`Decoder::buffer_room`], which this asks. `None` when there is nothing to size for
    /// (the frame ends within `buffered`, its header is incomplete, it breaks a limit), and
    /// once the session is closed or has failed.
    #[must_use]
    pub fn buffer_room(&self, buffered: &[u8]) -> Option<usize> {
        match self.state {
            State::Open | State::CloseSent => self.decoder.buffer_room(buffered),
            State::Closed | State::Failed => None,
        }
    }

    // ---- internals ----

    /// A protocol error (the decoder's, or an extension's, which the decoder now keeps): it
    /// takes effect at once, or once the messages before it have been taken.
    fn protocol_error(&mut self, e: Error) -> Result<(), Error> {
        self.decoder.fail_with(e);
        let e = self.failure();
        if self.busy.as_deref().is_some_and(|b| {
            b.events
                .iter()
                .any(|ev| matches!(ev, Event::Text(_) | Event::Binary(_)))
        }) {
            return Ok(());
        }
        Err(self.fail(e))
    }

    /// The decoder holds part of a frame: a compressed message's payload is inflated as it
    /// arrives, so a bomb or bad text fails before the rest of the frame is read.
    #[cfg(feature = "deflate")]
    fn handle_partial(&mut self, src: &BytesMut) -> Result<(), Error> {
        let partial = self.decoder.partial();
        let open = self.state == State::Open;
        let limit = self.decoder.limits().max_message_size();
        if let (Some(d), Some((header, have))) = (self.deflate_mut(), partial)
            && open
            && header.opcode.is_data()
        {
            if header.opcode != OpCode::Continuation && header.rsv & crate::FrameHeader::RSV1 != 0 {
                d.begin(header.opcode);
            }
            if d.is_receiving()
                && let Err(e) = d.partial(&src[..have.min(src.len())], limit)
            {
                return self.protocol_error(e);
            }
        }
        Ok(())
    }

    /// A compressed data frame: inflated (the rest of it), and the message handed out when
    /// it was the last. `Ok(false)`: not a compressed message's frame.
    #[cfg(feature = "deflate")]
    fn handle_compressed(
        &mut self,
        header: &crate::FrameHeader,
        payload: &[u8],
    ) -> Result<bool, Error> {
        let limit = self.decoder.limits().max_message_size();
        let Some(d) = self.deflate_mut() else {
            return Ok(false);
        };
        match header.opcode {
            OpCode::Text | OpCode::Binary if header.rsv & crate::FrameHeader::RSV1 != 0 => {
                d.begin(header.opcode);
            }
            OpCode::Continuation if d.is_receiving() => {}
            _ => return Ok(false),
        }
        if let Some((opcode, message)) = d.frame_done(payload, header.fin, limit)? {
            self.push_message(opcode, message);
        }
        Ok(true)
    }

    fn handle_frame(&mut self, frame: Frame) -> Result<(), Error> {
        let Frame { header, payload } = frame;
        let open = self.is_open();
        match header.opcode {
            OpCode::Ping => {
                if open && self.config().auto_pong() {
                    self.push_frame(OpCode::Pong, &payload);
                }
                self.push_event(Event::Ping(payload));
            }
            OpCode::Pong => self.push_event(Event::Pong(payload)),
            OpCode::Close => {
                let close = CloseFrame::parse(payload)
                    .expect("INVARIANT: the decoder validated the close payload");
                if open {
                    // RFC 6455 §5.5.1: answer with a close frame, typically echoing the code.
                    self.push_close(close.code.unwrap_or(CloseCode::NORMAL), "");
                }
                self.finish(
                    close.code.unwrap_or(CloseCode::NO_STATUS),
                    close.reason,
                    true,
                );
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation if !open => {
                // After we sent close, data is discarded until the peer's close (RFC 6455 §1.4).
                self.drop_assembly();
            }
            #[cfg(feature = "deflate")]
            OpCode::Text | OpCode::Binary | OpCode::Continuation
                if self.handle_compressed(&header, &payload)? => {}
            OpCode::Text | OpCode::Binary => {
                if header.fin {
                    self.push_message(header.opcode, payload);
                } else {
                    self.rare.get_or_insert_with(Box::default).assembling =
                        Some((header.opcode, BytesMut::from(&payload[..])));
                }
            }
            OpCode::Continuation => {
                let rare = self
                    .rare
                    .as_deref_mut()
                    .expect("INVARIANT: the decoder checked a message is open");
                let (opcode, buf) = rare
                    .assembling
                    .as_mut()
                    .expect("INVARIANT: the decoder checked a message is open");
                buf.extend_from_slice(&payload);
                if header.fin {
                    let opcode = *opcode;
                    let (_, buf) = rare.assembling.take().expect("just matched");
                    self.trim_rare();
                    self.push_message(opcode, buf.freeze());
                }
            }
        }
        Ok(())
    }

    /// Forgets a message being put together (plain or compressed).
    fn drop_assembly(&mut self) {
        if let Some(rare) = self.rare.as_deref_mut() {
            rare.assembling = None;
            #[cfg(feature = "deflate")]
            if let Some(d) = rare.deflate.as_mut() {
                d.abandon();
            }
        }
        self.trim_rare();
    }

    /// Frees the rare state once nothing is in it.
    fn trim_rare(&mut self) {
        if self.rare.as_deref().is_some_and(Rare::is_empty) {
            self.rare = None;
        }
    }

    #[cfg(feature = "deflate")]
    fn deflate_ref(&self) -> Option<&deflate::SessionDeflate> {
        self.rare.as_deref().and_then(|r| r.deflate.as_ref())
    }

    #[cfg(feature = "deflate")]
    fn deflate_mut(&mut self) -> Option<&mut deflate::SessionDeflate> {
        self.rare.as_deref_mut().and_then(|r| r.deflate.as_mut())
    }

    /// The busy session's buffers, made if the session has none.
    fn busy(&mut self) -> &mut Busy {
        self.busy.get_or_insert_with(Box::default)
    }

    /// Whether events wait for `poll_event`.
    fn has_events(&self) -> bool {
        self.busy.as_deref().is_some_and(|b| !b.events.is_empty())
    }

    fn push_event(&mut self, event: Event) {
        self.busy().events.push_back(event);
    }

    fn push_message(&mut self, opcode: OpCode, payload: Bytes) {
        self.push_event(match opcode {
            // The decoder validated the whole message as UTF-8.
            OpCode::Text => Event::Text(Utf8Bytes::from_validated(payload)),
            _ => Event::Binary(payload),
        });
    }

    fn push_frame(&mut self, opcode: OpCode, payload: &[u8]) {
        self.push_own(|encoder, out| encoder.encode(opcode, true, payload, out));
    }

    /// Queues what `encode` writes with the session's encoder.
    fn push_own(&mut self, encode: impl FnOnce(&mut Encoder, &mut BytesMut)) {
        let encoder = &mut self.encoder;
        let busy = self.busy.get_or_insert_with(Box::default);
        busy.encode(|out| encode(encoder, out));
    }

    /// Queues a shared frame's plain bytes themselves (a server's: unmasked).
    fn queue_shared(&mut self, frame: &SharedFrame) {
        let (head, tail) = frame.parts();
        let busy = self.busy();
        busy.push_shared(head.clone());
        if !tail.is_empty() {
            busy.push_shared(tail.clone());
        }
    }

    /// A data message: compressed if permessage-deflate is on and it is worth it.
    fn push_data(&mut self, opcode: OpCode, payload: &[u8]) {
        #[cfg(feature = "deflate")]
        if let Some(d) = self.rare.as_deref().and_then(|r| r.deflate.as_ref()) {
            let encoder = &mut self.encoder;
            let busy = self.busy.get_or_insert_with(Box::default);
            busy.encode(|out| d.encode(encoder, opcode, payload, out));
            return;
        }
        self.push_frame(opcode, payload);
    }

    fn push_close(&mut self, code: CloseCode, reason: &str) {
        self.push_own(|encoder, out| encoder.encode_close(Some(code), reason, out));
    }

    fn check_open(&self) -> Result<(), Error> {
        match self.state {
            State::Open => Ok(()),
            State::Failed => Err(self.failure()),
            State::CloseSent | State::Closed => Err(Error::Closing),
        }
    }

    fn start_close(&mut self, now: Instant, code: CloseCode, reason: &str) {
        self.push_close(code, reason);
        self.drop_assembly();
        self.state = State::CloseSent;
        self.deadline = Some(now + self.config().close_timeout());
    }

    fn finish(&mut self, code: CloseCode, reason: Utf8Bytes, clean: bool) {
        self.drop_assembly();
        self.state = State::Closed;
        self.deadline = None;
        self.push_event(Event::Closed {
            code,
            reason,
            clean,
        });
    }

    fn fail(&mut self, e: Error) -> Error {
        debug_assert_eq!(
            self.decoder.error(),
            Some(e),
            "only decoder errors fail a session"
        );
        if self.is_open()
            && let Some(code) = e.close_code()
        {
            self.push_close(code, "");
        }
        self.drop_assembly();
        self.state = State::Failed;
        self.deadline = None;
        e
    }

    /// The error that failed the session (the decoder's, which it keeps).
    fn failure(&self) -> Error {
        self.decoder
            .error()
            .expect("INVARIANT: the session fails only on a decoder error")
    }

    /// A protocol error found behind messages the application has not taken yet (the decoder
    /// keeps it; it takes effect once they are taken, so that replies to them go out before
    /// the close frame).
    const fn deferred(&self) -> Option<Error> {
        match self.state {
            State::Open | State::CloseSent => self.decoder.error(),
            State::Closed | State::Failed => None,
        }
    }

    /// While open: when an outstanding keepalive ping times out.
    const fn pong_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Open => self.deadline,
            _ => None,
        }
    }

    fn set_pong_deadline(&mut self, at: Option<Instant>) {
        if self.state == State::Open {
            self.deadline = at;
        }
    }

    fn idle_deadline(&self) -> Option<Instant> {
        self.config().idle_timeout().map(|t| self.last_rx + t)
    }

    /// When the next keepalive ping is due (none while one is outstanding).
    fn ping_due(&self) -> Option<Instant> {
        match self.pong_deadline() {
            Some(_) => None,
            None => self.config().keepalive().map(|t| self.last_rx + t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked binary frame of `len` bytes, as a client sends it.
    fn client_frame(len: usize) -> BytesMut {
        crate::decode::tests::client_frame(len).0
    }

    /// An idle server holds one session per connection: its size is idle memory (the
    /// encoder is one pointer, the pending count lives with the busy buffers).
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn an_idle_session_stays_small() {
        assert_eq!(size_of::<Encoder>(), 8);
        assert!(size_of::<Session>() <= 168, "{}", size_of::<Session>());
    }

    #[test]
    fn buffer_room_asks_the_decoder_until_the_session_is_over() {
        let now = Instant::now();
        let mut s = Session::new(Role::Server, Config::default(), now);
        let frame = client_frame(300);
        assert_eq!(s.buffer_room(&frame[..8]), Some(frame.len()));
        assert_eq!(s.buffer_room(&frame), None);
        // The header alone: the payload is what is left to size.
        let mut buf = BytesMut::from(&frame[..8]);
        s.handle_bytes(now, &mut buf).unwrap();
        assert_eq!(s.buffer_room(&buf), Some(300));

        // Closed by the close handshake.
        let mut s = Session::new(Role::Server, Config::default(), now);
        let mut close = BytesMut::from(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8][..]);
        s.handle_bytes(now, &mut close).unwrap();
        assert!(s.is_closed());
        assert_eq!(s.buffer_room(&frame[..8]), None);

        // Failed: a reserved opcode, behind a message the application has not taken yet
        // (the error is deferred), then in effect.
        let mut s = Session::new(Role::Server, Config::default(), now);
        let mut input = client_frame(3);
        input.extend_from_slice(&[0x83, 0x80, 0, 0, 0, 0]);
        s.handle_bytes(now, &mut input).unwrap();
        assert!(s.is_open());
        assert_eq!(s.buffer_room(&frame[..8]), None);
        while s.poll_event().is_some() {}
        assert!(s.is_closed() && s.error().is_some());
        assert_eq!(s.buffer_room(&frame[..8]), None);
    }
}

//! The receiving side: the session that decodes what the peer sends and answers what the
//! protocol says must be answered (pongs, the close reply), its read buffer and its timer.
//!
//! Every connection has two [`Session`]s: this one, which owns the decoder, the automatic
//! replies, the close handshake and the timers; and the [`Outbound`](crate::outbound)
//! one, which only encodes what the application sends. Together or split into halves, each
//! side owns its session and neither needs the other's: that is what lets the halves run
//! without a lock per message (see [`crate::split`]).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use oyez_frame::{CloseCode, CloseFrame, Event, FrameHeader, OpCode, Session, Utf8Bytes};
use tokio::io::AsyncRead;

use crate::timer::{Timer, now};
use crate::{Error, Lost, Message};

/// Read buffers are grown when less than this is free.
const MIN_ROOM: usize = 2 << 10;
/// The most a fresh read asks room for on the strength of earlier frames' sizes.
const MAX_HINT: usize = 1 << 20;

/// What the receiving side found.
#[derive(Debug)]
pub(crate) enum Got {
    /// A message for the application.
    Message(Message),
    /// The session is over. Write out what is owed, shut the transport down, then yield
    /// this (if anything) and end the stream.
    End(Option<Result<Message, Error>>),
}

/// Where the receiving side's output goes: the frames the protocol owes the peer.
pub(crate) trait Owed {
    /// A chunk of whole frames the session queued (pongs, the close reply, keepalive pings,
    /// a close after a protocol error or the idle timeout).
    fn owed(&mut self, chunk: Bytes);

    /// The session just stopped being open (it queued a close frame, or will send none).
    /// Return `false` if a close frame has already been sent from elsewhere (the writer
    /// half), so that the session's own close frames are dropped.
    fn left_open(&mut self) -> bool {
        true
    }

    /// Whether a close frame was sent from elsewhere (the writer half): the session then
    /// counts as having sent one (it discards data and waits for the reply, within the
    /// close timeout).
    fn closed_elsewhere(&self) -> bool {
        false
    }
}

/// The receiving side of one connection.
#[derive(Debug)]
pub(crate) struct Inbound {
    session: Session,
    buf: BytesMut,
    /// `buf` holds bytes the session has not seen (sent with the handshake).
    unread: bool,
    /// The session was open when last looked at.
    was_open: bool,
    timer: Timer,
    read_chunk: usize,
    /// The size of the last frame that did not fit in a read (at most [`MAX_HINT`]): fresh
    /// reads ask that much room, so that frames of that size arrive whole in one read and
    /// the buffer never has to move under one.
    hint: usize,
}

impl Inbound {
    /// The receiving side over `session`, with `early` bytes (received with the handshake).
    pub(crate) fn new(session: Session, early: BytesMut, read_chunk: usize) -> Self {
        Self {
            unread: !early.is_empty(),
            was_open: session.is_open(),
            session,
            buf: early,
            timer: Timer::default(),
            read_chunk,
            hint: 0,
        }
    }

    pub(crate) const fn session(&self) -> &Session {
        &self.session
    }

    /// Inflates what the peer compressed, as agreed.
    #[cfg(feature = "deflate")]
    pub(crate) fn set_deflate(&mut self, agreed: oyez_frame::deflate::Agreed) {
        self.session.set_deflate(agreed);
    }

    /// Starts the close handshake from this side (the frame goes out through `owed`).
    pub(crate) fn close(
        &mut self,
        code: CloseCode,
        reason: &str,
        owed: &mut impl Owed,
    ) -> Result<(), Error> {
        self.session
            .close(now(), code, reason)
            .map_err(Error::Send)?;
        self.drain(owed);
        Ok(())
    }

    /// Hands the session's output to `owed`; on the session's leaving the open state, asks
    /// `owed` whether its close frames go out.
    pub(crate) fn drain(&mut self, owed: &mut impl Owed) {
        let mut keep_close = true;
        if self.was_open && !self.session.is_open() {
            self.was_open = false;
            keep_close = owed.left_open();
        }
        while let Some(chunk) = self.session.poll_transmit() {
            if keep_close {
                owed.owed(chunk);
            } else if let Some(rest) = without_close(chunk) {
                owed.owed(rest);
            }
        }
    }

    /// A close was sent from elsewhere: the session counts as having sent it.
    fn note_closed_elsewhere(&mut self, owed: &mut impl Owed) {
        self.drain(owed);
        if self.session.is_open() {
            let _ = self.session.close(now(), CloseCode::NORMAL, "");
            self.was_open = false;
            // Its close frame is a duplicate of the one already sent.
            while self.session.poll_transmit().is_some() {}
        }
    }

    /// The next message, or the end. What the session owes the peer goes to `owed` as soon
    /// as it is queued.
    pub(crate) fn poll_recv<R: AsyncRead + ?Sized>(
        &mut self,
        cx: &mut Context<'_>,
        mut io: Pin<&mut R>,
        owed: &mut impl Owed,
    ) -> Poll<Got> {
        loop {
            if let Some(event) = self.session.poll_event() {
                self.drain(owed);
                let msg = match event {
                    Event::Text(t) => Message::Text(t),
                    Event::Binary(b) => Message::Binary(b),
                    Event::Ping(b) => Message::Ping(b),
                    Event::Pong(b) => Message::Pong(b),
                    Event::Closed {
                        code,
                        reason,
                        clean,
                    } => return Poll::Ready(Got::End(Some(closed(code, reason, clean)))),
                    _ => continue,
                };
                return Poll::Ready(Got::Message(msg));
            }
            // Taking the last event may have made a deferred protocol error take effect.
            self.drain(owed);
            if let Some(e) = self.session.error() {
                return Poll::Ready(Got::End(Some(Err(Error::Protocol(e)))));
            }
            if self.session.is_closed() {
                return Poll::Ready(Got::End(None));
            }
            if self.session.is_open() && owed.closed_elsewhere() {
                self.note_closed_elsewhere(owed);
            }
            if self.timer.poll(cx, self.session.poll_timeout()).is_ready() {
                self.session.handle_timeout(now());
                self.drain(owed);
                continue;
            }
            if !self.unread {
                self.reserve();
                match tokio_util::io::poll_read_buf(io.as_mut(), cx, &mut self.buf) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Got::End(Some(Err(Error::Lost(Lost::Eof)))));
                    }
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Got::End(Some(Err(Error::Io(e))))),
                }
                if self.session.is_open() && owed.closed_elsewhere() {
                    // A reply to that close may be in what was just read.
                    self.note_closed_elsewhere(owed);
                }
            }
            self.unread = false;
            // A protocol error is kept by the session and reported above, once the events
            // before it have been taken.
            let _ = self.session.handle_bytes(now(), &mut self.buf);
            self.drain(owed);
        }
    }

    /// Makes room for the next read: what the frame in progress needs (so that it completes
    /// without the buffer moving), else a chunk.
    fn reserve(&mut self) {
        let room = self.buf.capacity() - self.buf.len();
        match self.session.buffer_room(&self.buf) {
            Some(need) => {
                self.hint = need.min(MAX_HINT);
                if need > self.buf.capacity() {
                    self.buf.reserve(need - self.buf.len());
                }
            }
            None if room < MIN_ROOM || room < self.hint => {
                self.buf.reserve(self.read_chunk.max(self.hint));
            }
            None => {}
        }
    }
}

/// The item a `Closed` event becomes: the peer's close frame after a clean handshake, else
/// the way the connection was lost.
fn closed(code: CloseCode, reason: Utf8Bytes, clean: bool) -> Result<Message, Error> {
    if clean {
        let frame = (code != CloseCode::NO_STATUS).then_some(CloseFrame {
            code: Some(code),
            reason,
        });
        return Ok(Message::Close(frame));
    }
    Err(Error::Lost(match reason.as_str() {
        "pong timeout" => Lost::PongTimeout,
        _ => Lost::CloseTimeout,
    }))
}

/// `chunk` (whole frames this side encoded) less its close frames; `None` if nothing is
/// left.
fn without_close(chunk: Bytes) -> Option<Bytes> {
    let mut kept = BytesMut::new();
    let mut at = 0;
    while at < chunk.len() {
        let Ok(Some((header, len))) = FrameHeader::decode(&chunk[at..]) else {
            break;
        };
        let end = at + len + usize::try_from(header.payload_len).unwrap_or(usize::MAX);
        let end = end.min(chunk.len());
        if header.opcode != OpCode::Close {
            kept.extend_from_slice(&chunk[at..end]);
        }
        at = end;
    }
    (!kept.is_empty()).then(|| kept.freeze())
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use oyez_frame::{Encoder, Role};

    use super::*;

    #[test]
    fn close_frames_are_dropped_and_the_rest_kept() {
        let mut enc = Encoder::with_mask_source(Role::Client, || [1, 2, 3, 4]);
        let mut out = BytesMut::new();
        enc.encode(OpCode::Pong, true, b"abc", &mut out);
        let pong = out.len();
        enc.encode_close(Some(CloseCode::NORMAL), "", &mut out);
        enc.encode(OpCode::Ping, true, b"", &mut out);
        let all = out.freeze();
        let kept = without_close(all.clone()).unwrap();
        assert_eq!(kept.len(), all.len() - 8);
        assert_eq!(&kept[..pong], &all[..pong]);
        assert_eq!(without_close(all.slice(pong..pong + 8)), None);
    }
}

//! The sending side: a session that only encodes what the application sends (messages,
//! pings, pongs, a close it starts from a writer half). It is never given input and runs no
//! timer: those belong to the receiving side ([`crate::inbound`]).

use bytes::Bytes;
use oyez_frame::session::{Config as SessionConfig, Outbound as Out};
use oyez_frame::{CloseCode, OpCode, Role, Session, SharedFrame};

use crate::timer::now;
use crate::write_queue::WriteQueue;
use crate::{Error, Message};

/// The sending side of one connection.
#[derive(Debug)]
pub(crate) struct Outbound {
    session: Session,
}

impl Outbound {
    pub(crate) fn new(role: Role, config: SessionConfig) -> Self {
        Self {
            session: Session::new(role, config, now()),
        }
    }

    /// Compresses what it sends, as agreed.
    #[cfg(feature = "deflate")]
    pub(crate) fn set_deflate(&mut self, agreed: oyez_frame::deflate::Agreed) {
        self.session.set_deflate(agreed);
    }

    /// Encodes a message, ping or pong (a close goes through [`Outbound::close`] or the
    /// receiving side).
    ///
    /// # Errors
    /// [`Error::Closed`] once this side sent a close; [`Error::Send`] for a control payload
    /// over 125 bytes.
    pub(crate) fn encode(&mut self, msg: Message) -> Result<(), Error> {
        let sent = match msg {
            Message::Text(t) if self.shares(t.len()) => self
                .session
                .send_shared(&SharedFrame::from_payload(OpCode::Text, t.into_bytes())),
            Message::Binary(b) if self.shares(b.len()) => self
                .session
                .send_shared(&SharedFrame::from_payload(OpCode::Binary, b)),
            Message::Text(t) => self.session.send(Out::Text(t.as_str())),
            Message::Binary(b) => self.session.send(Out::Binary(&b)),
            Message::Ping(b) => self.session.send(Out::Ping(&b)),
            Message::Pong(b) => self.session.send(Out::Pong(&b)),
            Message::Close(_) => unreachable!("a close is sent by the caller's close path"),
        };
        sent.map_err(|e| match e {
            oyez_frame::Error::Closing => Error::Closed,
            e => Error::Send(e),
        })
    }

    /// Queues a close frame (the writer half's close).
    pub(crate) fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.session.close(now(), code, reason).map_err(Error::Send)
    }

    /// Whether a payload this long is sent without a copy: a server's large payloads are
    /// queued as they are (a client masks, so it copies anyway).
    fn shares(&self, len: usize) -> bool {
        len > SharedFrame::COPY_THRESHOLD && !self.session.role().masks_outgoing()
    }

    /// Bytes encoded and not yet moved to a write queue.
    pub(crate) fn pending(&self) -> usize {
        self.session.pending_bytes()
    }

    /// Moves what is encoded to `queue`.
    pub(crate) fn drain_into(&mut self, queue: &mut WriteQueue) {
        while let Some(b) = self.session.poll_transmit() {
            queue.push(b);
        }
    }

    /// Takes what is encoded (for a queue behind a lock: the work is done before locking).
    pub(crate) fn take(&mut self, into: &mut Vec<Bytes>) {
        while let Some(b) = self.session.poll_transmit() {
            into.push(b);
        }
    }
}

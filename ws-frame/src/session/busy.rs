//! What a busy session holds: its output queue, its events, and the buffer it encodes its own
//! frames into. Made when first needed and kept until [`Session::shrink`](super::Session::shrink),
//! so that a busy connection allocates nothing per message; a session without it (idle, or
//! shrunk) holds one pointer.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use super::Event;

/// The room the own-frame buffer is given at a time.
const OWN_BLOCK: usize = 4 << 10;
/// An own-frame buffer left with more room than this (after one large frame) is let go.
const OWN_KEEP: usize = 64 << 10;

/// A busy session's output, events and own-frame buffer.
#[derive(Debug, Default)]
pub(super) struct Busy {
    /// What waits for `poll_transmit`, in order: frames encoded here (consecutive ones in one
    /// buffer) and shared frames.
    pub(super) queue: VecDeque<Chunk>,
    /// What waits for `poll_event`.
    pub(super) events: VecDeque<Event>,
    /// Where frames encoded here are written; each is split off as it is queued, so the
    /// buffer's memory is used again once the frames written from it are dropped.
    own: BytesMut,
    /// Bytes in `queue` (kept here, not in the session: an idle session does not pay for it).
    pub(super) pending: usize,
}

/// A buffer waiting to be transmitted.
#[derive(Debug)]
pub(super) enum Chunk {
    /// Bytes shared with other sessions (a [`crate::SharedFrame`]).
    Shared(Bytes),
    /// Frames encoded by this session.
    Own(BytesMut),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Shared(bytes) => bytes,
            Self::Own(buf) => buf,
        }
    }
}

impl Busy {
    /// Nothing to transmit and no event to hand out.
    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.events.is_empty()
    }

    /// Queues what `encode` writes (frames encoded here), after what is queued.
    pub(super) fn encode(&mut self, encode: impl FnOnce(&mut BytesMut)) {
        if self.own.capacity() < OWN_BLOCK / 4 && !self.own.try_reclaim(OWN_BLOCK) {
            // The last frames written from it are still held (queued somewhere): a new
            // buffer; the old one goes once they are dropped.
            self.own = BytesMut::new();
            self.own.reserve(OWN_BLOCK);
        }
        encode(&mut self.own);
        let frame = self.own.split();
        if self.own.capacity() > OWN_KEEP {
            self.own = BytesMut::new();
        }
        self.pending += frame.len();
        match self.queue.back_mut() {
            Some(Chunk::Own(back)) => back.unsplit(frame),
            _ => self.queue.push_back(Chunk::Own(frame)),
        }
    }

    /// Queues shared bytes.
    pub(super) fn push_shared(&mut self, bytes: Bytes) {
        self.pending += bytes.len();
        self.queue.push_back(Chunk::Shared(bytes));
    }

    /// The queue, head first, as up to `slices.len()` slices; how many it filled.
    pub(super) fn slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let (front, back) = self.queue.as_slices();
        let mut n = 0;
        for (slot, chunk) in slices.iter_mut().zip(front.iter().chain(back)) {
            *slot = IoSlice::new(chunk.bytes());
            n += 1;
        }
        n
    }

    /// Drops the first `n` queued bytes (at most what is queued).
    pub(super) fn advance(&mut self, n: usize) {
        let mut n = n.min(self.pending);
        self.pending -= n;
        while n > 0 {
            let Some(front) = self.queue.front_mut() else {
                return;
            };
            let len = front.bytes().len();
            if n < len {
                match front {
                    Chunk::Shared(bytes) => bytes.advance(n),
                    Chunk::Own(buf) => buf.advance(n),
                }
                return;
            }
            n -= len;
            drop(self.queue.pop_front());
        }
    }

    /// The next bytes to write.
    pub(super) fn pop_transmit(&mut self) -> Option<Bytes> {
        let next = match self.queue.pop_front()? {
            Chunk::Shared(bytes) => bytes,
            Chunk::Own(buf) => buf.freeze(),
        };
        self.pending -= next.len();
        Some(next)
    }
}

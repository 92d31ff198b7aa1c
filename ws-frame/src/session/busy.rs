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
    /// What waits for `poll_transmit`, in order: frames encoded here (a run of consecutive
    /// ones counted as one chunk) and shared frames.
    pub(super) queue: VecDeque<Chunk>,
    /// What waits for `poll_event`.
    pub(super) events: VecDeque<Event>,
    /// Where frames encoded here are written, and wait: the bytes of the queue's
    /// [`Chunk::Own`]s, in order, from its front. Once they are all out it starts again at
    /// the same place (an echo's replies are written where the last one was, in cache, and
    /// never split off: no reference count per message).
    own: BytesMut,
    /// Bytes in `queue` (kept here, not in the session: an idle session does not pay for it).
    pub(super) pending: usize,
}

/// A buffer waiting to be transmitted.
#[derive(Debug)]
pub(super) enum Chunk {
    /// Bytes shared with other sessions (a [`crate::SharedFrame`]).
    Shared(Bytes),
    /// The next this many bytes of the own-frame buffer: frames encoded by this session.
    Own(usize),
}

impl Busy {
    /// Nothing to transmit and no event to hand out.
    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.events.is_empty()
    }

    /// Queues what `encode` writes (frames encoded here), after what is queued.
    pub(super) fn encode(&mut self, encode: impl FnOnce(&mut BytesMut)) {
        if self.own.is_empty()
            && self.own.capacity() < OWN_BLOCK / 4
            && !self.own.try_reclaim(OWN_BLOCK)
        {
            // Frames taken out of it by `pop_transmit` are still held (queued somewhere): a
            // new buffer; the old one goes once they are dropped.
            self.own = BytesMut::with_capacity(OWN_BLOCK);
        }
        let before = self.own.len();
        encode(&mut self.own);
        let n = self.own.len() - before;
        if n == 0 {
            return;
        }
        self.pending += n;
        match self.queue.back_mut() {
            Some(Chunk::Own(back)) => *back += n,
            _ => self.queue.push_back(Chunk::Own(n)),
        }
    }

    /// Queues shared bytes.
    pub(super) fn push_shared(&mut self, bytes: Bytes) {
        self.pending += bytes.len();
        self.queue.push_back(Chunk::Shared(bytes));
    }

    /// The queue, head first, as up to `slices.len()` slices; how many it filled. Inlined:
    /// a caller asking for one slice (is the head all there is?) gets a loop of one.
    #[inline]
    pub(super) fn slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let n = self.queue.len().min(slices.len());
        let mut own = 0;
        for (i, slot) in slices.iter_mut().enumerate().take(n) {
            *slot = IoSlice::new(match &self.queue[i] {
                Chunk::Shared(bytes) => bytes,
                Chunk::Own(len) => {
                    let these = self.own.get(own..own + len).unwrap_or_default();
                    own += len;
                    these
                }
            });
        }
        n
    }

    /// Drops the first `n` queued bytes (at most what is queued).
    pub(super) fn advance(&mut self, mut n: usize) {
        if n >= self.pending {
            // All of it (the common case: the write took everything).
            self.pending = 0;
            while self.queue.pop_front().is_some() {}
            self.drop_own(usize::MAX);
            return;
        }
        self.pending -= n;
        while n > 0 {
            let Some(front) = self.queue.front_mut() else {
                return;
            };
            match front {
                Chunk::Shared(bytes) if n < bytes.len() => {
                    bytes.advance(n);
                    return;
                }
                Chunk::Shared(bytes) => n -= bytes.len(),
                Chunk::Own(len) if n < *len => {
                    *len -= n;
                    self.own.advance(n);
                    return;
                }
                Chunk::Own(len) => {
                    n -= *len;
                    let len = *len;
                    self.drop_own(len);
                }
            }
            drop(self.queue.pop_front());
        }
    }

    /// The next bytes to write.
    pub(super) fn pop_transmit(&mut self) -> Option<Bytes> {
        let next = match self.queue.pop_front()? {
            Chunk::Shared(bytes) => bytes,
            Chunk::Own(len) => {
                let frames = self.own.split_to(len).freeze();
                if self.own.is_empty() {
                    self.drop_own(0);
                }
                frames
            }
        };
        self.pending -= next.len();
        Some(next)
    }

    /// Drops the first `len` bytes of the own-frame buffer (they are out). Emptied, it starts
    /// again at the same place, or is let go if one large frame left it with more room than
    /// is worth keeping.
    fn drop_own(&mut self, len: usize) {
        if len < self.own.len() {
            self.own.advance(len);
        } else if self.own.capacity() > OWN_KEEP {
            self.own = BytesMut::new();
        } else {
            self.own.clear();
        }
    }
}

//! Bytes accepted for the transport and not yet written: whole frames, in order, written
//! with vectored writes where the transport has them.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::AsyncWrite;

/// The most buffers one vectored write takes.
const MAX_IOVECS: usize = 64;

/// Output waiting for the transport. Whoever pushes pushes whole frames, so the queue is
/// always a sequence of whole frames after its (possibly half-written) head.
#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    bufs: VecDeque<Bytes>,
    len: usize,
}

impl WriteQueue {
    pub(crate) fn push(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.len += b.len();
            self.bufs.push_back(b);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }

    /// Bytes queued.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(head) = self.bufs.front_mut() else {
                break;
            };
            if n >= head.len() {
                n -= head.len();
                self.bufs.pop_front();
            } else {
                head.advance(n);
                n = 0;
            }
        }
        if self.bufs.is_empty() && self.bufs.capacity() > 16 {
            // A burst is over: do not keep its memory while idle.
            self.bufs = VecDeque::new();
        }
    }

    /// Writes until the queue is empty (then `Ready(Ok)`) or the transport is full
    /// (`Pending`, with `cx` registered for its readiness). Does not flush the transport.
    pub(crate) fn poll_write_to<W: AsyncWrite + ?Sized>(
        &mut self,
        cx: &mut Context<'_>,
        mut io: Pin<&mut W>,
    ) -> Poll<io::Result<()>> {
        while !self.bufs.is_empty() {
            let written = if self.bufs.len() > 1 && io.is_write_vectored() {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let mut n = 0;
                for (slot, b) in slices.iter_mut().zip(&self.bufs) {
                    *slot = IoSlice::new(b);
                    n += 1;
                }
                io.as_mut().poll_write_vectored(cx, &slices[..n])
            } else {
                io.as_mut().poll_write(cx, &self.bufs[0])
            };
            match written {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.advance(n),
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_across_buffers() {
        let mut q = WriteQueue::default();
        q.push(Bytes::from_static(b"abc"));
        q.push(Bytes::new());
        q.push(Bytes::from_static(b"defg"));
        assert_eq!(q.len(), 7);
        q.advance(4);
        assert_eq!((q.len(), &q.bufs[0][..]), (3, &b"efg"[..]));
        q.advance(3);
        assert!(q.is_empty());
    }
}

//! Output waiting for the socket, written with as few system calls as the queue allows.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::TcpStream;

use bytes::{Buf, Bytes};
use oyez_frame::{FrameHeader, Session};

/// The most of a session's buffers the first write of a settle takes.
const FIRST_IOVECS: usize = 16;
/// The most buffers one vectored write takes on the stack.
const MAX_IOVECS: usize = 64;
/// The most buffers one vectored write takes (Linux's `IOV_MAX`): a longer queue (a burst of
/// small broadcasts) goes out in fewer, larger writes, from an `IoSlice` list built for it.
const MAX_IOVECS_LONG: usize = 1024;

/// Output waiting for the socket.
#[derive(Default)]
pub(super) struct WriteQueue {
    bufs: VecDeque<Bytes>,
    len: usize,
    /// The head buffer has been partly written.
    head_started: bool,
    /// What has been written may end inside a frame: the head buffer is partly written, or the
    /// last buffer written was a frame's header alone (a shared payload follows it) or had
    /// been written in parts.
    cut: bool,
}

impl WriteQueue {
    pub(super) fn push(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.len += b.len();
            self.bufs.push_back(b);
        }
    }

    /// With nothing queued: one `send` (one buffer) or `sendmsg` (a header and a shared
    /// payload, several replies) straight from the session's own buffers, without the
    /// queue's bookkeeping or a buffer taken out of the session (the common case of an
    /// echo's reply); what the socket does not take stays in the session, for the caller to
    /// queue here. The bytes sent; on an error nothing is sent and the output stays, for
    /// [`Self::write_to`] to report.
    pub(super) fn send_first(&mut self, stream: &TcpStream, session: &mut Session) -> usize {
        debug_assert!(self.bufs.is_empty(), "only with nothing queued");
        let socket = socket2::SockRef::from(stream);
        let mut one = [IoSlice::new(&[])];
        let sent = match session.transmit_slices(&mut one) {
            0 => return 0,
            // One buffer (a small reply): one `send`.
            _ if one[0].len() == session.pending_bytes() => send_retrying(|| socket.send(&one[0])),
            _ => {
                let mut slices = [IoSlice::new(&[]); FIRST_IOVECS];
                let n = session.transmit_slices(&mut slices);
                send_retrying(|| socket.send_vectored(&slices[..n]))
            }
        };
        session.advance_transmit(sent);
        if sent > 0 && session.pending_bytes() > 0 {
            // What the session still holds heads the queue. Whether the write stopped inside
            // one of its buffers is not known here, so assume it did (the conservative answer
            // for `is_mid_frame`).
            self.head_started = true;
            self.cut = true;
        }
        sent
    }

    pub(super) fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }

    /// Bytes queued.
    pub(super) const fn len(&self) -> usize {
        self.len
    }

    /// Whether a frame may be cut in the middle on the wire, so nothing else can follow.
    pub(super) fn is_mid_frame(&self) -> bool {
        self.cut && !self.bufs.is_empty()
    }

    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(head) = self.bufs.front_mut() else {
                break;
            };
            if n >= head.len() {
                n -= head.len();
                // A buffer written whole ends where a frame ends unless it is a header alone;
                // of one written in parts the start is gone, so count it as cut.
                self.cut = self.head_started || is_bare_header(head);
                self.head_started = false;
                self.bufs.pop_front();
            } else {
                head.advance(n);
                self.head_started = true;
                self.cut = true;
                n = 0;
            }
        }
        if self.bufs.is_empty() && self.bufs.capacity() > 16 {
            // A burst is over: do not keep its memory while idle.
            self.bufs = VecDeque::new();
        }
    }

    pub(super) fn clear(&mut self) {
        self.bufs = VecDeque::new();
        self.len = 0;
        self.head_started = false;
        self.cut = false;
    }

    /// Hands the queue, head first, to `take` (a TLS session's plaintext writer) until it
    /// takes nothing more; the bytes taken.
    pub(super) fn write_with(
        &mut self,
        mut take: impl FnMut(&[u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut total = 0;
        while let Some(head) = self.bufs.front() {
            let n = take(head)?;
            if n == 0 {
                break;
            }
            total += n;
            self.advance(n);
        }
        Ok(total)
    }

    /// Writes until the queue is empty or the socket is full: `send` for one buffer,
    /// `sendmsg` for several (a socket's own calls, cheaper than `write`/`writev`, which go
    /// through the file layer and take the file position lock).
    pub(super) fn write_to(&mut self, stream: &TcpStream) -> io::Result<()> {
        let socket = socket2::SockRef::from(stream);
        while !self.bufs.is_empty() {
            let sent = if self.bufs.len() == 1 {
                socket.send(&self.bufs[0])
            } else if self.bufs.len() > MAX_IOVECS {
                let slices: Vec<IoSlice<'_>> = self
                    .bufs
                    .iter()
                    .take(MAX_IOVECS_LONG)
                    .map(|b| IoSlice::new(b))
                    .collect();
                socket.send_vectored(&slices)
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let mut n = 0;
                for (slot, b) in slices.iter_mut().zip(&self.bufs) {
                    *slot = IoSlice::new(b);
                    n += 1;
                }
                socket.send_vectored(&slices[..n])
            };
            match sent {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => self.advance(written),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Whether `buf` is one frame's header and nothing else (the first buffer of a shared frame,
/// its payload in the next): a write that stops after it leaves that frame cut. The session's
/// own buffers hold whole frames, and a copied shared frame is header and payload in one.
/// Anything longer than a header is rejected without decoding (every written buffer asks).
fn is_bare_header(buf: &[u8]) -> bool {
    if buf.len() > FrameHeader::MAX_LEN {
        return false;
    }
    matches!(FrameHeader::decode(buf), Ok(Some((h, n))) if n == buf.len() && h.payload_len > 0)
}

/// One write, again while it is interrupted; the bytes it took, 0 when the socket is full or
/// failed (the error is for [`WriteQueue::write_to`] to report, with the output queued).
fn send_retrying(mut send: impl FnMut() -> io::Result<usize>) -> usize {
    loop {
        match send() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(n) => return n,
            Err(_) => return 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use oyez_frame::{OpCode, SharedFrame};

    use super::*;

    fn queued(frames: &[&SharedFrame]) -> WriteQueue {
        let mut q = WriteQueue::default();
        for f in frames {
            let (head, tail) = f.parts();
            q.push(head.clone());
            q.push(tail.clone());
        }
        q
    }

    #[test]
    fn a_shared_frame_written_up_to_its_payload_is_cut() {
        let big = SharedFrame::from_payload(OpCode::Binary, Bytes::from(vec![7; 16 << 10]));
        let (head, tail) = big.parts();
        assert!(!tail.is_empty(), "a shared payload");
        let mut q = queued(&[&big]);
        q.advance(head.len());
        assert!(q.is_mid_frame(), "the header is out, its payload is not");
        q.advance(100);
        assert!(q.is_mid_frame());
        q.advance(tail.len() - 100);
        assert!(!q.is_mid_frame());
    }

    #[test]
    fn whole_frames_written_leave_no_cut() {
        let small = SharedFrame::binary(&[1; 20]);
        let big = SharedFrame::from_payload(OpCode::Binary, Bytes::from(vec![7; 16 << 10]));
        let mut q = queued(&[&small, &big, &small]);
        assert!(!q.is_mid_frame());
        q.advance(small.len());
        assert!(!q.is_mid_frame(), "a copied frame is one buffer");
        q.advance(big.len());
        assert!(!q.is_mid_frame(), "header and payload both out");
        q.advance(3);
        assert!(q.is_mid_frame(), "inside the last frame");
    }

    #[test]
    fn a_buffer_finished_after_a_partial_write_counts_as_cut() {
        let small = SharedFrame::binary(&[1; 20]);
        let mut q = queued(&[&small, &small]);
        q.advance(5);
        q.advance(small.len() - 5);
        assert!(
            q.is_mid_frame(),
            "its start is gone: not known, so the safe answer"
        );
        q.advance(small.len());
        assert!(!q.is_mid_frame());
    }
}

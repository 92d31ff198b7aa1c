//! Output waiting for the socket, written with as few system calls as the queue allows.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::TcpStream;

use bytes::{Buf, Bytes};

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
    /// The head buffer has been partly written: a frame may be cut in the middle on the wire.
    head_started: bool,
}

impl WriteQueue {
    pub(super) fn push(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.len += b.len();
            self.bufs.push_back(b);
        }
    }

    /// With nothing queued: one `send` of `b` straight from the caller, and only what the
    /// socket does not take queued (the common case of one reply, without the queue's
    /// bookkeeping). The bytes sent; on an error `b` stays queued, for [`Self::write_to`]
    /// to report.
    pub(super) fn send_first(&mut self, stream: &TcpStream, mut b: Bytes) -> usize {
        debug_assert!(self.bufs.is_empty(), "only with nothing queued");
        let sent = loop {
            match socket2::SockRef::from(stream).send(&b) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(n) => break n,
                Err(_) => break 0, // full (WouldBlock), or an error write_to reports
            }
        };
        if sent < b.len() {
            b.advance(sent);
            self.head_started = sent > 0;
            self.push(b);
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
        self.head_started && !self.bufs.is_empty()
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
                self.head_started = false;
            } else {
                head.advance(n);
                self.head_started = true;
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

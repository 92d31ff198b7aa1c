//! The floor: the least a WebSocket echo and relay server can do, for "server CPU per message
//! relative to the floor" in `scripts/bench-e2e.sh` and instruction counts in
//! `scripts/instructions.sh`. Not a server to use: it validates nothing it does not need to.
//!
//! One thread, edge-triggered epoll (raw `libc`, no runtime), one shared receive buffer, frames
//! unmasked in place and answered in place (a server frame's header is four bytes shorter
//! than the client's, so the reply's header is written over the end of the request's and the
//! reply is the bytes from there to the payload's end), the replies to one read sent with one
//! `sendmsg`; no allocation per message (a connection's own buffers exist only while it holds
//! a partial frame or output the socket refused). Correct on the happy path at every frame
//! size (7-, 16- and 64-bit lengths, frames split across reads, output the socket takes in
//! parts):
//!
//! - `/all`: each data message goes to every other connection on `/all` (as the `ws-server`
//!   binary's `/all` does, for the broadcast scenarios);
//! - any other path: every data message is echoed;
//! - a ping gets its pong, a close its close; fragments are relayed as they come.
//!
//! The opening handshake is found by its blank line and answered from its
//! `Sec-WebSocket-Key` (`oyez_frame::handshake::derive_accept_key`).
//!
//! `PORT=9004 cargo run --release -p oyez-benches --example peer_floor`

#![allow(unsafe_code)]
// raw epoll and sockets through libc: the point of a floor
// Frame lengths are written as the wire's byte fields, each range checked by its match arm.
#![allow(clippy::cast_possible_truncation, clippy::single_range_in_vec_init)]

use std::io;
use std::ops::Range;
use std::os::fd::RawFd;

/// The shared receive buffer's size (one `recv` takes at most this).
const RX: usize = 256 << 10;
/// The most events one `epoll_wait` takes.
const EVENTS: usize = 256;
/// The most replies one `sendmsg` takes.
const IOV: usize = 16;
/// The listener's epoll token.
const LISTENER: u64 = u64::MAX;

/// One connection.
#[derive(Default)]
struct Conn {
    fd: RawFd,
    /// The handshake is done.
    open: bool,
    /// Bytes of a partial frame (or of the request head, before the handshake).
    partial: Vec<u8>,
    /// Output the socket has not taken yet.
    pending: Vec<u8>,
    /// The connection is over once `pending` is out.
    closing: bool,
}

/// Every connection by slot, the free slots, and the connections on `/all`.
#[derive(Default)]
struct Slab {
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    all: Vec<usize>,
}

/// What one read asks to send: ranges of the buffer it was read into.
struct Replies {
    ranges: [Range<usize>; IOV],
    n: usize,
    /// The ranges go to every other connection on `/all` instead of back.
    relay: bool,
}

fn main() -> io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9004);
    let listener = listen(port)?;
    // SAFETY: a plain system call; the result is checked.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    check(ep)?;
    add(ep, listener, LISTENER, libc::EPOLLIN as u32)?;
    let mut rx = vec![0u8; RX];
    let mut replies = Replies {
        ranges: std::array::from_fn(|_| 0..0),
        n: 0,
        relay: false,
    };
    let mut slab = Slab::default();
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS];
    loop {
        // SAFETY: `events` is valid for EVENTS entries.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), EVENTS as i32, -1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in &events[..usize::try_from(n).unwrap_or(0)] {
            let (token, flags) = (ev.u64, ev.events);
            if token == LISTENER {
                accept_all(ep, listener, &mut slab)?;
                continue;
            }
            let slot = usize::try_from(token).unwrap_or(usize::MAX);
            if flags & libc::EPOLLOUT as u32 != 0 {
                flush(&mut slab, slot);
            }
            let readable =
                (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLRDHUP) as u32;
            if flags & readable != 0 {
                read(&mut slab, slot, &mut rx, &mut replies);
            }
            let done = slab
                .conns
                .get(slot)
                .and_then(Option::as_ref)
                .is_some_and(|c| c.closing && c.pending.is_empty());
            if done {
                drop_conn(&mut slab, slot);
            }
        }
    }
}

/// Reads everything the socket has (edge-triggered) and answers it.
fn read(slab: &mut Slab, slot: usize, rx: &mut [u8], replies: &mut Replies) {
    loop {
        let Some(Some(c)) = slab.conns.get_mut(slot) else {
            return;
        };
        if c.closing {
            return;
        }
        // A connection with a partial frame reads on into its own buffer, sized for the frame.
        let mut own = std::mem::take(&mut c.partial);
        let fd = c.fd;
        let filled = own.len();
        if !own.is_empty() {
            let whole = header(&own).map_or(0, |(_, len, head)| head + len);
            own.reserve(whole.saturating_sub(filled).max(16 << 10));
        }
        let (ptr, room) = if own.is_empty() {
            (rx.as_mut_ptr(), rx.len())
        } else {
            let spare = own.spare_capacity_mut();
            (spare.as_mut_ptr().cast::<u8>(), spare.len().min(1 << 20))
        };
        // SAFETY: `ptr` is valid for `room` bytes (the receive buffer, or `own`'s spare
        // capacity, which `recv` initialises as far as it reports).
        let n = unsafe { libc::recv(fd, ptr.cast(), room, 0) };
        if n <= 0 {
            let e = io::Error::last_os_error();
            put_back(slab, slot, own);
            if n < 0 && e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if n == 0 || e.kind() != io::ErrorKind::WouldBlock {
                drop_conn(slab, slot);
            }
            return;
        }
        let n = n as usize;
        let buf: &mut [u8] = if own.is_empty() {
            &mut rx[..n]
        } else {
            // SAFETY: `recv` initialised the `n` bytes after `filled`.
            unsafe { own.set_len(filled + n) };
            &mut own
        };
        replies.n = 0;
        let mut at = 0;
        loop {
            let (used, more) = answer(slab, slot, buf, at, replies);
            send_replies(slab, slot, buf, replies);
            replies.n = 0;
            at = used;
            if !more {
                break;
            }
        }
        // Keep the rest of a frame that did not end here.
        let end = buf.len();
        if filled == 0 && own.is_empty() {
            if let Some(Some(c)) = slab.conns.get_mut(slot) {
                c.partial.extend_from_slice(&rx[at..n]);
            }
        } else {
            own.copy_within(at..end, 0);
            own.truncate(end - at);
            put_back(slab, slot, own);
        }
        if n < room {
            return;
        }
    }
}

/// Gives a connection its own buffer back.
fn put_back(slab: &mut Slab, slot: usize, own: Vec<u8>) {
    if let Some(Some(c)) = slab.conns.get_mut(slot) {
        c.partial = own;
    }
}

/// Answers the complete frames (or the request head) of `buf` from `at`, in place, into
/// `replies`. Returns where it stopped, and whether it stopped only because `replies` is full.
fn answer(
    slab: &mut Slab,
    slot: usize,
    buf: &mut [u8],
    mut at: usize,
    replies: &mut Replies,
) -> (usize, bool) {
    let Some(Some(c)) = slab.conns.get_mut(slot) else {
        return (buf.len(), false);
    };
    if !c.open {
        let Some(end) = buf[at..].windows(4).position(|w| w == b"\r\n\r\n") else {
            return (at, false);
        };
        let head = at..at + end;
        let all = handshake(c, &buf[head]);
        if all {
            slab.all.push(slot);
        }
        at += end + 4;
    }
    let all = slab.all.contains(&slot);
    while replies.n < IOV {
        let Some((b0, len, head)) = header(&buf[at..]) else {
            return (at, false);
        };
        let start = at + head;
        let Some(end) = start.checked_add(len).filter(|&e| e <= buf.len()) else {
            return (at, false);
        };
        let key = [
            buf[start - 4],
            buf[start - 3],
            buf[start - 2],
            buf[start - 1],
        ];
        unmask(&mut buf[start..end], key);
        let opcode = b0 & 0x0f;
        // A batch goes one way: relayed data, or replies back (pongs, a close, echoes).
        let relay = all && opcode < 0x8;
        if replies.n > 0 && relay != replies.relay {
            return (at, true);
        }
        let reply_b0 = match opcode {
            0x8 => {
                // Our close, back to the sender: no payload.
                replies.relay = false;
                buf[start - 2] = 0x88;
                buf[start - 1] = 0;
                replies.push(start - 2..start);
                if let Some(Some(c)) = slab.conns.get_mut(slot) {
                    c.closing = true;
                }
                return (end, false);
            }
            0x9 => Some(0x80 | 0xA),
            0xA => None,
            _ => Some(b0),
        };
        if let Some(b0) = reply_b0 {
            let from = write_header(buf, start, b0, len);
            replies.relay = relay;
            replies.push(from..end);
        }
        at = end;
    }
    (at, true)
}

impl Replies {
    fn push(&mut self, r: Range<usize>) {
        self.ranges[self.n] = r;
        self.n += 1;
    }
}

/// A masked client frame's header: (first byte, payload length, header length with the key).
fn header(b: &[u8]) -> Option<(u8, usize, usize)> {
    let (b0, b1) = (*b.first()?, *b.get(1)?);
    let (len, at) = match b1 & 0x7f {
        126 => (usize::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?])), 4),
        127 => (
            usize::try_from(u64::from_be_bytes(b.get(2..10)?.try_into().ok()?)).ok()?,
            10,
        ),
        n => (usize::from(n), 2),
    };
    (b.len() >= at + 4).then_some((b0, len, at + 4))
}

/// Writes a server frame header for a `len`-byte payload at `start` just before it; returns
/// where the header begins (it fits in the client header it overwrites).
fn write_header(buf: &mut [u8], start: usize, b0: u8, len: usize) -> usize {
    let head: &[u8] = match len {
        0..=125 => &[b0, len as u8],
        126..=0xffff => &[b0, 126, (len >> 8) as u8, len as u8],
        _ => {
            let l = (len as u64).to_be_bytes();
            &[b0, 127, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7]]
        }
    };
    let from = start - head.len();
    buf[from..start].copy_from_slice(head);
    from
}

/// Unmasks in place, eight bytes at a time.
fn unmask(p: &mut [u8], key: [u8; 4]) {
    let k = u32::from_ne_bytes(key);
    let k8 = u64::from(k) | u64::from(k) << 32;
    let mut chunks = p.chunks_exact_mut(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes(c.try_into().expect("8 bytes")) ^ k8;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Answers the opening handshake; returns whether the path is `/all`.
fn handshake(c: &mut Conn, head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let path = text.split(' ').nth(1).unwrap_or("/");
    let key = text
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    let accept = oyez_frame::handshake::derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    c.open = true;
    send_all(c, response.as_bytes(), &[0..response.len()]);
    path.split('?').next() == Some("/all")
}

/// Sends the replies: back to `slot`, or (relayed data) to every other connection on `/all`.
fn send_replies(slab: &mut Slab, slot: usize, buf: &[u8], replies: &Replies) {
    let ranges = &replies.ranges[..replies.n];
    if ranges.is_empty() {
        return;
    }
    if replies.relay {
        for i in 0..slab.all.len() {
            let to = slab.all[i];
            if to != slot
                && let Some(Some(c)) = slab.conns.get_mut(to)
            {
                send_all(c, buf, ranges);
            }
        }
    } else if let Some(Some(c)) = slab.conns.get_mut(slot) {
        send_all(c, buf, ranges);
    }
}

/// Sends the `ranges` of `buf` with one `sendmsg` (after whatever waits); what the socket
/// refuses waits.
fn send_all(c: &mut Conn, buf: &[u8], ranges: &[Range<usize>]) {
    if !c.pending.is_empty() {
        ranges
            .iter()
            .for_each(|r| c.pending.extend_from_slice(&buf[r.clone()]));
        return;
    }
    let mut iov = [const { std::mem::MaybeUninit::<libc::iovec>::uninit() }; IOV];
    let mut total = 0;
    for (v, r) in iov.iter_mut().zip(ranges) {
        total += r.len();
        v.write(libc::iovec {
            iov_base: buf[r.clone()].as_ptr().cast_mut().cast(),
            iov_len: r.len(),
        });
    }
    // SAFETY: a zeroed msghdr is valid; its first `ranges.len()` iovecs are initialised and
    // point into `buf`, which outlives the call.
    let sent = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = iov.as_mut_ptr().cast();
        msg.msg_iovlen = ranges.len();
        libc::sendmsg(c.fd, &raw const msg, libc::MSG_NOSIGNAL)
    };
    let sent = if sent < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted {
            c.closing = true;
            return;
        }
        0
    } else {
        sent as usize
    };
    if sent < total {
        // Keep what the socket did not take, in order.
        let mut skip = sent;
        for r in ranges {
            if skip >= r.len() {
                skip -= r.len();
            } else {
                c.pending.extend_from_slice(&buf[r.start + skip..r.end]);
                skip = 0;
            }
        }
    }
}

/// The socket can take more: what waits goes out.
fn flush(slab: &mut Slab, slot: usize) {
    let Some(Some(c)) = slab.conns.get_mut(slot) else {
        return;
    };
    let pending = std::mem::take(&mut c.pending);
    send_all(c, &pending, &[0..pending.len()]);
}

fn accept_all(ep: RawFd, listener: RawFd, slab: &mut Slab) -> io::Result<()> {
    loop {
        // SAFETY: null address arguments are allowed.
        let fd = unsafe {
            libc::accept4(
                listener,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => return Ok(()),
                io::ErrorKind::Interrupted => continue,
                _ => return Err(e),
            }
        }
        let one: libc::c_int = 1;
        // SAFETY: `one` outlives the call.
        unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&raw const one).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        let slot = slab.free.pop().unwrap_or_else(|| {
            slab.conns.push(None);
            slab.conns.len() - 1
        });
        slab.conns[slot] = Some(Conn {
            fd,
            ..Conn::default()
        });
        let interest = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
        add(ep, fd, slot as u64, interest)?;
    }
}

fn drop_conn(slab: &mut Slab, slot: usize) {
    if let Some(c) = slab.conns.get_mut(slot).and_then(Option::take) {
        // SAFETY: the descriptor is ours and closed once (its slot is emptied).
        unsafe { libc::close(c.fd) };
        slab.free.push(slot);
        slab.all.retain(|&s| s != slot);
    }
}

fn listen(port: u16) -> io::Result<RawFd> {
    let l = std::net::TcpListener::bind(("127.0.0.1", port))?;
    l.set_nonblocking(true)?;
    Ok(std::os::fd::IntoRawFd::into_raw_fd(l))
}

fn add(ep: RawFd, fd: RawFd, token: u64, events: u32) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: token };
    // SAFETY: `ev` outlives the call.
    check(unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &raw mut ev) })
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

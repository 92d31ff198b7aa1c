//! One of the crate's two `unsafe`s (the other: `server::trim`): a read into a buffer's
//! uninitialised capacity, so that the shard's receive block is never zeroed before a read.
#![allow(unsafe_code)]

use std::io;
use std::net::TcpStream;

use bytes::BytesMut;

/// One `recv` of at most `max` bytes into the unused capacity of `buf`, which it does not
/// zero first; what it got is appended to `buf`.
pub(super) fn recv_uninit(stream: &TcpStream, buf: &mut BytesMut, max: usize) -> io::Result<usize> {
    let spare = buf.spare_capacity_mut();
    let max = max.min(spare.len());
    let n = socket2::SockRef::from(stream).recv(&mut spare[..max])?;
    // SAFETY: `recv` wrote (initialised) the first `n` bytes of the spare capacity it was
    // given, and `n` is at most its length, so `len + n` bytes of `buf` are initialised.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

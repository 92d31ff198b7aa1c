//! Shared inputs for the `oyez-benches` criterion benches, and the end-to-end load tool
//! ([`load`], driven by the `ws-load` binary).
//!
//! Not published, and not a library to depend on: it holds the inputs the benches share and
//! the load tool's scenarios. It does not measure anything by itself in `cargo test` beyond
//! short smoke runs (performance is measured by `cargo bench` and `ws-load`, never in timed
//! unit tests). Run the benches with `cargo bench -p oyez-benches`, the load tool with
//! `cargo run --release -p oyez-benches --bin ws-load -- --help`; see the workspace README.
//!
//! ```
//! use oyez_frame::{Decoder, Limits, OpCode, Role};
//!
//! // Ten masked 20-byte binary frames, as the decode benches feed them.
//! let wire = oyez_benches::masked_frames(10, 20, OpCode::Binary);
//! let mut buf = bytes::BytesMut::from(&wire[..]);
//! let mut dec = Decoder::new(Role::Server, Limits::default());
//! let mut n = 0;
//! while let Some(frame) = dec.decode(&mut buf)? {
//!     assert_eq!(frame.payload.as_ref(), &oyez_benches::payload(20)[..]);
//!     n += 1;
//! }
//! assert_eq!(n, 10);
//! # Ok::<(), oyez_frame::Error>(())
//! ```
#![warn(missing_docs)]

use bytes::BytesMut;
use oyez_frame::{Encoder, OpCode, Role};

pub mod corpus;
pub mod deflate;
pub mod load;

/// The fixed mask used for client frames in the benches (RFC 6455 §5.7's example key).
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// `count` masked (client-to-server) binary frames of `size` bytes each, back to back.
pub fn masked_frames(count: usize, size: usize, opcode: OpCode) -> Vec<u8> {
    let payload = payload(size);
    let mut enc = Encoder::with_mask_source(Role::Client, || MASK);
    let mut out = BytesMut::with_capacity(count * (size + 14));
    for _ in 0..count {
        enc.encode(opcode, true, &payload, &mut out);
    }
    out.to_vec()
}

/// `size` bytes of lowercase ASCII (valid UTF-8, so usable as text too).
pub fn payload(size: usize) -> Vec<u8> {
    b"abcdefghijklmnopqrstuvwxyz"
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect()
}

/// An in-memory duplex stream for the async peers' decoders: reads come from `input`,
/// writes go to `output`.
#[derive(Debug, Default)]
pub struct MemStream {
    /// What reads return, from `pos` on.
    pub input: Vec<u8>,
    /// How much of `input` has been read.
    pub pos: usize,
    /// Everything written.
    pub output: Vec<u8>,
}

impl MemStream {
    /// A stream that reads `input`.
    pub fn new(input: Vec<u8>) -> Self {
        Self {
            input,
            pos: 0,
            output: Vec::new(),
        }
    }
}

impl tokio::io::AsyncRead for MemStream {
    fn poll_read(
        mut self: core::pin::Pin<&mut Self>,
        _: &mut core::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> core::task::Poll<std::io::Result<()>> {
        let n = buf.remaining().min(self.input.len() - self.pos);
        let pos = self.pos;
        buf.put_slice(&self.input[pos..pos + n]);
        self.pos += n;
        core::task::Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for MemStream {
    fn poll_write(
        mut self: core::pin::Pin<&mut Self>,
        _: &mut core::task::Context<'_>,
        buf: &[u8],
    ) -> core::task::Poll<std::io::Result<usize>> {
        self.output.extend_from_slice(buf);
        core::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: core::pin::Pin<&mut Self>,
        _: &mut core::task::Context<'_>,
    ) -> core::task::Poll<std::io::Result<()>> {
        core::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: core::pin::Pin<&mut Self>,
        _: &mut core::task::Context<'_>,
    ) -> core::task::Poll<std::io::Result<()>> {
        core::task::Poll::Ready(Ok(()))
    }
}

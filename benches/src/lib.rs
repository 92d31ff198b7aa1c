//! Shared inputs for the `ws-benches` criterion benches, and the end-to-end load tool
//! ([`load`], driven by the `ws-load` binary).
//!
//! Not published. Run the benches with `cargo bench -p ws-benches`, the load tool with
//! `cargo run --release -p ws-benches --bin ws-load -- --help`; see the workspace README.

use bytes::BytesMut;
use ws_frame::{Encoder, OpCode, Role};

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

//! Wire builders for tests.

use bytes::BytesMut;
use oyez_frame::{Decoder, Encoder, Error, Frame, FrameHeader, Limits, OpCode, Role, apply_mask};

/// A raw frame as a client would send it (masked with a fixed key), with free control of
/// every header bit.
pub(crate) fn raw(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let opcode = OpCode::from_u8(first).unwrap_or(OpCode::Binary);
    let mut h = FrameHeader::new(opcode, payload.len() as u64);
    h.mask = masked.then_some([0x11, 0x22, 0x33, 0x44]);
    let (bytes, n) = h.to_array();
    let mut out = bytes[..n].to_vec();
    out[0] = first; // exact first byte, including reserved opcodes and RSV bits
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = h.mask {
        apply_mask(&mut out[start..], key, 0);
    }
    out
}

/// A masked client frame (what a server receives).
pub(crate) fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    raw(first, payload, true)
}

/// Decodes everything in `bytes` as `role`; returns the frames and the first error.
pub(crate) fn decode_all(role: Role, limits: Limits, bytes: &[u8]) -> (Vec<Frame>, Option<Error>) {
    let mut dec = Decoder::new(role, limits);
    let mut buf = BytesMut::from(bytes);
    let mut frames = Vec::new();
    loop {
        match dec.decode(&mut buf) {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => return (frames, None),
            Err(e) => return (frames, Some(e)),
        }
    }
}

/// Encodes with a fixed mask for clients.
pub(crate) fn encoder(role: Role) -> Encoder {
    Encoder::with_mask_source(role, || [0xde, 0xad, 0xbe, 0xef])
}

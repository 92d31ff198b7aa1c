//! The frame encoder and the client's mask source.

use bytes::{BufMut, BytesMut};

use crate::close::put_close_payload;
use crate::{CloseCode, FrameHeader, OpCode, Role, apply_mask};

/// Writes frames for one role: unmasked for a server, masked with a fresh unpredictable key
/// per frame for a client (RFC 6455 §5.3). Encoding is infallible and always uses the minimal
/// length form; the caller keeps control frames within 125 bytes.
///
/// ```
/// use bytes::BytesMut;
/// use oyez_frame::{Encoder, OpCode, Role};
///
/// let mut out = BytesMut::new();
/// Encoder::new(Role::Server).encode(OpCode::Text, true, b"Hello", &mut out);
/// assert_eq!(&out[..], &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']); // RFC 6455 §5.7
///
/// // A client with a fixed mask, for a test vector.
/// let mut client = Encoder::with_mask_source(Role::Client, || [0x37, 0xfa, 0x21, 0x3d]);
/// out.clear();
/// client.encode(OpCode::Text, true, b"Hello", &mut out);
/// assert_eq!(&out[..], &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// ```
#[derive(Debug)]
pub struct Encoder {
    /// `None` for a server, which never masks (boxed: a server session carries no space for
    /// it); a client's always has one, so it also tells the role (an encoder is one pointer).
    masks: Option<Box<MaskSource>>,
}

impl Encoder {
    /// An encoder for `role`; a client draws its masks from the operating system's
    /// cryptographic random source.
    pub fn new(role: Role) -> Self {
        let masks = role
            .masks_outgoing()
            .then(|| Box::new(MaskSource::random()));
        Self { masks }
    }

    /// An encoder whose masks come from `next` (for tests and test vectors). A server never
    /// calls it.
    pub fn with_mask_source(role: Role, next: impl FnMut() -> [u8; 4] + Send + 'static) -> Self {
        let masks = role
            .masks_outgoing()
            .then(|| Box::new(MaskSource::custom(next)));
        Self { masks }
    }

    /// The role this encoder writes for.
    pub const fn role(&self) -> Role {
        if self.masks.is_some() {
            Role::Client
        } else {
            Role::Server
        }
    }

    /// Appends one frame (header and payload) to `dst`.
    pub fn encode(&mut self, opcode: OpCode, fin: bool, payload: &[u8], dst: &mut BytesMut) {
        let header = FrameHeader {
            fin,
            ..FrameHeader::new(opcode, payload.len() as u64)
        };
        self.encode_frame(header, payload, dst);
    }

    /// Appends one frame with the given header (its `mask` and `payload_len` are set here:
    /// the mask from the role, the length from `payload`). Use this to set RSV bits for an
    /// extension.
    pub fn encode_frame(&mut self, header: FrameHeader, payload: &[u8], dst: &mut BytesMut) {
        if self.masks.is_none()
            && let Ok(len @ 0..126) = u8::try_from(payload.len())
        {
            // A small unmasked frame (a server's reply): two header bytes, written directly.
            dst.reserve(2 + payload.len());
            dst.extend_from_slice(&[header.first_byte(), len]);
            dst.extend_from_slice(payload);
            return;
        }
        let header = self.header(header.opcode, header.fin, header.rsv, payload.len());
        dst.reserve(header.encoded_len() + payload.len());
        header.encode(dst);
        let start = dst.len();
        dst.extend_from_slice(payload);
        if let Some(key) = header.mask {
            apply_mask(&mut dst[start..], key, 0);
        }
    }

    /// Appends a close frame: `code` (none for an empty payload) and `reason` cut to 123 bytes
    /// on a character boundary.
    pub fn encode_close(&mut self, code: Option<CloseCode>, reason: &str, dst: &mut BytesMut) {
        let mut payload = [0u8; 125];
        let mut cursor = &mut payload[..];
        put_close_payload(code, reason, &mut cursor);
        let len = 125 - cursor.remaining_mut();
        self.encode(OpCode::Close, true, &payload[..len], dst);
    }

    /// The header for a frame of `len` bytes, with a fresh mask if this is a client. For
    /// callers that write the header and payload separately (vectored writes); a client must
    /// then mask the payload with [`apply_mask`] and the returned key.
    pub fn header(&mut self, opcode: OpCode, fin: bool, rsv: u8, len: usize) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: rsv & 0x70,
            opcode,
            mask: self.masks.as_deref_mut().map(MaskSource::next_key),
            payload_len: len as u64,
        }
    }
}

/// Where a client's masking keys come from. The default draws from the operating system's
/// cryptographic random source (`getrandom`), 64 keys per system call, so that keys are
/// unpredictable to the application, as RFC 6455 §10.3 requires.
pub struct MaskSource(MaskKind);

enum MaskKind {
    Random { pool: Box<[u8; 256]>, next: usize },
    Custom(Box<dyn FnMut() -> [u8; 4] + Send>),
}

impl MaskSource {
    /// Keys from the operating system's random source.
    pub fn random() -> Self {
        let mut pool = Box::new([0u8; 256]);
        refill(&mut pool);
        Self(MaskKind::Random { pool, next: 0 })
    }

    /// Keys from `next`.
    pub fn custom(next: impl FnMut() -> [u8; 4] + Send + 'static) -> Self {
        Self(MaskKind::Custom(Box::new(next)))
    }

    /// The next key.
    pub fn next_key(&mut self) -> [u8; 4] {
        match &mut self.0 {
            MaskKind::Random { pool, next } => {
                if *next == pool.len() {
                    refill(pool);
                    *next = 0;
                }
                let key = pool[*next..*next + 4]
                    .try_into()
                    .expect("the pool length is a multiple of 4");
                *next += 4;
                key
            }
            MaskKind::Custom(f) => f(),
        }
    }
}

/// Fills `pool` from the OS; should the OS source ever fail, falls back to std's randomly
/// keyed SipHash over a counter and the clock, which is still unpredictable to a peer.
fn refill(pool: &mut [u8; 256]) {
    if getrandom::fill(pool).is_ok() {
        return;
    }
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    for (i, chunk) in pool.chunks_exact_mut(8).enumerate() {
        let mut h = state.build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        chunk.copy_from_slice(&h.finish().to_ne_bytes());
    }
}

impl core::fmt::Debug for MaskSource {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self.0 {
            MaskKind::Random { .. } => "MaskSource::Random",
            MaskKind::Custom(_) => "MaskSource::Custom",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_masks_differ_per_frame() {
        let mut enc = Encoder::new(Role::Client);
        let keys: std::collections::HashSet<[u8; 4]> = (0..200)
            .map(|_| enc.header(OpCode::Binary, true, 0, 0).mask.unwrap())
            .collect();
        // 200 draws from 2^32 keys: a collision is a ~5e-6 event; more than one means a broken source.
        assert!(keys.len() >= 199, "{}", keys.len());
    }

    #[test]
    fn server_never_masks() {
        let mut enc = Encoder::new(Role::Server);
        assert_eq!(enc.header(OpCode::Text, true, 0, 3).mask, None);
    }

    #[test]
    fn close_frames() {
        let mut out = BytesMut::new();
        let mut enc = Encoder::new(Role::Server);
        enc.encode_close(Some(CloseCode::NORMAL), "bye", &mut out);
        assert_eq!(&out[..], b"\x88\x05\x03\xe8bye");
        out.clear();
        enc.encode_close(None, "ignored without a code", &mut out);
        assert_eq!(&out[..], b"\x88\x00");
        out.clear();
        enc.encode_close(Some(CloseCode::GOING_AWAY), &"x".repeat(500), &mut out);
        assert_eq!(out.len(), 2 + 125);
    }
}

//! The frame encoder, the client's mask source, and frames encoded once for many receivers.

use bytes::{BufMut, Bytes, BytesMut};

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
    role: Role,
    /// `None` for a server, which never masks (boxed: a server session carries no space for it).
    masks: Option<Box<MaskSource>>,
}

impl Encoder {
    /// An encoder for `role`; a client draws its masks from the operating system's
    /// cryptographic random source.
    pub fn new(role: Role) -> Self {
        let masks = role
            .masks_outgoing()
            .then(|| Box::new(MaskSource::random()));
        Self { role, masks }
    }

    /// An encoder whose masks come from `next` (for tests and test vectors). A server never
    /// calls it.
    pub fn with_mask_source(role: Role, next: impl FnMut() -> [u8; 4] + Send + 'static) -> Self {
        let masks = role
            .masks_outgoing()
            .then(|| Box::new(MaskSource::custom(next)));
        Self { role, masks }
    }

    /// The role this encoder writes for.
    pub const fn role(&self) -> Role {
        self.role
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

/// A whole server frame (header and payload) encoded once and shared by every receiver of a
/// broadcast: cloning it, or queueing it on many sessions, only bumps reference counts.
///
/// It is at most two buffers, to be written in order ([`SharedFrame::parts`]): a small frame
/// is one buffer, header and payload together (one allocation, one copy of the payload); a
/// large payload given as [`Bytes`] ([`SharedFrame::from_payload`]) is not copied at all: the
/// header has its own small buffer and the payload is shared as it is. A server session sends
/// these bytes as they are. A client session, which must mask every frame with a fresh key,
/// copies and masks the payload instead.
///
/// ```
/// use bytes::Bytes;
/// use oyez_frame::{OpCode, SharedFrame};
/// let frame = SharedFrame::text("to everyone");
/// let (head, tail) = frame.parts();
/// assert_eq!(&head[..2], &[0x81, 11]);
/// assert!(tail.is_empty());
/// assert_eq!(frame.payload(), b"to everyone");
///
/// // A large payload is shared, not copied.
/// let big = Bytes::from(vec![7u8; 100_000]);
/// let frame = SharedFrame::from_payload(OpCode::Binary, big.clone());
/// assert_eq!(frame.parts().1.as_ptr(), big.as_ptr());
/// assert_eq!(frame.len(), 10 + 100_000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedFrame {
    /// The header, and the payload too unless `tail` holds it.
    head: Bytes,
    /// The payload, when it is shared rather than copied; else empty.
    tail: Bytes,
    opcode: OpCode,
    /// INVARIANT: `header_len <= head.len()`.
    header_len: u8,
}

impl SharedFrame {
    /// Payloads up to this size are copied next to their header (one buffer, one write);
    /// larger ones given as [`Bytes`] are shared without a copy.
    pub const COPY_THRESHOLD: usize = 4 << 10;

    /// A final text frame.
    pub fn text(text: &str) -> Self {
        Self::new(OpCode::Text, text.as_bytes())
    }

    /// A final binary frame.
    pub fn binary(data: &[u8]) -> Self {
        Self::new(OpCode::Binary, data)
    }

    /// A final data frame of `opcode` (text or binary; text must be UTF-8, which
    /// [`Self::text`] guarantees). One allocation, one copy of the payload.
    pub fn new(opcode: OpCode, payload: &[u8]) -> Self {
        let header = FrameHeader::new(opcode, payload.len() as u64);
        let header_len = header.encoded_len();
        let mut buf = BytesMut::with_capacity(header_len + payload.len());
        header.encode(&mut buf);
        buf.extend_from_slice(payload);
        Self {
            head: buf.freeze(),
            tail: Bytes::new(),
            opcode,
            header_len: u8::try_from(header_len).expect("a header is at most 14 bytes"),
        }
    }

    /// A final data frame of `opcode` whose payload is `payload` itself when it is larger than
    /// [`Self::COPY_THRESHOLD`] (no copy: the frame holds a reference), copied like
    /// [`Self::new`] otherwise. Text must be UTF-8.
    pub fn from_payload(opcode: OpCode, payload: Bytes) -> Self {
        if payload.len() <= Self::COPY_THRESHOLD {
            return Self::new(opcode, &payload);
        }
        let header = FrameHeader::new(opcode, payload.len() as u64);
        let header_len = header.encoded_len();
        let mut buf = BytesMut::with_capacity(header_len);
        header.encode(&mut buf);
        Self {
            head: buf.freeze(),
            tail: payload,
            opcode,
            header_len: u8::try_from(header_len).expect("a header is at most 14 bytes"),
        }
    }

    /// The encoded frame as the buffers to write, in order: the first holds the header (and
    /// the payload, for a copied frame); the second holds a shared payload, or is empty.
    pub fn parts(&self) -> (&Bytes, &Bytes) {
        (&self.head, &self.tail)
    }

    /// The encoded frame in one buffer (a copy, unless it already is one).
    pub fn to_bytes(&self) -> Bytes {
        if self.tail.is_empty() {
            return self.head.clone();
        }
        let mut buf = BytesMut::with_capacity(self.len());
        buf.extend_from_slice(&self.head);
        buf.extend_from_slice(&self.tail);
        buf.freeze()
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        if self.tail.is_empty() {
            &self.head[usize::from(self.header_len)..]
        } else {
            &self.tail
        }
    }

    /// The opcode.
    pub const fn opcode(&self) -> OpCode {
        self.opcode
    }

    /// The encoded length (header and payload).
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// Always false: a frame has at least a header.
    pub fn is_empty(&self) -> bool {
        self.head.is_empty()
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

    #[test]
    fn shared_frame_lengths() {
        for len in [0usize, 125, 126, 65535, 65536] {
            let data = vec![7u8; len];
            let f = SharedFrame::binary(&data);
            let mut out = BytesMut::new();
            Encoder::new(Role::Server).encode(OpCode::Binary, true, &data, &mut out);
            let out = out.freeze();
            assert_eq!(f.to_bytes(), out);
            assert_eq!(f.payload(), &data[..]);
            // Shared, not copied, above the threshold; the same bytes on the wire either way.
            let shared = SharedFrame::from_payload(OpCode::Binary, Bytes::from(data.clone()));
            assert_eq!(shared.to_bytes(), out);
            assert_eq!(shared.payload(), &data[..]);
            assert_eq!(shared.len(), out.len());
            assert_eq!(
                shared.parts().1.is_empty(),
                len <= SharedFrame::COPY_THRESHOLD
            );
        }
    }
}

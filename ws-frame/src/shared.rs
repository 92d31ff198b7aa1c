//! Frames encoded once for many receivers.

use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};

use crate::{FrameHeader, OpCode};

/// A whole server frame (header and payload) encoded once and shared by every receiver of a
/// message: cloning it, or queueing it on many sessions, only bumps reference counts.
///
/// Its plain form is at most two buffers, to be written in order ([`SharedFrame::parts`]):
/// a small frame is one buffer, header and payload together (one allocation, one copy of the
/// payload); a large payload given as [`Bytes`] ([`SharedFrame::from_payload`]) is not copied
/// at all: the header has its own small buffer and the payload is shared as it is. A server
/// session sends these bytes as they are. A client session, which must mask every frame with
/// a fresh key, copies and masks the payload instead.
///
/// A frame for many receivers ([`SharedFrame::broadcast`]) makes each of its forms the first
/// time a receiver needs it, at most once: the plain frame for sessions without
/// permessage-deflate, and (with the `deflate` feature) the compressed frame that every
/// server session which agreed permessage-deflate sends, since a server compresses each
/// message on its own (it always agrees `server_no_context_takeover`). A form no receiver
/// needs is never made.
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
///
/// // For many receivers: the same bytes on the wire, made when first asked for.
/// let many = SharedFrame::broadcast(OpCode::Binary, big);
/// assert_eq!(many.to_bytes(), frame.to_bytes());
/// ```
#[derive(Clone, Debug)]
pub struct SharedFrame {
    opcode: OpCode,
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    /// Encoded when made.
    Encoded(Plain),
    /// Each form made when a receiver first needs it.
    Lazy(Arc<Lazy>),
}

/// The plain frame's bytes.
#[derive(Clone, Debug)]
struct Plain {
    /// The header, and the payload too unless `tail` holds it.
    head: Bytes,
    /// The payload, when it is shared rather than copied; else empty.
    tail: Bytes,
    /// INVARIANT: `header_len <= head.len()`.
    header_len: u8,
}

#[derive(Debug)]
struct Lazy {
    payload: Bytes,
    plain: OnceLock<Plain>,
    #[cfg(feature = "deflate")]
    deflated: OnceLock<Deflated>,
}

/// A broadcast's compressed frame, made with one level and window.
#[cfg(feature = "deflate")]
#[derive(Debug)]
struct Deflated {
    /// `(level, window bits)` it was compressed with.
    key: (u8, u8),
    /// The whole frame (header with RSV1, compressed payload); `None` when compressing did
    /// not make the message smaller (the plain frame goes instead).
    frame: Option<Bytes>,
}

impl Plain {
    /// The header of a frame of `inline.len() + tail.len()` payload bytes, then `inline`,
    /// written into `buf` (empty) and taken out of it by `take`; `tail` (a payload shared,
    /// or empty) follows as it is.
    fn encode(
        opcode: OpCode,
        inline: &[u8],
        tail: Bytes,
        buf: &mut BytesMut,
        take: impl FnOnce(&mut BytesMut) -> Bytes,
    ) -> Self {
        debug_assert!(buf.is_empty(), "the frame is all of what is taken");
        let header = FrameHeader::new(opcode, (inline.len() + tail.len()) as u64);
        let header_len = header.encoded_len();
        buf.reserve(header_len + inline.len());
        header.encode(buf);
        buf.extend_from_slice(inline);
        Self {
            head: take(buf),
            tail,
            header_len: u8::try_from(header_len).expect("a header is at most 14 bytes"),
        }
    }

    /// A small payload copied next to its header, a large one shared as it is; written
    /// into `buf` and taken by `take` as [`Plain::encode`] does.
    fn shared_with(
        opcode: OpCode,
        payload: Bytes,
        buf: &mut BytesMut,
        take: impl FnOnce(&mut BytesMut) -> Bytes,
    ) -> Self {
        if payload.len() <= SharedFrame::COPY_THRESHOLD {
            Self::encode(opcode, &payload, Bytes::new(), buf, take)
        } else {
            Self::encode(opcode, &[], payload, buf, take)
        }
    }

    /// In a buffer of its own.
    fn copied(opcode: OpCode, payload: &[u8]) -> Self {
        Self::encode(opcode, payload, Bytes::new(), &mut BytesMut::new(), own)
    }

    /// In a buffer of its own.
    fn shared(opcode: OpCode, payload: Bytes) -> Self {
        Self::shared_with(opcode, payload, &mut BytesMut::new(), own)
    }

    /// Split off the caller's `buf`.
    fn shared_in(opcode: OpCode, payload: Bytes, buf: &mut BytesMut) -> Self {
        Self::shared_with(opcode, payload, buf, |b| b.split().freeze())
    }
}

/// The whole of a buffer made for one frame.
fn own(buf: &mut BytesMut) -> Bytes {
    std::mem::take(buf).freeze()
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
        Self {
            opcode,
            repr: Repr::Encoded(Plain::copied(opcode, payload)),
        }
    }

    /// A final data frame of `opcode` whose payload is `payload` itself when it is larger than
    /// [`Self::COPY_THRESHOLD`] (no copy: the frame holds a reference), copied like
    /// [`Self::new`] otherwise. Text must be UTF-8.
    pub fn from_payload(opcode: OpCode, payload: Bytes) -> Self {
        Self {
            opcode,
            repr: Repr::Encoded(Plain::shared(opcode, payload)),
        }
    }

    /// As [`Self::from_payload`], with the frame's own bytes (its header, and a small payload
    /// next to it) written into `buf`, which must be empty, and split off it: no allocation
    /// while `buf` has room. For a caller that keeps one buffer for the frames it makes and
    /// uses it again once they are dropped (`BytesMut::try_reclaim`), as a server does per
    /// thread, so that a reply or a broadcast allocates nothing. Text must be UTF-8.
    pub fn from_payload_in(opcode: OpCode, payload: Bytes, buf: &mut BytesMut) -> Self {
        Self {
            opcode,
            repr: Repr::Encoded(Plain::shared_in(opcode, payload, buf)),
        }
    }

    /// A final data frame of `opcode` for many receivers: nothing is encoded yet; each form
    /// (plain, compressed) is made the first time a receiver needs it, once, and shared by
    /// every receiver after (one allocation now, for the shared state). Text must be UTF-8.
    pub fn broadcast(opcode: OpCode, payload: Bytes) -> Self {
        Self {
            opcode,
            repr: Repr::Lazy(Arc::new(Lazy {
                payload,
                plain: OnceLock::new(),
                #[cfg(feature = "deflate")]
                deflated: OnceLock::new(),
            })),
        }
    }

    fn plain(&self) -> &Plain {
        match &self.repr {
            Repr::Encoded(p) => p,
            Repr::Lazy(l) => l
                .plain
                .get_or_init(|| Plain::shared(self.opcode, l.payload.clone())),
        }
    }

    /// The plain frame as the buffers to write, in order: the first holds the header (and
    /// the payload, for a copied frame); the second holds a shared payload, or is empty.
    pub fn parts(&self) -> (&Bytes, &Bytes) {
        let p = self.plain();
        (&p.head, &p.tail)
    }

    /// The plain frame in one buffer (a copy, unless it already is one).
    pub fn to_bytes(&self) -> Bytes {
        let p = self.plain();
        if p.tail.is_empty() {
            return p.head.clone();
        }
        let mut buf = BytesMut::with_capacity(self.len());
        buf.extend_from_slice(&p.head);
        buf.extend_from_slice(&p.tail);
        buf.freeze()
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        match &self.repr {
            Repr::Encoded(p) if p.tail.is_empty() => &p.head[usize::from(p.header_len)..],
            Repr::Encoded(p) => &p.tail,
            Repr::Lazy(l) => &l.payload,
        }
    }

    /// The opcode.
    pub const fn opcode(&self) -> OpCode {
        self.opcode
    }

    /// The plain frame's encoded length (header and payload).
    pub fn len(&self) -> usize {
        let payload = self.payload().len();
        FrameHeader::new(self.opcode, payload as u64).encoded_len() + payload
    }

    /// Always false: a frame has at least a header.
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// The compressed frame for receivers that compress with `level` and `window_bits`:
    /// `None` when this frame keeps no compressed form (made for one receiver), or keeps
    /// one made with other settings (the caller compresses for itself); `Some(None)` when
    /// compressing does not make the message smaller (send the plain frame).
    #[cfg(feature = "deflate")]
    pub(crate) fn deflated(&self, level: u8, window_bits: u8) -> Option<Option<&Bytes>> {
        let Repr::Lazy(l) = &self.repr else {
            return None;
        };
        let key = (level, window_bits);
        let d = l.deflated.get_or_init(|| Deflated {
            key,
            frame: crate::session::compressed_frame(self.opcode, &l.payload, level, window_bits),
        });
        (d.key == key).then_some(d.frame.as_ref())
    }
}

impl PartialEq for SharedFrame {
    /// Frames are equal when their plain forms are: the same opcode and payload.
    fn eq(&self, other: &Self) -> bool {
        self.opcode == other.opcode && self.payload() == other.payload()
    }
}

impl Eq for SharedFrame {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Encoder, Role};

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
            assert_eq!(f.len(), out.len());
            // Shared, not copied, above the threshold; the same bytes on the wire either way.
            let shared = SharedFrame::from_payload(OpCode::Binary, Bytes::from(data.clone()));
            assert_eq!(shared.to_bytes(), out);
            assert_eq!(shared.payload(), &data[..]);
            assert_eq!(shared.len(), out.len());
            assert_eq!(
                shared.parts().1.is_empty(),
                len <= SharedFrame::COPY_THRESHOLD
            );
            // Made lazily for many: the same again.
            let many = SharedFrame::broadcast(OpCode::Binary, Bytes::from(data.clone()));
            assert_eq!(many.len(), out.len());
            assert_eq!(many.to_bytes(), out);
            assert_eq!(many, f);
        }
    }
}

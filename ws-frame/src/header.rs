//! The frame header (RFC 6455 §5.2).

use bytes::BufMut;

use crate::{Error, OpCode};

/// A frame header: FIN, RSV1–3, opcode, mask and payload length. `Copy`, never allocates.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-------+-+-------------+-------------------------------+
/// |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
/// |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
/// |N|V|V|V|       |S|             |   (if payload len==126/127)   |
/// | |1|2|3|       |K|             |                               |
/// +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
/// ```
///
/// Lengths: [`FrameHeader::encode`] always writes the minimal form, and
/// [`FrameHeader::decode`] rejects any other (RFC 6455 §5.2: "the minimal number of bytes
/// MUST be used"), as well as a 64-bit length with its most significant bit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// The final fragment of a message.
    pub fin: bool,
    /// The RSV1–RSV3 bits, in their wire positions ([`Self::RSV1`], [`Self::RSV2`],
    /// [`Self::RSV3`]); 0 unless an extension defines them.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on frames sent by a client.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// The longest header: 2 bytes, an 8-byte length and a 4-byte mask.
    pub const MAX_LEN: usize = 14;
    /// The RSV1 bit (used by permessage-deflate, RFC 7692).
    pub const RSV1: u8 = 0x40;
    /// The RSV2 bit.
    pub const RSV2: u8 = 0x20;
    /// The RSV3 bit.
    pub const RSV3: u8 = 0x10;

    /// A final, unmasked header with no RSV bits.
    pub const fn new(opcode: OpCode, payload_len: u64) -> Self {
        Self {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Parses a header from the front of `src`.
    ///
    /// Returns `Ok(None)` when `src` holds only part of a header (nothing is consumed; call
    /// again with more bytes), or the header and the number of bytes it used.
    ///
    /// This checks only what the header alone decides: a reserved opcode, a non-minimal
    /// length, a 64-bit length with its top bit set. Role, RSV and control-frame rules belong
    /// to [`crate::Decoder`].
    ///
    /// # Errors
    /// [`Error::ReservedOpcode`], [`Error::NonMinimalLength`], [`Error::LengthOverflow`]; all map
    /// to close code 1002.
    pub fn decode(src: &[u8]) -> Result<Option<(Self, usize)>, Error> {
        let [b0, b1, rest @ ..] = src else {
            return Ok(None);
        };
        let fin = b0 & 0x80 != 0;
        let rsv = b0 & 0x70;
        let opcode = OpCode::from_u8(*b0)?;
        let masked = b1 & 0x80 != 0;
        let (payload_len, len_bytes) = match b1 & 0x7F {
            126 => {
                let [hi, lo, ..] = rest else { return Ok(None) };
                let len = u16::from_be_bytes([*hi, *lo]);
                if len < 126 {
                    return Err(Error::NonMinimalLength);
                }
                (u64::from(len), 2)
            }
            127 => {
                let Some(raw) = rest.first_chunk::<8>() else {
                    return Ok(None);
                };
                let len = u64::from_be_bytes(*raw);
                if len >> 63 != 0 {
                    return Err(Error::LengthOverflow);
                }
                if len <= 0xFFFF {
                    return Err(Error::NonMinimalLength);
                }
                (len, 8)
            }
            short => (u64::from(short), 0),
        };
        let rest = &rest[len_bytes..];
        let mask = if masked {
            let Some(key) = rest.first_chunk::<4>() else {
                return Ok(None);
            };
            Some(*key)
        } else {
            None
        };
        let used = 2 + len_bytes + if masked { 4 } else { 0 };
        Ok(Some((
            Self {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            used,
        )))
    }

    /// The number of bytes [`Self::encode`] writes.
    pub const fn encoded_len(&self) -> usize {
        let len_bytes = if self.payload_len < 126 {
            0
        } else if self.payload_len <= 0xFFFF {
            2
        } else {
            8
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// The header's first byte: FIN, the RSV bits and the opcode.
    #[must_use]
    pub(crate) fn first_byte(&self) -> u8 {
        u8::from(self.fin) << 7 | (self.rsv & 0x70) | self.opcode.as_u8()
    }

    /// Writes the header into a stack array; returns it and the number of bytes used.
    pub fn to_array(&self) -> ([u8; Self::MAX_LEN], usize) {
        let mut out = [0u8; Self::MAX_LEN];
        out[0] = self.first_byte();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = 2;
        if self.payload_len < 126 {
            out[1] = mask_bit | u8::try_from(self.payload_len).expect("checked < 126");
        } else if let Ok(len) = u16::try_from(self.payload_len) {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&len.to_be_bytes());
            n = 4;
        } else {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            n = 10;
        }
        if let Some(key) = self.mask {
            out[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        (out, n)
    }

    /// Appends the header, in the minimal length form, to `dst`.
    pub fn encode(&self, dst: &mut impl BufMut) {
        let (bytes, n) = self.to_array();
        dst.put_slice(&bytes[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(h: FrameHeader) {
        let (bytes, n) = h.to_array();
        assert_eq!(n, h.encoded_len());
        assert_eq!(FrameHeader::decode(&bytes[..n]), Ok(Some((h, n))));
        for short in 0..n {
            assert_eq!(
                FrameHeader::decode(&bytes[..short]),
                Ok(None),
                "{short} of {n}"
            );
        }
    }

    #[test]
    fn rfc_examples() {
        // RFC 6455 §5.7.
        let (h, n) = FrameHeader::decode(&[0x81, 0x05, 0x48]).unwrap().unwrap();
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.payload_len, n),
            (true, OpCode::Text, None, 5, 2)
        );
        let (h, n) = FrameHeader::decode(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d])
            .unwrap()
            .unwrap();
        assert_eq!(
            (h.mask, h.payload_len, n),
            (Some([0x37, 0xfa, 0x21, 0x3d]), 5, 6)
        );
        let (h, _) = FrameHeader::decode(&[0x01, 0x03]).unwrap().unwrap();
        assert!(!h.fin);
        let (h, n) = FrameHeader::decode(&[0x82, 0x7E, 0x01, 0x00])
            .unwrap()
            .unwrap();
        assert_eq!((h.opcode, h.payload_len, n), (OpCode::Binary, 256, 4));
        let (h, n) = FrameHeader::decode(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0])
            .unwrap()
            .unwrap();
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn encodes_the_minimal_form_at_each_boundary() {
        for (len, header_len) in [
            (0, 2),
            (125, 2),
            (126, 4),
            (65535, 4),
            (65536, 10),
            (u64::MAX >> 1, 10),
        ] {
            let h = FrameHeader::new(OpCode::Binary, len);
            assert_eq!(h.encoded_len(), header_len);
            roundtrip(h);
            roundtrip(FrameHeader {
                mask: Some([1, 2, 3, 4]),
                fin: false,
                rsv: 0x50,
                ..h
            });
        }
    }

    #[test]
    fn rejects_non_minimal_and_oversized_lengths() {
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7E, 0x00, 0x7D]),
            Err(Error::NonMinimalLength)
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]),
            Err(Error::NonMinimalLength)
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(Error::LengthOverflow)
        );
        assert_eq!(
            FrameHeader::decode(&[0x83, 0x00]),
            Err(Error::ReservedOpcode(3))
        );
    }
}

//! Frame opcodes (RFC 6455 §5.2, §11.8).

use crate::Error;

/// A frame opcode. Reserved opcodes (0x3–0x7, 0xB–0xF) are not representable: decoding
/// one is [`Error::ReservedOpcode`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: a continuation of the current fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: a close frame.
    Close,
    /// 0x9: a ping.
    Ping,
    /// 0xA: a pong.
    Pong,
}

impl OpCode {
    /// The 4-bit wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Parses the low 4 bits of `value` (the high bits are ignored, so a raw first header byte
    /// may be passed after masking off FIN and RSV is not required).
    ///
    /// # Errors
    /// [`Error::ReservedOpcode`] for 0x3–0x7 and 0xB–0xF.
    pub const fn from_u8(value: u8) -> Result<Self, Error> {
        match value & 0x0F {
            0x0 => Ok(Self::Continuation),
            0x1 => Ok(Self::Text),
            0x2 => Ok(Self::Binary),
            0x8 => Ok(Self::Close),
            0x9 => Ok(Self::Ping),
            0xA => Ok(Self::Pong),
            other => Err(Error::ReservedOpcode(other)),
        }
    }

    /// Close, Ping and Pong (opcodes 0x8–0xF) are control frames (RFC 6455 §5.5).
    pub const fn is_control(self) -> bool {
        self.as_u8() & 0x08 != 0
    }

    /// Text, Binary and Continuation carry message data (RFC 6455 §5.6).
    pub const fn is_data(self) -> bool {
        !self.is_control()
    }
}

impl TryFrom<u8> for OpCode {
    type Error = Error;

    fn try_from(value: u8) -> Result<Self, Error> {
        Self::from_u8(value)
    }
}

impl From<OpCode> for u8 {
    fn from(op: OpCode) -> Self {
        op.as_u8()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nibble_is_known_or_reserved() {
        for v in 0u8..=0xFF {
            match OpCode::from_u8(v) {
                Ok(op) => assert_eq!(op.as_u8(), v & 0x0F),
                Err(Error::ReservedOpcode(r)) => {
                    assert!(matches!(r, 0x3..=0x7 | 0xB..=0xF));
                    assert_eq!(r, v & 0x0F);
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
    }

    #[test]
    fn control_and_data() {
        assert!(
            OpCode::Close.is_control() && OpCode::Ping.is_control() && OpCode::Pong.is_control()
        );
        assert!(
            OpCode::Text.is_data() && OpCode::Binary.is_data() && OpCode::Continuation.is_data()
        );
    }
}

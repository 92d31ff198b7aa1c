//! Close codes (RFC 6455 §7.4, the IANA "WebSocket Close Code Number Registry") and the
//! close frame payload.

use bytes::{BufMut, Bytes};

use crate::{Error, Utf8Bytes};

/// A close status code. The code space is open, so this is a newtype with named constants
/// (in the manner of `http::StatusCode`) rather than an enum: every `u16` round-trips, and
/// [`CloseCode::is_valid_on_wire`] answers whether a peer may send it.
///
/// ```
/// use oyez_frame::CloseCode;
/// assert_eq!(CloseCode::NORMAL.as_u16(), 1000);
/// assert!(CloseCode::from_u16(4000).is_valid_on_wire());
/// assert!(!CloseCode::NO_STATUS.is_valid_on_wire()); // 1005 is never sent
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

macro_rules! close_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal;)*) => {
        impl CloseCode {
            $($(#[$doc])* pub const $name: Self = Self($value);)*

            /// The registered name of a known code (`"NORMAL"`, …), if it has one.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

close_codes! {
    /// 1000: the purpose of the connection has been fulfilled.
    NORMAL = 1000;
    /// 1001: an endpoint is going away (server shutdown, page navigation, idle timeout).
    GOING_AWAY = 1001;
    /// 1002: the peer violated the protocol.
    PROTOCOL_ERROR = 1002;
    /// 1003: a data type the endpoint cannot accept (e.g. binary where only text is understood).
    UNSUPPORTED_DATA = 1003;
    /// 1004: reserved; never on the wire.
    RESERVED = 1004;
    /// 1005: no status code was present in the close frame; never on the wire.
    NO_STATUS = 1005;
    /// 1006: the connection closed without a close frame; never on the wire.
    ABNORMAL = 1006;
    /// 1007: a message's data was inconsistent with its type (e.g. invalid UTF-8 in text).
    INVALID_PAYLOAD = 1007;
    /// 1008: a message violated the endpoint's policy.
    POLICY_VIOLATION = 1008;
    /// 1009: a message was too big to process.
    MESSAGE_TOO_BIG = 1009;
    /// 1010: the client expected the server to negotiate an extension.
    MANDATORY_EXTENSION = 1010;
    /// 1011: the server hit an unexpected condition.
    INTERNAL_ERROR = 1011;
    /// 1012: the service is restarting (IANA).
    SERVICE_RESTART = 1012;
    /// 1013: try again later (IANA).
    TRY_AGAIN_LATER = 1013;
    /// 1014: the server, acting as a gateway, got an invalid response (IANA).
    BAD_GATEWAY = 1014;
    /// 1015: the TLS handshake failed; never on the wire.
    TLS_HANDSHAKE = 1015;
}

impl CloseCode {
    /// Any `u16`; whether it may be sent is a separate question ([`Self::is_valid_on_wire`]).
    pub const fn from_u16(code: u16) -> Self {
        Self(code)
    }

    /// The numeric value.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether this code may appear in a close frame (RFC 6455 §7.4.1–§7.4.2, IANA registry):
    /// 1000–1003, 1007–1014 and 3000–4999. Never 0–999, 1004–1006, 1015, 1016–2999 or 5000+.
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl PartialEq<u16> for CloseCode {
    fn eq(&self, other: &u16) -> bool {
        self.0 == *other
    }
}

impl core::fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{}({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

impl core::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The most bytes a close reason may have: a control frame carries at most 125 bytes, two of
/// which are the code.
pub const MAX_CLOSE_REASON: usize = 123;

/// A parsed close frame payload (RFC 6455 §5.5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The code, or `None` for an empty close payload.
    pub code: Option<CloseCode>,
    /// The reason, valid UTF-8, possibly empty.
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// Parses and validates a close frame's (already unmasked) payload.
    ///
    /// # Errors
    /// - a 1-byte payload: [`Error::InvalidClosePayload`] (close code 1002);
    /// - a code that may not be on the wire: [`Error::InvalidCloseCode`] (1002);
    /// - a reason that is not UTF-8: [`Error::InvalidUtf8`] (1007);
    /// - more than 125 bytes: [`Error::ControlTooLong`] (1002).
    pub fn parse(payload: Bytes) -> Result<Self, Error> {
        validate_close_payload(&payload)?;
        if payload.is_empty() {
            return Ok(Self {
                code: None,
                reason: Utf8Bytes::new(),
            });
        }
        let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
        let reason = Utf8Bytes::from_validated(payload.slice(2..));
        Ok(Self {
            code: Some(code),
            reason,
        })
    }
}

/// Checks a close payload without splitting it: length, code and reason encoding.
pub(crate) fn validate_close_payload(payload: &[u8]) -> Result<(), Error> {
    match payload {
        [] => Ok(()),
        [_] => Err(Error::InvalidClosePayload),
        [hi, lo, reason @ ..] => {
            if payload.len() > 125 {
                return Err(Error::ControlTooLong(payload.len() as u64));
            }
            let code = u16::from_be_bytes([*hi, *lo]);
            if !CloseCode(code).is_valid_on_wire() {
                return Err(Error::InvalidCloseCode(code));
            }
            core::str::from_utf8(reason).map_err(|_| Error::InvalidUtf8)?;
            Ok(())
        }
    }
}

/// Writes a close payload: the code, then `reason` cut to at most [`MAX_CLOSE_REASON`] bytes
/// on a character boundary. `None` writes an empty payload.
pub(crate) fn put_close_payload(code: Option<CloseCode>, reason: &str, dst: &mut impl BufMut) {
    if let Some(code) = code {
        dst.put_u16(code.0);
        dst.put_slice(truncate_reason(reason).as_bytes());
    }
}

/// `reason` cut to at most [`MAX_CLOSE_REASON`] bytes, on a character boundary.
pub(crate) fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= MAX_CLOSE_REASON {
        return reason;
    }
    let mut end = MAX_CLOSE_REASON;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_table() {
        let valid: Vec<u16> = (0..=u16::MAX)
            .filter(|c| CloseCode(*c).is_valid_on_wire())
            .collect();
        assert_eq!(valid.len(), 4 + 8 + 2000);
        for c in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!CloseCode(c).is_valid_on_wire(), "{c}");
        }
        for c in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ] {
            assert!(CloseCode(c).is_valid_on_wire(), "{c}");
        }
    }

    #[test]
    fn parse_rules() {
        assert_eq!(CloseFrame::parse(Bytes::new()).unwrap().code, None);
        assert_eq!(
            CloseFrame::parse(Bytes::from_static(&[0x03])),
            Err(Error::InvalidClosePayload)
        );
        assert_eq!(
            CloseFrame::parse(Bytes::from_static(&[0x03, 0xED])),
            Err(Error::InvalidCloseCode(1005))
        );
        assert_eq!(
            CloseFrame::parse(Bytes::from_static(&[0x03, 0xE8, 0xFF])),
            Err(Error::InvalidUtf8)
        );
        let ok = CloseFrame::parse(Bytes::from_static(b"\x03\xe8bye")).unwrap();
        assert_eq!(ok.code, Some(CloseCode::NORMAL));
        assert_eq!(ok.reason.as_str(), "bye");
        let long = Bytes::from(
            vec![0x03, 0xE8]
                .into_iter()
                .chain(vec![b'a'; 124])
                .collect::<Vec<_>>(),
        );
        assert_eq!(CloseFrame::parse(long), Err(Error::ControlTooLong(126)));
    }

    #[test]
    fn reason_is_truncated_on_a_char_boundary() {
        let reason = "é".repeat(100); // 200 bytes
        let cut = truncate_reason(&reason);
        assert!(cut.len() <= MAX_CLOSE_REASON && cut.len() == 122);
        let mut buf = Vec::new();
        put_close_payload(Some(CloseCode::GOING_AWAY), &reason, &mut buf);
        assert_eq!(buf.len(), 124);
        assert!(CloseFrame::parse(Bytes::from(buf)).is_ok());
    }

    #[test]
    fn debug_names_known_codes() {
        assert_eq!(
            format!("{:?}", CloseCode::MESSAGE_TOO_BIG),
            "1009(MESSAGE_TOO_BIG)"
        );
        assert_eq!(format!("{:?}", CloseCode::from_u16(4321)), "4321");
    }
}

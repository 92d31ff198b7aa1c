//! The crate's one error type, and how each error reaches the wire.

use crate::CloseCode;

/// Everything that can go wrong in the codec, the session or the handshake.
///
/// Every error caused by the peer tells the caller what to put on the wire:
/// [`Error::close_code`] for errors after the upgrade (send a close frame with it, then stop),
/// [`Error::http_status`] for errors in the opening handshake (send that response, then
/// close). A normal close is never an error: it is [`crate::Event::Closed`].
///
/// Errors are small and `Copy`, and carry numbers, never strings, so the error path does not
/// allocate. The `Display` wording is not part of the API.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Error {
    // ---- frame protocol errors: close code 1002 ----
    /// A control frame (close, ping, pong) with FIN clear (RFC 6455 §5.5).
    #[error("fragmented control frame")]
    ControlFragmented,
    /// A control frame with more than 125 bytes of payload (RFC 6455 §5.5).
    #[error("control frame payload of {0} bytes exceeds 125")]
    ControlTooLong(u64),
    /// A close frame with a 1-byte payload (RFC 6455 §5.5.1).
    #[error("close frame payload of 1 byte")]
    InvalidClosePayload,
    /// A close frame with a code that may not be sent (RFC 6455 §7.4).
    #[error("close code {0} is not allowed on the wire")]
    InvalidCloseCode(u16),
    /// A 64-bit payload length with its most significant bit set (RFC 6455 §5.2).
    #[error("64-bit payload length with the top bit set")]
    LengthOverflow,
    /// A server received a frame the client failed to mask (RFC 6455 §5.1).
    #[error("unmasked frame from a client")]
    MaskMissing,
    /// A client received a masked frame (RFC 6455 §5.1).
    #[error("masked frame from a server")]
    MaskUnexpected,
    /// A payload length not written in its minimal form (RFC 6455 §5.2).
    #[error("payload length not in its minimal form")]
    NonMinimalLength,
    /// A new text or binary frame while a fragmented message is still open (RFC 6455 §5.4).
    #[error("new data frame while a fragmented message is open")]
    ExpectedContinuation,
    /// A continuation frame with no fragmented message open (RFC 6455 §5.4).
    #[error("continuation frame with no message open")]
    UnexpectedContinuation,
    /// RSV bits set that no negotiated extension defines (RFC 6455 §5.2).
    #[error("reserved bits {0:#04x} set without a negotiated extension")]
    ReservedBits(u8),
    /// A reserved opcode: 0x3–0x7 or 0xB–0xF (RFC 6455 §5.2).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),

    // ---- invalid payload: close code 1007 ----
    /// A compressed message (permessage-deflate, RFC 7692) that is not a valid deflate
    /// stream.
    #[error("invalid compressed data")]
    InvalidCompressedData,
    /// Text (a text message or a close reason) that is not UTF-8 (RFC 6455 §8.1).
    #[error("invalid UTF-8 in text payload")]
    InvalidUtf8,

    // ---- limits: close code 1009 ----
    /// A frame payload over [`crate::Limits::max_frame_payload`].
    #[error("frame payload of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// The declared payload length.
        len: u64,
        /// The limit.
        max: u32,
    },
    /// A message over [`crate::Limits::max_message_size`].
    #[error("message of at least {len} bytes exceeds the limit of {max}")]
    MessageTooLarge {
        /// The message length so far, including the frame that crossed the limit.
        len: u64,
        /// The limit.
        max: u32,
    },
    /// A message in more frames than [`crate::Limits::max_fragments`].
    #[error("message in more than {max} fragments")]
    TooManyFragments {
        /// The limit.
        max: u32,
    },

    // ---- the local application: nothing to send, these are caller errors ----
    /// A send after the close handshake began, or after a fatal error.
    #[error("the connection is closing")]
    Closing,
    /// A payload too large for the frame kind the caller asked to send (a ping or pong over
    /// 125 bytes).
    #[error("payload of {0} bytes too large for a control frame")]
    PayloadTooLarge(u64),
    /// A close code the caller may not send ([`CloseCode::is_valid_on_wire`]).
    #[error("close code {0} may not be sent")]
    CloseCodeNotSendable(u16),

    // ---- the server side of the opening handshake ----
    /// The request head is larger than [`crate::Limits::max_handshake_bytes`] (HTTP 431).
    #[error("handshake header larger than the limit")]
    HandshakeTooLarge,
    /// More header fields than [`crate::Limits::max_handshake_headers`] (HTTP 431).
    #[error("too many handshake header fields")]
    TooManyHeaders,
    /// The bytes are not an HTTP/1.x request or response head (HTTP 400).
    #[error("malformed HTTP head")]
    MalformedHttp,
    /// The request method is not GET (HTTP 400).
    #[error("the upgrade request method is not GET")]
    MethodNotGet,
    /// The request is not HTTP/1.1 (HTTP 400).
    #[error("the upgrade request is not HTTP/1.1")]
    HttpVersion,
    /// No Host header (HTTP 400).
    #[error("missing Host header")]
    MissingHost,
    /// No `websocket` token in an Upgrade header (HTTP 426).
    #[error("missing `Upgrade: websocket`")]
    MissingUpgrade,
    /// No `upgrade` token in a Connection header (HTTP 400).
    #[error("missing `Connection: upgrade`")]
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Version` is absent or not 13 (HTTP 426 with `Sec-WebSocket-Version: 13`).
    #[error("unsupported Sec-WebSocket-Version")]
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` is absent, repeated, or not base64 of 16 bytes (HTTP 400).
    #[error("missing or invalid Sec-WebSocket-Key")]
    InvalidKey,

    // ---- the client side of the opening handshake (no response is sent) ----
    /// The server answered with a status other than 101.
    #[error("the server answered {0} instead of 101")]
    UnexpectedStatus(u16),
    /// The 101 response lacks `Upgrade: websocket`.
    #[error("the 101 response lacks `Upgrade: websocket`")]
    ResponseMissingUpgrade,
    /// The 101 response lacks `Connection: upgrade`.
    #[error("the 101 response lacks `Connection: upgrade`")]
    ResponseMissingConnectionUpgrade,
    /// `Sec-WebSocket-Accept` is absent or does not match the key we sent.
    #[error("Sec-WebSocket-Accept does not match the key")]
    AcceptMismatch,
    /// The server chose a subprotocol we did not offer.
    #[error("the server chose a subprotocol that was not offered")]
    UnofferedProtocol,
    /// The server named an extension we did not offer.
    #[error("the server chose an extension that was not offered")]
    UnofferedExtension,
    /// The server's permessage-deflate answer is not one the offer allows (RFC 7692 §7.1): a
    /// malformed header, the extension twice, an unknown, repeated or invalid parameter, a
    /// window larger than asked for.
    #[error("the server's permessage-deflate answer does not fit the offer")]
    InvalidExtensionResponse,
}

impl Error {
    /// The close code to send for an error raised after the upgrade (RFC 6455 §7.4.1): 1002
    /// for protocol violations, 1007 for invalid UTF-8, 1009 for limits. `None` for handshake
    /// errors and for the caller's own mistakes, which put nothing on the wire.
    pub const fn close_code(&self) -> Option<CloseCode> {
        Some(match self {
            Self::ControlFragmented
            | Self::ControlTooLong(_)
            | Self::InvalidClosePayload
            | Self::InvalidCloseCode(_)
            | Self::LengthOverflow
            | Self::MaskMissing
            | Self::MaskUnexpected
            | Self::NonMinimalLength
            | Self::ExpectedContinuation
            | Self::UnexpectedContinuation
            | Self::ReservedBits(_)
            | Self::ReservedOpcode(_) => CloseCode::PROTOCOL_ERROR,
            Self::InvalidCompressedData | Self::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            Self::FrameTooLarge { .. }
            | Self::MessageTooLarge { .. }
            | Self::TooManyFragments { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => return None,
        })
    }

    /// The HTTP status to answer a failed upgrade request with: 400, 426 or 431. `None` for
    /// errors that are not about a request we received.
    pub const fn http_status(&self) -> Option<u16> {
        Some(match self {
            Self::HandshakeTooLarge | Self::TooManyHeaders => 431,
            Self::MalformedHttp
            | Self::MethodNotGet
            | Self::HttpVersion
            | Self::MissingHost
            | Self::MissingConnectionUpgrade
            | Self::InvalidKey => 400,
            Self::MissingUpgrade | Self::UnsupportedVersion => 426,
            _ => return None,
        })
    }

    /// Whether the peer caused this error (as opposed to the local application).
    pub const fn is_peer_error(&self) -> bool {
        !matches!(
            self,
            Self::Closing | Self::PayloadTooLarge(_) | Self::CloseCodeNotSendable(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_small() {
        assert!(size_of::<Error>() <= 24, "{}", size_of::<Error>());
    }

    #[test]
    fn every_peer_error_maps_to_exactly_one_wire_response() {
        let all = [
            Error::ControlFragmented,
            Error::ControlTooLong(126),
            Error::InvalidClosePayload,
            Error::InvalidCloseCode(1005),
            Error::LengthOverflow,
            Error::MaskMissing,
            Error::MaskUnexpected,
            Error::NonMinimalLength,
            Error::ExpectedContinuation,
            Error::UnexpectedContinuation,
            Error::ReservedBits(0x40),
            Error::ReservedOpcode(3),
            Error::InvalidCompressedData,
            Error::InvalidUtf8,
            Error::FrameTooLarge { len: 2, max: 1 },
            Error::MessageTooLarge { len: 2, max: 1 },
            Error::TooManyFragments { max: 1 },
            Error::HandshakeTooLarge,
            Error::TooManyHeaders,
            Error::MalformedHttp,
            Error::MethodNotGet,
            Error::HttpVersion,
            Error::MissingHost,
            Error::MissingUpgrade,
            Error::MissingConnectionUpgrade,
            Error::UnsupportedVersion,
            Error::InvalidKey,
        ];
        for e in all {
            assert!(e.is_peer_error());
            assert!(
                e.close_code().is_some() != e.http_status().is_some(),
                "{e:?} must map to a close code or an HTTP status, not both"
            );
        }
        assert_eq!(
            Error::InvalidUtf8.close_code(),
            Some(CloseCode::INVALID_PAYLOAD)
        );
        assert_eq!(
            Error::InvalidCompressedData.close_code(),
            Some(CloseCode::INVALID_PAYLOAD)
        );
        assert_eq!(
            Error::TooManyFragments { max: 1 }.close_code(),
            Some(CloseCode::MESSAGE_TOO_BIG)
        );
        assert_eq!(Error::UnsupportedVersion.http_status(), Some(426));
        assert_eq!(Error::HandshakeTooLarge.http_status(), Some(431));
        for e in [
            Error::Closing,
            Error::PayloadTooLarge(200),
            Error::CloseCodeNotSendable(1005),
        ] {
            assert!(!e.is_peer_error() && e.close_code().is_none() && e.http_status().is_none());
        }
        // Client-side handshake failures put nothing on the wire.
        for e in [
            Error::UnexpectedStatus(404),
            Error::AcceptMismatch,
            Error::UnofferedProtocol,
            Error::UnofferedExtension,
            Error::InvalidExtensionResponse,
        ] {
            assert!(e.close_code().is_none() && e.http_status().is_none());
        }
    }
}

//! The messages a WebSocket sends and receives.

use bytes::Bytes;
use oyez_frame::{CloseCode, CloseFrame, Utf8Bytes};

/// A message, or a control frame, as the application sees it (the shape tungstenite users
/// know). Payloads are reference-counted: a received message is a view of the read buffer,
/// with no copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message: valid UTF-8 (checked as it arrived).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping. A received ping has already been answered (unless
    /// [`oyez_frame::session::Config::auto_pong`] is off); one you send needs no answer.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame. Received: the peer's (`None` if it carried no code); the close
    /// handshake is complete and the stream ends after it. Sent: starts the close handshake
    /// (`None` sends code 1000).
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::Binary(data.into())
    }

    /// A close frame with `code` and `reason`.
    pub fn close(code: CloseCode, reason: impl Into<Utf8Bytes>) -> Self {
        Self::Close(Some(CloseFrame {
            code: Some(code),
            reason: reason.into(),
        }))
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t.as_str()),
            _ => None,
        }
    }

    /// The payload's bytes (a close frame's reason).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(t) => t.as_bytes(),
            Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b,
            Self::Close(Some(f)) => f.reason.as_bytes(),
            Self::Close(None) => &[],
        }
    }

    /// Whether this is a text or binary message (not a control frame).
    pub const fn is_data(&self) -> bool {
        matches!(self, Self::Text(_) | Self::Binary(_))
    }

    /// Whether this is a close frame.
    pub const fn is_close(&self) -> bool {
        matches!(self, Self::Close(_))
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self::Text(text.into())
    }
}

impl From<&'static str> for Message {
    fn from(text: &'static str) -> Self {
        Self::Text(text.into())
    }
}

impl From<Utf8Bytes> for Message {
    fn from(text: Utf8Bytes) -> Self {
        Self::Text(text)
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Self {
        Self::Binary(data)
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Self::Binary(data.into())
    }
}

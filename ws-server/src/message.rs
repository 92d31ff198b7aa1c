//! Messages as the application sees them.

use bytes::Bytes;
use oyez_frame::{OpCode, SharedFrame, Utf8Bytes};

/// A whole WebSocket data message: text or binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(Utf8Bytes::from(text.into()))
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::Binary(data.into())
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(t) => t.as_bytes(),
            Self::Binary(b) => b,
        }
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t.as_str()),
            Self::Binary(_) => None,
        }
    }

    /// Whether this is a text message.
    pub const fn is_text(&self) -> bool {
        matches!(self, Self::Text(_))
    }

    /// Encodes the message once as a server frame, to be shared by every recipient. A large
    /// payload is not copied: the frame shares it
    /// ([`SharedFrame::from_payload`]). The frame's own bytes go into the calling thread's
    /// frame arena, so a steady stream of frames allocates nothing (see [`crate::_design`]).
    pub fn to_frame(&self) -> SharedFrame {
        match self {
            Self::Text(t) => crate::arena::frame(OpCode::Text, t.clone().into_bytes()),
            Self::Binary(b) => crate::arena::frame(OpCode::Binary, b.clone()),
        }
    }

    /// The message as a frame for many recipients ([`SharedFrame::broadcast`]): its plain
    /// and compressed (permessage-deflate) forms are each made once, when a recipient first
    /// needs it.
    pub fn to_broadcast_frame(&self) -> SharedFrame {
        match self {
            Self::Text(t) => SharedFrame::broadcast(OpCode::Text, t.clone().into_bytes()),
            Self::Binary(b) => SharedFrame::broadcast(OpCode::Binary, b.clone()),
        }
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Self::text(s)
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Self::text(s)
    }
}

impl From<Vec<u8>> for Message {
    fn from(v: Vec<u8>) -> Self {
        Self::Binary(v.into())
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Self::Binary(b)
    }
}

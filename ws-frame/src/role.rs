//! Which end of the connection we are.

/// Which end of a WebSocket connection this codec serves; it decides masking
/// (RFC 6455 §5.1, §5.3).
///
/// A [`Role::Client`] masks every frame it sends and rejects masked frames it receives;
/// a [`Role::Server`] sends unmasked frames and rejects unmasked ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that sent the opening handshake.
    Client,
    /// The end that accepted the opening handshake.
    Server,
}

impl Role {
    /// Whether frames *sent* by this role carry a mask.
    pub const fn masks_outgoing(self) -> bool {
        matches!(self, Self::Client)
    }

    /// Whether frames *received* by this role must carry a mask.
    pub const fn expects_masked(self) -> bool {
        matches!(self, Self::Server)
    }

    /// The other end.
    pub const fn peer(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }
}

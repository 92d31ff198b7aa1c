//! Resource limits, each with a documented default.

/// Resource limits for decoding and for the opening handshake.
///
/// Every limit is checked *before* memory is reserved for the thing it limits, so a peer can
/// never make the codec allocate more than these allow. The defaults are explained in
/// [`crate::_design`]. Limits are kept as 32-bit values (every session holds a copy, so they
/// are kept small): a limit set above 4 GiB − 1 is 4 GiB − 1.
///
/// ```
/// use oyez_frame::Limits;
/// let limits = Limits::default()
///     .with_max_frame_payload(1 << 20)
///     .with_max_message_size(4 << 20);
/// assert_eq!(limits.max_frame_payload(), 1 << 20);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    max_frame_payload: u32,
    max_message_size: u32,
    max_fragments: u32,
    max_handshake_bytes: u32,
    max_handshake_headers: u32,
}

/// A limit as stored: saturated to `u32::MAX`.
#[allow(clippy::cast_possible_truncation)] // guarded: `n <= u32::MAX` on the cast's branch
const fn narrow(n: usize) -> u32 {
    if n > u32::MAX as usize {
        u32::MAX
    } else {
        n as u32
    }
}

/// A stored limit as a `usize` (lossless: every supported target has pointers of 32 bits or
/// more).
const fn widen(n: u32) -> usize {
    n as usize
}

impl Limits {
    /// Default [`Limits::max_frame_payload`]: 16 MiB.
    pub const DEFAULT_MAX_FRAME_PAYLOAD: usize = 16 << 20;
    /// Default [`Limits::max_message_size`]: 64 MiB.
    pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 << 20;
    /// Default [`Limits::max_fragments`]: 131,072.
    pub const DEFAULT_MAX_FRAGMENTS: usize = 1 << 17;
    /// Default [`Limits::max_handshake_bytes`]: 16 KiB.
    pub const DEFAULT_MAX_HANDSHAKE_BYTES: usize = 16 << 10;
    /// Default [`Limits::max_handshake_headers`]: 64.
    pub const DEFAULT_MAX_HANDSHAKE_HEADERS: usize = 64;

    /// The largest payload of a single frame (data or control). A larger frame fails with
    /// close code 1009 as soon as its header is read.
    pub const fn max_frame_payload(&self) -> usize {
        widen(self.max_frame_payload)
    }

    /// The largest message, summed over its fragments. A larger message fails with 1009 as soon
    /// as the header of the fragment that crosses the limit is read.
    pub const fn max_message_size(&self) -> usize {
        widen(self.max_message_size)
    }

    /// The most frames one data message may span. A flood of tiny fragments costs per-frame
    /// work without growing the message; more fail with 1009.
    pub const fn max_fragments(&self) -> usize {
        widen(self.max_fragments)
    }

    /// The largest HTTP head (request or response line plus headers plus the blank line) of
    /// the opening handshake. A larger one fails with HTTP 431.
    pub const fn max_handshake_bytes(&self) -> usize {
        widen(self.max_handshake_bytes)
    }

    /// The most header fields in the opening handshake. More fail with HTTP 431.
    pub const fn max_handshake_headers(&self) -> usize {
        widen(self.max_handshake_headers)
    }

    /// Sets [`Limits::max_frame_payload`].
    #[must_use]
    pub const fn with_max_frame_payload(mut self, bytes: usize) -> Self {
        self.max_frame_payload = narrow(bytes);
        self
    }

    /// Sets [`Limits::max_message_size`].
    #[must_use]
    pub const fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = narrow(bytes);
        self
    }

    /// Sets [`Limits::max_fragments`] (at least 1).
    #[must_use]
    pub const fn with_max_fragments(mut self, frames: usize) -> Self {
        self.max_fragments = if frames == 0 { 1 } else { narrow(frames) };
        self
    }

    /// Sets [`Limits::max_handshake_bytes`].
    #[must_use]
    pub const fn with_max_handshake_bytes(mut self, bytes: usize) -> Self {
        self.max_handshake_bytes = narrow(bytes);
        self
    }

    /// Sets [`Limits::max_handshake_headers`].
    #[must_use]
    pub const fn with_max_handshake_headers(mut self, headers: usize) -> Self {
        self.max_handshake_headers = narrow(headers);
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_payload: narrow(Self::DEFAULT_MAX_FRAME_PAYLOAD),
            max_message_size: narrow(Self::DEFAULT_MAX_MESSAGE_SIZE),
            max_fragments: narrow(Self::DEFAULT_MAX_FRAGMENTS),
            max_handshake_bytes: narrow(Self::DEFAULT_MAX_HANDSHAKE_BYTES),
            max_handshake_headers: narrow(Self::DEFAULT_MAX_HANDSHAKE_HEADERS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_round_trip_and_saturate() {
        let l = Limits::default()
            .with_max_frame_payload(123)
            .with_max_message_size(usize::MAX)
            .with_max_fragments(0);
        assert_eq!(l.max_frame_payload(), 123);
        assert_eq!(l.max_message_size(), u32::MAX as usize);
        assert_eq!(l.max_fragments(), 1);
        assert_eq!(Limits::default().max_frame_payload(), 16 << 20);
    }
}

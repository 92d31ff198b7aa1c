//! What an endpoint is willing to negotiate ([`DeflateConfig`]), what the handshake agreed
//! on the wire ([`Params`]), and the two together as a session applies them ([`Agreed`]).

use core::fmt;

/// The smallest and largest LZ77 window, as base-2 logarithms (RFC 7692 §7.1.2: 8 to 15).
pub(crate) const MIN_WINDOW_BITS: u8 = 8;
pub(crate) const MAX_WINDOW_BITS: u8 = 15;

/// One endpoint's permessage-deflate settings: the compression level, the smallest message
/// worth compressing, the windows it will use or allow, and (for a server) whether clients
/// may keep their compression context between messages.
///
/// The defaults suit a server with many mostly idle connections: level 3, messages from 64
/// bytes, 32 KiB windows, and no client context takeover (the server asks every client for
/// `client_no_context_takeover`, so that it keeps no inflate state between messages).
///
/// ```
/// use oyez_frame::deflate::DeflateConfig;
/// let config = DeflateConfig::default().with_level(1).with_min_size(256);
/// assert_eq!((config.level(), config.min_size()), (1, 256));
/// assert!(!config.client_context_takeover());
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateConfig {
    level: u8,
    min_size: u32,
    max_window_bits: u8,
    client_context_takeover: bool,
    client_max_window_bits: u8,
    request_server_no_context_takeover: bool,
    request_server_max_window_bits: Option<u8>,
}

impl DeflateConfig {
    /// Default [`DeflateConfig::level`]: 3. Measured with zlib-rs on chat JSON (the
    /// `deflate` bench): level 1 (static Huffman codes only) saves a tenth of a chat message
    /// where 2 and up save a quarter; 3 costs what 6 does on small messages and half of it
    /// on 16 KiB, for output at most 5 % larger.
    pub const DEFAULT_LEVEL: u8 = 3;
    /// Default [`DeflateConfig::min_size`]: 64 bytes.
    pub const DEFAULT_MIN_SIZE: usize = DEFAULT_MIN_SIZE as usize;

    /// The compression level, 0 (stored, no compression) to 9 (smallest, slowest).
    pub const fn level(&self) -> u8 {
        self.level
    }

    /// Messages shorter than this many bytes are sent uncompressed (a deflate stream has a
    /// few bytes of overhead; tiny messages gain nothing). A message whose compressed form is
    /// not smaller than itself is sent uncompressed too.
    pub const fn min_size(&self) -> usize {
        self.min_size as usize
    }

    /// The largest LZ77 window this endpoint compresses with, as a base-2 logarithm (8 to
    /// 15; default 15, 32 KiB). A server also tells clients (`server_max_window_bits`) when
    /// it is below 15.
    pub const fn max_window_bits(&self) -> u8 {
        self.max_window_bits
    }

    /// Server: whether clients may keep their compression context between messages (default
    /// false). When false, the server answers every offer with `client_no_context_takeover`
    /// and keeps no inflate state between a client's messages. When true, a client that
    /// keeps its context costs the server an inflate window of up to
    /// [`DeflateConfig::client_max_window_bits`] for as long as it is connected (see the
    /// memory table in [`crate::deflate`]).
    pub const fn client_context_takeover(&self) -> bool {
        self.client_context_takeover
    }

    /// Server, with client context takeover allowed: the largest window a client may keep
    /// (8 to 15, default 15). A client that offers `client_max_window_bits` is asked for at
    /// most this; one that does not (so might use 15) is asked for
    /// `client_no_context_takeover` when this is below 15.
    pub const fn client_max_window_bits(&self) -> u8 {
        self.client_max_window_bits
    }

    /// Client: whether the offer asks the server for `server_no_context_takeover` (default
    /// false; a server that keeps its context costs the client a window of up to 32 KiB).
    pub const fn request_server_no_context_takeover(&self) -> bool {
        self.request_server_no_context_takeover
    }

    /// Client: the `server_max_window_bits` the offer asks for, if any (default none).
    pub const fn request_server_max_window_bits(&self) -> Option<u8> {
        self.request_server_max_window_bits
    }

    /// Sets [`DeflateConfig::level`] (at most 9).
    #[must_use]
    pub const fn with_level(mut self, level: u8) -> Self {
        self.level = if level > 9 { 9 } else { level };
        self
    }

    /// Sets [`DeflateConfig::min_size`].
    #[must_use]
    #[allow(clippy::cast_possible_truncation)] // guarded: saturated at u32::MAX
    pub const fn with_min_size(mut self, bytes: usize) -> Self {
        self.min_size = if bytes > u32::MAX as usize {
            u32::MAX
        } else {
            bytes as u32
        };
        self
    }

    /// Sets [`DeflateConfig::max_window_bits`] (clamped to 8..=15).
    #[must_use]
    pub const fn with_max_window_bits(mut self, bits: u8) -> Self {
        self.max_window_bits = clamp_bits(bits);
        self
    }

    /// Sets [`DeflateConfig::client_context_takeover`].
    #[must_use]
    pub const fn with_client_context_takeover(mut self, allow: bool) -> Self {
        self.client_context_takeover = allow;
        self
    }

    /// Sets [`DeflateConfig::client_max_window_bits`] (clamped to 8..=15).
    #[must_use]
    pub const fn with_client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = clamp_bits(bits);
        self
    }

    /// Sets [`DeflateConfig::request_server_no_context_takeover`].
    #[must_use]
    pub const fn with_request_server_no_context_takeover(mut self, on: bool) -> Self {
        self.request_server_no_context_takeover = on;
        self
    }

    /// Sets [`DeflateConfig::request_server_max_window_bits`] (clamped to 8..=15).
    #[must_use]
    pub const fn with_request_server_max_window_bits(mut self, bits: Option<u8>) -> Self {
        self.request_server_max_window_bits = match bits {
            Some(b) => Some(clamp_bits(b)),
            None => None,
        };
        self
    }
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            level: Self::DEFAULT_LEVEL,
            min_size: DEFAULT_MIN_SIZE,
            max_window_bits: MAX_WINDOW_BITS,
            client_context_takeover: false,
            client_max_window_bits: MAX_WINDOW_BITS,
            request_server_no_context_takeover: false,
            request_server_max_window_bits: None,
        }
    }
}

/// [`DeflateConfig::DEFAULT_MIN_SIZE`] as stored.
const DEFAULT_MIN_SIZE: u32 = 64;

const fn clamp_bits(bits: u8) -> u8 {
    if bits < MIN_WINDOW_BITS {
        MIN_WINDOW_BITS
    } else if bits > MAX_WINDOW_BITS {
        MAX_WINDOW_BITS
    } else {
        bits
    }
}

/// The permessage-deflate parameters a handshake agreed, as the server's response states
/// them (RFC 7692 §7.1): whether each side resets its compression context after every
/// message, and the LZ77 window each side compresses with (`None`: not stated, 15).
///
/// Its `Display` is the `Sec-WebSocket-Extensions` value of the server's response.
///
/// ```
/// use oyez_frame::deflate::Params;
/// let p = Params::default()
///     .with_server_no_context_takeover(true)
///     .with_client_max_window_bits(Some(10));
/// assert_eq!(
///     p.to_string(),
///     "permessage-deflate; server_no_context_takeover; client_max_window_bits=10"
/// );
/// assert_eq!((p.server_window_bits(), p.client_window_bits()), (15, 10));
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    client_max_window_bits: Option<u8>,
}

impl Params {
    /// Whether the server resets its compression context after every message.
    pub const fn server_no_context_takeover(&self) -> bool {
        self.server_no_context_takeover
    }

    /// Whether the client resets its compression context after every message.
    pub const fn client_no_context_takeover(&self) -> bool {
        self.client_no_context_takeover
    }

    /// `server_max_window_bits` as stated, if it was.
    pub const fn server_max_window_bits(&self) -> Option<u8> {
        self.server_max_window_bits
    }

    /// `client_max_window_bits` as stated, if it was.
    pub const fn client_max_window_bits(&self) -> Option<u8> {
        self.client_max_window_bits
    }

    /// The window the server compresses with (15 unless stated).
    pub const fn server_window_bits(&self) -> u8 {
        match self.server_max_window_bits {
            Some(b) => b,
            None => MAX_WINDOW_BITS,
        }
    }

    /// The window the client compresses with (15 unless stated).
    pub const fn client_window_bits(&self) -> u8 {
        match self.client_max_window_bits {
            Some(b) => b,
            None => MAX_WINDOW_BITS,
        }
    }

    /// Sets [`Params::server_no_context_takeover`].
    #[must_use]
    pub const fn with_server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }

    /// Sets [`Params::client_no_context_takeover`].
    #[must_use]
    pub const fn with_client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }

    /// Sets [`Params::server_max_window_bits`] (clamped to 8..=15).
    #[must_use]
    pub const fn with_server_max_window_bits(mut self, bits: Option<u8>) -> Self {
        self.server_max_window_bits = match bits {
            Some(b) => Some(clamp_bits(b)),
            None => None,
        };
        self
    }

    /// Sets [`Params::client_max_window_bits`] (clamped to 8..=15).
    #[must_use]
    pub const fn with_client_max_window_bits(mut self, bits: Option<u8>) -> Self {
        self.client_max_window_bits = match bits {
            Some(b) => Some(clamp_bits(b)),
            None => None,
        };
        self
    }

    /// These parameters with this endpoint's `config`: what [`crate::Session::set_deflate`]
    /// takes.
    pub const fn agreed(self, config: &DeflateConfig) -> Agreed {
        Agreed {
            params: self,
            level: config.level,
            min_size: config.min_size,
            max_window_bits: config.max_window_bits,
        }
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("permessage-deflate")?;
        if self.server_no_context_takeover {
            f.write_str("; server_no_context_takeover")?;
        }
        if self.client_no_context_takeover {
            f.write_str("; client_no_context_takeover")?;
        }
        if let Some(b) = self.server_max_window_bits {
            write!(f, "; server_max_window_bits={b}")?;
        }
        if let Some(b) = self.client_max_window_bits {
            write!(f, "; client_max_window_bits={b}")?;
        }
        Ok(())
    }
}

/// A negotiated permessage-deflate, as a [`crate::Session`] applies it: the agreed
/// [`Params`] and this endpoint's level, smallest message and window cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Agreed {
    params: Params,
    level: u8,
    min_size: u32,
    max_window_bits: u8,
}

impl Agreed {
    /// The agreed parameters.
    pub const fn params(&self) -> &Params {
        &self.params
    }

    /// The compression level.
    pub const fn level(&self) -> u8 {
        self.level
    }

    /// The smallest message compressed.
    pub const fn min_size(&self) -> usize {
        self.min_size as usize
    }

    /// The window `role` compresses with: the agreed one for its side, capped by this
    /// endpoint's [`DeflateConfig::max_window_bits`].
    pub(crate) const fn send_window_bits(&self, role: crate::Role) -> u8 {
        let agreed = match role {
            crate::Role::Server => self.params.server_window_bits(),
            crate::Role::Client => self.params.client_window_bits(),
        };
        if agreed < self.max_window_bits {
            agreed
        } else {
            self.max_window_bits
        }
    }

    /// The window `role`'s peer compresses with (so the window `role` inflates with).
    pub(crate) const fn receive_window_bits(&self, role: crate::Role) -> u8 {
        match role {
            crate::Role::Server => self.params.client_window_bits(),
            crate::Role::Client => self.params.server_window_bits(),
        }
    }

    /// Whether `role`'s peer may refer back to earlier messages (so `role` must keep its
    /// inflate window between messages).
    pub(crate) const fn peer_keeps_context(&self, role: crate::Role) -> bool {
        match role {
            crate::Role::Server => !self.params.client_no_context_takeover,
            crate::Role::Client => !self.params.server_no_context_takeover,
        }
    }
}

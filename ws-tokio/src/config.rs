//! How a WebSocket behaves.

use std::time::Duration;

use oyez_frame::Limits;
use oyez_frame::session::Config as SessionConfig;

/// A WebSocket's settings: the codec's [`SessionConfig`] (limits, automatic pongs,
/// keepalive, idle, pong and close timeouts) and this crate's buffers.
///
/// ```
/// use std::time::Duration;
/// use oyez_tokio::Config;
///
/// let config = Config::default()
///     .with_keepalive(Some(Duration::from_secs(20)))
///     .with_idle_timeout(Some(Duration::from_secs(60)))
///     .with_write_buffer(64 << 10);
/// assert_eq!(config.write_buffer(), 64 << 10);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    session: SessionConfig,
    write_buffer: usize,
    read_chunk: usize,
    handshake_timeout: Duration,
    #[cfg(feature = "deflate")]
    deflate: Option<oyez_frame::deflate::DeflateConfig>,
}

impl Config {
    /// Default [`Config::write_buffer`]: 128 KiB.
    pub const DEFAULT_WRITE_BUFFER: usize = 128 << 10;
    /// Default [`Config::read_chunk`]: 16 KiB.
    pub const DEFAULT_READ_CHUNK: usize = 16 << 10;
    /// Default [`Config::handshake_timeout`]: 10 s.
    pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

    /// The codec's settings.
    pub const fn session(&self) -> &SessionConfig {
        &self.session
    }

    /// The decoding limits (frame 16 MiB, message 64 MiB, handshake 16 KiB / 64 headers by
    /// default: see [`Limits`]).
    pub const fn limits(&self) -> &Limits {
        self.session.limits()
    }

    /// The bound on bytes accepted and not yet written: [`futures_sink::Sink::poll_ready`]
    /// (and so `send`) waits while this much is buffered. One message larger than the bound
    /// is still accepted when the buffer is below it, so the buffer exceeds the bound by at
    /// most one message.
    pub const fn write_buffer(&self) -> usize {
        self.write_buffer
    }

    /// How much room a read asks for when a frame's size does not say (a frame larger than
    /// that gets a buffer sized for it, by [`oyez_frame::Session::buffer_room`]).
    pub const fn read_chunk(&self) -> usize {
        self.read_chunk
    }

    /// How long an opening handshake may take (server: reading the request; client: the
    /// response).
    pub const fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// permessage-deflate (feature `deflate`, on by default): what a client offers and what a
    /// server accepts of a client's offer (`None`: no offer, every offer declined). With no
    /// context takeover (the default), a connection keeps no compressor or inflater between
    /// messages; each thread keeps one compressor and a few spare inflaters
    /// ([`oyez_frame::deflate`] gives the bytes).
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub const fn deflate(&self) -> Option<&oyez_frame::deflate::DeflateConfig> {
        self.deflate.as_ref()
    }

    /// Sets [`Config::deflate`].
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    #[must_use]
    pub const fn with_deflate(
        mut self,
        deflate: Option<oyez_frame::deflate::DeflateConfig>,
    ) -> Self {
        self.deflate = deflate;
        self
    }

    /// Sets the codec's settings.
    #[must_use]
    pub const fn with_session(mut self, session: SessionConfig) -> Self {
        self.session = session;
        self
    }

    /// Sets the decoding limits.
    #[must_use]
    pub const fn with_limits(mut self, limits: Limits) -> Self {
        self.session = self.session.with_limits(limits);
        self
    }

    /// Sends a ping after this long without receiving anything (default: off).
    #[must_use]
    pub const fn with_keepalive(mut self, interval: Option<Duration>) -> Self {
        self.session = self.session.with_keepalive(interval);
        self
    }

    /// Closes with 1001 "idle timeout" after this long without receiving anything (default:
    /// off).
    #[must_use]
    pub const fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.session = self.session.with_idle_timeout(timeout);
        self
    }

    /// Sets [`Config::write_buffer`] (at least 1 byte).
    #[must_use]
    pub const fn with_write_buffer(mut self, bytes: usize) -> Self {
        self.write_buffer = if bytes == 0 { 1 } else { bytes };
        self
    }

    /// Sets [`Config::read_chunk`] (at least 256 bytes).
    #[must_use]
    pub const fn with_read_chunk(mut self, bytes: usize) -> Self {
        self.read_chunk = if bytes < 256 { 256 } else { bytes };
        self
    }

    /// Sets [`Config::handshake_timeout`].
    #[must_use]
    pub const fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            session: SessionConfig::default(),
            write_buffer: Self::DEFAULT_WRITE_BUFFER,
            read_chunk: Self::DEFAULT_READ_CHUNK,
            handshake_timeout: Self::DEFAULT_HANDSHAKE_TIMEOUT,
            #[cfg(feature = "deflate")]
            deflate: Some(oyez_frame::deflate::DeflateConfig::default()),
        }
    }
}

//! The server's error type.

/// Errors from starting the server, from the client, or from a connection.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A socket operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The WebSocket protocol failed (a handshake or frame error).
    #[error("websocket: {0}")]
    Protocol(#[from] oyez_frame::Error),
    /// A cluster's backplane failed (at start: it refused a subscription).
    #[error("backplane: {0}")]
    Backplane(#[from] oyez_backplane::Error),
    /// A URL the client cannot use (only `ws://host[:port][/path]` is supported).
    #[error("unsupported url: {0}")]
    Url(String),
    /// The peer closed the connection before the handshake finished.
    #[error("connection closed during the handshake")]
    HandshakeEof,
    /// The operation did not finish in time.
    #[error("timed out")]
    Timeout,
    /// The TLS certificate or key cannot be used (the file and the reason).
    #[error("tls: {0}")]
    Tls(String),
}

//! The TLS handshake of a `wss://` connection, on tokio, and what a shard adopts of it.

use std::io;

use rustls::ServerConnection;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tracing::debug;

use super::Accept;
use crate::Error;
use crate::tls::TlsStore;

/// A connection the accept side can upgrade and hand to a shard: the socket, and the TLS
/// session that goes with it (none for plain `ws://`).
pub(super) trait Transport: AsyncRead + AsyncWrite + Unpin + Send {
    fn into_parts(self) -> io::Result<(std::net::TcpStream, Option<Box<ServerConnection>>)>;
}

impl Transport for TcpStream {
    fn into_parts(self) -> io::Result<(std::net::TcpStream, Option<Box<ServerConnection>>)> {
        Ok((self.into_std()?, None))
    }
}

impl Transport for TlsStream<TcpStream> {
    /// The socket and the session: plaintext rustls has decrypted and nobody has read yet
    /// stays in the session, for the shard to read first.
    fn into_parts(self) -> io::Result<(std::net::TcpStream, Option<Box<ServerConnection>>)> {
        let (tcp, session) = self.into_inner();
        Ok((tcp.into_std()?, Some(Box::new(session))))
    }
}

/// Runs the TLS handshake with the store's current certificate, within the handshake
/// timeout.
pub(super) async fn handshake(
    stream: TcpStream,
    store: &TlsStore,
    ctx: &Accept,
) -> Result<TlsStream<TcpStream>, Error> {
    let timeout = ctx.server.inner.config.handshake_timeout;
    match tokio::time::timeout(timeout, store.acceptor().accept(stream)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => {
            debug!(error = %e, "tls handshake failed");
            Err(e.into())
        }
        Err(_) => Err(Error::Timeout),
    }
}

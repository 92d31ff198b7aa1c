//! The server side of the opening handshake over a raw stream: read the upgrade request,
//! let the caller look at it (origin, subprotocols, path, cookies), then accept or reject.
//!
//! ```no_run
//! # async fn demo(stream: tokio::net::TcpStream) -> Result<(), oyez_tokio::Error> {
//! use oyez_tokio::{server::Incoming, Config};
//!
//! let incoming = Incoming::read(stream, Config::default()).await?;
//! if incoming.request().origin() != Some("https://example.com") {
//!     return incoming.reject(403, "origin not allowed\n").await;
//! }
//! let protocol = incoming.negotiate(&["chat.v2", "chat"]).map(str::to_owned);
//! let mut ws = incoming.accept(protocol.as_deref()).await?;
//! while let Some(msg) = ws.recv().await {
//!     ws.send(msg?).await?;
//! }
//! # Ok(()) }
//! ```

use bytes::BytesMut;
use oyez_frame::Role;
use oyez_frame::handshake::server::{self as hs, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{Config, Error, WebSocket};

/// A WebSocket over `stream` with the default [`Config`]: reads the upgrade request and
/// answers `101` (no subprotocol). A request that breaks a rule is answered with its status
/// (400, 426, 431; 408 when it does not arrive within the handshake timeout) and returned
/// as an error.
///
/// # Errors
/// [`Error::Handshake`], [`Error::HandshakeTimeout`], [`Error::Io`].
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> Result<WebSocket<S>, Error> {
    accept_with(stream, Config::default()).await
}

/// As [`accept`], with `config`.
///
/// # Errors
/// As [`accept`].
pub async fn accept_with<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    config: Config,
) -> Result<WebSocket<S>, Error> {
    Incoming::read(stream, config).await?.accept(None).await
}

/// A valid upgrade request, read and not yet answered.
#[derive(Debug)]
pub struct Incoming<S> {
    io: S,
    request: Request,
    accept: hs::Accept,
    /// Bytes read past the request head (frames sent right behind it).
    early: BytesMut,
    config: Config,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Incoming<S> {
    /// Reads the request head from `io` (within [`Config::handshake_timeout`], under the
    /// handshake limits of [`Config::limits`]) and checks it is a valid WebSocket upgrade.
    ///
    /// # Errors
    /// [`Error::Handshake`] for a malformed, oversized or non-upgrade request, which has been
    /// answered with the codec's status (400, 426, 431); [`Error::HandshakeTimeout`] (answered
    /// 408); [`Error::Io`], including a peer that hung up.
    pub async fn read(mut io: S, config: Config) -> Result<Self, Error> {
        let mut buf = BytesMut::with_capacity(1024);
        let deadline = tokio::time::Instant::now() + config.handshake_timeout();
        let request = loop {
            match hs::parse_request(&mut buf, config.limits()) {
                Ok(Some(req)) => break req,
                Ok(None) => {}
                Err(e) => return Err(refuse(&mut io, e).await),
            }
            match tokio::time::timeout_at(deadline, io.read_buf(&mut buf)).await {
                Ok(Ok(0)) => {
                    return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => {
                    let mut out = BytesMut::new();
                    hs::write_plain_response(408, &[], "handshake timeout\n", &mut out);
                    let _ = io.write_all(&out).await;
                    let _ = io.shutdown().await;
                    return Err(Error::HandshakeTimeout);
                }
            }
        };
        let accept = match hs::accept(&request) {
            Ok(a) => a,
            Err(e) => return Err(refuse(&mut io, e).await),
        };
        Ok(Self {
            io,
            request,
            accept,
            early: buf,
            config,
        })
    }

    /// The request: path, query, headers, [`Request::origin`], [`Request::protocols`].
    pub const fn request(&self) -> &Request {
        &self.request
    }

    /// The first subprotocol the client offers (in its order of preference) that
    /// `supported` lists.
    pub fn negotiate(&self, supported: &[&str]) -> Option<&str> {
        hs::negotiate_protocol(&self.request, supported)
    }

    /// Answers `101 Switching Protocols` with `protocol` (which must be one the client
    /// offered) and gives the WebSocket.
    ///
    /// # Errors
    /// [`Error::Handshake`] with [`oyez_frame::Error::UnofferedProtocol`] for a protocol the
    /// client did not offer (nothing is written: answer with [`Incoming::reject`]);
    /// [`Error::Io`].
    pub async fn accept(self, protocol: Option<&str>) -> Result<WebSocket<S>, Error> {
        self.accept_with_headers(protocol, &[]).await
    }

    /// As [`Incoming::accept`], with extra response headers (e.g. `Set-Cookie`).
    ///
    /// # Errors
    /// As [`Incoming::accept`].
    ///
    /// # Warning
    /// Header names and values are written as given; they must not contain CR or LF.
    pub async fn accept_with_headers(
        mut self,
        protocol: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<WebSocket<S>, Error> {
        if let Some(p) = protocol
            && !self.request.protocols().any(|offered| offered == p)
        {
            return Err(Error::Handshake(oyez_frame::Error::UnofferedProtocol));
        }
        #[cfg(feature = "deflate")]
        let deflate = self.config.deflate().and_then(|config| {
            let params = hs::negotiate_deflate(&self.request, config)?;
            Some((params.to_string(), params.agreed(config)))
        });
        #[cfg(feature = "deflate")]
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .copied()
            .chain(
                deflate
                    .as_ref()
                    .map(|(answer, _)| ("Sec-WebSocket-Extensions", answer.as_str())),
            )
            .collect();
        let mut out = BytesMut::new();
        hs::write_response(&self.accept, protocol, &headers, &mut out);
        self.io.write_all(&out).await?;
        self.io.flush().await?;
        let ws = WebSocket::with_early(self.io, Role::Server, self.config, self.early);
        #[cfg(feature = "deflate")]
        let ws = match deflate {
            Some((_, agreed)) => ws.with_deflate(agreed),
            None => ws,
        };
        Ok(ws)
    }

    /// Refuses the upgrade: answers `status` with a plain-text `body` and shuts the stream
    /// down.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub async fn reject(mut self, status: u16, body: &str) -> Result<(), Error> {
        let mut out = BytesMut::new();
        hs::write_plain_response(status, &[], body, &mut out);
        self.io.write_all(&out).await?;
        let _ = self.io.shutdown().await;
        Ok(())
    }

    /// The stream, the request and the bytes read past it, unanswered.
    pub fn into_parts(self) -> (S, Request, BytesMut) {
        (self.io, self.request, self.early)
    }
}

/// Answers a request that broke a rule with the status the codec chose, and gives the error.
async fn refuse<S: AsyncWrite + Unpin>(io: &mut S, e: oyez_frame::Error) -> Error {
    let mut out = BytesMut::new();
    hs::write_error(&e, &mut out);
    let _ = io.write_all(&out).await;
    let _ = io.shutdown().await;
    Error::Handshake(e)
}

//! The client side: connect to a `ws://` or `wss://` URL, or run the client handshake over a
//! stream you made (a Unix socket, a proxy tunnel, an HTTP/2 stream, a test pipe).
//!
//! ```no_run
//! # async fn demo() -> Result<(), oyez_tokio::Error> {
//! use oyez_tokio::{Message, client::Builder};
//!
//! let (mut ws, response) = Builder::new("ws://127.0.0.1:8080/chat")
//!     .protocols(&["chat"])
//!     .header("Origin", "http://127.0.0.1:8080")
//!     .connect()
//!     .await?;
//! assert_eq!(response.protocol(), Some("chat"));
//! ws.send(Message::text("hello")).await?;
//! # Ok(()) }
//! ```

use bytes::BytesMut;
use oyez_frame::Role;
use oyez_frame::handshake::client::{ClientHandshake, ClientOptions, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::url::WsUrl;
use crate::{Config, Error, MaybeTls, WebSocket};

/// Connects to `url` (`ws://host[:port][/path][?query]`, or `wss://…` with the `rustls`
/// feature and a root store feature) and runs the opening handshake.
///
/// # Errors
/// [`Error::Url`], [`Error::Io`] (including TLS failures), [`Error::Tls`] (no root store),
/// [`Error::Handshake`] (e.g. [`oyez_frame::Error::UnexpectedStatus`] when the server
/// refused), [`Error::HandshakeTimeout`].
pub async fn connect(url: &str) -> Result<(WebSocket<MaybeTls<TcpStream>>, Response), Error> {
    Builder::new(url).connect().await
}

/// Runs the client handshake for `url` over `stream` (its host and path go in the request;
/// the stream is not touched otherwise: wrap it in TLS first for `wss://`).
///
/// # Errors
/// As [`connect`], without the connection errors.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &str,
) -> Result<(WebSocket<S>, Response), Error> {
    Builder::new(url).handshake(stream).await
}

/// A client request: the URL, subprotocols, extra headers, the configuration, and (for
/// `wss://`) the TLS connector.
#[derive(Clone, Debug)]
pub struct Builder {
    url: String,
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    config: Config,
    #[cfg(feature = "rustls")]
    tls: Option<crate::tls::Connector>,
}

impl Builder {
    /// A request for `url`, with the default [`Config`].
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            protocols: Vec::new(),
            headers: Vec::new(),
            config: Config::default(),
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }

    /// Offers these subprotocols, in order of preference.
    #[must_use]
    pub fn protocols(mut self, protocols: &[&str]) -> Self {
        self.protocols = protocols.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    /// Adds a request header (e.g. `Origin`, `Authorization`).
    ///
    /// # Warning
    /// Names and values are written as given; they must not contain CR or LF.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the configuration.
    #[must_use]
    pub const fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Uses `connector` for `wss://` (default: [`crate::tls::Connector::from_features`]).
    #[cfg(feature = "rustls")]
    #[must_use]
    pub fn tls(mut self, connector: crate::tls::Connector) -> Self {
        self.tls = Some(connector);
        self
    }

    /// Connects (TCP, then TLS for `wss://`) and runs the handshake.
    ///
    /// # Errors
    /// As [`connect`].
    pub async fn connect(self) -> Result<(WebSocket<MaybeTls<TcpStream>>, Response), Error> {
        let url = WsUrl::parse(&self.url)?;
        let tcp = TcpStream::connect((url.host.as_str(), url.port)).await?;
        let _ = tcp.set_nodelay(true);
        let stream = if url.tls {
            self.wrap_tls(&url, tcp).await?
        } else {
            MaybeTls::Plain(tcp)
        };
        self.run(stream, &url).await
    }

    #[cfg(feature = "rustls")]
    async fn wrap_tls(&self, url: &WsUrl, tcp: TcpStream) -> Result<MaybeTls<TcpStream>, Error> {
        let connector = match &self.tls {
            Some(c) => c.clone(),
            None => crate::tls::Connector::from_features()?,
        };
        let tls = tokio::time::timeout(
            self.config.handshake_timeout(),
            connector.connect(&url.host, tcp),
        )
        .await
        .map_err(|_| Error::HandshakeTimeout)??;
        Ok(MaybeTls::Rustls(Box::new(tls)))
    }

    #[cfg(not(feature = "rustls"))]
    async fn wrap_tls(&self, _: &WsUrl, _: TcpStream) -> Result<MaybeTls<TcpStream>, Error> {
        Err(Error::Url("wss:// needs the rustls feature"))
    }

    /// Runs the handshake over `stream`, which you connected (and wrapped in TLS for
    /// `wss://`) yourself.
    ///
    /// # Errors
    /// As [`connect`], without the connection errors.
    pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
        self,
        stream: S,
    ) -> Result<(WebSocket<S>, Response), Error> {
        let url = WsUrl::parse(&self.url)?;
        self.run(stream, &url).await
    }

    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
        url: &WsUrl,
    ) -> Result<(WebSocket<S>, Response), Error> {
        let protocols: Vec<&str> = self.protocols.iter().map(String::as_str).collect();
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let mut out = BytesMut::new();
        let mut options = ClientOptions::default();
        options.protocols = &protocols;
        options.headers = &headers;
        #[cfg(feature = "deflate")]
        {
            options.deflate = self.config.deflate().copied();
        }
        let hs = ClientHandshake::with_options(&url.authority, &url.target, &options, &mut out);
        let limits = *self.config.limits();
        let exchange = async {
            stream.write_all(&out).await?;
            stream.flush().await?;
            let mut buf = BytesMut::with_capacity(1024);
            loop {
                if let Some(response) = hs
                    .parse_response(&mut buf, &limits)
                    .map_err(Error::Handshake)?
                {
                    return Ok::<_, Error>((response, buf));
                }
                if stream.read_buf(&mut buf).await? == 0 {
                    return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
                }
            }
        };
        let (response, early) = tokio::time::timeout(self.config.handshake_timeout(), exchange)
            .await
            .map_err(|_| Error::HandshakeTimeout)??;
        let ws = WebSocket::with_early(stream, Role::Client, self.config, early);
        #[cfg(feature = "deflate")]
        let ws = match response.deflate() {
            Some(agreed) => ws.with_deflate(agreed),
            None => ws,
        };
        Ok((ws, response))
    }
}

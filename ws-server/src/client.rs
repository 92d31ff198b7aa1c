//! A small async client on the same sans-IO [`Session`]: `connect(url)`, then send, receive
//! and close. Used by the tests, the Autobahn client run and the load tool.
//!
//! It offers permessage-deflate by default (`client_no_context_takeover;
//! client_max_window_bits`, as [`DeflateConfig::default`] makes the offer) and speaks it when
//! the server agrees: [`connect_with_deflate`] chooses another offer, or none.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use oyez_frame::deflate::DeflateConfig;
use oyez_frame::handshake::client::{ClientHandshake, ClientOptions};
use oyez_frame::session::{Config, Outbound};
use oyez_frame::{CloseCode, Event, Role, Session, Utf8Bytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Error, Message};

/// How long [`connect`] waits for the server's handshake response.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What [`Client::recv`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// A whole message.
    Message(Message),
    /// A pong arrived.
    Pong(Bytes),
    /// The connection is closed (`code` 1006 if without a close handshake).
    Closed {
        /// The close code.
        code: CloseCode,
        /// The reason.
        reason: Utf8Bytes,
    },
}

/// A connected WebSocket client.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    session: Session,
    buf: BytesMut,
    closed: bool,
    /// The subprotocol the server chose.
    protocol: Option<String>,
}

/// Connects to `url` (`ws://host[:port][/path][?query]`) and completes the opening handshake.
///
/// # Errors
/// A URL that is not `ws://`, a socket error, a handshake the server refused (with the
/// reason, e.g. [`oyez_frame::Error::UnexpectedStatus`]), or no answer within 10 s.
pub async fn connect(url: &str) -> Result<Client, Error> {
    connect_with(url, Config::default(), &[]).await
}

/// [`connect`] with a session configuration and extra request headers (e.g. `Origin`).
///
/// # Errors
/// As [`connect`].
pub async fn connect_with(
    url: &str,
    config: Config,
    headers: &[(&str, &str)],
) -> Result<Client, Error> {
    connect_with_deflate(url, config, headers, Some(DeflateConfig::default())).await
}

/// [`connect_with`], offering `protocols` (in order of preference). The server's choice is
/// [`Client::protocol`]: one of those offered (an answer naming another fails with
/// [`oyez_frame::Error::UnofferedProtocol`]), or none if the server chose none.
///
/// # Errors
/// As [`connect`].
pub async fn connect_with_protocols(
    url: &str,
    config: Config,
    protocols: &[&str],
    headers: &[(&str, &str)],
) -> Result<Client, Error> {
    let mut options = ClientOptions::default();
    options.protocols = protocols;
    options.headers = headers;
    options.deflate = Some(DeflateConfig::default());
    connect_with_options(url, config, &options).await
}

/// [`connect_with`], offering permessage-deflate with `deflate` (`None`: no offer).
///
/// # Errors
/// As [`connect`]; an answer to the offer that RFC 7692 does not allow fails the handshake
/// ([`oyez_frame::Error::InvalidExtensionResponse`]).
pub async fn connect_with_deflate(
    url: &str,
    config: Config,
    headers: &[(&str, &str)],
    deflate: Option<DeflateConfig>,
) -> Result<Client, Error> {
    let mut options = ClientOptions::default();
    options.headers = headers;
    options.deflate = deflate;
    connect_with_options(url, config, &options).await
}

/// [`connect`] with everything the handshake can offer: subprotocols, extra headers and
/// permessage-deflate (`options.deflate`: `None` makes no offer).
///
/// # Errors
/// As [`connect_with_protocols`] and [`connect_with_deflate`].
pub async fn connect_with_options(
    url: &str,
    config: Config,
    options: &ClientOptions<'_>,
) -> Result<Client, Error> {
    let (host, target) = parse_url(url)?;
    let mut stream = TcpStream::connect(&host).await?;
    let _ = stream.set_nodelay(true);
    let mut out = BytesMut::new();
    let handshake = ClientHandshake::with_options(&host, &target, options, &mut out);
    stream.write_all(&out).await?;
    let mut buf = BytesMut::with_capacity(4096);
    let limits = *config.limits();
    let read_response = async {
        loop {
            if let Some(response) = handshake.parse_response(&mut buf, &limits)? {
                let protocol = response.protocol().map(str::to_owned);
                return Ok::<_, Error>((protocol, response.deflate()));
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(Error::HandshakeEof);
            }
        }
    };
    let (protocol, agreed) = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_response)
        .await
        .map_err(|_| Error::Timeout)??;
    let mut session = Session::new(Role::Client, config, Instant::now());
    if let Some(agreed) = agreed {
        session.set_deflate(agreed);
    }
    let mut client = Client {
        stream,
        session,
        buf,
        closed: false,
        protocol,
    };
    if !client.buf.is_empty() {
        let mut early = std::mem::take(&mut client.buf);
        client.session.handle_bytes(Instant::now(), &mut early)?;
        client.buf = early;
    }
    Ok(client)
}

/// Splits `ws://host:port/path?q` into (`host:port`, `/path?q`).
fn parse_url(url: &str) -> Result<(String, String), Error> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| Error::Url(url.to_owned()))?;
    let (authority, target) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_owned()),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(Error::Url(url.to_owned()));
    }
    let host = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok((host, target))
}

impl Client {
    /// Sends a message.
    ///
    /// # Errors
    /// [`oyez_frame::Error::Closing`] after a close, or a socket error.
    pub async fn send(&mut self, msg: impl Into<Message>) -> Result<(), Error> {
        match msg.into() {
            Message::Text(t) => self.session.send(Outbound::Text(t.as_str()))?,
            Message::Binary(b) => self.session.send(Outbound::Binary(&b))?,
        }
        self.flush().await
    }

    /// Sends a ping.
    ///
    /// # Errors
    /// As [`Client::send`]; a payload over 125 bytes is refused.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.session.send(Outbound::Ping(payload))?;
        self.flush().await
    }

    /// Sends raw bytes on the socket, bypassing the session (for tests of malformed input).
    ///
    /// # Errors
    /// A socket error.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// Waits for the next message, pong or the close. After `Closed`, returns `Ok(None)`.
    ///
    /// # Errors
    /// A protocol error from the server (after which a close frame has been sent), or a socket
    /// error.
    pub async fn recv(&mut self) -> Result<Option<ClientEvent>, Error> {
        loop {
            while let Some(event) = self.session.poll_event() {
                match event {
                    Event::Text(t) => return Ok(Some(ClientEvent::Message(Message::Text(t)))),
                    Event::Binary(b) => return Ok(Some(ClientEvent::Message(Message::Binary(b)))),
                    Event::Pong(p) => return Ok(Some(ClientEvent::Pong(p))),
                    Event::Closed { code, reason, .. } => {
                        self.flush().await?;
                        self.closed = true;
                        return Ok(Some(ClientEvent::Closed { code, reason }));
                    }
                    _ => {}
                }
            }
            self.flush().await?;
            if self.closed || self.session.is_closed() {
                return Ok(None);
            }
            let timeout = self.session.poll_timeout();
            let read = self.stream.read_buf(&mut self.buf);
            let n = match timeout {
                Some(at) => {
                    match tokio::time::timeout_at(tokio::time::Instant::from_std(at), read).await {
                        Ok(n) => n?,
                        Err(_) => {
                            self.session.handle_timeout(Instant::now());
                            continue;
                        }
                    }
                }
                None => read.await?,
            };
            if n == 0 {
                self.closed = true;
                return Ok(Some(ClientEvent::Closed {
                    code: CloseCode::ABNORMAL,
                    reason: Utf8Bytes::new(),
                }));
            }
            if let Err(e) = self.session.handle_bytes(Instant::now(), &mut self.buf) {
                let _ = self.flush().await;
                return Err(e.into());
            }
        }
    }

    /// Starts the close handshake and waits (up to the session's close timeout) for the
    /// server's close. Returns the server's close code.
    ///
    /// # Errors
    /// An invalid close code, or a socket error.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<CloseCode, Error> {
        self.session.close(Instant::now(), code, reason)?;
        loop {
            match self.recv().await? {
                Some(ClientEvent::Closed { code, .. }) => return Ok(code),
                Some(_) => {}
                None => return Ok(CloseCode::ABNORMAL),
            }
        }
    }

    /// The subprotocol the server chose from those offered
    /// ([`connect_with_protocols`]), if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The permessage-deflate the server agreed to, if it did.
    pub fn deflate(&self) -> Option<&oyez_frame::deflate::Agreed> {
        self.session.deflate()
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.closed || self.session.is_closed()
    }

    async fn flush(&mut self) -> Result<(), Error> {
        while let Some(bytes) = self.session.poll_transmit() {
            self.stream.write_all(&bytes).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("ws://127.0.0.1:9001/a?b=c").unwrap(),
            ("127.0.0.1:9001".into(), "/a?b=c".into())
        );
        assert_eq!(
            parse_url("ws://localhost").unwrap(),
            ("localhost:80".into(), "/".into())
        );
        assert_eq!(
            parse_url("ws://h:1?x").unwrap(),
            ("h:1".into(), "/?x".into())
        );
        assert!(parse_url("wss://h/").is_err());
        assert!(parse_url("ws:///x").is_err());
    }
}

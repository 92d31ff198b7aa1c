//! Upgrades inside a hyper 1 service or an axum route (feature `hyper`), over HTTP/1.1
//! (`Upgrade: websocket`, RFC 6455) and over HTTP/2 (an extended CONNECT with
//! `:protocol = websocket`, RFC 8441).
//!
//! [`upgrade`] checks the request, gives the response to return from the handler (`101`
//! over HTTP/1.1, `200` over HTTP/2) and a future that resolves to the [`WebSocket`] once
//! hyper has handed the connection (or the HTTP/2 stream) over. The request is checked by
//! the same code as [`crate::accept`]'s (`oyez_frame::handshake`), so both paths keep one
//! set of rules.
//!
//! ```no_run
//! use oyez_tokio::{Config, upgrade};
//!
//! async fn handle(
//!     mut req: http::Request<hyper::body::Incoming>,
//! ) -> Result<http::Response<http_body_util::Empty<bytes::Bytes>>, oyez_tokio::Error> {
//!     let (response, ws) = upgrade::upgrade(&mut req, Config::default())?;
//!     tokio::spawn(async move {
//!         let Ok(mut ws) = ws.await else { return };
//!         while let Some(Ok(msg)) = ws.recv().await {
//!             if msg.is_data() && ws.send(msg).await.is_err() {
//!                 break;
//!             }
//!         }
//!     });
//!     Ok(response)
//! }
//! ```
//!
//! For HTTP/2, the server must announce extended CONNECT:
//! `hyper::server::conn::http2::Builder::enable_connect_protocol()` (with hyper-util's
//! auto builder: `builder.http2().enable_connect_protocol()`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Response, StatusCode, Version, header};
use http_body_util::Empty;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use oyez_frame::Role;
use oyez_frame::handshake::server as hs;

use crate::{Config, Error, WebSocket};

/// The stream a hyper upgrade gives, as a tokio stream.
pub type UpgradedIo = TokioIo<Upgraded>;

/// Whether `req` asks for a WebSocket: `Upgrade: websocket` over HTTP/1.1, or an extended
/// CONNECT for `websocket` over HTTP/2. (Valid or not: [`upgrade`] checks the rest.)
pub fn is_upgrade_request<B>(req: &Request<B>) -> bool {
    if req.version() == Version::HTTP_2 {
        return is_h2_connect(req);
    }
    req.headers()
        .get_all(header::UPGRADE)
        .iter()
        .any(|v| has_token(v, "websocket"))
}

/// The subprotocols the client offers, in its order of preference.
pub fn protocols<B>(req: &Request<B>) -> impl Iterator<Item = &str> + '_ {
    req.headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(str::trim).filter(|t| !t.is_empty()))
}

/// Checks `req` and prepares the upgrade with no subprotocol: see [`upgrade_with`].
///
/// # Errors
/// As [`upgrade_with`].
pub fn upgrade<B>(
    req: &mut Request<B>,
    config: Config,
) -> Result<(Response<Empty<Bytes>>, Upgrade), Error> {
    upgrade_with(req, None, config)
}

/// Checks `req` and gives the response to send (`101` over HTTP/1.1, `200` over HTTP/2, with
/// `protocol` if given: it must be one the client offered) and the future of the
/// WebSocket, which resolves once the response has been sent and hyper hands the
/// connection over.
///
/// # Errors
/// [`Error::Handshake`] for a request that is not a valid upgrade; its
/// [`http_status`](oyez_frame::Error::http_status) is the status to answer with (400,
/// 426…), and [`oyez_frame::Error::UnofferedProtocol`] for a `protocol` not offered.
pub fn upgrade_with<B>(
    req: &mut Request<B>,
    protocol: Option<&str>,
    config: Config,
) -> Result<(Response<Empty<Bytes>>, Upgrade), Error> {
    if let Some(p) = protocol
        && !protocols(req).any(|offered| offered == p)
    {
        return Err(Error::Handshake(oyez_frame::Error::UnofferedProtocol));
    }
    let head = head_of(req, &config)?;
    let mut response = if req.version() == Version::HTTP_2 {
        check_h2(req)?;
        Response::new(Empty::new())
    } else {
        let accept = hs::accept(&head).map_err(Error::Handshake)?;
        let mut response = Response::new(Empty::new());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = response.headers_mut();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_str(accept.accept_key()).expect("base64 is a valid header value"),
        );
        response
    };
    if let Some(p) = protocol {
        let value = HeaderValue::from_str(p)
            .map_err(|_| Error::Handshake(oyez_frame::Error::UnofferedProtocol))?;
        response
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    #[cfg(feature = "deflate")]
    let agreed = negotiate(&head, &config).map(|(answer, agreed)| {
        let value = HeaderValue::from_str(&answer).expect("the answer is a valid header value");
        response
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_EXTENSIONS, value);
        agreed
    });
    Ok((
        response,
        Upgrade {
            on: hyper::upgrade::on(req),
            role: Role::Server,
            config,
            #[cfg(feature = "deflate")]
            agreed,
        },
    ))
}

/// A client's HTTP/2 extended CONNECT request for a WebSocket at `uri` (RFC 8441 §4):
/// send it on an HTTP/2 connection whose server enabled extended CONNECT, then give the
/// response to [`from_response`].
pub fn h2_request(uri: http::Uri) -> Request<Empty<Bytes>> {
    let mut req = Request::new(Empty::new());
    *req.method_mut() = Method::CONNECT;
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_2;
    req.extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    req.headers_mut().insert(
        header::SEC_WEBSOCKET_VERSION,
        HeaderValue::from_static("13"),
    );
    req
}

/// The client side of an HTTP/2 WebSocket: checks the server's answer to an
/// [`h2_request`] (`200`) and gives the future of the WebSocket.
///
/// # Errors
/// [`Error::Handshake`] with [`oyez_frame::Error::UnexpectedStatus`] for another status.
pub fn from_response<B>(mut response: Response<B>, config: Config) -> Result<Upgrade, Error> {
    if response.status() != StatusCode::OK {
        return Err(Error::Handshake(oyez_frame::Error::UnexpectedStatus(
            response.status().as_u16(),
        )));
    }
    Ok(Upgrade {
        on: hyper::upgrade::on(&mut response),
        role: Role::Client,
        config,
        // `h2_request` offers no extension.
        #[cfg(feature = "deflate")]
        agreed: None,
    })
}

/// The future of an upgraded WebSocket (see [`upgrade_with`]).
#[derive(Debug)]
pub struct Upgrade {
    on: OnUpgrade,
    role: Role,
    config: Config,
    /// The permessage-deflate the response agreed to.
    #[cfg(feature = "deflate")]
    agreed: Option<oyez_frame::deflate::Agreed>,
}

impl Future for Upgrade {
    type Output = Result<WebSocket<UpgradedIo>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match Pin::new(&mut this.on).poll(cx) {
            Poll::Ready(Ok(upgraded)) => {
                let ws = WebSocket::from_upgraded(TokioIo::new(upgraded), this.role, this.config);
                #[cfg(feature = "deflate")]
                let ws = match this.agreed {
                    Some(agreed) => ws.with_deflate(agreed),
                    None => ws,
                };
                Poll::Ready(Ok(ws))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(Error::Io(std::io::Error::other(e)))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Hyper's parsed request laid out again as an HTTP/1.1 head and parsed by
/// `oyez_frame::handshake::server`, so that it is checked by the same rules as a raw
/// [`crate::accept`] (RFC 6455 §4.2.1) and its extension offers read the same way.
fn head_of<B>(req: &Request<B>, config: &Config) -> Result<hs::Request, Error> {
    let mut head = BytesMut::with_capacity(512);
    head.put_slice(req.method().as_str().as_bytes());
    head.put_u8(b' ');
    head.put_slice(
        req.uri()
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str)
            .as_bytes(),
    );
    head.put_slice(match req.version() {
        Version::HTTP_10 => b" HTTP/1.0\r\n",
        _ => b" HTTP/1.1\r\n",
    });
    if !req.headers().contains_key(header::HOST)
        && let Some(authority) = req.uri().authority()
    {
        head.put_slice(b"host: ");
        head.put_slice(authority.as_str().as_bytes());
        head.put_slice(b"\r\n");
    }
    for (name, value) in req.headers() {
        head.put_slice(name.as_str().as_bytes());
        head.put_slice(b": ");
        head.put_slice(value.as_bytes());
        head.put_slice(b"\r\n");
    }
    head.put_slice(b"\r\n");
    let limits = config.limits();
    hs::parse_request(&mut head, limits)
        .map_err(Error::Handshake)?
        .ok_or(Error::Handshake(oyez_frame::Error::MalformedHttp))
}

/// The permessage-deflate to agree to for `head` (hyper's request laid out again), as
/// `config` allows: the answer's header value and what the sessions apply.
#[cfg(feature = "deflate")]
fn negotiate(head: &hs::Request, config: &Config) -> Option<(String, oyez_frame::deflate::Agreed)> {
    let deflate = config.deflate()?;
    let params = hs::negotiate_deflate(head, deflate)?;
    Some((params.to_string(), params.agreed(deflate)))
}

/// RFC 8441 §4-5: `CONNECT` with `:protocol = websocket` and `Sec-WebSocket-Version: 13`
/// (no key, no accept).
fn check_h2<B>(req: &Request<B>) -> Result<(), Error> {
    if !is_h2_connect(req) {
        return Err(Error::Handshake(oyez_frame::Error::MissingUpgrade));
    }
    let mut versions = req.headers().get_all(header::SEC_WEBSOCKET_VERSION).iter();
    match (versions.next(), versions.next()) {
        (Some(v), None) if v.as_bytes().trim_ascii() == b"13" => Ok(()),
        _ => Err(Error::Handshake(oyez_frame::Error::UnsupportedVersion)),
    }
}

fn is_h2_connect<B>(req: &Request<B>) -> bool {
    req.method() == Method::CONNECT
        && req
            .extensions()
            .get::<hyper::ext::Protocol>()
            .is_some_and(|p| p.as_str().eq_ignore_ascii_case("websocket"))
}

fn has_token(value: &HeaderValue, token: &str) -> bool {
    value
        .as_bytes()
        .split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

//! A plain HTTP exchange with the embedder's [`HttpHandler`].

use std::net::SocketAddr;

use bytes::BytesMut;
use oyez_frame::handshake::server::Request;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::http::{HttpHandler, HttpRequest, HttpResponse, MAX_BODY};
use crate::{Error, Server};

/// Reads the body of `req` and asks `hook`. Returns the request back if the hook left it to
/// the server (`Ok(None)`: it was answered).
pub(super) async fn exchange(
    stream: &mut (impl AsyncRead + AsyncWrite + Unpin),
    buf: &mut BytesMut,
    req: Request,
    peer: SocketAddr,
    hook: &dyn HttpHandler,
    server: &Server,
    deadline: tokio::time::Instant,
) -> Result<Option<Request>, Error> {
    let len = req
        .header_str("content-length")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let head_only = req.method() == "HEAD";
    let response = if len > MAX_BODY {
        HttpResponse::text(413, "body too large\n")
    } else {
        while buf.len() < len {
            match tokio::time::timeout_at(deadline, stream.read_buf(buf)).await {
                Ok(Ok(0)) => return Err(Error::HandshakeEof),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => return Err(Error::Timeout),
            }
        }
        let body = buf.split_to(len).freeze();
        let http = HttpRequest::new(req, body, peer);
        match tokio::time::timeout_at(deadline, hook.handle(&http, server)).await {
            Ok(Some(response)) => response,
            Ok(None) => return Ok(Some(http.into_head())),
            Err(_) => HttpResponse::text(503, "timed out\n"),
        }
    };
    stream.write_all(&response.to_bytes(head_only)).await?;
    let _ = stream.shutdown().await;
    Ok(None)
}

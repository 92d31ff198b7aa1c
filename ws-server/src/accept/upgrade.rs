//! One connection's handshake: read the request head (under the handshake timeout), then
//! answer plain HTTP, refuse, or upgrade and hand the connection to a shard.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use oyez_frame::handshake::server as hs;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::debug;

use super::tls::Transport;
use super::{Accept, admit, deflate, plain};
use crate::request::RequestInfo;
use crate::shard::Adoption;
use crate::{Error, Server};

/// Reads the request head, then upgrades or answers.
pub(super) async fn serve<S: Transport>(
    mut stream: S,
    peer: SocketAddr,
    ctx: Accept,
) -> Result<(), Error> {
    let server = &ctx.server;
    let config = &server.inner.config;
    let mut buf = BytesMut::with_capacity(1024);
    let deadline = tokio::time::Instant::now() + config.handshake_timeout;
    let req = loop {
        match hs::parse_request(&mut buf, &config.limits) {
            Ok(Some(req)) => break req,
            Ok(None) => {}
            Err(e) => return reject(&mut stream, server, e).await,
        }
        match tokio::time::timeout_at(deadline, stream.read_buf(&mut buf)).await {
            Ok(Ok(0)) => return Err(Error::HandshakeEof),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {
                server.inner.stats.reject(408);
                let mut out = BytesMut::new();
                hs::write_plain_response(408, &[], "handshake timeout\n", &mut out);
                let _ = stream.write_all(&out).await;
                return Err(Error::Timeout);
            }
        }
    };
    let req = if req.is_upgrade() {
        req
    } else if let Some(hook) = &ctx.http {
        match plain::exchange(
            &mut stream,
            &mut buf,
            req,
            peer,
            hook.as_ref(),
            server,
            deadline,
        )
        .await?
        {
            Some(req) => req,
            None => return Ok(()),
        }
    } else {
        req
    };
    let Some(route) = ctx.routes.route_for(req.path()) else {
        return respond(&mut stream, server, 404, "no such route\n").await;
    };
    let accept = match hs::accept(&req) {
        Ok(a) => a,
        Err(e) => return reject(&mut stream, server, e).await,
    };
    if let Some(allowed) = &config.allowed_origins
        && !req.origin().is_some_and(|o| allowed.iter().any(|a| a == o))
    {
        return respond(&mut stream, server, 403, "origin not allowed\n").await;
    }
    if server.at_capacity() {
        return respond(&mut stream, server, 503, "too many connections\n").await;
    }
    // The per-address limits, the route's subprotocols and the upgrade hook.
    let Some(admitted) = admit::admit(&mut stream, &ctx, req, route, peer, deadline).await? else {
        return Ok(());
    };
    let req = admitted.req;
    // The shard writes the 101 once the connection is registered, so a client that has seen
    // it is reached by every broadcast sent after.
    let deflate = deflate::negotiate(&req, config.deflate.as_ref());
    let mut response = BytesMut::new();
    let extensions = deflate
        .as_ref()
        .map(|(answer, _)| ("Sec-WebSocket-Extensions", answer.as_str()));
    let headers: Vec<(&str, &str)> = admitted
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain(extensions)
        .collect();
    hs::write_response(
        &accept,
        admitted.protocol.as_deref(),
        &headers,
        &mut response,
    );
    let (stream, tls) = stream.into_parts()?;
    let adoption = Adoption {
        stream,
        tls,
        path: req.path().to_owned(),
        query: req.query().map(Into::into),
        peer,
        request: Arc::new(RequestInfo::of(&req)),
        route,
        response: response.freeze(),
        early: buf,
        identity: admitted.identity.map(Box::new),
        deflate: deflate.map(|(_, agreed)| agreed),
    };
    drop(req);
    server.adopt(adoption);
    // The connection counts against its address until it ends (`Server::unregister`).
    admitted.pass.keep();
    Ok(())
}

/// Answers a handshake that broke a rule with the status the codec chose (400, 426, 431).
async fn reject(
    stream: &mut (impl AsyncWrite + Unpin),
    server: &Server,
    e: oyez_frame::Error,
) -> Result<(), Error> {
    server.inner.stats.reject(e.http_status().unwrap_or(400));
    debug!(error = %e, "upgrade rejected");
    let mut out = BytesMut::new();
    hs::write_error(&e, &mut out);
    stream.write_all(&out).await?;
    let _ = stream.shutdown().await;
    Ok(())
}

/// Refuses an upgrade with `status` and a short text body.
async fn respond(
    stream: &mut (impl AsyncWrite + Unpin),
    server: &Server,
    status: u16,
    body: &str,
) -> Result<(), Error> {
    server.inner.stats.reject(status);
    let mut out = BytesMut::new();
    hs::write_plain_response(status, &[], body, &mut out);
    stream.write_all(&out).await?;
    let _ = stream.shutdown().await;
    Ok(())
}

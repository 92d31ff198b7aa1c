//! Admission of a valid upgrade: the per-address limits (429), the route's subprotocols
//! (400 when it requires one and none is offered), then the [`UpgradeHook`]'s decision,
//! under the handshake timeout. The rules are in [`crate::upgrade`].

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use oyez_frame::handshake::server::{self as hs, Request};
use serde_json::value::RawValue;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tracing::{debug, error};

use super::Accept;
use crate::door::{Pass, Refusal};
use crate::upgrade::{Identity, UpgradeRequest, Verdict};
use crate::{Error, Server, Stats};

/// An upgrade let in: what the `101` and the connection carry.
pub(super) struct Admitted<'a> {
    pub(super) req: Request,
    pub(super) protocol: Option<String>,
    pub(super) identity: Option<Identity>,
    pub(super) headers: Vec<(String, String)>,
    /// The connection's place in its address's count, until it is handed to a shard.
    pub(super) pass: Pass<'a>,
}

/// Headers the server writes on a `101` itself.
const ACCEPT_OWN: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

/// Headers the server writes on a refusal itself.
const REFUSE_OWN: &[&str] = &[
    "connection",
    "content-type",
    "content-length",
    "transfer-encoding",
];

/// Decides on `req` (a valid upgrade to `route`). `Ok(None)`: it was refused, and answered.
pub(super) async fn admit<'a, S: AsyncWrite + Unpin>(
    stream: &mut S,
    ctx: &'a Accept,
    req: Request,
    route: u16,
    peer: SocketAddr,
    deadline: tokio::time::Instant,
) -> Result<Option<Admitted<'a>>, Error> {
    let server = &ctx.server;
    let pass = match server
        .inner
        .door
        .enter(peer.ip(), std::time::Instant::now())
    {
        Ok(pass) => pass,
        Err(why) => {
            Stats::add(&server.inner.stats.upgrades_limited, 1);
            debug!(%peer, ?why, "upgrade over the address's limits");
            let (headers, body): (&[(&str, &str)], _) = match why {
                Refusal::Rate => (
                    &[("Retry-After", "1")],
                    "too many upgrades from your address\n",
                ),
                Refusal::Connections => (&[], "too many connections from your address\n"),
            };
            refuse(stream, server, 429, headers, body).await?;
            return Ok(None);
        }
    };
    let protocols = ctx.routes.protocols(route);
    let pick = protocols.pick(req.protocols()).map(str::to_owned);
    if pick.is_none() && protocols.is_required() {
        refuse(
            stream,
            server,
            400,
            &[],
            "no supported subprotocol offered\n",
        )
        .await?;
        return Ok(None);
    }
    let Some(hook) = &ctx.hook else {
        return Ok(Some(Admitted {
            req,
            protocol: pick,
            identity: None,
            headers: Vec::new(),
            pass,
        }));
    };
    let up = UpgradeRequest::new(req, peer, pick);
    let decided = tokio::time::timeout_at(deadline, CatchUnwind(hook.decide(&up, server))).await;
    let decision = match decided {
        Ok(Ok(d)) => d,
        Ok(Err(())) => {
            error!(%peer, "the upgrade hook panicked");
            return hook_failed(stream, server, 500, "internal error\n").await;
        }
        Err(_) => {
            debug!(%peer, "the upgrade hook did not decide in time");
            return hook_failed(stream, server, 503, "upgrade hook timed out\n").await;
        }
    };
    let headers = match checked_headers(&decision.headers, &decision.verdict) {
        Ok(h) => h,
        Err(why) => {
            error!(%peer, why, "the upgrade hook's decision cannot be honoured");
            return hook_failed(stream, server, 500, "internal error\n").await;
        }
    };
    match decision.verdict {
        Verdict::Refuse { status, body } => {
            if !(400..=599).contains(&status) {
                error!(%peer, status, "the upgrade hook refused with a status that is no error");
                return hook_failed(stream, server, 500, "internal error\n").await;
            }
            Stats::add(&server.inner.stats.upgrades_refused, 1);
            debug!(%peer, status, "the upgrade hook refused");
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            refuse(stream, server, status, &headers, &body).await?;
            Ok(None)
        }
        Verdict::Accept { protocol, identity } => {
            let (req, pick) = up.into_parts();
            let protocol = match protocol {
                Some(p) if !req.protocols().any(|o| o == p) => {
                    error!(%peer, protocol = %p, "the upgrade hook chose a subprotocol the client did not offer");
                    return hook_failed(stream, server, 500, "internal error\n").await;
                }
                Some(p) => Some(p),
                None => pick,
            };
            if let Some(id) = &identity
                && let Err(why) = check_identity(id)
            {
                error!(%peer, why, "the upgrade hook's identity cannot be used");
                return hook_failed(stream, server, 500, "internal error\n").await;
            }
            Ok(Some(Admitted {
                req,
                protocol,
                identity,
                headers,
                pass,
            }))
        }
    }
}

fn check_identity(id: &Identity) -> Result<(), &'static str> {
    if id.user_id().is_empty() {
        return Err("an empty user id");
    }
    if id.session_id().is_some_and(str::is_empty) {
        return Err("an empty session id");
    }
    if let Some(m) = id.metadata()
        && serde_json::from_str::<&RawValue>(m).is_err()
    {
        return Err("metadata that is not JSON");
    }
    Ok(())
}

/// The decision's headers, if the server can write them: a token for a name, no control
/// character in a value, and none the server writes itself.
fn checked_headers(
    headers: &[(std::borrow::Cow<'static, str>, String)],
    verdict: &Verdict,
) -> Result<Vec<(String, String)>, &'static str> {
    let own = match verdict {
        Verdict::Accept { .. } => ACCEPT_OWN,
        Verdict::Refuse { .. } => REFUSE_OWN,
    };
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    headers
        .iter()
        .map(|(name, value)| {
            if name.is_empty() || !name.bytes().all(tchar) {
                return Err("a header name that is not a token");
            }
            if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
                return Err("a header value with a control character");
            }
            if own.iter().any(|o| o.eq_ignore_ascii_case(name)) {
                return Err("a header the server writes itself");
            }
            Ok((name.to_string(), value.clone()))
        })
        .collect()
}

/// The hook failed (it panicked, timed out, or decided what cannot be done): `status`.
async fn hook_failed<'a, S: AsyncWrite + Unpin>(
    stream: &mut S,
    server: &Server,
    status: u16,
    body: &str,
) -> Result<Option<Admitted<'a>>, Error> {
    Stats::add(&server.inner.stats.upgrades_refused, 1);
    refuse(stream, server, status, &[], body).await?;
    Ok(None)
}

/// Refuses an upgrade with `status`, `headers` and a short text body, and closes.
async fn refuse<S: AsyncWrite + Unpin>(
    stream: &mut S,
    server: &Server,
    status: u16,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(), Error> {
    server.inner.stats.reject(status);
    let mut out = BytesMut::new();
    hs::write_plain_response(status, headers, body, &mut out);
    stream.write_all(&out).await?;
    let _ = stream.shutdown().await;
    Ok(())
}

/// A future that turns a panic while it is polled into `Err(())`.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(fut).poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}

//! Signed identities for the binary: an [`UpgradeHook`] ([`TokenAuth`]) that lets a
//! connection in only with a valid JSON Web Token, and gives it the token's `sub` as its
//! identity.
//!
//! # The token
//!
//! A compact JWS (`header.payload.signature`, base64url), signed with the one algorithm the
//! server is configured with ([`Key`]: HS256 with a secret of 32 bytes or more, RS256 with
//! an RSA public key, ES256 with a P-256 public key). The header's `alg` must name that
//! algorithm: `none`, any other algorithm, and an HS256 token "signed" with an RS256 server's
//! public key are refused before anything else is read; a header with `crit` is refused
//! too. Only a payload whose signature verifies is parsed. Its claims:
//!
//! | claim | |
//! | --- | --- |
//! | `sub` | required, non-empty: the user id (direct messages to it, the roster) |
//! | `exp` | required: seconds since 1970; refused from `exp` on (less the leeway, 30 s by default) |
//! | `nbf` | optional: refused before `nbf` (less the leeway) |
//! | `iss`, `aud` | checked when the server is configured with an issuer or an audience (`aud` a string or a list) |
//! | `paths` | optional: the paths the token allows, each exact (`/rooms/lobby`) or a prefix ending in `*` (`/chat/*`); a room is its path |
//! | `meta` | optional JSON: the session's metadata, shown in the roster |
//!
//! # Where the client puts it
//!
//! In `Authorization: Bearer <token>`, in the query (`?token=<token>`), or, for browsers
//! (which cannot set headers on a WebSocket), as a subprotocol `bearer.<token>` offered next
//! to the real one: `new WebSocket(url, ["oyez", "bearer." + token])`. The server answers
//! with the real one ([`crate::apps::PROTOCOL`]) and never with the token. Two different
//! tokens in one request are refused. Prefer the header or the subprotocol: a query string
//! ends up in proxies' logs, and is kept with the connection for its life
//! ([`crate::Conn::query`]).
//!
//! # The answers
//!
//! | request | answer |
//! | --- | --- |
//! | no token (`?user=` alone included) | 401 `token required`, `WWW-Authenticate: Bearer` |
//! | a token that is malformed, of another algorithm, badly signed, expired, not yet valid, without `sub` or `exp`, of another issuer or audience | 401 `invalid token: <why>` |
//! | a valid token whose `paths` do not include the path | 403 `the token does not allow this path` |
//! | a valid token | 101, the connection is `sub` for its life (`?user=` and `?session=` are ignored) |

mod jwt;
mod key;

use std::time::SystemTime;

pub use jwt::{Algorithm, Claims, DEFAULT_LEEWAY, MAX_TOKEN, TokenError, Verifier, base64url};
pub use key::{Key, KeyError, MIN_SECRET};

use crate::Server;
use crate::upgrade::{Decision, Identity, UpgradeFuture, UpgradeHook, UpgradeRequest};

/// The prefix of a token offered as a subprotocol.
pub const BEARER_PROTOCOL: &str = "bearer.";

/// The binary's upgrade hook when signed identities are on: see the [module docs](self).
#[derive(Clone, Debug)]
pub struct TokenAuth {
    verifier: Verifier,
}

impl TokenAuth {
    /// Lets in connections with a token that `verifier` accepts.
    pub const fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }

    /// The decision on `req` at time `now`.
    pub fn decide_at(&self, req: &UpgradeRequest, now: SystemTime) -> Decision {
        let token = match token_of(req) {
            Ok(Some(t)) => t,
            Ok(None) => {
                return Decision::refuse(401, "token required\n")
                    .with_header("WWW-Authenticate", "Bearer");
            }
            Err(why) => return invalid(why),
        };
        let claims = match self.verifier.verify(&token, now) {
            Ok(c) => c,
            Err(e) => return invalid(&e.to_string()),
        };
        if !claims.allows(req.path()) {
            return Decision::refuse(403, "the token does not allow this path\n");
        }
        let mut identity = Identity::new(claims.sub);
        if let Some(meta) = claims.meta {
            identity = identity.with_metadata(meta);
        }
        Decision::accept().with_identity(identity)
    }
}

fn invalid(why: &str) -> Decision {
    Decision::refuse(401, format!("invalid token: {why}\n"))
        .with_header("WWW-Authenticate", "Bearer error=\"invalid_token\"")
}

impl UpgradeHook for TokenAuth {
    fn decide<'a>(&'a self, req: &'a UpgradeRequest, _: &'a Server) -> UpgradeFuture<'a> {
        Box::pin(std::future::ready(self.decide_at(req, SystemTime::now())))
    }
}

/// The token the request carries, from the `Authorization` header, a `bearer.` subprotocol
/// or `?token=`; `Err` if it carries two different ones.
pub fn token_of(req: &UpgradeRequest) -> Result<Option<String>, &'static str> {
    let header = req.header("authorization").and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    });
    let protocols = req
        .offered_protocols()
        .filter_map(|p| p.strip_prefix(BEARER_PROTOCOL))
        .map(str::to_owned);
    let query = req.query_param("token").map(|t| t.into_owned());
    let mut found: Option<String> = None;
    for t in header.into_iter().chain(protocols).chain(query) {
        match &found {
            Some(f) if *f != t => return Err("two different tokens"),
            Some(_) => {}
            None => found = Some(t),
        }
    }
    Ok(found)
}

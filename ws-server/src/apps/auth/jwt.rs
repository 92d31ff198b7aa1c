//! JSON Web Tokens, compact form (RFC 7519, RFC 7515): parsed here by hand, the signature
//! checked by `ring` before the claims are read, the algorithm the configured one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::key::Key;

/// The longest token read (a request head is at most 16 KiB anyway).
pub const MAX_TOKEN: usize = 8 << 10;

/// The default leeway on `exp` and `nbf`, for clocks that disagree a little.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// base64url without padding, as JWS writes it (RFC 7515 §2): padding and stray bits are
/// refused.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// The signature algorithms a server may be configured with. `none` is not one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC with SHA-256, a shared secret.
    Hs256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, an RSA public key.
    Rs256,
    /// ECDSA on P-256 with SHA-256, a P-256 public key.
    Es256,
}

impl Algorithm {
    /// The name tokens carry in their `alg`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

impl core::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Algorithm {
    type Err = String;

    /// `HS256`, `RS256` or `ES256` (in any case).
    fn from_str(s: &str) -> Result<Self, String> {
        [Self::Hs256, Self::Rs256, Self::Es256]
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("{s:?}: expected HS256, RS256 or ES256"))
    }
}

/// Why a token is refused (each is a 401 at the upgrade).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON, or too long.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header's `alg` is not the configured algorithm (`none` never is).
    #[error("the token's algorithm is not {expected}")]
    Algorithm {
        /// The configured algorithm.
        expected: Algorithm,
    },
    /// The header lists critical extensions (`crit`), which this server does not know.
    #[error("the token has critical extensions")]
    Critical,
    /// The signature does not verify with the configured key.
    #[error("bad signature")]
    Signature,
    /// No `sub`, or an empty one.
    #[error("the token has no sub")]
    MissingSubject,
    /// No `exp`: a token must expire.
    #[error("the token has no exp")]
    MissingExpiry,
    /// `exp` has passed (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` has not come yet (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the token's issuer is not accepted")]
    Issuer,
    /// `aud` does not name the configured audience.
    #[error("the token's audience is not accepted")]
    Audience,
}

/// What a verified token says.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    /// `sub`: the user id.
    pub sub: String,
    /// `exp`, seconds since 1970.
    pub exp: f64,
    /// `nbf`, seconds since 1970.
    pub nbf: Option<f64>,
    /// `paths`: the paths the token allows, each exact or a prefix ending in `*`; `None`:
    /// every path. A room of the binary is its path (`/rooms/<name>`, `/chat/<room>`).
    pub paths: Option<Vec<String>>,
    /// `meta`: JSON for the session's metadata (the roster shows it).
    pub meta: Option<String>,
}

impl Claims {
    /// Whether the token allows `path` (its `paths` claim; no claim allows all).
    pub fn allows(&self, path: &str) -> bool {
        self.paths.as_ref().is_none_or(|paths| {
            paths.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == p,
            })
        })
    }
}

/// Verifies tokens with one key, for its one algorithm.
#[derive(Clone, Debug)]
pub struct Verifier {
    key: Key,
    leeway: Duration,
    issuer: Option<String>,
    audience: Option<String>,
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: std::borrow::Cow<'a, str>,
    /// Whether `crit` is there, whatever its value (`null` included).
    #[serde(default)]
    crit: Present,
}

/// A field that is there, whatever its value.
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Self(true))
    }
}

#[derive(Deserialize)]
struct RawClaims {
    sub: Option<String>,
    exp: Option<f64>,
    nbf: Option<f64>,
    iss: Option<String>,
    aud: Option<OneOrMany>,
    paths: Option<Vec<String>>,
    meta: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl Verifier {
    /// Tokens signed with `key`'s algorithm, `exp` and `nbf` checked with a 30 s leeway.
    pub const fn new(key: Key) -> Self {
        Self {
            key,
            leeway: DEFAULT_LEEWAY,
            issuer: None,
            audience: None,
        }
    }

    /// The leeway on `exp` and `nbf`.
    #[must_use]
    pub const fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Requires `iss` to be `issuer`.
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires `aud` to be, or to list, `audience`.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The one algorithm tokens may use.
    pub const fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// Verifies `token` at time `now`: its form, its algorithm, its signature, then its
    /// claims (`sub`; `exp`, `nbf` with the leeway; `iss`, `aud` if configured).
    ///
    /// # Errors
    /// [`TokenError`], the first rule broken in that order.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN {
            return Err(TokenError::Malformed("too long"));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed("not three parts"));
        };
        let header_json = B64URL
            .decode(header)
            .map_err(|_| TokenError::Malformed("a header that is not base64url"))?;
        let head: Header<'_> = strict_json(&header_json).ok_or(TokenError::Malformed(
            "a header that is not a JSON object with alg",
        ))?;
        if head.alg != self.key.algorithm().name() {
            return Err(TokenError::Algorithm {
                expected: self.key.algorithm(),
            });
        }
        if head.crit.0 {
            return Err(TokenError::Critical);
        }
        let signature = B64URL
            .decode(signature)
            .map_err(|_| TokenError::Malformed("a signature that is not base64url"))?;
        let signed = &token.as_bytes()[..header.len() + 1 + payload.len()];
        if !self.key.verifies(signed, &signature) {
            return Err(TokenError::Signature);
        }
        // Only a signed payload is read.
        let payload = B64URL
            .decode(payload)
            .map_err(|_| TokenError::Malformed("a payload that is not base64url"))?;
        let raw: RawClaims = strict_json(&payload).ok_or(TokenError::Malformed(
            "claims that are not a JSON object of the expected types",
        ))?;
        self.check(raw, now)
    }

    fn check(&self, raw: RawClaims, now: SystemTime) -> Result<Claims, TokenError> {
        let sub = raw
            .sub
            .filter(|s| !s.is_empty())
            .ok_or(TokenError::MissingSubject)?;
        let exp = raw.exp.ok_or(TokenError::MissingExpiry)?;
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let leeway = self.leeway.as_secs_f64();
        if now >= exp + leeway {
            return Err(TokenError::Expired);
        }
        if raw.nbf.is_some_and(|nbf| now + leeway < nbf) {
            return Err(TokenError::NotYetValid);
        }
        if let Some(iss) = &self.issuer
            && raw.iss.as_ref() != Some(iss)
        {
            return Err(TokenError::Issuer);
        }
        if let Some(aud) = &self.audience {
            let ok = match &raw.aud {
                Some(OneOrMany::One(a)) => a == aud,
                Some(OneOrMany::Many(list)) => list.contains(aud),
                None => false,
            };
            if !ok {
                return Err(TokenError::Audience);
            }
        }
        Ok(Claims {
            sub,
            exp,
            nbf: raw.nbf,
            paths: raw.paths,
            meta: raw.meta.map(|m| m.get().to_owned()),
        })
    }
}

/// `json` as `T`, if it is wholly valid JSON (UTF-8 throughout, no lone surrogate escape,
/// even in fields `T` ignores, which `serde_json` skips unchecked) and gives no field of
/// `T` twice.
fn strict_json<'a, T: Deserialize<'a>>(json: &'a [u8]) -> Option<T> {
    core::str::from_utf8(json).ok()?;
    serde_json::from_slice::<serde_json::Value>(json).ok()?;
    serde_json::from_slice(json).ok()
}

/// Encodes `bytes` as base64url without padding, as tokens carry their parts (for making
/// tokens in tests and tools).
pub fn base64url(bytes: &[u8]) -> String {
    B64URL.encode(bytes)
}

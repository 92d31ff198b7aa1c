//! Fuzz bodies, compiled on stable so that `cargo test` replays the committed seeds
//! (`fuzz/seeds/token/`, `fuzz/seeds/public_key/`).
//!
//! **Not part of the public API**: exported for the `fuzz/` targets and tests only. Each
//! function takes raw fuzzer bytes, never panics on its own account, and asserts an oracle
//! (a panic here is a bug found).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::apps::auth::{Algorithm, Key, TokenError, Verifier, base64url};

/// The fuzz targets' HS256 secret.
pub const SECRET: &[u8] = b"fuzz-secret-fuzz-secret-fuzz-secret!";

/// The time the fuzz bodies verify at: 2023-11-14T22:13:20Z.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// A P-256 public key (the tests' `tests/keys/ec-public.pem`).
const EC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAPVWpSlYbIbIw+oXNVjYyEP5Uuac
+tCVZ+rFQNDQllo/lUbRpTFhhq+OXyoIkooq/eYyqMdSCGw7HWHKxilv1Q==
-----END PUBLIC KEY-----
";

/// An RSA public key (the tests' `tests/keys/rsa-public.pem`).
const RSA_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAmqqjs7fZ/HHvu34Zefsg
N6t1UIOmv1oYUTEhy91WYIbU3nmcs+NllV+grBuJ6MfonOJSC2CkSr7vdkYkopWV
k7Jrt46JnR8GeqwPqtLyqN8o3rCTOsMYq5GkesrrEpFniK9GKJFzIQB6fZv02uf5
yJH/gou/18bzuECSjhGLykj9u+ClidxPFguKzl/hnfXZ1/iJSsWre1V+esdWZ03P
24hesynTpxS1vjhjrVEjRkcMKKKPlFjUqTMrg/vZzW2uflCQNs8YHtb7XBdxpGEw
cYnhGmbFGDq7KbHS6cfKIJTiGmwyuqFif5UL5PHNrpCx+5EkE5xJu6JqJQd0TH/4
2wIDAQAB
-----END PUBLIC KEY-----
";

fn hs256() -> Verifier {
    Verifier::new(Key::hs256(SECRET).expect("a long secret"))
}

/// `header_json.payload_json`, signed with [`SECRET`].
pub fn sign_hs256(header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", base64url(header), base64url(payload));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", base64url(tag.as_ref()))
}

/// The JWT verifier on fuzz input. The first byte picks what the rest is:
///
/// - 0: a whole token, verified with an HS256, an RS256 and an ES256 key. Oracle: what is
///   accepted carries a signature made with the secret (recomputed here), and a valid `sub`.
/// - 1: the claims JSON of a token signed with the secret. Oracle: never refused for its
///   form, algorithm or signature; accepted claims are consistent (`sub` non-empty, `exp`
///   not passed).
/// - 2: the header JSON of a signed token. Oracle: accepted only with `"alg":"HS256"` and
///   no `crit`.
/// - else: the same token "signed" with `alg` `none` or `RS256`'s public key as an HS256
///   secret, against RS256 and HS256 servers. Oracle: always refused.
pub fn token(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let now = now();
    match mode {
        0 => {
            let text = String::from_utf8_lossy(rest);
            for verifier in [
                hs256(),
                Verifier::new(Key::from_pem(RSA_PEM, None).expect("the RSA key")),
                Verifier::new(Key::from_pem(EC_PEM, None).expect("the EC key")),
            ] {
                if let Ok(claims) = verifier.verify(&text, now) {
                    assert_eq!(verifier.algorithm(), Algorithm::Hs256, "no forged RS/ES");
                    let (signed, sig) = text.rsplit_once('.').expect("three parts");
                    assert_eq!(sign_hs256_input(signed), sig, "accepted a forged signature");
                    assert!(!claims.sub.is_empty());
                }
            }
        }
        1 => {
            let token = sign_hs256(br#"{"alg":"HS256","typ":"JWT"}"#, rest);
            match hs256().verify(&token, now) {
                Ok(claims) => {
                    assert!(!claims.sub.is_empty());
                    assert!(
                        claims.exp + 30.0 > 1_700_000_000.0,
                        "accepted an expired token"
                    );
                    let _ = claims.allows("/chat/lobby");
                }
                Err(
                    TokenError::Signature | TokenError::Algorithm { .. } | TokenError::Critical,
                ) => {
                    panic!("a well-signed token refused for its signature or header")
                }
                Err(_) => {}
            }
        }
        2 => {
            let token = sign_hs256(rest, br#"{"sub":"a","exp":1800000000}"#);
            if hs256().verify(&token, now).is_ok() {
                let v: serde_json::Value = serde_json::from_slice(rest).expect("a JSON header");
                assert_eq!(v["alg"], "HS256");
                assert!(v.get("crit").is_none());
            }
        }
        _ => {
            let claims = base64url(rest);
            let none = format!("{}.{claims}.", base64url(br#"{"alg":"none"}"#));
            let confused = {
                let input = format!("{}.{claims}", base64url(br#"{"alg":"HS256"}"#));
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, RSA_PEM.as_bytes());
                let tag = ring::hmac::sign(&key, input.as_bytes());
                format!("{input}.{}", base64url(tag.as_ref()))
            };
            let rs = Verifier::new(Key::from_pem(RSA_PEM, None).expect("the RSA key"));
            for t in [&none, &confused] {
                assert!(rs.verify(t, now).is_err(), "{t}");
            }
            assert!(hs256().verify(&none, now).is_err());
        }
    }
}

/// The signature part [`SECRET`] gives `input` (`header.payload`).
fn sign_hs256_input(input: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET);
    base64url(ring::hmac::sign(&key, input.as_bytes()).as_ref())
}

/// The public-key reader on fuzz input: as PEM text, and as the DER inside a `PUBLIC KEY`
/// block. Oracle: no panic; a key read is for RS256 or ES256, and reading it again gives
/// the same.
pub fn public_key(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let der = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, data)
    );
    for pem in [text.as_ref(), der.as_str()] {
        if let Ok(key) = Key::from_pem(pem, None) {
            assert_ne!(key.algorithm(), Algorithm::Hs256);
            let again = Key::from_pem(pem, Some(key.algorithm())).expect("the same key again");
            assert_eq!(again.algorithm(), key.algorithm());
        }
    }
}

//! Tokens for the signed-identity tests: the tests' keys, signing with each algorithm, and
//! connecting with a token.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use oyez_frame::session::Config;
use oyez_server::apps::auth::{Key, TokenAuth, Verifier, base64url};
use oyez_server::apps::{self, Site};
use oyez_server::client::{self, Client};
use oyez_server::{Builder, Server};

use crate::util::{WAIT, config, url};

pub(crate) const SECRET: &[u8] = b"a-test-secret-of-at-least-32-bytes!!";
pub(crate) const RSA_PUBLIC: &str = include_str!("keys/rsa-public.pem");
pub(crate) const RSA_PRIVATE: &str = include_str!("keys/rsa-private.pem");
pub(crate) const EC_PUBLIC: &str = include_str!("keys/ec-public.pem");
pub(crate) const EC_PRIVATE: &str = include_str!("keys/ec-private.pem");

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

pub(crate) fn unix_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// `header.claims`, signed as `alg` says with the tests' keys (`none`: no signature).
pub(crate) fn sign(alg: &str, header: &str, claims: &str, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        base64url(header.as_bytes()),
        base64url(claims.as_bytes())
    );
    let rng = ring::rand::SystemRandom::new();
    let sig = match alg {
        "HS256" => {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
            ring::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
        }
        "RS256" => {
            let pair = ring::signature::RsaKeyPair::from_pkcs8(&pem_der(RSA_PRIVATE)).unwrap();
            let mut sig = vec![0; pair.public().modulus_len()];
            pair.sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &rng,
                input.as_bytes(),
                &mut sig,
            )
            .unwrap();
            sig
        }
        "ES256" | "ES256-DER" => {
            let alg = if alg == "ES256" {
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING
            } else {
                &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING
            };
            let pair =
                ring::signature::EcdsaKeyPair::from_pkcs8(alg, &pem_der(EC_PRIVATE), &rng).unwrap();
            pair.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec()
        }
        _ => Vec::new(),
    };
    format!("{input}.{}", base64url(&sig))
}

pub(crate) fn header(alg: &str) -> String {
    format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#)
}

/// A token for `sub`, valid for an hour, signed with the HS256 secret.
pub(crate) fn hs256_for(sub: &str, extra: &str) -> String {
    let claims = format!(r#"{{"sub":"{sub}","exp":{}{extra}}}"#, unix_now() + 3600);
    sign("HS256", &header("HS256"), &claims, SECRET)
}

pub(crate) fn hs256() -> Verifier {
    Verifier::new(Key::hs256(SECRET).unwrap())
}

/// The binary's application with signed identities on, as the binary wires it.
pub(crate) async fn start_signed(verifier: Verifier) -> Server {
    apps::mount(
        Builder::new(config()),
        Site::default().without_public_roster(),
    )
    .upgrade_hook(TokenAuth::new(verifier))
    .bind()
    .await
    .expect("bind")
}

pub(crate) async fn try_connect(
    server: &Server,
    path: &str,
    protocols: &[&str],
    headers: &[(&str, &str)],
) -> Result<Client, oyez_server::Error> {
    tokio::time::timeout(
        WAIT,
        client::connect_with_protocols(&url(server, path), Config::default(), protocols, headers),
    )
    .await
    .expect("an answer in time")
}

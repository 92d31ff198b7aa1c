//! Signed identities (`apps::auth`): every refused token and its status, and direct
//! messages that follow the token's `sub`, on one instance and across two over Redis and
//! NATS.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use oyez_backplane::transport::memory::MemoryHub;
use oyez_backplane::{MegaConfig, Transport};
use oyez_frame::session::Config;
use oyez_server::apps::auth::{Algorithm, Key, TokenAuth, TokenError, Verifier, base64url};
use oyez_server::apps::{self, Site};
use oyez_server::client::{self, Client, ClientEvent};
use oyez_server::{Builder, Message, Server};

use crate::util::{WAIT, config, next_message, raw_http, upgrade_request, url};

const SECRET: &[u8] = b"a-test-secret-of-at-least-32-bytes!!";
const RSA_PUBLIC: &str = include_str!("keys/rsa-public.pem");
const RSA_PRIVATE: &str = include_str!("keys/rsa-private.pem");
const EC_PUBLIC: &str = include_str!("keys/ec-public.pem");
const EC_PRIVATE: &str = include_str!("keys/ec-private.pem");

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

fn unix_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// `header.claims`, signed as `alg` says with the tests' keys (`none`: no signature).
fn sign(alg: &str, header: &str, claims: &str, secret: &[u8]) -> String {
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

fn header(alg: &str) -> String {
    format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#)
}

/// A token for `sub`, valid for an hour, signed with the HS256 secret.
fn hs256_for(sub: &str, extra: &str) -> String {
    let claims = format!(r#"{{"sub":"{sub}","exp":{}{extra}}}"#, unix_now() + 3600);
    sign("HS256", &header("HS256"), &claims, SECRET)
}

fn hs256() -> Verifier {
    Verifier::new(Key::hs256(SECRET).unwrap())
}

#[test]
fn the_verifier_refuses_what_it_must() {
    let now = SystemTime::now();
    let t = unix_now();
    let claims = format!(r#"{{"sub":"alice","exp":{}}}"#, t + 600);
    let rs = Verifier::new(Key::from_pem(RSA_PUBLIC, Some(Algorithm::Rs256)).unwrap());
    let es = Verifier::new(Key::from_pem(EC_PUBLIC, Some(Algorithm::Es256)).unwrap());

    // Each algorithm with its key.
    for (v, alg) in [(&hs256(), "HS256"), (&rs, "RS256"), (&es, "ES256")] {
        let c = v
            .verify(&sign(alg, &header(alg), &claims, SECRET), now)
            .unwrap();
        assert_eq!(c.sub, "alice");
    }
    // Forged: another secret, a flipped byte of the payload, a signature from elsewhere.
    let forged = sign(
        "HS256",
        &header("HS256"),
        &claims,
        b"another-secret-another-secret-!!!!",
    );
    assert_eq!(hs256().verify(&forged, now), Err(TokenError::Signature));
    let good = sign("RS256", &header("RS256"), &claims, SECRET);
    let (h, rest) = good.split_once('.').unwrap();
    let (_, s) = rest.split_once('.').unwrap();
    let other = base64url(format!(r#"{{"sub":"mallory","exp":{}}}"#, t + 600).as_bytes());
    assert_eq!(
        rs.verify(&format!("{h}.{other}.{s}"), now),
        Err(TokenError::Signature)
    );
    // An ES256 signature in DER instead of the fixed r||s form JWS uses.
    let der = sign("ES256-DER", &header("ES256"), &claims, SECRET);
    assert_eq!(es.verify(&der, now), Err(TokenError::Signature));

    // The algorithm is the server's, never the token's.
    let expected = |a| Err(TokenError::Algorithm { expected: a });
    let none = sign("none", &header("none"), &claims, SECRET);
    for v in [&hs256(), &rs, &es] {
        assert_eq!(v.verify(&none, now), expected(v.algorithm()), "none");
    }
    let none_upper = sign("none", &header("NONE"), &claims, SECRET);
    assert_eq!(hs256().verify(&none_upper, now), expected(Algorithm::Hs256));
    assert_eq!(
        hs256().verify(&sign("RS256", &header("RS256"), &claims, SECRET), now),
        expected(Algorithm::Hs256)
    );
    // The classic confusion: HS256 "signed" with the RS256 server's public key.
    let confused = sign("HS256", &header("HS256"), &claims, RSA_PUBLIC.as_bytes());
    assert_eq!(rs.verify(&confused, now), expected(Algorithm::Rs256));
    let crit = sign(
        "HS256",
        r#"{"alg":"HS256","crit":["exp"]}"#,
        &claims,
        SECRET,
    );
    assert_eq!(hs256().verify(&crit, now), Err(TokenError::Critical));
    let crit_null = sign("HS256", r#"{"alg":"HS256","crit":null}"#, &claims, SECRET);
    assert_eq!(hs256().verify(&crit_null, now), Err(TokenError::Critical));

    // Time, with the leeway (30 s by default).
    let at =
        |claims: String| hs256().verify(&sign("HS256", &header("HS256"), &claims, SECRET), now);
    assert_eq!(
        at(format!(r#"{{"sub":"a","exp":{}}}"#, t - 60)),
        Err(TokenError::Expired)
    );
    assert!(
        at(format!(r#"{{"sub":"a","exp":{}}}"#, t - 10)).is_ok(),
        "within the leeway"
    );
    assert_eq!(
        at(format!(
            r#"{{"sub":"a","exp":{},"nbf":{}}}"#,
            t + 600,
            t + 120
        )),
        Err(TokenError::NotYetValid)
    );
    assert!(
        at(format!(
            r#"{{"sub":"a","exp":{},"nbf":{}}}"#,
            t + 600,
            t + 10
        ))
        .is_ok()
    );
    let strict = Verifier::new(Key::hs256(SECRET).unwrap()).with_leeway(Duration::ZERO);
    let just_expired = sign(
        "HS256",
        &header("HS256"),
        &format!(r#"{{"sub":"a","exp":{}}}"#, t - 1),
        SECRET,
    );
    assert_eq!(strict.verify(&just_expired, now), Err(TokenError::Expired));

    // Claims that must be there.
    assert_eq!(
        at(format!(r#"{{"exp":{}}}"#, t + 60)),
        Err(TokenError::MissingSubject)
    );
    assert_eq!(
        at(format!(r#"{{"sub":"","exp":{}}}"#, t + 60)),
        Err(TokenError::MissingSubject)
    );
    assert_eq!(
        at(r#"{"sub":"a"}"#.to_owned()),
        Err(TokenError::MissingExpiry)
    );
    assert!(matches!(
        at(format!(r#"{{"sub":1,"exp":{}}}"#, t + 60)),
        Err(TokenError::Malformed(_))
    ));
    assert!(matches!(
        at(format!(r#"{{"sub":"a","sub":"b","exp":{}}}"#, t + 60)),
        Err(TokenError::Malformed(_))
    ));

    // Issuer and audience, when configured.
    let v = hs256().with_issuer("https://issuer").with_audience("ws");
    let with = |extra: &str| {
        v.verify(
            &sign(
                "HS256",
                &header("HS256"),
                &format!(r#"{{"sub":"a","exp":{}{extra}}}"#, t + 60),
                SECRET,
            ),
            now,
        )
    };
    assert!(with(r#","iss":"https://issuer","aud":"ws""#).is_ok());
    assert!(with(r#","iss":"https://issuer","aud":["x","ws"]"#).is_ok());
    assert_eq!(
        with(r#","iss":"https://other","aud":"ws""#),
        Err(TokenError::Issuer)
    );
    assert_eq!(
        with(r#","iss":"https://issuer","aud":"x""#),
        Err(TokenError::Audience)
    );
    assert_eq!(
        with(r#","iss":"https://issuer""#),
        Err(TokenError::Audience)
    );

    // Malformed.
    let good = hs256_for("a", "");
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        &format!("{good}="),
        &good.replacen('.', "=.", 1),
        &format!("{}.{}.", base64url(b"not json"), base64url(b"{}")),
        &"a".repeat(9000),
    ] {
        assert!(
            matches!(hs256().verify(bad, now), Err(TokenError::Malformed(_))),
            "{bad:?}"
        );
    }
    // JSON that is not wholly valid, even in a field the verifier ignores (found by the
    // fuzzer): invalid UTF-8, a lone surrogate.
    let fuzz = Verifier::new(Key::hs256(oyez_server::__fuzz::SECRET).unwrap());
    let exp = format!(r#"{{"sub":"a","exp":{}}}"#, t + 60);
    for bad_header in [
        &b"{\"alg\":\"HS256\",\"x\":\"\xc7\"}"[..],
        br#"{"alg":"HS256","x":"\ud800"}"#,
    ] {
        let tok = oyez_server::__fuzz::sign_hs256(bad_header, exp.as_bytes());
        assert!(
            matches!(fuzz.verify(&tok, now), Err(TokenError::Malformed(_))),
            "{tok}"
        );
        let tok = oyez_server::__fuzz::sign_hs256(
            br#"{"alg":"HS256"}"#,
            &[
                &bad_header[..bad_header.len() - 1],
                b",\"sub\":\"a\",\"exp\":9999999999}",
            ]
            .concat(),
        );
        assert!(
            matches!(fuzz.verify(&tok, now), Err(TokenError::Malformed(_))),
            "{tok}"
        );
    }
    // Paths.
    let c = hs256()
        .verify(
            &hs256_for("a", r#","paths":["/rooms/lobby","/chat/*"]"#),
            now,
        )
        .unwrap();
    assert!(c.allows("/rooms/lobby") && c.allows("/chat/x") && !c.allows("/rooms/lobby2"));
    assert!(!c.allows("/all"));
}

/// The binary's application with signed identities on, as the binary wires it.
async fn start_signed(verifier: Verifier) -> Server {
    apps::mount(
        Builder::new(config()),
        Site::default().without_public_roster(),
    )
    .upgrade_hook(TokenAuth::new(verifier))
    .bind()
    .await
    .expect("bind")
}

async fn try_connect(
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

async fn refused_with(server: &Server, target: &str, extra: &str, status: u16) {
    let res = raw_http(server, &upgrade_request(target, extra)).await;
    assert!(
        res.starts_with(&format!("HTTP/1.1 {status} ")),
        "{target} {extra}: {res}"
    );
}

#[tokio::test]
async fn every_refusal_has_its_status_and_the_server_keeps_serving() {
    let server = start_signed(hs256()).await;
    let t = unix_now();
    let claims = format!(r#"{{"sub":"alice","exp":{}}}"#, t + 600);
    let bearer = |tok: &str| format!("Authorization: Bearer {tok}\r\n");

    // No token, and ?user= without one.
    let res = raw_http(&server, &upgrade_request("/echo", "")).await;
    assert!(
        res.starts_with("HTTP/1.1 401 ") && res.contains("\r\nWWW-Authenticate: Bearer\r\n"),
        "{res}"
    );
    refused_with(&server, "/chat/lobby?user=alice&session=s1", "", 401).await;
    // Forged, wrong algorithm (none; RS256; HS256 with a public key as the secret is only
    // a confusion for an RS256 server, below), expired, not yet valid, without sub.
    let forged = sign(
        "HS256",
        &header("HS256"),
        &claims,
        b"another-secret-another-secret-!!!!",
    );
    let cases = [
        forged,
        sign("none", &header("none"), &claims, SECRET),
        sign("RS256", &header("RS256"), &claims, SECRET),
        sign(
            "HS256",
            &header("HS256"),
            &format!(r#"{{"sub":"a","exp":{}}}"#, t - 3600),
            SECRET,
        ),
        sign(
            "HS256",
            &header("HS256"),
            &format!(r#"{{"sub":"a","exp":{},"nbf":{}}}"#, t + 9000, t + 3600),
            SECRET,
        ),
        sign(
            "HS256",
            &header("HS256"),
            &format!(r#"{{"exp":{}}}"#, t + 600),
            SECRET,
        ),
        "garbage".to_owned(),
    ];
    for tok in &cases {
        refused_with(&server, "/echo", &bearer(tok), 401).await;
        refused_with(&server, &format!("/echo?token={tok}"), "", 401).await;
        refused_with(
            &server,
            "/echo",
            &format!("Sec-WebSocket-Protocol: oyez, bearer.{tok}\r\n"),
            401,
        )
        .await;
    }
    let res = raw_http(&server, &upgrade_request("/echo", &bearer(&cases[3]))).await;
    assert!(
        res.contains("invalid token: the token has expired"),
        "{res}"
    );
    // Two different tokens in one request.
    let alice = hs256_for("alice", "");
    let bob = hs256_for("bob", "");
    refused_with(&server, &format!("/echo?token={bob}"), &bearer(&alice), 401).await;
    // A path the token does not allow.
    let lobby_only = hs256_for("alice", r#","paths":["/rooms/lobby","/chat/*"]"#);
    refused_with(&server, "/rooms/kitchen", &bearer(&lobby_only), 403).await;
    refused_with(&server, "/echo", &bearer(&lobby_only), 403).await;
    let ok = try_connect(
        &server,
        "/rooms/lobby",
        &[],
        &[("Authorization", &format!("Bearer {lobby_only}"))],
    )
    .await;
    assert!(ok.is_ok());
    // The public roster is off.
    let res = raw_http(
        &server,
        b"GET /chat/roster?room=lobby HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 404 "), "{res}");

    // The server goes on serving: a valid token by each route in, echo works.
    let mut c = try_connect(&server, &format!("/echo?token={alice}"), &[], &[])
        .await
        .unwrap();
    c.send("hi").await.unwrap();
    assert_eq!(next_message(&mut c).await, Message::text("hi"));
    let mut c = try_connect(
        &server,
        "/echo",
        &[],
        &[("Authorization", &format!("bearer {alice}"))],
    )
    .await
    .unwrap();
    c.send("hi").await.unwrap();
    assert_eq!(next_message(&mut c).await, Message::text("hi"));
    // The browser form: the token as a subprotocol beside the real one, which is the answer.
    let token_proto = format!("bearer.{alice}");
    let c = try_connect(&server, "/echo", &["chat.v0", "oyez", &token_proto], &[])
        .await
        .unwrap();
    assert_eq!(c.protocol(), Some("oyez"));
    let rejected = server
        .stats()
        .upgrades_refused
        .load(std::sync::atomic::Ordering::Relaxed);
    // Two without a token, 21 bad tokens three ways, the expired one once more, two
    // tokens, two paths.
    assert_eq!(rejected, 2 + 3 * 7 + 1 + 1 + 2);
}

#[tokio::test]
async fn rs256_and_es256_servers_take_only_their_own() {
    let t = unix_now();
    let claims = format!(r#"{{"sub":"alice","exp":{}}}"#, t + 600);
    for (pem, alg) in [(RSA_PUBLIC, "RS256"), (EC_PUBLIC, "ES256")] {
        let server = start_signed(Verifier::new(Key::from_pem(pem, None).unwrap())).await;
        let own = sign(alg, &header(alg), &claims, SECRET);
        assert!(
            try_connect(&server, &format!("/echo?token={own}"), &[], &[])
                .await
                .is_ok()
        );
        for tok in [
            sign("HS256", &header("HS256"), &claims, pem.as_bytes()),
            sign("HS256", &header("HS256"), &claims, SECRET),
            sign("none", &header("none"), &claims, SECRET),
        ] {
            refused_with(&server, &format!("/echo?token={tok}"), "", 401).await;
        }
        server.shutdown().await;
    }
}

/// Waits for the next message with `needle` in it, skipping others.
async fn next_with(c: &mut Client, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, c.recv())
            .await
            .expect("in time")
            .unwrap()
        {
            Some(ClientEvent::Message(m)) => {
                let t = String::from_utf8_lossy(m.as_bytes()).into_owned();
                if t.contains(needle) {
                    return t;
                }
            }
            Some(ClientEvent::Pong(_)) => {}
            other => panic!("expected a message with {needle}, got {other:?}"),
        }
    }
}

async fn none_with(c: &mut Client, needle: &str) {
    let end = tokio::time::Instant::now() + Duration::from_millis(400);
    while let Ok(ev) = tokio::time::timeout_at(end, c.recv()).await {
        if let Ok(Some(ClientEvent::Message(m))) = ev {
            assert!(
                !String::from_utf8_lossy(m.as_bytes()).contains(needle),
                "unexpected {m:?}"
            );
        }
    }
}

fn unique(prefix: &str) -> String {
    use std::hash::BuildHasher;
    let r = std::collections::hash_map::RandomState::new().hash_one(SystemTime::now());
    format!("{prefix}{r:016x}")
}

async fn signed_instance(backend: &str, hub: &MemoryHub, app: &str) -> Server {
    let transport: Arc<dyn Transport> = match backend {
        "memory" => Arc::new(hub.transport()),
        "redis" => Arc::new(
            oyez_backplane::transport::redis::RedisTransport::connect("redis://127.0.0.1:6379")
                .expect("redis"),
        ),
        _ => Arc::new(
            oyez_backplane::transport::nats::NatsTransport::connect("nats://127.0.0.1:4222")
                .await
                .expect("nats"),
        ),
    };
    apps::mount(
        Builder::new(config()),
        Site::default().without_public_roster(),
    )
    .upgrade_hook(TokenAuth::new(hs256()))
    .mega_cluster(transport, MegaConfig::new(app))
    .bind()
    .await
    .expect("bind")
}

/// Alice's direct messages reach the connections with alice's token, on both instances;
/// bob's token (even with `?user=alice`) and no token do not get them.
async fn direct_messages_follow_the_token(backend: &str, two: bool) {
    let hub = MemoryHub::new();
    let app = unique("app");
    let s1 = signed_instance(backend, &hub, &app).await;
    let s2 = if two {
        signed_instance(backend, &hub, &app).await
    } else {
        s1.clone()
    };
    let ns = format!("/{}", unique("dm"));
    let alice_tok = hs256_for("alice", "");
    let bob_tok = hs256_for("bob", "");
    let carol_tok = hs256_for("carol", "");
    let mut alice1 = try_connect(
        &s1,
        &ns,
        &[],
        &[("Authorization", &format!("Bearer {alice_tok}"))],
    )
    .await
    .unwrap();
    let mut alice2 = try_connect(&s2, &format!("{ns}?token={alice_tok}"), &[], &[])
        .await
        .unwrap();
    let mut bob = try_connect(
        &s2,
        &format!("{ns}?user=alice&session=x&token={bob_tok}"),
        &[],
        &[],
    )
    .await
    .unwrap();
    let mut carol = try_connect(&s1, &format!("{ns}?token={carol_tok}"), &[], &[])
        .await
        .unwrap();
    assert!(matches!(
        try_connect(&s2, &format!("{ns}?user=alice&session=y"), &[], &[]).await,
        Err(oyez_server::Error::Protocol(
            oyez_frame::Error::UnexpectedStatus(401)
        ))
    ));
    // The roster shows the tokens' users (bob as bob).
    let mut users: Vec<String> = s1.roster(&ns).into_iter().map(|s| s.user_id).collect();
    users.sort();
    if !two {
        assert_eq!(users, ["alice", "alice", "bob", "carol"]);
    }

    // Carol writes to alice until the first copy arrives (the cluster's subscriptions are
    // live), then once more, with a fresh marker, for the assertions.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let warm = unique("warm-");
        carol
            .send(format!(
                r#"{{"type":"direct","to":"alice","payload":"{warm}"}}"#
            ))
            .await
            .unwrap();
        if tokio::time::timeout(Duration::from_millis(200), next_with(&mut alice2, &warm))
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cluster never connected"
        );
    }
    let t = unique("dm-");
    carol
        .send(format!(
            r#"{{"type":"direct","to":"alice","payload":"{t}"}}"#
        ))
        .await
        .unwrap();
    for a in [&mut alice1, &mut alice2] {
        let got = next_with(a, &t).await;
        let v: serde_json::Value = serde_json::from_str(&got).unwrap();
        assert_eq!(
            (v["from"].as_str(), v["payload"].as_str()),
            (Some("carol"), Some(t.as_str()))
        );
    }
    none_with(&mut bob, &t).await;
    none_with(&mut carol, &t).await;
    // Bob's messages come from bob, whatever his query said.
    let t = unique("from-bob-");
    bob.send(format!(
        r#"{{"type":"direct","to":"carol","payload":"{t}"}}"#
    ))
    .await
    .unwrap();
    let got = next_with(&mut carol, &t).await;
    assert!(got.contains(r#""from":"bob""#), "{got}");
    drop((alice1, alice2, bob, carol));
    s1.shutdown().await;
    if two {
        s2.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_follow_the_token_on_one_instance() {
    direct_messages_follow_the_token("memory", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_follow_the_token_across_instances_over_redis() {
    direct_messages_follow_the_token("redis", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_follow_the_token_across_instances_over_nats() {
    direct_messages_follow_the_token("nats", true).await;
}

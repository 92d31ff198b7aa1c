//! Signed identities (`apps::auth`): every refused token and its status, with the verifier
//! alone and through the binary's upgrade hook; the server keeps serving.

use std::time::{Duration, SystemTime};

use oyez_server::Message;
use oyez_server::Server;
use oyez_server::apps::auth::{Algorithm, Key, TokenError, Verifier, base64url};

use crate::tokens::{
    EC_PUBLIC, RSA_PUBLIC, SECRET, header, hs256, hs256_for, sign, start_signed, try_connect,
    unix_now,
};
use crate::util::{next_message, raw_http, upgrade_request};

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

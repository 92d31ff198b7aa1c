//! Malformed input gives errors, never panics.

use oyez_envelope::Error;
use oyez_envelope::mega::{Broadcast, Direct, Roster};
use oyez_envelope::tina4::Envelope;

fn all_decoders(bytes: &[u8]) -> [bool; 4] {
    [
        Envelope::decode(bytes).is_err(),
        Broadcast::decode(bytes).is_err(),
        Direct::decode(bytes).is_err(),
        Roster::decode(bytes).is_err(),
    ]
}

#[test]
fn truncated_json() {
    let good = br#"{"src":"a","kind":"all","exclude":null,"room":null,"path":null,"text":"hello"}"#;
    for cut in 0..good.len() {
        assert!(
            matches!(Envelope::decode(&good[..cut]), Err(Error::Json(_))),
            "{cut}"
        );
    }
    assert_eq!(
        all_decoders(br#"{"o":"x","op":"add","member":{"ns":"/a","sessi"#),
        [true; 4]
    );
}

#[test]
fn wrong_types() {
    assert_eq!(all_decoders(b"42"), [true; 4]);
    assert_eq!(all_decoders(b"\"str\""), [true; 4]);
    assert_eq!(all_decoders(b"true"), [true; 4]);
    assert!(matches!(
        Envelope::decode(br#"{"text":{"a":1}}"#),
        Err(Error::NoMessage)
    ));
    assert!(matches!(
        Envelope::decode(br#"{"b64":["AA=="]}"#),
        Err(Error::NoMessage)
    ));
    assert!(matches!(
        Roster::decode(br#"{"op":"remove","sessionId":7}"#),
        Err(Error::Field("sessionId"))
    ));
    assert!(matches!(
        Roster::decode(br#"{"op":"heartbeat","members":{}}"#),
        Err(Error::Field("members"))
    ));
}

#[test]
fn huge_numbers_are_carried_raw_or_ignored() {
    let big = "1".repeat(400);
    let b = Broadcast::decode(
        format!(r#"{{"ns":"/a","message":{{"type":"t","payload":{big}}}}}"#).as_bytes(),
    )
    .unwrap();
    assert!(b.message.get().contains(&big), "kept verbatim, not rounded");
    // A non-string field is ignored, however big (it is never parsed as a number).
    let e = Envelope::decode(format!(r#"{{"src":{big},"extra":1e999,"text":"x"}}"#).as_bytes())
        .unwrap();
    assert_eq!(e.src, "");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(all_decoders(deep.as_bytes()), [true; 4]);
    // Inside a relayed raw value, depth is not parsed (serde_json skips raw values without
    // recursing): it is carried verbatim, still without any stack risk.
    let inner = format!(
        r#"{{"ns":"/a","message":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let b = Broadcast::decode(inner.as_bytes()).expect("carried raw");
    assert_eq!(b.encode(), inner.as_bytes());
}

#[test]
fn multi_megabyte_strings() {
    let text = "é".repeat(3 << 20);
    let wire = format!(
        r#"{{"src":"a","kind":"all","exclude":null,"room":null,"path":null,"text":"{text}"}}"#
    );
    let env = Envelope::decode(wire.as_bytes()).unwrap();
    assert_eq!(env.encode(), wire.as_bytes());
    let unterminated = format!(r#"{{"text":"{}"#, "a".repeat(4 << 20));
    assert!(Envelope::decode(unterminated.as_bytes()).is_err());
}

#[test]
fn invalid_base64() {
    for b64 in ["A", "AAA=A", "@@@@", "AA==AA=="] {
        let wire = format!(r#"{{"b64":"{b64}"}}"#);
        assert!(
            matches!(Envelope::decode(wire.as_bytes()), Err(Error::InvalidBase64)),
            "{b64}"
        );
    }
}

#[test]
fn lone_surrogates_are_dropped() {
    // JavaScript can emit "\ud800"; serde_json refuses it, so the envelope is dropped (and
    // counted by the backplane) rather than delivered with a substitution (see the crate docs).
    assert!(matches!(
        Envelope::decode(br#"{"src":"a","text":"x\ud800y"}"#),
        Err(Error::Json(_))
    ));
    assert!(matches!(
        Broadcast::decode(br#"{"ns":"\udc00","message":{}}"#),
        Err(Error::Field("ns"))
    ));
    // Inside relayed raw JSON the escape is carried verbatim (a JS peer can read it).
    let raw = br#"{"ns":"/a","message":{"type":"\udc00"}}"#;
    assert_eq!(Broadcast::decode(raw).unwrap().encode(), raw);
    // In a mega `o` the id is unreadable: neither the peek nor the decode takes the envelope
    // for anyone's own, so it is delivered like one without `o`.
    let wire = br#"{"o":"\ud800","ns":"/a","message":{}}"#;
    assert_eq!(oyez_envelope::mega::peek_o(wire), None);
    assert_eq!(Broadcast::decode(wire).unwrap().o, None);
    // A proper pair is fine.
    assert!(Envelope::decode(br#"{"text":"\ud83d\ude00"}"#).is_ok());
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut seed = 0x9e3779b97f4a7c15u64;
    for len in 0..2000usize {
        let bytes: Vec<u8> = (0..len % 200)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let alphabet = b"{}[]\":,nulltruefalse0123456789-.eE\\u abAB=+/";
                alphabet[usize::try_from(seed % alphabet.len() as u64).unwrap()]
            })
            .collect();
        let _ = all_decoders(&bytes);
        // The echo-guard peeks never panic either, and agree with a full decode.
        let src = oyez_envelope::tina4::peek_src(&bytes);
        if let (Some(src), Ok(env)) = (&src, Envelope::decode(&bytes)) {
            assert_eq!(src.as_ref(), env.src, "{bytes:?}");
        }
        let o = oyez_envelope::mega::peek_o(&bytes);
        if let Ok(r) = Roster::decode(&bytes) {
            assert_eq!(o.as_deref(), r.o.as_deref(), "{bytes:?}");
        }
    }
}

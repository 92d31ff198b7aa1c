//! Every rule the decoder enforces, each with its close code.

use bytes::BytesMut;
use oyez_frame::{CloseCode, Decoder, Error, FrameHeader, Limits, Role};

use crate::util::{client_frame, decode_all, raw};

fn server_error(bytes: &[u8]) -> Option<Error> {
    decode_all(Role::Server, Limits::default(), bytes).1
}

fn code(e: Option<Error>) -> Option<u16> {
    e.and_then(|e| e.close_code()).map(CloseCode::as_u16)
}

#[test]
fn reserved_opcodes_are_1002() {
    for op in (0x3..=0x7).chain(0xB..=0xF) {
        let e = server_error(&client_frame(0x80 | op, b""));
        assert_eq!(e, Some(Error::ReservedOpcode(op)));
        assert_eq!(code(e), Some(1002));
    }
}

#[test]
fn rsv_bits_without_an_extension_are_1002() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        assert_eq!(
            server_error(&client_frame(0x81 | rsv, b"x")),
            Some(Error::ReservedBits(rsv))
        );
        assert_eq!(
            server_error(&client_frame(0x89 | rsv, b"")),
            Some(Error::ReservedBits(rsv))
        );
    }
}

#[test]
fn the_rsv1_hook_accepts_only_first_data_frames() {
    let mut dec = Decoder::new(Role::Server, Limits::default());
    dec.set_extension_rsv(FrameHeader::RSV1);
    // A "compressed" text message: not UTF-8-checked here (the extension checks it).
    let mut buf = BytesMut::from(&client_frame(0x41, &[0xff, 0xfe])[..]);
    assert!(dec.decode(&mut buf).unwrap().is_some());
    // RSV1 on a continuation or a control frame is still an error.
    let mut dec = Decoder::new(Role::Server, Limits::default());
    dec.set_extension_rsv(FrameHeader::RSV1);
    let mut bytes = client_frame(0x41, b"a");
    bytes.extend(client_frame(0xC0, b"b"));
    let mut buf = BytesMut::from(&bytes[..]);
    assert!(dec.decode(&mut buf).unwrap().is_some());
    assert_eq!(dec.decode(&mut buf), Err(Error::ReservedBits(0x40)));
    let mut dec = Decoder::new(Role::Server, Limits::default());
    dec.set_extension_rsv(FrameHeader::RSV1);
    assert_eq!(
        dec.decode(&mut BytesMut::from(&client_frame(0xC9, b"")[..])),
        Err(Error::ReservedBits(0x40))
    );
    // RSV2 was not negotiated.
    let mut dec = Decoder::new(Role::Server, Limits::default());
    dec.set_extension_rsv(FrameHeader::RSV1);
    assert_eq!(
        dec.decode(&mut BytesMut::from(&client_frame(0xA1, b"")[..])),
        Err(Error::ReservedBits(0x20))
    );
}

#[test]
fn masking_follows_the_role() {
    let e = server_error(&raw(0x81, b"hi", false));
    assert_eq!((e, code(e)), (Some(Error::MaskMissing), Some(1002)));
    let e = decode_all(Role::Client, Limits::default(), &raw(0x81, b"hi", true)).1;
    assert_eq!((e, code(e)), (Some(Error::MaskUnexpected), Some(1002)));
}

#[test]
fn control_frames_are_final_and_short_for_ping_pong_and_close() {
    for op in [0x8, 0x9, 0xA] {
        assert_eq!(
            server_error(&client_frame(op, b"")),
            Some(Error::ControlFragmented),
            "op {op:x}"
        );
        let mut long = vec![0x03, 0xE8];
        long.resize(126, b'a');
        let e = server_error(&client_frame(0x80 | op, &long));
        assert_eq!(
            (e, code(e)),
            (Some(Error::ControlTooLong(126)), Some(1002)),
            "op {op:x}"
        );
        let mut max = vec![0x03, 0xE8];
        max.resize(125, b'a');
        assert_eq!(
            server_error(&client_frame(0x80 | op, &max)),
            None,
            "op {op:x}: 125 bytes is fine"
        );
    }
}

#[test]
fn control_frames_may_interleave_with_fragments() {
    let mut bytes = client_frame(0x01, b"Hel");
    bytes.extend(client_frame(0x89, b"ping"));
    bytes.extend(client_frame(0x80, b"lo"));
    let (frames, err) = decode_all(Role::Server, Limits::default(), &bytes);
    assert_eq!((err, frames.len()), (None, 3));
}

#[test]
fn continuation_rules_are_1002() {
    let e = server_error(&client_frame(0x80, b"x"));
    assert_eq!(
        (e, code(e)),
        (Some(Error::UnexpectedContinuation), Some(1002))
    );
    let mut bytes = client_frame(0x01, b"a");
    bytes.extend(client_frame(0x81, b"b"));
    assert_eq!(server_error(&bytes), Some(Error::ExpectedContinuation));
    let mut bytes = client_frame(0x02, b"a");
    bytes.extend(client_frame(0x82, b"b"));
    assert_eq!(server_error(&bytes), Some(Error::ExpectedContinuation));
    // After a message ends, a continuation is unexpected again.
    let mut bytes = client_frame(0x01, b"a");
    bytes.extend(client_frame(0x80, b"b"));
    bytes.extend(client_frame(0x80, b"c"));
    assert_eq!(server_error(&bytes), Some(Error::UnexpectedContinuation));
}

#[test]
fn invalid_utf8_fails_inside_the_frame_with_1007() {
    // A 1000-byte text frame whose 4th byte is invalid: the error comes as soon as that
    // byte has arrived, long before the frame is complete (Autobahn 6.4.x).
    let mut payload = b"abc".to_vec();
    payload.push(0xff);
    payload.resize(1000, b'a');
    let wire = client_frame(0x81, &payload);
    let header_len = wire.len() - payload.len();
    let mut dec = Decoder::new(Role::Server, Limits::default());
    let mut buf = BytesMut::from(&wire[..header_len + 3]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    buf.extend_from_slice(&wire[header_len + 3..header_len + 4]);
    let e = dec.decode(&mut buf).unwrap_err();
    assert_eq!((e, code(Some(e))), (Error::InvalidUtf8, Some(1007)));
}

#[test]
fn invalid_utf8_across_fragments() {
    // "€" split across two fragments is fine; an invalid continuation in the second is not.
    let mut ok = client_frame(0x01, &[0xe2, 0x82]);
    ok.extend(client_frame(0x80, &[0xac]));
    assert_eq!(server_error(&ok), None);
    let mut bad = client_frame(0x01, &[0xe2, 0x82]);
    bad.extend(client_frame(0x00, &[0x28]));
    assert_eq!(server_error(&bad), Some(Error::InvalidUtf8));
}

#[test]
fn truncated_sequence_at_fin_is_1007() {
    assert_eq!(
        server_error(&client_frame(0x81, &[0x61, 0xe2, 0x82])),
        Some(Error::InvalidUtf8)
    );
    let mut bytes = client_frame(0x01, &[0xe2]);
    bytes.extend(client_frame(0x80, &[0x82]));
    assert_eq!(server_error(&bytes), Some(Error::InvalidUtf8));
    // Binary is not checked.
    assert_eq!(server_error(&client_frame(0x82, &[0xe2, 0xff])), None);
}

#[test]
fn close_payload_rules() {
    let e = server_error(&client_frame(0x88, &[0x03]));
    assert_eq!((e, code(e)), (Some(Error::InvalidClosePayload), Some(1002)));
    for bad in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
    ] {
        let e = server_error(&client_frame(0x88, &bad.to_be_bytes()));
        assert_eq!(
            (e, code(e)),
            (Some(Error::InvalidCloseCode(bad)), Some(1002)),
            "{bad}"
        );
    }
    for good in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ] {
        assert_eq!(
            server_error(&client_frame(0x88, &good.to_be_bytes())),
            None,
            "{good}"
        );
    }
    let e = server_error(&client_frame(0x88, &[0x03, 0xe8, 0xce, 0xba, 0xff]));
    assert_eq!((e, code(e)), (Some(Error::InvalidUtf8), Some(1007)));
    assert_eq!(server_error(&client_frame(0x88, b"")), None);
}

#[test]
fn lengths() {
    let e = server_error(&[0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4]);
    assert_eq!((e, code(e)), (Some(Error::NonMinimalLength), Some(1002)));
    let e = server_error(&[0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!((e, code(e)), (Some(Error::LengthOverflow), Some(1002)));
}

#[test]
fn limits_are_1009_and_checked_before_buffering() {
    let limits = Limits::default()
        .with_max_frame_payload(100)
        .with_max_message_size(150)
        .with_max_fragments(3);
    // The frame limit fails on the header alone: no payload bytes needed.
    let header_only = &client_frame(0x82, &[0; 101])[..8];
    let (_, e) = decode_all(Role::Server, limits, header_only);
    assert_eq!(
        (e, code(e)),
        (
            Some(Error::FrameTooLarge { len: 101, max: 100 }),
            Some(1009)
        )
    );
    // A 2^62-byte claim fails the same way, without reserving anything.
    let mut dec = Decoder::new(Role::Server, limits);
    let mut buf = BytesMut::from(&[0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4][..]);
    assert!(matches!(
        dec.decode(&mut buf),
        Err(Error::FrameTooLarge { .. })
    ));
    assert!(buf.capacity() < 64);

    let mut bytes = client_frame(0x02, &[0; 100]);
    bytes.extend(client_frame(0x80, &[0; 51]));
    let (frames, e) = decode_all(Role::Server, limits, &bytes);
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (e, code(e)),
        (
            Some(Error::MessageTooLarge { len: 151, max: 150 }),
            Some(1009)
        )
    );

    let mut bytes = Vec::new();
    for _ in 0..3 {
        bytes.extend(client_frame(0x00, b""));
    }
    bytes[..6].copy_from_slice(&client_frame(0x02, b"")); // first is Binary, not continuation
    bytes.extend(client_frame(0x00, b""));
    let (_, e) = decode_all(Role::Server, limits, &bytes);
    assert_eq!(
        (e, code(e)),
        (Some(Error::TooManyFragments { max: 3 }), Some(1009))
    );
}

#[test]
fn a_stalled_large_frame_reserves_a_bounded_amount() {
    let mut dec = Decoder::new(Role::Server, Limits::default());
    let frame = client_frame(0x82, &vec![0; 16 << 20]);
    let mut buf = BytesMut::from(&frame[..14]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert!(
        buf.capacity() <= oyez_frame::MAX_RESERVE + 64,
        "{}",
        buf.capacity()
    );
    // Once more has arrived, at most twice what is buffered (the frame really is coming).
    buf.extend_from_slice(&frame[14..14 + (3 << 20)]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert!(buf.capacity() <= 2 * (3 << 20) + 64, "{}", buf.capacity());
}

#[test]
fn errors_are_sticky() {
    let mut dec = Decoder::new(Role::Server, Limits::default());
    let mut buf = BytesMut::from(&client_frame(0x83, b"")[..]);
    let e = dec.decode(&mut buf).unwrap_err();
    let mut fresh = BytesMut::from(&client_frame(0x81, b"ok")[..]);
    assert_eq!(dec.decode(&mut fresh), Err(e));
}

#[test]
fn a_whole_text_frame_is_checked_whole() {
    // A one-frame message that is all in the buffer is checked at once (no message state):
    // the same answers as when it arrives in pieces.
    for (payload, want) in [
        (&b"caf\xc3\xa9"[..], None),
        (&b"caf\xc3"[..], Some(Error::InvalidUtf8)), // ends mid-character
        (&b"\xff abc"[..], Some(Error::InvalidUtf8)),
        (&b""[..], None),
    ] {
        let wire = client_frame(0x81, payload);
        assert_eq!(server_error(&wire), want, "{payload:x?} whole");
        // The same bytes one at a time take the streaming path.
        let mut dec = Decoder::new(Role::Server, Limits::default());
        let mut buf = BytesMut::new();
        let mut err = None;
        for &b in &wire {
            buf.extend_from_slice(&[b]);
            if let Err(e) = dec.decode(&mut buf) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err, want, "{payload:x?} byte by byte");
    }
    // A binary frame is not text.
    assert_eq!(server_error(&client_frame(0x82, b"\xff")), None);
    // After it, the next message starts afresh (no message state was left open).
    let mut two = client_frame(0x81, b"one");
    two.extend(client_frame(0x81, b"two"));
    let (frames, err) = decode_all(Role::Server, Limits::default(), &two);
    assert_eq!((frames.len(), err), (2, None));
}

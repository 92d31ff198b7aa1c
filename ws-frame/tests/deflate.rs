//! permessage-deflate in a session: the RSV1 rules, inflating as bytes arrive, the limits on
//! inflated size, UTF-8 on inflated text, context takeover, and broadcasts compressed once.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use flate2::{Compress, Compression, FlushCompress};
use oyez_frame::deflate::{Agreed, DeflateConfig, Params};
use oyez_frame::session::{Config, Outbound};
use oyez_frame::{CloseCode, Error, Event, Limits, OpCode, Role, Session, SharedFrame};
use proptest::prelude::*;

use crate::util::client_frame;

const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;

/// Raw deflate of one message with `c` (not reset: a context-taking sender), tail removed.
pub(crate) fn deflate_with(c: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let start = c.total_in();
    loop {
        let done = usize::try_from(c.total_in() - start).expect("small");
        c.compress_vec(&data[done..], &mut out, FlushCompress::Sync)
            .expect("compression cannot fail");
        if usize::try_from(c.total_in() - start).expect("small") == data.len()
            && out.len() < out.capacity()
        {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    // A sender that keeps its context and has nothing new to flush writes nothing at all.
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    } else {
        assert!(data.is_empty() && out.is_empty(), "{out:?}");
    }
    out
}

/// Raw deflate of one message on its own.
pub(crate) fn deflate(data: &[u8]) -> Vec<u8> {
    deflate_with(&mut Compress::new(Compression::new(6), false), data)
}

/// A client's message as masked frames of at most `frag` payload bytes (at least one frame),
/// the first with RSV1 when `compressed`.
pub(crate) fn message(opcode: u8, payload: &[u8], frag: usize, compressed: bool) -> Vec<u8> {
    let chunks: Vec<&[u8]> = if payload.is_empty() {
        vec![&[][..]]
    } else {
        payload.chunks(frag.max(1)).collect()
    };
    let mut out = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let mut first = if i == 0 { opcode } else { 0 };
        if i == 0 && compressed {
            first |= RSV1;
        }
        if i + 1 == chunks.len() {
            first |= FIN;
        }
        out.extend(client_frame(first, chunk));
    }
    out
}

fn agreed(params: Params) -> Agreed {
    params.agreed(&DeflateConfig::default().with_min_size(0))
}

/// What a server answers a browser by default: no context either way.
fn stateless() -> Params {
    Params::default()
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true)
}

fn server(params: Params, limits: Limits) -> Session {
    let mut s = Session::new(
        Role::Server,
        Config::default().with_limits(limits),
        Instant::now(),
    );
    s.set_deflate(agreed(params));
    s
}

/// Feeds `wire` in one piece; the events, and the error if any.
fn feed(s: &mut Session, wire: &[u8]) -> (Vec<Event>, Option<Error>) {
    let mut buf = BytesMut::from(wire);
    let r = s.handle_bytes(Instant::now(), &mut buf);
    let mut events = Vec::new();
    while let Some(e) = s.poll_event() {
        events.push(e);
    }
    (events, r.err().or_else(|| s.error()))
}

/// The close code the session queued last, if any.
fn close_sent(s: &mut Session) -> Option<u16> {
    let mut out = Vec::new();
    while let Some(b) = s.poll_transmit() {
        out.extend_from_slice(&b);
    }
    let at = out.windows(2).rposition(|w| w[0] == 0x88)?;
    out.get(at + 2..at + 4)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
}

#[test]
fn a_compressed_message_in_one_frame_and_in_many() {
    let text = "hello hello hello hello, permessage-deflate ✓ ".repeat(50);
    let packed = deflate(text.as_bytes());
    for frag in [1, 7, 100, packed.len()] {
        let mut s = server(stateless(), Limits::default());
        let (events, err) = feed(&mut s, &message(0x1, &packed, frag, true));
        assert_eq!(err, None, "{frag}");
        assert_eq!(events, vec![Event::Text(text.clone().into())], "{frag}");
    }
    // Binary, and an empty compressed message (no deflate bytes at all).
    let mut s = server(stateless(), Limits::default());
    let (events, _) = feed(&mut s, &message(0x2, &deflate(&[1, 2, 3]), 2, true));
    assert_eq!(events, vec![Event::Binary(Bytes::from_static(&[1, 2, 3]))]);
    let (events, _) = feed(&mut s, &message(0x2, &[], 1, true));
    assert_eq!(events, vec![Event::Binary(Bytes::new())]);
    // Plain messages still pass, between compressed ones, and pings between fragments.
    let mut wire = message(0x1, b"plain", 2, false);
    let mut frames = message(0x1, &deflate(b"squeezed"), 3, true);
    let ping = client_frame(0x89, b"p");
    let first_len = 2 + 4 + 3;
    frames.splice(first_len..first_len, ping);
    wire.extend(frames);
    let (events, err) = feed(&mut s, &wire);
    assert_eq!(err, None);
    assert_eq!(
        events,
        vec![
            Event::Text("plain".into()),
            Event::Ping(Bytes::from_static(b"p")),
            Event::Text("squeezed".into())
        ]
    );
}

#[test]
fn rsv1_only_on_the_first_frame_of_a_data_message() {
    let packed = deflate(b"some text to squeeze");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("on a continuation", {
            let mut w = client_frame(0x01 | RSV1, &packed[..3]);
            w.extend(client_frame(FIN | RSV1, &packed[3..]));
            w
        }),
        ("on a ping", client_frame(FIN | RSV1 | 0x9, b"x")),
        ("on a close", client_frame(FIN | RSV1 | 0x8, &[3, 232])),
        ("RSV2", client_frame(FIN | 0x20 | 0x1, b"x")),
        ("RSV3", client_frame(FIN | 0x10 | 0x1, b"x")),
    ];
    for (what, wire) in cases {
        let mut s = server(stateless(), Limits::default());
        let (_, err) = feed(&mut s, &wire);
        assert!(
            matches!(err, Some(Error::ReservedBits(_))),
            "{what}: {err:?}"
        );
        assert_eq!(close_sent(&mut s), Some(1002), "{what}");
    }
    // Without the extension, RSV1 is an error too.
    let mut plain = Session::new(Role::Server, Config::default(), Instant::now());
    let (_, err) = feed(&mut plain, &message(0x1, &packed, 100, true));
    assert_eq!(err, Some(Error::ReservedBits(RSV1)));
    assert_eq!(close_sent(&mut plain), Some(1002));
}

#[test]
fn corrupt_compressed_data_is_1007() {
    let mut s = server(stateless(), Limits::default());
    let (_, err) = feed(&mut s, &message(0x2, &[0xff, 0xff, 0xff, 0xff], 100, true));
    assert_eq!(err, Some(Error::InvalidCompressedData));
    assert_eq!(close_sent(&mut s), Some(1007));
}

#[test]
fn invalid_utf8_fails_at_the_inflated_byte_before_the_frame_ends() {
    // The bad byte comes early; a long valid tail follows in the same frame.
    let mut text = b"ok so far ".to_vec();
    text.push(0xff);
    let mut rng = 1u32;
    text.extend((0..200_000).map(|_| {
        rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12345);
        b'a' + (rng >> 16).to_le_bytes()[0] % 26
    }));
    let packed = deflate(&text);
    let wire = message(0x1, &packed, packed.len(), true);
    let mut s = server(stateless(), Limits::default());
    // Only part of the frame: the error is there already.
    let mut buf = BytesMut::from(&wire[..wire.len() / 2]);
    assert_eq!(
        s.handle_bytes(Instant::now(), &mut buf),
        Err(Error::InvalidUtf8)
    );
    assert_eq!(close_sent(&mut s), Some(1007));
    // A text message that ends mid-character is 1007 as well.
    let mut s = server(stateless(), Limits::default());
    let (_, err) = feed(
        &mut s,
        &message(0x1, &deflate(&[b'a', 0xe2, 0x82]), 100, true),
    );
    assert_eq!(err, Some(Error::InvalidUtf8));
}

#[test]
fn a_bomb_stops_at_the_message_limit_with_1009() {
    let limits = Limits::default().with_max_message_size(64 << 10);
    // 50 MiB of zeros: about 50 KiB compressed, sent as one frame.
    let packed = deflate(&vec![0u8; 50 << 20]);
    assert!(packed.len() < 64 << 10, "{}", packed.len());
    let wire = message(0x2, &packed, packed.len(), true);
    let mut s = server(stateless(), limits);
    // The first kilobyte of the frame already inflates past the limit.
    let mut buf = BytesMut::from(&wire[..1024]);
    let err = s.handle_bytes(Instant::now(), &mut buf).unwrap_err();
    assert!(
        matches!(err, Error::MessageTooLarge { len, max } if len <= (64 << 10) + 1 && max == 64 << 10),
        "{err:?}"
    );
    assert_eq!(close_sent(&mut s), Some(1009));
    // The same bomb in small fragments.
    let mut s = server(stateless(), limits);
    let (events, err) = feed(&mut s, &message(0x2, &packed, 500, true));
    assert!(events.iter().all(|e| matches!(e, Event::Closed { .. })));
    assert!(
        matches!(err, Some(Error::MessageTooLarge { .. })),
        "{err:?}"
    );
}

#[test]
fn messages_before_an_error_are_handed_out_first() {
    let mut s = server(stateless(), Limits::default());
    let mut wire = message(0x1, &deflate(b"first"), 100, true);
    wire.extend(message(0x1, &[0xff, 0xff, 0xff], 100, true));
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(s.handle_bytes(Instant::now(), &mut buf), Ok(()));
    assert_eq!(s.poll_event(), Some(Event::Text("first".into())));
    assert_eq!(s.poll_event(), None);
    assert_eq!(s.error(), Some(Error::InvalidCompressedData));
}

#[test]
fn a_client_that_keeps_its_context() {
    for bits in [9u8, 12, 15] {
        let params = Params::default()
            .with_server_no_context_takeover(true)
            .with_client_max_window_bits(Some(bits));
        let mut s = server(params, Limits::default());
        let mut c = Compress::new_with_window_bits(Compression::new(6), false, bits);
        let messages: Vec<String> = (0..20)
            .map(|i| format!("{{\"n\":{i},\"text\":\"the same words again and again\"}}"))
            .collect();
        let mut sizes = Vec::new();
        for m in &messages {
            let packed = deflate_with(&mut c, m.as_bytes());
            sizes.push(packed.len());
            let (events, err) = feed(&mut s, &message(0x1, &packed, 11, true));
            assert_eq!(err, None, "{bits}");
            assert_eq!(events, vec![Event::Text(m.clone().into())], "{bits}");
        }
        // Context takeover pays: later messages refer back to earlier ones.
        assert!(sizes[10] < sizes[0] / 2, "{bits}: {sizes:?}");
    }
    // A peer that keeps its context after agreeing not to (Safari 15.0-15.3) fails on the
    // message that refers back: the server kept nothing.
    let mut s = server(stateless(), Limits::default());
    let mut c = Compress::new(Compression::new(6), false);
    let m = "a message long enough to be referred back to, twice over";
    let (events, _) = feed(
        &mut s,
        &message(0x1, &deflate_with(&mut c, m.as_bytes()), 100, true),
    );
    assert_eq!(events.len(), 1);
    let (_, err) = feed(
        &mut s,
        &message(0x1, &deflate_with(&mut c, m.as_bytes()), 100, true),
    );
    assert_eq!(err, Some(Error::InvalidCompressedData));
}

#[test]
fn a_session_compresses_what_it_sends_when_it_pays() {
    let now = Instant::now();
    let config = DeflateConfig::default().with_min_size(64);
    let mut server = Session::new(Role::Server, Config::default(), now);
    server.set_deflate(stateless().agreed(&config));
    let mut client = Session::new(Role::Client, Config::default(), now);
    client.set_deflate(stateless().agreed(&config));
    let big = "{\"type\":\"chat\",\"text\":\"compress me\"}".repeat(30);
    let mut x = 0x9e37_79b9_u32;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[1]
        })
        .collect();
    for (from, to) in [(&mut server, &mut client)] {
        from.send(Outbound::Text(&big)).unwrap();
        from.send(Outbound::Text("tiny")).unwrap();
        from.send(Outbound::Binary(&noise)).unwrap();
        let mut wire = BytesMut::new();
        let mut firsts = Vec::new();
        while let Some(b) = from.poll_transmit() {
            wire.extend_from_slice(&b);
        }
        // Walk the frames: the first is compressed, the tiny one and the noise are not.
        let mut dec = oyez_frame::Decoder::new(Role::Client, Limits::default());
        dec.set_extension_rsv(RSV1);
        let mut copy = wire.clone();
        while let Some(f) = dec.decode(&mut copy).unwrap() {
            firsts.push(f.header.rsv & RSV1 != 0);
        }
        assert_eq!(firsts, [true, false, false]);
        to.handle_bytes(now, &mut wire).unwrap();
        assert_eq!(to.poll_event(), Some(Event::Text(big.clone().into())));
        assert_eq!(to.poll_event(), Some(Event::Text("tiny".into())));
        assert_eq!(to.poll_event(), Some(Event::Binary(noise.clone().into())));
    }
    // And the client's way, masked.
    client.send(Outbound::Text(&big)).unwrap();
    let mut wire = BytesMut::new();
    while let Some(b) = client.poll_transmit() {
        wire.extend_from_slice(&b);
    }
    assert!(wire.len() < big.len() / 5, "{}", wire.len());
    server.handle_bytes(now, &mut wire).unwrap();
    assert_eq!(server.poll_event(), Some(Event::Text(big.clone().into())));
}

#[test]
fn a_broadcast_is_compressed_once() {
    let now = Instant::now();
    let config = DeflateConfig::default();
    let text = "{\"type\":\"chat\",\"text\":\"to everyone, compressed once\"}".repeat(10);
    let frame = SharedFrame::broadcast(OpCode::Text, Bytes::from(text.clone()));
    let mut sessions: Vec<Session> = (0..3)
        .map(|_| {
            let mut s = Session::new(Role::Server, Config::default(), now);
            s.set_deflate(stateless().agreed(&config));
            s
        })
        .collect();
    let mut wires = Vec::new();
    for s in &mut sessions {
        s.send_shared(&frame).unwrap();
        wires.push(s.poll_transmit().unwrap());
        assert!(s.poll_transmit().is_none());
    }
    // The very same bytes, not equal copies.
    assert!(wires.iter().all(|w| w.as_ptr() == wires[0].as_ptr()));
    assert_eq!(wires[0][0], 0x81 | RSV1);
    // A session without the extension gets the plain frame; one with another window
    // compresses for itself; both decode.
    let mut plain = Session::new(Role::Server, Config::default(), now);
    plain.send_shared(&frame).unwrap();
    let plain_bytes = plain.poll_transmit().unwrap();
    assert_eq!(plain_bytes, frame.to_bytes());
    let narrow = stateless().with_server_max_window_bits(Some(9));
    let mut other = Session::new(Role::Server, Config::default(), now);
    other.set_deflate(narrow.agreed(&config));
    other.send_shared(&frame).unwrap();
    let other_bytes = other.poll_transmit().unwrap();
    assert_ne!(other_bytes.as_ptr(), wires[0].as_ptr());
    for (wire, params) in [(&wires[0], stateless()), (&other_bytes, narrow)] {
        let mut client = Session::new(Role::Client, Config::default(), now);
        client.set_deflate(params.agreed(&config));
        let mut buf = BytesMut::from(&wire[..]);
        client.handle_bytes(now, &mut buf).unwrap();
        assert_eq!(client.poll_event(), Some(Event::Text(text.clone().into())));
    }
    // A message too small to compress goes plain to everyone, from the same bytes.
    let small = SharedFrame::broadcast(OpCode::Text, Bytes::from_static(b"hi"));
    sessions[0].send_shared(&small).unwrap();
    sessions[1].send_shared(&small).unwrap();
    let (a, b) = (
        sessions[0].poll_transmit().unwrap(),
        sessions[1].poll_transmit().unwrap(),
    );
    assert_eq!((a.as_ptr(), &a[..]), (b.as_ptr(), &b"\x81\x02hi"[..]));
}

#[test]
fn a_server_closes_after_a_compressed_message_as_usual() {
    let mut s = server(stateless(), Limits::default());
    let mut wire = message(0x1, &deflate(b"bye soon"), 3, true);
    wire.extend(client_frame(0x88, &[0x03, 0xe8]));
    let (events, err) = feed(&mut s, &wire);
    assert_eq!(err, None);
    assert_eq!(events[0], Event::Text("bye soon".into()));
    assert!(matches!(
        events[1],
        Event::Closed {
            code: CloseCode::NORMAL,
            clean: true,
            ..
        }
    ));
}

/// How a sender compresses in the property tests.
#[derive(Clone, Copy, Debug)]
struct Sender {
    keeps_context: bool,
    bits: u8,
    level: u32,
}

fn sender() -> impl Strategy<Value = Sender> {
    (any::<bool>(), 9u8..=15, 0u32..=9).prop_map(|(keeps_context, bits, level)| Sender {
        keeps_context,
        bits,
        level,
    })
}

fn messages() -> impl Strategy<Value = Vec<(bool, Vec<u8>)>> {
    let text = "[a-z {}\":,0-9é✓]{0,300}".prop_map(String::into_bytes);
    let bytes = proptest::collection::vec(any::<u8>(), 0..300);
    let repeated = (any::<u8>(), 0usize..3000).prop_map(|(b, n)| vec![b; n]);
    proptest::collection::vec(
        prop_oneof![
            text.prop_map(|t| (true, t)),
            bytes.prop_map(|b| (false, b)),
            repeated.prop_map(|b| (false, b)),
        ],
        1..8,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// A peer's compressed messages (with or without context takeover, every window from 9
    /// to 15, any level), fragmented anyhow and fed in any chunking, come out as sent.
    #[test]
    fn compressed_messages_survive_any_chunking(
        s in sender(),
        msgs in messages(),
        frag in 1usize..400,
        cuts in proptest::collection::vec(any::<u16>(), 0..12),
    ) {
        let mut c = Compress::new_with_window_bits(Compression::new(s.level), false, s.bits);
        let mut wire = Vec::new();
        for (is_text, m) in &msgs {
            if !s.keeps_context {
                c.reset();
            }
            let packed = deflate_with(&mut c, m);
            wire.extend(message(if *is_text { 0x1 } else { 0x2 }, &packed, frag, true));
        }
        let params = Params::default()
            .with_server_no_context_takeover(true)
            .with_client_no_context_takeover(!s.keeps_context)
            .with_client_max_window_bits(Some(s.bits));
        let mut session = server(params, Limits::default());
        let mut points: Vec<usize> = cuts.iter().map(|c| usize::from(*c) % (wire.len() + 1)).collect();
        points.sort_unstable();
        points.push(wire.len());
        let mut buf = BytesMut::new();
        let mut at = 0;
        let mut got = Vec::new();
        for p in points {
            buf.extend_from_slice(&wire[at..p]);
            at = p;
            session.handle_bytes(Instant::now(), &mut buf).unwrap();
            while let Some(e) = session.poll_event() {
                got.push(e);
            }
        }
        let want: Vec<Event> = msgs
            .iter()
            .map(|(is_text, m)| if *is_text {
                Event::Text(String::from_utf8(m.clone()).unwrap().into())
            } else {
                Event::Binary(m.clone().into())
            })
            .collect();
        prop_assert_eq!(got, want);
    }

    /// What a session sends compressed (either role, any window 8 to 15), a peer session
    /// reads back, in any chunking.
    #[test]
    fn sessions_round_trip_compressed(
        msgs in messages(),
        bits in 8u8..=15,
        client_sends in any::<bool>(),
        cuts in proptest::collection::vec(any::<u16>(), 0..8),
    ) {
        let now = Instant::now();
        let params = stateless()
            .with_server_max_window_bits(Some(bits))
            .with_client_max_window_bits(Some(bits));
        let config = DeflateConfig::default().with_min_size(0);
        let (from_role, to_role) = if client_sends {
            (Role::Client, Role::Server)
        } else {
            (Role::Server, Role::Client)
        };
        let mut from = Session::new(from_role, Config::default(), now);
        from.set_deflate(params.agreed(&config));
        let mut to = Session::new(to_role, Config::default(), now);
        to.set_deflate(params.agreed(&config));
        let mut wire = Vec::new();
        for (is_text, m) in &msgs {
            if *is_text {
                from.send(Outbound::Text(std::str::from_utf8(m).unwrap())).unwrap();
            } else {
                from.send(Outbound::Binary(m)).unwrap();
            }
        }
        while let Some(b) = from.poll_transmit() {
            wire.extend_from_slice(&b);
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| usize::from(*c) % (wire.len() + 1)).collect();
        points.sort_unstable();
        points.push(wire.len());
        let (mut buf, mut at, mut got) = (BytesMut::new(), 0, Vec::new());
        for p in points {
            buf.extend_from_slice(&wire[at..p]);
            at = p;
            to.handle_bytes(now, &mut buf).unwrap();
            while let Some(e) = to.poll_event() {
                got.push(e);
            }
        }
        prop_assert_eq!(got.len(), msgs.len());
        for (e, (is_text, m)) in got.iter().zip(&msgs) {
            match e {
                Event::Text(t) => prop_assert!(*is_text && t.as_bytes() == &m[..]),
                Event::Binary(b) => prop_assert!(!*is_text && b[..] == m[..]),
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}

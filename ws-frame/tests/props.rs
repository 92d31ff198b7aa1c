//! Property tests: round trips in both roles, chunking invariance, and buffers sized by
//! `buffer_room`.

use std::time::Instant;

use bytes::BytesMut;
use oyez_frame::session::Config;
use oyez_frame::{Decoder, Event, FrameHeader, Limits, OpCode, Role, Session};
use proptest::prelude::*;

use crate::util::{decode_all, encoder};

/// One item on the wire: a data message (possibly fragmented) or a control frame.
#[derive(Clone, Debug)]
enum Item {
    Text(String, Vec<usize>),
    Binary(Vec<u8>, Vec<usize>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn item() -> impl Strategy<Value = Item> {
    let cuts = proptest::collection::vec(any::<usize>(), 0..4);
    prop_oneof![
        (any::<String>(), cuts.clone()).prop_map(|(s, c)| Item::Text(s, c)),
        (proptest::collection::vec(any::<u8>(), 0..300), cuts)
            .prop_map(|(b, c)| Item::Binary(b, c)),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Item::Ping),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Item::Pong),
        // Occasionally a payload that needs the 16- or 64-bit length form.
        (126usize..70_000).prop_map(|n| Item::Binary(vec![0x5a; n], vec![])),
    ]
}

/// Splits `data` at the given cut points (clamped and sorted) into fragments; at least one.
fn fragments(data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for p in points {
        out.push(data[start..p].to_vec());
        start = p;
    }
    out.push(data[start..].to_vec());
    out
}

/// Encodes the items as `sender` would; returns the wire bytes and the expected frames as
/// (opcode, fin, payload).
fn encode_items(sender: Role, items: &[Item]) -> (BytesMut, Vec<(OpCode, bool, Vec<u8>)>) {
    let mut enc = encoder(sender);
    let mut wire = BytesMut::new();
    let mut expected = Vec::new();
    for item in items {
        let (first, data, cuts) = match item {
            Item::Text(s, c) => (OpCode::Text, s.as_bytes().to_vec(), c.clone()),
            Item::Binary(b, c) => (OpCode::Binary, b.clone(), c.clone()),
            Item::Ping(p) => (OpCode::Ping, p.clone(), vec![]),
            Item::Pong(p) => (OpCode::Pong, p.clone(), vec![]),
        };
        let parts = if first.is_control() {
            vec![data]
        } else {
            fragments(&data, &cuts)
        };
        let n = parts.len();
        for (i, part) in parts.into_iter().enumerate() {
            let op = if i == 0 { first } else { OpCode::Continuation };
            enc.encode(op, i + 1 == n, &part, &mut wire);
            expected.push((op, i + 1 == n, part));
        }
    }
    (wire, expected)
}

fn feed_session(role: Role, wire: &[u8], cuts: &[usize]) -> (Vec<Event>, Vec<u8>) {
    let now = Instant::now();
    let mut s = Session::new(role, Config::default(), now);
    let mut buf = BytesMut::new();
    let mut start = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.sort_unstable();
    points.push(wire.len());
    for p in points {
        buf.extend_from_slice(&wire[start..p]);
        start = p;
        s.handle_bytes(now, &mut buf).expect("valid input");
    }
    let mut events = Vec::new();
    while let Some(e) = s.poll_event() {
        events.push(e);
    }
    let mut out = Vec::new();
    while let Some(b) = s.poll_transmit() {
        out.extend_from_slice(&b);
    }
    (events, out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn encode_then_decode_round_trips_in_both_roles(items in proptest::collection::vec(item(), 0..8)) {
        for receiver in [Role::Server, Role::Client] {
            let (wire, expected) = encode_items(receiver.peer(), &items);
            let (frames, err) = decode_all(receiver, Limits::default(), &wire);
            prop_assert_eq!(err, None);
            let got: Vec<(OpCode, bool, Vec<u8>)> =
                frames.iter().map(|f| (f.header.opcode, f.header.fin, f.payload.to_vec())).collect();
            prop_assert_eq!(got, expected.clone());
            prop_assert!(frames.iter().all(|f| f.header.mask.is_some() == (receiver == Role::Server)));
        }
    }

    #[test]
    fn sessions_reassemble_messages(items in proptest::collection::vec(item(), 0..8)) {
        let (wire, _) = encode_items(Role::Client, &items);
        let (events, _) = feed_session(Role::Server, &wire, &[]);
        let expected: Vec<Event> = items.iter().map(|i| match i {
            Item::Text(s, _) => Event::Text(s.clone().into()),
            Item::Binary(b, _) => Event::Binary(b.clone().into()),
            Item::Ping(p) => Event::Ping(p.clone().into()),
            Item::Pong(p) => Event::Pong(p.clone().into()),
        }).collect();
        prop_assert_eq!(events, expected);
    }

    #[test]
    fn any_chunking_of_valid_input_gives_the_same_frames_and_events(
        items in proptest::collection::vec(item(), 0..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let (wire, _) = encode_items(Role::Client, &items);
        let whole = decode_all(Role::Server, Limits::default(), &wire);
        prop_assert_eq!(chunked(&wire, &cuts), whole);
        prop_assert_eq!(feed_session(Role::Server, &wire, &cuts), feed_session(Role::Server, &wire, &[]));
    }

    #[test]
    fn any_chunking_of_arbitrary_bytes_gives_the_same_frames_and_error(
        wire in proptest::collection::vec(any::<u8>(), 0..200),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        client in any::<bool>(),
    ) {
        let role = if client { Role::Client } else { Role::Server };
        let limits = Limits::default().with_max_frame_payload(64).with_max_fragments(4);
        prop_assert_eq!(chunked_as(role, limits, &wire, &cuts), decode_all(role, limits, &wire));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Decoding in place gives the frames and the error the streaming decoder gives. The one
    /// difference: a truncated text frame that turns invalid is failed at once by the
    /// streaming decoder (fail-fast as bytes arrive), while `decode_slice` waits for the
    /// rest of the frame.
    #[test]
    fn decoding_in_place_agrees_with_the_streaming_decoder(
        wire in proptest::collection::vec(any::<u8>(), 0..300),
        client in any::<bool>(),
    ) {
        let role = if client { Role::Client } else { Role::Server };
        let limits = Limits::default().with_max_frame_payload(64).with_max_fragments(4);
        let (frames, err) = decode_all(role, limits, &wire);
        let (in_place, in_place_err, complete) = decode_in_place(role, limits, &wire);
        prop_assert_eq!(&in_place, &frames.iter().map(|f| (f.header, f.payload.to_vec())).collect::<Vec<_>>());
        if complete || in_place_err.is_some() {
            prop_assert_eq!(in_place_err, err);
        } else {
            prop_assert!(err.is_none() || err == Some(oyez_frame::Error::InvalidUtf8), "{:?}", err);
        }
    }

    #[test]
    fn decoding_valid_frames_in_place_round_trips(items in proptest::collection::vec(item(), 0..8)) {
        let (wire, expected) = encode_items(Role::Client, &items);
        let (frames, err, complete) = decode_in_place(Role::Server, Limits::default(), &wire);
        prop_assert_eq!(err, None);
        prop_assert!(complete);
        let got: Vec<(OpCode, bool, Vec<u8>)> =
            frames.into_iter().map(|(h, p)| (h.opcode, h.fin, p)).collect();
        prop_assert_eq!(got, expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A buffer given `buffer_room`'s capacity, wherever the frame was cut and whether or not
    /// the decoder has taken its header yet, takes the rest of the frame without moving:
    /// `decode` finds there all the room it reserves, and the payload is decoded where it was
    /// read.
    #[test]
    fn a_buffer_sized_by_buffer_room_never_moves(
        item in item(),
        cuts in proptest::collection::vec(any::<usize>(), 1..4),
        size_at in any::<usize>(),
        client in any::<bool>(),
    ) {
        let receiver = if client { Role::Client } else { Role::Server };
        let (wire, _) = encode_items(receiver.peer(), &[item]);
        // The first frame only (a fragmented message is several).
        let (header, header_len) = FrameHeader::decode(&wire).unwrap().unwrap();
        let frame_len = header_len + usize::try_from(header.payload_len).unwrap();
        let wire = &wire[..frame_len];
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (frame_len + 1)).collect();
        points.sort_unstable();
        points.push(frame_len);
        let size_at = size_at % points.len();

        let mut dec = Decoder::new(receiver, Limits::default());
        let mut buf = BytesMut::new();
        let mut consumed = 0; // what decode took off the front of `buf` (the header, once in)
        let mut sized = None; // where the allocation ends, once the buffer was sized
        let mut start = 0;
        for (i, &p) in points.iter().enumerate() {
            buf.extend_from_slice(&wire[start..p]);
            start = p;
            if let Some(alloc_end) = sized {
                prop_assert_eq!(ends(&buf).1, alloc_end, "moved by appending");
            }
            if i == size_at {
                let room = dec.buffer_room(&buf);
                // A frame in progress to size for: from its header's last byte to its end.
                let in_progress = p >= header_len && p < frame_len;
                prop_assert_eq!(room.is_some(), in_progress, "cut at {} of {}", p, frame_len);
                if let Some(room) = room {
                    // These frames are far shorter than MAX_RESERVE: the room is the rest of
                    // the frame, counted from what decode will start from.
                    prop_assert_eq!(room, frame_len - consumed);
                    let mut fresh = BytesMut::with_capacity(room);
                    fresh.extend_from_slice(&buf);
                    buf = fresh;
                    sized = Some(ends(&buf).1);
                }
            }
            let before = ends(&buf);
            match dec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    prop_assert_eq!(p, frame_len);
                    if let Some(alloc_end) = sized {
                        let payload_end = frame.payload.as_ptr().addr() + frame.payload.len();
                        prop_assert_eq!(payload_end, alloc_end, "decoded elsewhere");
                    }
                }
                Ok(None) if sized.is_some() => prop_assert_eq!(ends(&buf), before, "moved by decode"),
                Ok(None) => {}
                Err(e) => prop_assert!(false, "valid input failed: {:?}", e),
            }
            consumed = p - buf.len();
        }
    }

    /// `buffer_room` never panics, whatever the bytes and whatever state a prefix of them left
    /// the decoder in (between frames, mid-payload, failed); when it sizes, it sizes for more
    /// than is there and at most for a header and the longest payload the limits allow.
    #[test]
    fn buffer_room_never_panics(
        wire in proptest::collection::vec(any::<u8>(), 0..200),
        fed in any::<usize>(),
        client in any::<bool>(),
        small_limits in any::<bool>(),
    ) {
        let role = if client { Role::Client } else { Role::Server };
        let limits = if small_limits {
            Limits::default().with_max_frame_payload(64).with_max_fragments(4)
        } else {
            Limits::default()
        };
        let mut dec = Decoder::new(role, limits);
        let fed = fed % (wire.len() + 1);
        let mut buf = BytesMut::from(&wire[..fed]);
        while let Ok(Some(_)) = dec.decode(&mut buf) {}
        buf.extend_from_slice(&wire[fed..]);
        for bytes in [&buf[..], &wire[..], &wire[fed..]] {
            if let Some(room) = dec.buffer_room(bytes) {
                prop_assert!(room > bytes.len(), "{} for {} bytes", room, bytes.len());
                prop_assert!(room <= FrameHeader::MAX_LEN + limits.max_frame_payload());
            }
        }
    }
}

/// Where a buffer's bytes end and where its allocation ends: both stay put as bytes are taken
/// off its front, unless it moves.
fn ends(buf: &BytesMut) -> (usize, usize) {
    let at = buf.as_ptr().addr();
    (at + buf.len(), at + buf.capacity())
}

/// What [`decode_in_place`] found: the frames, the error, and whether the input ended at a
/// frame boundary.
type InPlace = (Vec<(FrameHeader, Vec<u8>)>, Option<oyez_frame::Error>, bool);

/// `Decoder::decode_slice` over the whole of `wire`.
fn decode_in_place(role: Role, limits: Limits, wire: &[u8]) -> InPlace {
    let mut dec = Decoder::new(role, limits);
    let mut buf = wire.to_vec();
    let mut at = 0;
    let mut frames = Vec::new();
    loop {
        if at == buf.len() {
            return (frames, None, true);
        }
        match dec.decode_slice(&mut buf[at..]) {
            Ok(Some((f, used))) => {
                frames.push((f.header, f.payload.to_vec()));
                at += used;
            }
            Ok(None) => {
                // Nothing was changed: the bytes left are still the wire's.
                assert_eq!(&buf[at..], &wire[at..]);
                return (frames, None, false);
            }
            Err(e) => return (frames, Some(e), false),
        }
    }
}

fn chunked(wire: &[u8], cuts: &[usize]) -> (Vec<oyez_frame::Frame>, Option<oyez_frame::Error>) {
    chunked_as(Role::Server, Limits::default(), wire, cuts)
}

fn chunked_as(
    role: Role,
    limits: Limits,
    wire: &[u8],
    cuts: &[usize],
) -> (Vec<oyez_frame::Frame>, Option<oyez_frame::Error>) {
    let mut dec = Decoder::new(role, limits);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.sort_unstable();
    points.push(wire.len());
    let mut start = 0;
    for p in points {
        buf.extend_from_slice(&wire[start..p]);
        start = p;
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

/// One command for a server session's output: an own frame, or a shared one.
#[derive(Clone, Debug)]
enum Out {
    Own(Vec<u8>),
    Shared(Vec<u8>),
    Ping(Vec<u8>),
}

fn out() -> impl Strategy<Value = Out> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200).prop_map(Out::Own),
        proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Out::Shared),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Out::Ping),
    ]
}

/// One vectored write of the session's output into `wire`: up to `slots` slices offered,
/// and the write cut after `cut` (modulo what was offered, plus one) bytes of them.
fn write_through_slices(s: &mut Session, slots: usize, cut: usize, wire: &mut Vec<u8>) {
    use std::io::IoSlice;
    let mut slices = [IoSlice::new(&[]); 4];
    let n = s.transmit_slices(&mut slices[..slots]);
    let offered: usize = slices[..n].iter().map(|b| b.len()).sum();
    let take = cut % (offered + 1);
    let mut left = take;
    for b in &slices[..n] {
        let k = left.min(b.len());
        wire.extend_from_slice(&b[..k]);
        left -= k;
    }
    s.advance_transmit(take);
}

/// A server session with `outs` queued, in order.
fn queued(outs: &[Out]) -> Session {
    use oyez_frame::SharedFrame;
    use oyez_frame::session::Outbound;
    let mut s = Session::new(Role::Server, Config::default(), Instant::now());
    for o in outs {
        match o {
            Out::Own(b) => s.send(Outbound::Binary(b)),
            Out::Shared(b) => s.send_shared(&SharedFrame::new(OpCode::Binary, b)),
            Out::Ping(b) => s.send(Outbound::Ping(b)),
        }
        .expect("an open session takes it");
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Taking output through `transmit_slices` and `advance_transmit`, with any number of
    /// slices per write and writes cut anywhere (mixed with `poll_transmit`), gives the bytes
    /// `poll_transmit` gives, and `pending_bytes` counts what is left.
    #[test]
    fn vectored_transmit_gives_the_same_bytes(
        outs in proptest::collection::vec(out(), 0..10),
        writes in proptest::collection::vec((1usize..5, any::<usize>(), any::<bool>()), 0..40),
    ) {
        let mut expected = Vec::new();
        let mut plain = queued(&outs);
        while let Some(b) = plain.poll_transmit() {
            expected.extend_from_slice(&b);
        }
        let mut s = queued(&outs);
        prop_assert_eq!(s.pending_bytes(), expected.len());
        let mut wire = Vec::new();
        for (slots, cut, poll) in writes {
            if poll {
                if let Some(b) = s.poll_transmit() {
                    wire.extend_from_slice(&b);
                }
            } else {
                write_through_slices(&mut s, slots, cut, &mut wire);
            }
            prop_assert_eq!(s.pending_bytes(), expected.len() - wire.len());
        }
        while let Some(b) = s.poll_transmit() {
            wire.extend_from_slice(&b);
        }
        prop_assert_eq!(s.pending_bytes(), 0);
        prop_assert_eq!(wire, expected);
    }
}

/// A step of a server session's output side: queue a frame, take the next buffer (kept
/// alive a while, or dropped at once), or write through slices, cut anywhere.
#[derive(Clone, Debug)]
enum Step {
    Queue(Out),
    Poll { hold: bool },
    Write { slots: usize, cut: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => out().prop_map(Step::Queue),
        1 => proptest::collection::vec(any::<u8>(), 60_000..70_000)
            .prop_map(|b| Step::Queue(Out::Own(b))),
        2 => any::<bool>().prop_map(|hold| Step::Poll { hold }),
        4 => (1usize..5, any::<usize>()).prop_map(|(slots, cut)| Step::Write { slots, cut }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Frames queued while earlier output is partly written (the own-frame buffer emptied,
    /// reused, grown past what it keeps, or still viewed by a buffer `poll_transmit` gave out)
    /// go out whole and in order: the bytes are those of every frame encoded alone.
    #[test]
    fn output_queued_while_writing_keeps_its_order(steps in proptest::collection::vec(step(), 0..60)) {
        let mut expected = Vec::new();
        let mut s = queued(&[]);
        let mut wire = Vec::new();
        let mut held = Vec::new();
        for st in steps {
            match st {
                Step::Queue(o) => {
                    let mut alone = queued(std::slice::from_ref(&o));
                    while let Some(b) = alone.poll_transmit() {
                        expected.extend_from_slice(&b);
                    }
                    match o {
                        Out::Own(b) => s.send(oyez_frame::session::Outbound::Binary(&b)),
                        Out::Shared(b) => s.send_shared(&oyez_frame::SharedFrame::new(OpCode::Binary, &b)),
                        Out::Ping(b) => s.send(oyez_frame::session::Outbound::Ping(&b)),
                    }
                    .expect("an open session takes it");
                }
                Step::Poll { hold } => {
                    if let Some(b) = s.poll_transmit() {
                        if hold {
                            held.push((wire.len(), b.clone()));
                        }
                        wire.extend_from_slice(&b);
                    }
                }
                Step::Write { slots, cut } => {
                    write_through_slices(&mut s, slots, cut, &mut wire);
                }
            }
            prop_assert_eq!(s.pending_bytes(), expected.len() - wire.len());
        }
        while let Some(b) = s.poll_transmit() {
            wire.extend_from_slice(&b);
        }
        // What was handed out and held is unchanged by what was written after it.
        for (at, b) in &held {
            prop_assert_eq!(&wire[*at..*at + b.len()], &b[..]);
        }
        prop_assert_eq!(wire, expected);
    }
}

//! Fuzz bodies, compiled on stable so that `cargo test` replays the committed seeds.
//!
//! **Not part of the public API**: exported for the `fuzz/` targets and tests only. Each
//! function takes raw fuzzer bytes, never panics on its own account, and asserts an oracle
//! (a panic here is a bug found).

#[cfg(feature = "deflate")]
mod deflate;

use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::handshake::{client::ClientHandshake, server};
use crate::session::{Config, Outbound};
use crate::{
    CloseCode, Decoder, Encoder, Error, Frame, FrameHeader, Limits, Role, Session, Utf8Validator,
    apply_mask, apply_mask_naive,
};

#[cfg(feature = "deflate")]
pub use deflate::{deflate_extensions, deflate_session};

/// Small limits, so the fuzzer reaches the limit paths.
fn fuzz_limits() -> Limits {
    Limits::default()
        .with_max_frame_payload(4096)
        .with_max_message_size(16 << 10)
        .with_max_fragments(64)
        .with_max_handshake_bytes(2048)
        .with_max_handshake_headers(16)
}

/// Splits fuzz input into (control bytes, data): the first byte says how many control bytes
/// follow.
fn split_input(data: &[u8]) -> (&[u8], &[u8]) {
    match data.split_first() {
        Some((&n, rest)) => rest.split_at(usize::from(n % 32).min(rest.len())),
        None => (&[], &[]),
    }
}

/// Cut points in `0..=len` derived from control bytes, sorted.
fn cuts(control: &[u8], len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = control
        .iter()
        .map(|b| usize::from(*b) * (len + 1) / 256)
        .collect();
    cuts.sort_unstable();
    cuts
}

/// Decodes every frame in `data`, one shot; returns the frames and the error that ended it.
pub fn decode_all(role: Role, data: &[u8]) -> (Vec<Frame>, Option<Error>) {
    let mut dec = Decoder::new(role, fuzz_limits());
    let mut buf = BytesMut::from(data);
    let mut frames = Vec::new();
    loop {
        match dec.decode(&mut buf) {
            Ok(Some(f)) => frames.push(f),
            Ok(None) => return (frames, None),
            Err(e) => {
                assert!(
                    e.close_code().is_some(),
                    "a decode error must carry a close code: {e:?}"
                );
                assert_eq!(dec.decode(&mut buf), Err(e), "errors are sticky");
                return (frames, Some(e));
            }
        }
    }
}

/// Frame decode must never panic; errors carry close codes; decoding in place
/// ([`Decoder::decode_slice`]) gives the same frames, and the same error unless it is waiting
/// for the rest of a text frame the streaming decoder already failed (fail-fast).
pub fn decode(role: Role, data: &[u8]) {
    let (frames, err) = decode_all(role, data);
    let mut dec = Decoder::new(role, fuzz_limits());
    let mut buf = data.to_vec();
    let mut at = 0;
    let mut n = 0;
    loop {
        if at == buf.len() {
            assert_eq!(err, None, "in place ended at a frame boundary");
            break;
        }
        match dec.decode_slice(&mut buf[at..]) {
            Ok(Some((f, used))) => {
                let want = frames
                    .get(n)
                    .expect("no more frames than the streaming decoder");
                assert_eq!((f.header, f.payload), (want.header, &want.payload[..]));
                n += 1;
                at += used;
            }
            Ok(None) => {
                assert_eq!(&buf[at..], &data[at..], "a partial frame is left as it was");
                assert!(err.is_none() || err == Some(Error::InvalidUtf8), "{err:?}");
                break;
            }
            Err(e) => {
                assert_eq!(Some(e), err, "the same error");
                break;
            }
        }
    }
    assert_eq!(n, frames.len(), "the same frames");
}

/// Decoding in arbitrary chunks gives the same frames and the same error as one shot.
pub fn decode_chunked(data: &[u8]) {
    let (control, data) = split_input(data);
    let role = if control.first().is_some_and(|b| b & 1 == 1) {
        Role::Client
    } else {
        Role::Server
    };
    let expected = decode_all(role, data);
    let mut dec = Decoder::new(role, fuzz_limits());
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut error = None;
    let mut start = 0;
    let mut points = cuts(control, data.len());
    points.push(data.len());
    'feed: for end in points {
        buf.extend_from_slice(&data[start..end]);
        start = end;
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break 'feed;
                }
            }
        }
    }
    assert_eq!((frames, error), expected);
}

/// Decode → encode gives back the input bytes, up to the first error or partial frame.
pub fn roundtrip(data: &[u8]) {
    for role in [Role::Server, Role::Client] {
        let (frames, _) = decode_all(role, data);
        let mut out = BytesMut::new();
        for f in &frames {
            let mask = f.header.mask;
            let mut enc = Encoder::with_mask_source(role.peer(), move || mask.unwrap_or_default());
            enc.encode_frame(f.header, &f.payload, &mut out);
        }
        assert_eq!(&out[..], &data[..out.len()], "re-encoding differs");
        // And the re-encoded bytes decode to the same frames.
        assert_eq!(decode_all(role, &out).0, frames);
    }
}

/// The incremental validator over arbitrary chunks agrees with `std::str::from_utf8`.
pub fn utf8_differential(data: &[u8]) {
    let (control, data) = split_input(data);
    let mut v = Utf8Validator::new();
    let mut start = 0;
    let mut ok = true;
    for end in cuts(control, data.len()) {
        if v.feed(&data[start..end], false).is_err() {
            ok = false;
            break;
        }
        start = end;
    }
    if ok {
        ok = v.feed(&data[start..], true).is_ok();
    }
    assert_eq!(ok, core::str::from_utf8(data).is_ok());
}

/// Word-at-a-time masking equals the byte loop at any offset.
pub fn mask_differential(data: &[u8]) {
    let Some((head, body)) = data.split_first_chunk::<5>() else {
        return;
    };
    let mask = [head[0], head[1], head[2], head[3]];
    let offset = usize::from(head[4]);
    let skip = usize::from(head[4] % 8).min(body.len());
    let mut fast = body.to_vec();
    let mut slow = body.to_vec();
    apply_mask(&mut fast[skip..], mask, offset);
    apply_mask_naive(&mut slow[skip..], mask, offset);
    assert_eq!(fast, slow);
}

/// Header decode never panics, and a decoded header re-encodes to the same bytes.
pub fn header(data: &[u8]) {
    if let Ok(Some((h, n))) = FrameHeader::decode(data) {
        let (bytes, len) = h.to_array();
        assert_eq!(&bytes[..len], &data[..n]);
    }
}

/// Request parsing and validation never panic; a rejection has an HTTP status.
pub fn handshake_request(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    match server::parse_request(&mut buf, &fuzz_limits()) {
        Ok(Some(req)) => {
            let _ = (
                req.path(),
                req.query(),
                req.origin(),
                req.protocols().count(),
                req.headers().count(),
            );
            if let Err(e) = server::accept(&req) {
                assert!(e.http_status().is_some(), "{e:?}");
            }
        }
        Ok(None) => assert!(data.len() < fuzz_limits().max_handshake_bytes()),
        Err(e) => assert!(e.http_status().is_some(), "{e:?}"),
    }
}

/// Response parsing never panics.
pub fn handshake_response(data: &[u8]) {
    let hs = ClientHandshake::with_key("h", "/", &["a"], &[], [7; 16], &mut BytesMut::new());
    let _ = hs.parse_response(&mut BytesMut::from(data), &fuzz_limits());
}

/// A server session driven by arbitrary operations: bytes, sends, closes and time. It never
/// panics, never transmits after it reported itself closed and drained, every error is
/// sticky, and a buffer given the capacity [`Session::buffer_room`] asks for does not move
/// while the session decodes from it.
pub fn session(data: &[u8]) {
    let start = Instant::now();
    let config = Config::default()
        .with_limits(fuzz_limits())
        .with_keepalive(Some(Duration::from_millis(30)))
        .with_idle_timeout(Some(Duration::from_millis(200)))
        .with_close_timeout(Duration::from_millis(50));
    let mut s = Session::new(Role::Server, config, start);
    let mut now = start;
    let mut buf = BytesMut::new();
    let mut ops = data;
    while let [op, rest @ ..] = ops {
        ops = rest;
        let arg = ops.first().copied().unwrap_or(0);
        match op % 6 {
            0 | 1 => {
                let n = usize::from(arg).min(ops.len());
                buf.extend_from_slice(&ops[..n]);
                ops = &ops[n..];
                let sized = s.buffer_room(&buf).map(|room| {
                    assert!(room > buf.len(), "room for a frame that has not ended");
                    buf.reserve(room - buf.len());
                    ends(&buf)
                });
                let result = s.handle_bytes(now, &mut buf);
                if let Some(before) = sized {
                    assert_eq!(ends(&buf), before, "the sized buffer moved");
                }
                if let Err(e) = result {
                    assert_eq!(s.error(), Some(e));
                    assert!(s.is_closed());
                }
            }
            2 => {
                let _ = s.send(Outbound::Binary(&ops[..usize::from(arg).min(ops.len())]));
            }
            3 => {
                let _ = s.send(Outbound::Ping(&ops[..usize::from(arg).min(ops.len())]));
            }
            4 => {
                let _ = s.close(now, CloseCode::from_u16(u16::from(arg) + 999), "bye");
            }
            _ => {
                now += Duration::from_millis(u64::from(arg));
                if s.poll_timeout().is_some_and(|t| t <= now) {
                    s.handle_timeout(now);
                }
            }
        }
        // Events first: taking the last event can release a deferred protocol error, which
        // queues a close frame; then everything queued must come out.
        while s.poll_event().is_some() {}
        while s.poll_transmit().is_some() {}
        assert_eq!(s.pending_bytes(), 0);
    }
}

/// Where a buffer's bytes end and where its allocation ends: both stay put as bytes are taken
/// off its front, unless it moves.
fn ends(buf: &BytesMut) -> (usize, usize) {
    let at = buf.as_ptr().addr();
    (at + buf.len(), at + buf.capacity())
}

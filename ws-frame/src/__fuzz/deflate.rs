//! Fuzz bodies for permessage-deflate: the extension header's parser and the negotiation in
//! both roles, and a session receiving compressed input.

use bytes::BytesMut;

use super::{cuts, fuzz_limits, split_input};
use crate::deflate::{DeflateConfig, Params};
use crate::handshake::{deflate, extensions};
use crate::session::Config;
use crate::{Error, Event, Role, Session, apply_mask};

/// `Sec-WebSocket-Extensions` values (lines of the input) through the grammar and both sides
/// of the negotiation, with settings from the control bytes. Nothing panics; an answer the
/// server gives always has `server_no_context_takeover`, never a window larger than the one
/// offered or configured, and a client whose offer it fits accepts it as it is.
pub fn deflate_extensions(data: &[u8]) {
    let (control, data) = split_input(data);
    let c = control.first().copied().unwrap_or(0);
    let config = DeflateConfig::default()
        .with_client_context_takeover(c & 1 != 0)
        .with_client_max_window_bits(8 + (c >> 1) % 8)
        .with_max_window_bits(8 + (c >> 4) % 8);
    let values: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    for v in &values {
        if let Ok(list) = extensions::parse(v) {
            assert!(list.iter().all(|e| !e.name.is_empty()));
        }
    }
    if let Some(params) = deflate::negotiate(values.iter().copied(), &config) {
        assert!(params.server_no_context_takeover());
        assert!(params.server_window_bits() <= config.max_window_bits().max(8));
        let keeps = !params.client_no_context_takeover();
        assert!(!keeps || config.client_context_takeover(), "{params:?}");
        assert!(!keeps || params.client_window_bits() <= config.client_max_window_bits());
        let answer = params.to_string();
        let client = DeflateConfig::default()
            .with_request_server_max_window_bits(params.server_max_window_bits());
        assert_eq!(
            deflate::check_response([answer.as_bytes()].into_iter(), Some(&client)),
            Ok(Some(params)),
            "{answer}"
        );
    }
    for offered in [Some(&config), None] {
        if let Err(e) = deflate::check_response(values.iter().copied(), offered) {
            assert!(matches!(
                e,
                Error::UnofferedExtension | Error::InvalidExtensionResponse
            ));
        }
    }
}

/// Builds masked client frames from the input: each frame is a first byte (FIN, RSV bits,
/// opcode, as given), a length byte and that many payload bytes, so the fuzzer controls
/// RSV1 misuse, fragmentation and the deflate streams themselves.
fn frames(mut data: &[u8]) -> Vec<u8> {
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = Vec::new();
    while let [first, len, rest @ ..] = data {
        let n = usize::from(*len).min(rest.len());
        let (payload, tail) = rest.split_at(n);
        data = tail;
        out.push(*first);
        if n < 126 {
            out.push(0x80 | u8::try_from(n).expect("< 126"));
        } else {
            out.push(0x80 | 126);
            out.extend_from_slice(&u16::try_from(n).expect("< 256").to_be_bytes());
        }
        out.extend_from_slice(&KEY);
        let start = out.len();
        out.extend_from_slice(payload);
        apply_mask(&mut out[start..], KEY, 0);
    }
    out
}

/// Feeds `wire` to a fresh server session that agreed `params`, cut at `points`; the events
/// (the close aside) and the error.
fn run(params: Params, wire: &[u8], points: &[usize]) -> (Vec<Event>, Option<Error>) {
    let now = std::time::Instant::now();
    let mut s = Session::new(
        Role::Server,
        Config::default().with_limits(fuzz_limits()),
        now,
    );
    s.set_deflate(params.agreed(&DeflateConfig::default().with_min_size(0)));
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    let mut start = 0;
    for &end in points.iter().chain([&wire.len()]) {
        buf.extend_from_slice(&wire[start..end.max(start)]);
        start = end.max(start);
        let result = s.handle_bytes(now, &mut buf);
        while let Some(e) = s.poll_event() {
            if !matches!(e, Event::Closed { .. }) {
                events.push(e);
            }
        }
        while s.poll_transmit().is_some() {}
        if let Err(e) = result {
            assert_eq!(s.error(), Some(e), "errors are sticky");
            break;
        }
    }
    (events, s.error())
}

/// A server session with permessage-deflate fed frames built from the input (compressed and
/// not, RSV1 anywhere, bombs): it never panics, every error carries its close code, no
/// message is larger than the limit after inflating, and the input fed in pieces gives the
/// same messages and the same error as fed at once.
pub fn deflate_session(data: &[u8]) {
    let (control, data) = split_input(data);
    let c = control.first().copied().unwrap_or(0);
    let params = Params::default()
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(c & 1 == 0)
        .with_client_max_window_bits(Some(8 + (c >> 1) % 8));
    let wire = frames(data);
    let whole = run(params, &wire, &[]);
    let pieces = run(
        params,
        &wire,
        &cuts(control.get(1..).unwrap_or_default(), wire.len()),
    );
    assert_eq!(whole, pieces, "chunking changed the outcome");
    let max = fuzz_limits().max_message_size();
    for e in &whole.0 {
        if let Event::Text(t) = e {
            assert!(t.len() <= max);
        }
        if let Event::Binary(b) = e {
            assert!(b.len() <= max);
        }
    }
    if let Some(e) = whole.1 {
        assert!(e.close_code().is_some(), "{e:?}");
    }
}

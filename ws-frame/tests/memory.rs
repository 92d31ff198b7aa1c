//! What a session holds between messages, and what it allocates per message, measured with a
//! counting allocator (per thread, so that tests running beside this one do not count): the
//! figures the `oyez_frame::deflate` docs give, and none per message once a session is busy.
//!
//! The counting allocator needs `unsafe` (implementing `GlobalAlloc`): allowed in this test
//! module only, each block with its SAFETY note; the crate itself forbids it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Instant;

use bytes::BytesMut;
use flate2::{Compress, Compression};
use oyez_frame::deflate::{DeflateConfig, Params};
use oyez_frame::session::{Config, Outbound};
use oyez_frame::{Event, Role, Session};

use crate::deflate::{deflate_with, message};

/// Counts the bytes this thread has allocated and not freed.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn add(n: isize) {
    // `try_with`: during thread teardown the counter may be gone; then nothing is counted.
    let _ = LIVE.try_with(|l| l.set(l.get() + n));
    if n > 0 {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged; only a thread-local
// counter (const-initialised, no allocation, no destructor) is updated beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        // SAFETY: as above; `ptr` came from `System.alloc` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

/// A server session that agreed `params`, after it received `rounds` compressed client
/// messages (made by a client that keeps its context when `params` allows it) and sent as
/// many compressed replies, with every output taken: what it still holds on the heap, its
/// own struct aside.
fn held_after_traffic(params: Params, rounds: usize) -> isize {
    let config = DeflateConfig::default().with_min_size(0);
    let now = Instant::now();
    let text =
        "{\"type\":\"chat\",\"room\":\"lobby\",\"text\":\"what a session keeps\"}".repeat(20);
    let bits = params.client_window_bits();
    let mut client = Compress::new_with_window_bits(Compression::new(6), false, bits.max(9));
    // Warm this thread's compressor and inflater pool: they belong to the thread, not to
    // any connection, and are made once.
    {
        let mut warm = Session::new(Role::Server, Config::default(), now);
        warm.set_deflate(params.agreed(&config));
        let mut c = Compress::new(Compression::new(6), false);
        let mut wire =
            BytesMut::from(&message(0x1, &deflate_with(&mut c, text.as_bytes()), 9999, true)[..]);
        warm.handle_bytes(now, &mut wire).expect("valid");
        while warm.poll_event().is_some() {}
        warm.send(Outbound::Text(&text)).expect("open");
        while warm.poll_transmit().is_some() {}
    }
    let before = live();
    let mut s = Session::new(Role::Server, Config::default(), now);
    s.set_deflate(params.agreed(&config));
    for _ in 0..rounds {
        if params.client_no_context_takeover() {
            client.reset();
        }
        let packed = deflate_with(&mut client, text.as_bytes());
        let mut wire = BytesMut::from(&message(0x1, &packed, 9999, true)[..]);
        s.handle_bytes(now, &mut wire).expect("valid");
        drop(wire);
        match s.poll_event() {
            Some(Event::Text(t)) => assert_eq!(t.len(), text.len()),
            other => panic!("{other:?}"),
        }
        assert!(s.poll_event().is_none());
        s.send(Outbound::Text(&text)).expect("open");
        while s.poll_transmit().is_some() {}
    }
    // A connection quiet for a while lets go of its busy buffers (the server does this).
    s.shrink();
    let held = live() - before;
    drop(s);
    held
}

/// With no context takeover, a connection keeps no compressor or inflater between messages:
/// only the agreed parameters, in the session's box of rare state (88 bytes).
#[test]
fn no_context_takeover_keeps_no_deflate_state() {
    let params = Params::default()
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true);
    let held = held_after_traffic(params, 5);
    assert!(
        (1..=96).contains(&held),
        "{held} bytes held between messages"
    );
}

/// A client that keeps its context costs the server its window, exactly 2^w bytes, and no
/// inflater (the window is the inflater's dictionary when a message begins).
#[test]
fn client_context_takeover_keeps_the_window_agreed() {
    for bits in [9u8, 12, 15] {
        let params = Params::default()
            .with_server_no_context_takeover(true)
            .with_client_max_window_bits(Some(bits));
        let held = held_after_traffic(params, 5);
        let window = 1isize << bits;
        assert!(
            (window..=window + 96).contains(&held),
            "window {bits}: {held} bytes held, expected {window} + at most 96"
        );
    }
}

/// What the per-thread pieces cost, for the docs' figures: a compressor (level 6, window 15,
/// made once per thread) and an inflater (borrowed per message from the thread's pool).
#[test]
fn the_thread_s_compressor_and_inflaters() {
    use flate2::{Decompress, FlushCompress, FlushDecompress};
    let data = "{\"type\":\"chat\",\"text\":\"sizes\"}".repeat(100);
    let before = live();
    let mut c = Compress::new(Compression::new(6), false);
    let mut packed = Vec::with_capacity(8192);
    c.compress_vec(data.as_bytes(), &mut packed, FlushCompress::Sync)
        .unwrap();
    let compressor = live() - before - 8192;
    let before = live();
    let mut d = Decompress::new(false);
    let mut out = Vec::with_capacity(8192);
    d.decompress_vec(&packed, &mut out, FlushDecompress::None)
        .unwrap();
    let inflater = live() - before - 8192;
    assert!(
        (300 << 10..=400 << 10).contains(&compressor),
        "compressor {compressor}"
    );
    assert!(
        (32 << 10..=48 << 10).contains(&inflater),
        "inflater {inflater}"
    );
}

/// A busy server session allocates nothing per message: an echo (a message in, the same
/// payload back as a shared frame, the output taken) and a pong, at 20 bytes and 16 KiB, once
/// warm; and lets go of everything it kept when shrunk.
#[test]
fn a_busy_session_allocates_nothing_per_message() {
    use oyez_frame::{Encoder, OpCode, SharedFrame};
    let now = Instant::now();
    for size in [20usize, 16 << 10] {
        let mut client = Encoder::with_mask_source(Role::Client, || [7, 1, 2, 3]);
        let mut wire = BytesMut::new();
        let payload = vec![b'x'; size];
        // Every frame the peer sends, encoded ahead: what the socket would deliver.
        for _ in 0..110 {
            client.encode(OpCode::Text, true, &payload, &mut wire);
            client.encode(OpCode::Ping, true, b"p", &mut wire);
        }
        let frame_len = wire.len() / 110;
        let mut s = Session::new(Role::Server, Config::default(), now);
        // The frames of the replies are made in one buffer, used again once they are dropped
        // (as the server's shards make theirs).
        let mut frames = BytesMut::with_capacity(64 << 10);
        let mut round = |s: &mut Session, wire: &mut BytesMut| {
            let mut input = wire.split_to(frame_len);
            s.handle_bytes(now, &mut input).expect("valid");
            let mut sent = 0;
            while let Some(event) = s.poll_event() {
                if let Event::Text(t) = event {
                    if !frames.try_reclaim(64 << 10) {
                        frames.reserve(64 << 10);
                    }
                    let reply =
                        SharedFrame::from_payload_in(OpCode::Text, t.into_bytes(), &mut frames);
                    s.send_shared(&reply).expect("open");
                    sent += 1;
                }
            }
            assert_eq!(sent, 1);
            while s.poll_transmit().is_some() {}
        };
        for _ in 0..10 {
            round(&mut s, &mut wire);
        }
        let before = allocs();
        for _ in 0..100 {
            round(&mut s, &mut wire);
        }
        let per_100 = allocs() - before;
        assert_eq!(
            per_100, 0,
            "{size} B: {per_100} allocations per 100 messages"
        );
        let before_live = live();
        s.shrink();
        assert!(!s.holds_buffers());
        assert!(live() < before_live, "shrinking let go of the busy buffers");
    }
}

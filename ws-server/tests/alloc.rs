//! Zero heap allocations per message in the steady state, on the shard's thread: an echo of
//! 20 B and of 16 KiB, and a broadcast fanned out to many connections. A counting global
//! allocator counts the allocations made on threads that a handler's `on_open` marked (the
//! shard threads; the test's own client threads are not counted), around a warm loop.
//!
//! Its own test target (`[[test]] alloc`): the allocator is the whole binary's. The counting
//! allocator needs `unsafe` (implementing `GlobalAlloc`): allowed in this test only.

#![allow(clippy::unwrap_used, unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use oyez_frame::{Encoder, OpCode, Role};
use oyez_server::{Audience, Builder, Conn, Handler, Message, ServerConfig};

/// Counts allocations (and reallocations) on marked threads while counting is on.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);

/// The tests share the counter: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

thread_local! {
    // Const-initialised and without a destructor: reading them never allocates.
    static MARKED: Cell<bool> = const { Cell::new(false) };
    static TRACING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTING.load(Ordering::Relaxed) && MARKED.with(Cell::get) && !TRACING.with(Cell::get) {
        let n = ALLOCS.fetch_add(1, Ordering::Relaxed);
        // `ALLOC_TRACE=N`: print where the first N counted allocations come from (the
        // printing's own allocations are neither counted nor traced).
        if n < TRACE_FIRST.load(Ordering::Relaxed) {
            TRACING.with(|t| t.set(true));
            eprintln!(
                "allocation {n}:\n{}",
                std::backtrace::Backtrace::force_capture()
            );
            TRACING.with(|t| t.set(false));
        }
    }
}

static TRACE_FIRST: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded to `System` unchanged; counting touches only atomics and a
// const thread-local `Cell`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Echoes on `/echo`; relays to every connection on `/bcast`. Marks the shard thread.
struct Marking;

impl Handler for Marking {
    fn on_open(&self, _conn: &Conn) {
        MARKED.with(|m| m.set(true));
    }
    fn on_message(&self, conn: &Conn, msg: Message) {
        if conn.path() == "/bcast" {
            conn.relay(Audience::path("/bcast"), msg);
        } else {
            conn.send(msg);
        }
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

fn server() -> (tokio::runtime::Runtime, oyez_server::Server) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut config = ServerConfig::default();
    config.bind = "127.0.0.1:0".parse().unwrap();
    // One shard: every connection's work on one marked thread.
    config.shards = 1;
    let server = rt.block_on(async {
        Builder::new(config)
            .route("/echo", Marking)
            .route("/bcast", Marking)
            .bind()
            .await
            .unwrap()
    });
    (rt, server)
}

/// A blocking raw client: the upgrade by hand, then pre-encoded frames.
fn connect(server: &oyez_server::Server, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// The length of a server frame (unmasked) carrying `n` payload bytes.
fn server_frame_len(n: usize) -> usize {
    n + match n {
        0..=125 => 2,
        126..=65535 => 4,
        _ => 10,
    }
}

fn masked(payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    Encoder::new(Role::Client).encode(OpCode::Binary, true, payload, &mut out);
    out.to_vec()
}

/// Allocations on the shard thread while `work` runs.
fn counted(work: impl FnOnce()) -> u64 {
    let trace = std::env::var("ALLOC_TRACE")
        .ok()
        .and_then(|v| v.parse().ok());
    TRACE_FIRST.store(trace.unwrap_or(0), Ordering::SeqCst);
    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    work();
    COUNTING.store(false, Ordering::SeqCst);
    ALLOCS.load(Ordering::SeqCst)
}

/// Warm rounds, then counted rounds. Warm means every buffer has reached its size, the
/// thread's frame arena included: its two 64 KiB blocks have each been filled once.
fn echo_allocations(size: usize, warm: usize, rounds: usize) -> u64 {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (_rt, server) = server();
    let mut c = connect(&server, "/echo");
    let frame = masked(&vec![0x5a; size]);
    let mut reply = vec![0u8; server_frame_len(size)];
    let mut round = |c: &mut TcpStream| {
        c.write_all(&frame).unwrap();
        c.read_exact(&mut reply).unwrap();
        assert_eq!(reply[0], 0x82);
    };
    for _ in 0..warm {
        round(&mut c);
    }
    counted(|| {
        for _ in 0..rounds {
            round(&mut c);
        }
    })
}

#[test]
fn a_warm_echo_of_20_bytes_allocates_nothing() {
    let n = echo_allocations(20, 10_000, 2_000);
    assert_eq!(n, 0, "{n} allocations in 2,000 echoes of 20 B");
}

#[test]
fn a_warm_echo_of_16_kib_allocates_nothing() {
    let n = echo_allocations(16 << 10, 500, 500);
    assert_eq!(n, 0, "{n} allocations in 500 echoes of 16 KiB");
}

#[test]
fn a_warm_broadcast_allocates_nothing_per_delivery() {
    const SUBSCRIBERS: usize = 50;
    const WARM: usize = 2_500;
    const ROUNDS: usize = 500;
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (_rt, server) = server();
    let mut subs: Vec<TcpStream> = (0..SUBSCRIBERS)
        .map(|_| connect(&server, "/bcast"))
        .collect();
    let frame = masked(&[0x61; 64]);
    let mut reply = vec![0u8; server_frame_len(64)];
    let mut round = |subs: &mut [TcpStream]| {
        subs[0].write_all(&frame).unwrap();
        for s in subs.iter_mut() {
            s.read_exact(&mut reply).unwrap();
            assert_eq!(reply[0], 0x82);
        }
    };
    for _ in 0..WARM {
        round(&mut subs);
    }
    let n = counted(|| {
        for _ in 0..ROUNDS {
            round(&mut subs);
        }
    });
    assert_eq!(
        n, 0,
        "{n} allocations in {ROUNDS} broadcasts to {SUBSCRIBERS} subscribers"
    );
}

/// The other side of keeping buffers while busy: connections that go quiet give them back
/// (within two seconds), so idle connections hold none.
#[test]
fn quiet_connections_give_their_buffers_back() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (_rt, server) = server();
    let frame = masked(b"ping");
    let mut reply = vec![0u8; server_frame_len(4)];
    let mut conns: Vec<TcpStream> = (0..5).map(|_| connect(&server, "/echo")).collect();
    for c in &mut conns {
        c.write_all(&frame).unwrap();
        c.read_exact(&mut reply).unwrap();
    }
    // Counted just after each reply is written.
    let start = std::time::Instant::now();
    while server.stats().connections_holding_buffers() != 5 {
        assert!(start.elapsed() < TIMEOUT, "busy connections are counted");
        std::thread::sleep(Duration::from_millis(5));
    }
    // One stays busy, the others go quiet.
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(3_500) {
        conns[0].write_all(&frame).unwrap();
        conns[0].read_exact(&mut reply).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(server.stats().connections_holding_buffers(), 1);
    drop(conns);
    let start = std::time::Instant::now();
    while server.stats().connections_holding_buffers() != 0 {
        assert!(
            start.elapsed() < TIMEOUT,
            "ended connections are counted out"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

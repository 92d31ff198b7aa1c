//! `oyez_tokio::WebSocket` next to tokio-tungstenite's `WebSocketStream`, in the same run,
//! over tokio's in-memory duplex pipe (no sockets, no kernel: what the two types themselves
//! cost), on a current-thread runtime.
//!
//! - `tokio_echo_20B`, `tokio_echo_16KiB`: a client sends a message and waits for the echo
//!   (a server on the other end of the pipe echoes); 100 round trips per iteration. Both
//!   ends are the library under test.
//! - `tokio_split_20B`: the client split into halves, a writer task sending 1,000 messages
//!   while a reader task receives their echoes, concurrently (oyez-tokio's halves share one
//!   write queue behind a lock taken per write call; tokio-tungstenite's `StreamExt::split`
//!   takes a `BiLock` around the whole stream for every poll of either half).
//!
//! `cargo bench -p oyez-benches --bench tokio`, then `bash scripts/bench-ratios.sh tokio_`.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{DuplexStream, duplex};
use tokio::runtime::Runtime;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as TtMessage;
use tokio_tungstenite::tungstenite::protocol::Role as TtRole;

const ROUND_TRIPS: u64 = 100;
const SPLIT_MESSAGES: u64 = 1_000;
const PIPE: usize = 256 << 10;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// An oyez-tokio echo server on one end of a pipe; the client on the other.
fn oyez_pair(rt: &Runtime) -> oyez_tokio::WebSocket<DuplexStream> {
    let (a, b) = duplex(PIPE);
    rt.spawn(async move {
        let mut server = oyez_tokio::WebSocket::from_upgraded(
            a,
            oyez_tokio::Role::Server,
            oyez_tokio::Config::default(),
        );
        while let Some(Ok(m)) = server.recv().await {
            if m.is_data() && server.send(m).await.is_err() {
                break;
            }
        }
    });
    oyez_tokio::WebSocket::from_upgraded(b, oyez_tokio::Role::Client, oyez_tokio::Config::default())
}

/// A tokio-tungstenite echo server on one end of a pipe; the client on the other.
fn tt_pair(rt: &Runtime) -> WebSocketStream<DuplexStream> {
    let (a, b) = duplex(PIPE);
    rt.spawn(async move {
        let mut server = WebSocketStream::from_raw_socket(a, TtRole::Server, None).await;
        while let Some(Ok(m)) = server.next().await {
            if (m.is_text() || m.is_binary()) && server.send(m).await.is_err() {
                break;
            }
        }
    });
    rt.block_on(WebSocketStream::from_raw_socket(b, TtRole::Client, None))
}

fn echo(c: &mut Criterion, size: usize, name: &str) {
    let rt = runtime();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(ROUND_TRIPS));
    let payload = vec![0x5a_u8; size];

    let mut ours = oyez_pair(&rt);
    let msg = oyez_tokio::Message::binary(payload.clone());
    group.bench_function("oyez-tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters * ROUND_TRIPS {
                    ours.send(msg.clone()).await.expect("send");
                    let back = ours.recv().await.expect("open").expect("echo");
                    assert_eq!(back.as_bytes().len(), size);
                }
                start.elapsed()
            })
        });
    });

    let mut theirs = tt_pair(&rt);
    let msg = TtMessage::binary(payload);
    group.bench_function("tokio-tungstenite", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters * ROUND_TRIPS {
                    theirs.send(msg.clone()).await.expect("send");
                    let back = theirs.next().await.expect("open").expect("echo");
                    assert_eq!(back.len(), size);
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

fn split(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("tokio_split_20B");
    group.throughput(Throughput::Elements(SPLIT_MESSAGES));
    let payload = vec![0x5a_u8; 20];

    let (mut rx, mut tx) = oyez_pair(&rt).split();
    let msg = oyez_tokio::Message::binary(payload.clone());
    group.bench_function("oyez-tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let m = msg.clone();
                    let send = async {
                        for _ in 0..SPLIT_MESSAGES {
                            tx.send(m.clone()).await.expect("send");
                        }
                    };
                    let recv = async {
                        for _ in 0..SPLIT_MESSAGES {
                            rx.recv().await.expect("open").expect("echo");
                        }
                    };
                    tokio::join!(send, recv);
                    total += start.elapsed();
                }
                total
            })
        });
    });

    let (mut sink, mut stream) = tt_pair(&rt).split();
    let msg = TtMessage::binary(payload);
    group.bench_function("tokio-tungstenite", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let m = msg.clone();
                    let send = async {
                        for _ in 0..SPLIT_MESSAGES {
                            sink.send(m.clone()).await.expect("send");
                        }
                    };
                    let recv = async {
                        for _ in 0..SPLIT_MESSAGES {
                            stream.next().await.expect("open").expect("echo");
                        }
                    };
                    tokio::join!(send, recv);
                    total += start.elapsed();
                }
                total
            })
        });
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    echo(c, 20, "tokio_echo_20B");
    echo(c, 16 << 10, "tokio_echo_16KiB");
    split(c);
}

criterion_group!(tokio_benches, benches);
criterion_main!(tokio_benches);

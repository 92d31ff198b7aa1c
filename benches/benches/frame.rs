//! Frame decoding and encoding, with tungstenite decoding the same bytes in the same run.
//!
//! `cargo bench -p ws-benches --bench frame`

use std::hint::black_box;
use std::io::Cursor;
use std::time::Instant;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ws_benches::masked_frames;
use ws_frame::session::Config;
use ws_frame::{Decoder, Encoder, Event, FrameHeader, Limits, OpCode, Role, Session};

const COUNT: usize = 10_000;

fn header(c: &mut Criterion) {
    let bytes = masked_frames(1, 20, OpCode::Binary);
    let mut g = c.benchmark_group("header_decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ws-frame", |b| {
        b.iter(|| FrameHeader::decode(black_box(&bytes)))
    });
    g.bench_function("tungstenite", |b| {
        b.iter(|| {
            tungstenite::protocol::frame::FrameHeader::parse(&mut Cursor::new(black_box(
                &bytes[..],
            )))
        })
    });
    g.finish();
}

/// 10,000 masked 20-byte frames: the per-frame cost.
fn small_frames(c: &mut Criterion) {
    let wire = masked_frames(COUNT, 20, OpCode::Binary);
    let mut g = c.benchmark_group("decode_10k_masked_20B");
    g.throughput(Throughput::Elements(COUNT as u64));
    g.bench_function("ws-frame Decoder", |b| {
        b.iter_batched_ref(
            || BytesMut::from(&wire[..]),
            |buf| {
                let mut dec = Decoder::new(Role::Server, Limits::default());
                let mut n = 0;
                while let Ok(Some(f)) = dec.decode(buf) {
                    n += f.payload.len();
                }
                assert_eq!(n, COUNT * 20);
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("ws-frame Session", |b| {
        b.iter_batched_ref(
            || BytesMut::from(&wire[..]),
            |buf| {
                let now = Instant::now();
                let mut s = Session::new(Role::Server, Config::default(), now);
                s.handle_bytes(now, buf).expect("valid frames");
                let mut n = 0;
                while let Some(Event::Binary(b)) = s.poll_event() {
                    n += b.len();
                }
                assert_eq!(n, COUNT * 20);
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("tungstenite WebSocket", |b| {
        b.iter_batched_ref(
            || Cursor::new(wire.clone()),
            |cursor| {
                let mut ws = tungstenite::WebSocket::from_raw_socket(
                    cursor,
                    tungstenite::protocol::Role::Server,
                    None,
                );
                let mut n = 0;
                for _ in 0..COUNT {
                    n += ws.read().expect("valid frames").len();
                }
                assert_eq!(n, COUNT * 20);
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// One masked frame of each size, decoded (server role) and encoded (server and client).
fn sizes(c: &mut Criterion) {
    for size in [125usize, 4 << 10, 64 << 10, 1 << 20] {
        let wire = masked_frames(1, size, OpCode::Binary);
        let payload = vec![0x42u8; size];
        let mut g = c.benchmark_group(format!("frame_{size}B"));
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function("decode ws-frame", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&wire[..]),
                |buf| {
                    Decoder::new(Role::Server, Limits::default())
                        .decode(buf)
                        .expect("valid")
                        .expect("whole")
                },
                BatchSize::LargeInput,
            )
        });
        g.bench_function("decode tungstenite", |b| {
            b.iter_batched_ref(
                || Cursor::new(wire.clone()),
                |cursor| {
                    tungstenite::WebSocket::from_raw_socket(
                        cursor,
                        tungstenite::protocol::Role::Server,
                        None,
                    )
                    .read()
                    .expect("valid")
                },
                BatchSize::LargeInput,
            )
        });
        let mut out = BytesMut::with_capacity(size + 14);
        let mut server = Encoder::new(Role::Server);
        g.bench_function("encode ws-frame server", |b| {
            b.iter(|| {
                out.clear();
                server.encode(OpCode::Binary, true, black_box(&payload), &mut out);
            })
        });
        let mut client = Encoder::new(Role::Client);
        g.bench_function("encode ws-frame client (masked)", |b| {
            b.iter(|| {
                out.clear();
                client.encode(OpCode::Binary, true, black_box(&payload), &mut out);
            })
        });
        g.finish();
    }
}

criterion_group!(benches, header, small_frames, sizes);
criterion_main!(benches);

//! Frame decoding and encoding, with tungstenite and fastwebsockets decoding and encoding the
//! same bytes in the same run (each group holds the peers side by side; `bash
//! scripts/bench-ratios.sh` prints the ratios).
//!
//! `cargo bench -p oyez-benches --bench frame`
//!
//! What each decoder starts from: oyez-frame decodes in place from the `BytesMut` the socket
//! read into (the copy into it is set-up, not timed); tungstenite and fastwebsockets own their
//! read buffer and pull from an in-memory stream, so their one copy from the "socket" is part
//! of their decode. Every decoder unmasks (server role) except tungstenite's `FrameSocket`,
//! which leaves unmasking to its message layer.

use std::hint::black_box;
use std::io::Cursor;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use oyez_benches::{MemStream, masked_frames, payload};
use oyez_frame::session::Config;
use oyez_frame::{Decoder, Encoder, Event, FrameHeader, Limits, OpCode, Role, Session};

const COUNT: usize = 10_000;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

fn header(c: &mut Criterion) {
    let bytes = masked_frames(1, 20, OpCode::Binary);
    let mut g = c.benchmark_group("header_decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("oyez-frame", |b| {
        b.iter(|| FrameHeader::decode(black_box(&bytes)))
    });
    g.bench_function("tungstenite", |b| {
        b.iter(|| {
            tungstenite::protocol::frame::FrameHeader::parse(&mut Cursor::new(black_box(
                &bytes[..],
            )))
        })
    });
    // fastwebsockets has no public header parser: its header decode is inside read_frame,
    // measured below.
    g.finish();
}

/// 10,000 masked 20-byte frames: the per-frame cost.
fn small_frames(c: &mut Criterion) {
    let wire = masked_frames(COUNT, 20, OpCode::Binary);
    let rt = rt();
    let mut g = c.benchmark_group("decode_10k_masked_20B");
    g.throughput(Throughput::Elements(COUNT as u64));
    g.bench_function("oyez-frame Decoder", |b| {
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
    g.bench_function("oyez-frame Decoder in place", |b| {
        b.iter_batched_ref(
            || wire.to_vec(),
            |buf| {
                let mut dec = Decoder::new(Role::Server, Limits::default());
                let (mut n, mut at) = (0, 0);
                while let Ok(Some((f, used))) = dec.decode_slice(&mut buf[at..]) {
                    n += f.payload.len();
                    at += used;
                }
                assert_eq!(n, COUNT * 20);
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("oyez-frame Session", |b| {
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
    g.bench_function("tungstenite FrameSocket", |b| {
        b.iter_batched_ref(
            || Cursor::new(wire.clone()),
            |cursor| {
                let mut fs = tungstenite::protocol::frame::FrameSocket::new(cursor);
                let mut n = 0;
                while let Ok(Some(f)) = fs.read(None) {
                    n += f.payload().len();
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
    g.bench_function("fastwebsockets WebSocket", |b| {
        b.iter_batched_ref(
            || MemStream::new(wire.clone()),
            |stream| {
                rt.block_on(async {
                    let mut ws = fastwebsockets::WebSocket::after_handshake(
                        stream,
                        fastwebsockets::Role::Server,
                    );
                    let mut n = 0;
                    for _ in 0..COUNT {
                        n += ws.read_frame().await.expect("valid frames").payload.len();
                    }
                    assert_eq!(n, COUNT * 20);
                })
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// One masked frame of each size, decoded (server role); and one frame encoded (server role,
/// unmasked, by all three; client role, masked, by oyez-frame).
fn sizes(c: &mut Criterion) {
    let rt = rt();
    for size in [125usize, 4 << 10, 64 << 10, 1 << 20] {
        let wire = masked_frames(1, size, OpCode::Binary);
        let data = payload(size);
        let shared = Bytes::from(data.clone());
        let mut g = c.benchmark_group(format!("decode_{size}B"));
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function("oyez-frame", |b| {
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
        g.bench_function("tungstenite", |b| {
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
        g.bench_function("fastwebsockets", |b| {
            b.iter_batched_ref(
                || MemStream::new(wire.clone()),
                |stream| {
                    rt.block_on(async {
                        let mut ws = fastwebsockets::WebSocket::after_handshake(
                            stream,
                            fastwebsockets::Role::Server,
                        );
                        let f = ws.read_frame().await.expect("valid");
                        assert_eq!(f.payload.len(), size);
                    })
                },
                BatchSize::LargeInput,
            )
        });
        g.finish();

        let mut g = c.benchmark_group(format!("encode_{size}B"));
        g.throughput(Throughput::Bytes(size as u64));
        let mut out = BytesMut::with_capacity(size + 14);
        let mut server = Encoder::new(Role::Server);
        g.bench_function("oyez-frame", |b| {
            b.iter(|| {
                out.clear();
                server.encode(OpCode::Binary, true, black_box(&data), &mut out);
            })
        });
        let mut vec = Vec::with_capacity(size + 14);
        g.bench_function("tungstenite", |b| {
            b.iter(|| {
                vec.clear();
                tungstenite::protocol::frame::Frame::message(
                    black_box(&shared).clone(),
                    tungstenite::protocol::frame::coding::OpCode::Data(
                        tungstenite::protocol::frame::coding::Data::Binary,
                    ),
                    true,
                )
                .format(&mut vec)
                .expect("a Vec takes every byte");
            })
        });
        g.bench_function("fastwebsockets", |b| {
            b.iter(|| {
                let mut frame = fastwebsockets::Frame::binary(fastwebsockets::Payload::Borrowed(
                    black_box(&data),
                ));
                black_box(frame.write(&mut vec).len())
            })
        });
        let mut client = Encoder::new(Role::Client);
        g.bench_function("oyez-frame client (masked)", |b| {
            b.iter(|| {
                out.clear();
                client.encode(OpCode::Binary, true, black_box(&data), &mut out);
            })
        });
        g.finish();
    }
}

criterion_group!(benches, header, small_frames, sizes);
criterion_main!(benches);

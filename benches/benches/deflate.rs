//! permessage-deflate's two candidate implementations, as a WebSocket message uses them: raw
//! deflate, a sync flush per message and no context takeover (a reset per message), then
//! the inflate of the same bytes with the RFC 7692 tail appended. flate2 with its zlib-rs
//! backend (what oyez-frame uses) against miniz_oxide, at levels 1 and 6, on a chat message
//! (about 150 bytes of JSON), 1 KiB and 16 KiB of chat JSON; then oyez-frame's own
//! `Session` path (compress in `send`, inflate in `handle_bytes`) on the same inputs.
//!
//! `cargo bench -p oyez-benches --bench deflate`. The compressed sizes are printed once, to
//! stderr, so the ratio can be compared too.

use std::time::Instant;

use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flate2::{Compress, Compression, Decompress};
use miniz_oxide::DataFormat;
use miniz_oxide::deflate::core::{CompressorOxide, create_comp_flags_from_zip_params};
use miniz_oxide::inflate::stream::InflateState;
use oyez_benches::deflate::{
    flate2_compress, flate2_inflate, inputs, miniz_compress, miniz_inflate,
};
use oyez_frame::deflate::{DeflateConfig, Params};
use oyez_frame::session::{Config, Outbound};
use oyez_frame::{Event, Role, Session};

fn bench(c: &mut Criterion) {
    let inputs = inputs();
    let mut sizes = String::new();
    for level in [1u32, 6] {
        let mut g = c.benchmark_group(format!("deflate/compress/level{level}"));
        for (name, data) in &inputs {
            g.throughput(Throughput::Bytes(data.len() as u64));
            let mut z = Compress::new(Compression::new(level), false);
            let mut out = Vec::with_capacity(data.len() + 64);
            flate2_compress(&mut z, data, &mut out);
            let z_len = out.len();
            g.bench_with_input(BenchmarkId::new("flate2-zlib-rs", name), data, |b, d| {
                b.iter(|| flate2_compress(&mut z, d, &mut out));
            });
            let mut m = CompressorOxide::new(create_comp_flags_from_zip_params(
                i32::try_from(level).expect("small"),
                -15,
                0,
            ));
            let mut mout = Vec::new();
            miniz_compress(&mut m, data, &mut mout);
            let m_len = mout.len();
            g.bench_with_input(BenchmarkId::new("miniz_oxide", name), data, |b, d| {
                b.iter(|| miniz_compress(&mut m, d, &mut mout));
            });
            sizes.push_str(&format!(
                "level {level} {name} ({} B): flate2-zlib-rs {z_len} B, miniz_oxide {m_len} B\n",
                data.len()
            ));
        }
        g.finish();
    }
    let mut g = c.benchmark_group("deflate/decompress");
    for (name, data) in &inputs {
        g.throughput(Throughput::Bytes(data.len() as u64));
        let mut z = Compress::new(Compression::new(6), false);
        let mut packed = Vec::with_capacity(data.len() + 64);
        flate2_compress(&mut z, data, &mut packed);
        let mut d = Decompress::new(false);
        let mut out = Vec::with_capacity(data.len());
        flate2_inflate(&mut d, &packed, &mut out);
        assert_eq!(&out, data);
        g.bench_with_input(BenchmarkId::new("flate2-zlib-rs", name), &packed, |b, p| {
            b.iter(|| flate2_inflate(&mut d, p, &mut out));
        });
        let mut s = InflateState::new_boxed(DataFormat::Raw);
        let mut mout = Vec::new();
        miniz_inflate(&mut s, &packed, &mut mout, data.len());
        assert_eq!(&mout, data);
        g.bench_with_input(BenchmarkId::new("miniz_oxide", name), &packed, |b, p| {
            b.iter(|| miniz_inflate(&mut s, p, &mut mout, data.len()));
        });
    }
    g.finish();
    session(c, &inputs);
    eprintln!("compressed sizes (raw deflate, sync flush, tail stripped):\n{sizes}");
}

/// oyez-frame's own path: a server session compressing in `send` (its per-thread compressor),
/// and a server session inflating a client's compressed message in `handle_bytes`.
fn session(c: &mut Criterion, inputs: &[(&'static str, Vec<u8>)]) {
    let now = Instant::now();
    let params = Params::default();
    let config = DeflateConfig::default().with_min_size(0);
    let mut g = c.benchmark_group("deflate/session");
    for (name, data) in inputs {
        g.throughput(Throughput::Bytes(data.len() as u64));
        let text = std::str::from_utf8(data).expect("JSON is UTF-8");
        let mut server = Session::new(Role::Server, Config::default(), now);
        server.set_deflate(params.agreed(&config));
        g.bench_with_input(BenchmarkId::new("send", name), text, |b, t| {
            b.iter(|| {
                server.send(Outbound::Text(t)).expect("open");
                while server.poll_transmit().is_some() {}
            });
        });
        // One compressed, masked client frame, decoded again and again by fresh copies.
        let mut client = Session::new(Role::Client, Config::default(), now);
        client.set_deflate(params.agreed(&config));
        client.send(Outbound::Text(text)).expect("open");
        let mut wire = BytesMut::new();
        while let Some(b) = client.poll_transmit() {
            wire.extend_from_slice(&b);
        }
        let mut server = Session::new(Role::Server, Config::default(), now);
        server.set_deflate(params.agreed(&config));
        g.bench_with_input(BenchmarkId::new("receive", name), &wire, |b, w| {
            b.iter(|| {
                let mut input = BytesMut::from(&w[..]);
                server.handle_bytes(now, &mut input).expect("valid");
                match server.poll_event() {
                    Some(Event::Text(t)) => assert_eq!(t.len(), text.len()),
                    other => panic!("{other:?}"),
                }
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Incremental UTF-8 validation (oyez-frame's `Utf8Validator`, whole and in 1,460-byte chunks,
//! as text arrives in TCP segments) against `std::str::from_utf8` on the same bytes.
//!
//! `cargo bench -p oyez-benches --bench utf8`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oyez_frame::Utf8Validator;

/// A chunk the size of one TCP segment's payload on a 1,500-byte MTU.
const CHUNK: usize = 1460;

/// `size` bytes of `sample` repeated, cut back to a character boundary.
fn text(sample: &str, size: usize) -> Vec<u8> {
    let mut s: String = sample.chars().cycle().take(size).collect();
    while s.len() > size {
        s.pop();
    }
    s.into_bytes()
}

fn utf8(c: &mut Criterion) {
    let samples = [
        (
            "ascii",
            "The quick brown fox jumps over the lazy dog. 0123456789 ",
        ),
        (
            "mixed",
            "héllo wörld, ça va? Ελληνικά, русский, 日本語のテキスト, 한국어, emoji 🎉🚀 ",
        ),
    ];
    for (name, sample) in samples {
        for size in [125usize, 4 << 10, 64 << 10, 1 << 20] {
            let bytes = text(sample, size);
            assert!(core::str::from_utf8(&bytes).is_ok());
            let mut g = c.benchmark_group(format!("utf8_{name}_{size}B"));
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            g.bench_function("std from_utf8", |b| {
                b.iter(|| core::str::from_utf8(black_box(&bytes)).is_ok())
            });
            g.bench_function("oyez-frame Utf8Validator", |b| {
                b.iter(|| {
                    let mut v = Utf8Validator::new();
                    v.feed(black_box(&bytes), true).is_ok()
                })
            });
            g.bench_function("oyez-frame Utf8Validator 1460 B chunks", |b| {
                b.iter(|| {
                    let mut v = Utf8Validator::new();
                    let mut chunks = black_box(&bytes).chunks(CHUNK).peekable();
                    let mut ok = true;
                    while let Some(chunk) = chunks.next() {
                        ok &= v.feed(chunk, chunks.peek().is_none()).is_ok();
                    }
                    ok
                })
            });
            g.finish();
        }
    }
}

criterion_group!(benches, utf8);
criterion_main!(benches);

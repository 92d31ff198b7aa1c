//! Unmasking at odd alignments, next to memcpy of the same size, the byte loop and
//! fastwebsockets' `unmask` (tungstenite's is not public).
//!
//! `cargo bench -p oyez-benches --bench mask`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oyez_benches::MASK;
use oyez_frame::{apply_mask, apply_mask_naive};

fn mask(c: &mut Criterion) {
    for size in [125usize, 4 << 10, 64 << 10, 1 << 20] {
        let mut g = c.benchmark_group(format!("mask_{size}B"));
        g.throughput(Throughput::Bytes(size as u64));
        // Extra bytes so the buffer can start at an odd address.
        let mut buf = vec![0x5au8; size + 8];
        let src = vec![0xa5u8; size];
        for skew in [0usize, 1, 3] {
            g.bench_function(format!("apply_mask skew {skew}"), |b| {
                b.iter(|| apply_mask(black_box(&mut buf[skew..skew + size]), MASK, 0))
            });
        }
        g.bench_function("fastwebsockets unmask skew 1", |b| {
            b.iter(|| fastwebsockets::unmask(black_box(&mut buf[1..=size]), MASK))
        });
        g.bench_function("memcpy", |b| {
            b.iter(|| buf[1..=size].copy_from_slice(black_box(&src)))
        });
        if size <= 64 << 10 {
            g.bench_function("naive byte loop", |b| {
                b.iter(|| apply_mask_naive(black_box(&mut buf[1..=size]), MASK, 0))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, mask);
criterion_main!(benches);

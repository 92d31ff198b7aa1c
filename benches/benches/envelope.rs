//! Cross-instance envelope encode and decode (oyez-envelope), Tina4 and mega, with a generic
//! `serde_json::Value` parse of the same bytes as the baseline.
//!
//! `cargo bench -p oyez-benches --bench envelope`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oyez_envelope::mega::{self, Broadcast, Channel, Direct};
use oyez_envelope::tina4::{Envelope, Kind, Payload};
use serde_json::value::RawValue;

fn tina4(c: &mut Criterion) {
    let cases = [
        (
            "text_64B",
            Payload::Text(String::from_utf8(oyez_benches::payload(64)).expect("ASCII")),
        ),
        (
            "text_4KiB_escapes",
            Payload::Text("line \"one\"\n\ttab é ".repeat(4096 / 20)),
        ),
        ("binary_1KiB", Payload::Binary(oyez_benches::payload(1024))),
    ];
    for (name, payload) in cases {
        let env = Envelope {
            src: "3f2a9c1e7b6d4a58".into(),
            kind: Kind::Room,
            exclude: Some("00000000deadbeef".into()),
            room: Some("lobby".into()),
            path: None,
            payload,
        };
        let bytes = env.encode();
        assert_eq!(Envelope::decode(&bytes).expect("round trip"), env);
        let mut g = c.benchmark_group(format!("tina4_{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("encode", |b| b.iter(|| black_box(&env).encode()));
        g.bench_function("decode", |b| {
            b.iter(|| Envelope::decode(black_box(&bytes)).expect("valid"))
        });
        g.bench_function("serde_json Value parse (baseline)", |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&bytes)).expect("JSON"))
        });
        g.finish();
    }
}

fn mega_envelopes(c: &mut Criterion) {
    let payload = RawValue::from_string(
        r#"{"text":"hello from the other instance","n":42,"tags":["a","b"]}"#.into(),
    )
    .expect("JSON");
    let bcast = Broadcast {
        o: Some("instance-7f3a".into()),
        ns: "/chat".into(),
        channel: Channel::Name("general".into()),
        message: mega::message("chat", Some(&payload)),
        except_session_ids: vec!["s-1".into(), "s-2".into()],
    };
    let bytes = bcast.encode();
    let mut g = c.benchmark_group("mega_broadcast");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode", |b| b.iter(|| black_box(&bcast).encode()));
    g.bench_function("decode", |b| {
        b.iter(|| Broadcast::decode(black_box(&bytes)).expect("valid"))
    });
    g.bench_function("serde_json Value parse (baseline)", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&bytes)).expect("JSON"))
    });
    g.finish();

    let direct = Direct {
        o: Some("instance-7f3a".into()),
        user_id: mega::raw_string("user-42"),
        message: mega::message("direct", Some(&payload)),
    };
    let bytes = direct.encode();
    let mut g = c.benchmark_group("mega_direct");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode", |b| b.iter(|| black_box(&direct).encode()));
    g.bench_function("decode", |b| {
        b.iter(|| Direct::decode(black_box(&bytes)).expect("valid"))
    });
    g.bench_function("serde_json Value parse (baseline)", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&bytes)).expect("JSON"))
    });
    g.finish();
}

criterion_group!(benches, tina4, mega_envelopes);
criterion_main!(benches);

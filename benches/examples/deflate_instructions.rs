//! Runs one of the `deflate` bench's cases a fixed number of times, for instruction counts
//! under callgrind (deterministic, unlike times on a shared machine):
//!
//! ```text
//! cargo build --release -p oyez-benches --example deflate_instructions
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/deflate_instructions flate2-compress-6 16k 200
//! ```
//!
//! Cases: `{flate2,miniz}-compress-LEVEL`, `{flate2,miniz}-decompress`, and `sizes` (the
//! compressed sizes at levels 1 to 9, to stderr); and the fan-out of one message to 1,000
//! server sessions, as a shard queues a broadcast: `fanout-plain` (no extension),
//! `fanout-once` (every session agreed permessage-deflate: one compressed form, shared) and
//! `fanout-each` (each recipient's copy compressed on its own, as a server without a shared
//! compressed form does). Inputs `chat`, `1k`, `16k`. Instructions per message = (total − the same run with 0 iterations) / iterations.

use std::process::ExitCode;

use flate2::{Compress, Compression, Decompress};
use miniz_oxide::DataFormat;
use miniz_oxide::deflate::core::{CompressorOxide, create_comp_flags_from_zip_params};
use miniz_oxide::inflate::stream::InflateState;
use oyez_benches::deflate::{
    flate2_compress, flate2_inflate, inputs, miniz_compress, miniz_inflate,
};
use oyez_frame::deflate::{DeflateConfig, Params};
use oyez_frame::session::Config;
use oyez_frame::{OpCode, Role, Session, SharedFrame};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [case, input, n] = &args[..] else {
        eprintln!("usage: deflate_instructions CASE INPUT ITERATIONS");
        return ExitCode::from(2);
    };
    let Some((_, data)) = inputs().into_iter().find(|(name, _)| name == input) else {
        eprintln!("unknown input {input}");
        return ExitCode::from(2);
    };
    let n: usize = n.parse().unwrap_or(0);
    let mut packed = Vec::with_capacity(data.len() + 64);
    flate2_compress(
        &mut Compress::new(Compression::new(6), false),
        &data,
        &mut packed,
    );
    let mut out = Vec::with_capacity(data.len() + 64);
    let level = |c: &str| {
        c.rsplit('-')
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or(6)
    };
    match case.as_str() {
        c if c.starts_with("flate2-compress") => {
            let mut z = Compress::new(Compression::new(level(c)), false);
            for _ in 0..n {
                flate2_compress(&mut z, &data, &mut out);
            }
        }
        c if c.starts_with("miniz-compress") => {
            let flags =
                create_comp_flags_from_zip_params(i32::try_from(level(c)).unwrap_or(6), -15, 0);
            let mut m = CompressorOxide::new(flags);
            for _ in 0..n {
                miniz_compress(&mut m, &data, &mut out);
            }
        }
        "flate2-decompress" => {
            let mut d = Decompress::new(false);
            for _ in 0..n {
                flate2_inflate(&mut d, &packed, &mut out);
            }
        }
        "miniz-decompress" => {
            let mut s = InflateState::new_boxed(DataFormat::Raw);
            for _ in 0..n {
                miniz_inflate(&mut s, &packed, &mut out, data.len());
            }
        }
        c if c.starts_with("fanout-") => fanout(c, &data, n),
        "sizes" => {
            for level in [1, 2, 3, 4, 6, 9] {
                flate2_compress(
                    &mut Compress::new(Compression::new(level), false),
                    &data,
                    &mut out,
                );
                let z = out.len();
                let flags =
                    create_comp_flags_from_zip_params(i32::try_from(level).unwrap_or(6), -15, 0);
                miniz_compress(&mut CompressorOxide::new(flags), &data, &mut out);
                eprintln!(
                    "{input} ({} B) level {level}: flate2-zlib-rs {z} B, miniz_oxide {} B",
                    data.len(),
                    out.len()
                );
            }
        }
        other => {
            eprintln!("unknown case {other}");
            return ExitCode::from(2);
        }
    }
    // Keep the work observable.
    std::hint::black_box(&out);
    ExitCode::SUCCESS
}

/// `n` messages, each queued on 1,000 server sessions and taken off again (what a shard does
/// for a broadcast, the socket writes aside).
fn fanout(case: &str, data: &[u8], n: usize) {
    let now = std::time::Instant::now();
    let agreed = Params::default()
        .with_server_no_context_takeover(true)
        .with_client_no_context_takeover(true)
        .agreed(&DeflateConfig::default());
    let mut sessions: Vec<Session> = (0..1000)
        .map(|_| {
            let mut s = Session::new(Role::Server, Config::default(), now);
            if case != "fanout-plain" {
                s.set_deflate(agreed);
            }
            s
        })
        .collect();
    let payload = bytes::Bytes::copy_from_slice(data);
    let mut wire = 0usize;
    for _ in 0..n {
        let frame = if case == "fanout-each" {
            // Made for one recipient: each session compresses its own copy.
            SharedFrame::from_payload(OpCode::Text, payload.clone())
        } else {
            SharedFrame::broadcast(OpCode::Text, payload.clone())
        };
        for s in &mut sessions {
            s.send_shared(&frame).expect("open");
            while let Some(b) = s.poll_transmit() {
                wire += b.len();
            }
        }
    }
    eprintln!(
        "{case}: {} wire bytes per delivery",
        wire / (n * 1000).max(1)
    );
}

//! The two deflate implementations as permessage-deflate uses them (raw deflate, a sync
//! flush per message, a reset per message: no context takeover; inflate with the RFC 7692
//! tail put back), shared by the `deflate` bench and the `deflate_instructions` example
//! (instruction counts under callgrind).

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress};
use miniz_oxide::deflate::core::CompressorOxide;
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZFlush};

use crate::corpus::{Rng, chat_message, json_doc};

/// The tail a sync flush ends with (RFC 7692 §7.2.1).
pub const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// The inputs: a chat message (about 150 bytes of JSON), 1 KiB and 16 KiB of chat JSON.
pub fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("chat", chat_message(&mut Rng::new(42), 17).into_bytes()),
        ("1k", json_doc(1 << 10, 3)),
        ("16k", json_doc(16 << 10, 5)),
    ]
}

/// One message through this implementation (see the module doc).
pub fn flate2_compress(c: &mut Compress, input: &[u8], out: &mut Vec<u8>) {
    c.reset();
    out.clear();
    loop {
        let before = c.total_in();
        let done = usize::try_from(before).expect("small");
        c.compress_vec(&input[done..], out, FlushCompress::Sync)
            .expect("compress");
        if usize::try_from(c.total_in()).ok() == Some(input.len()) && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    out.truncate(out.len() - 4);
}

/// One message through this implementation (see the module doc).
pub fn flate2_inflate(d: &mut Decompress, input: &[u8], out: &mut Vec<u8>) {
    d.reset(false);
    out.clear();
    for part in [input, &TAIL[..]] {
        let start = d.total_in();
        loop {
            let done = usize::try_from(d.total_in() - start).expect("small");
            d.decompress_vec(&part[done..], out, FlushDecompress::None)
                .expect("inflate");
            let all_in = usize::try_from(d.total_in() - start).expect("small") == part.len();
            if all_in && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(1024));
        }
    }
}

/// One message through this implementation (see the module doc).
pub fn miniz_compress(c: &mut CompressorOxide, input: &[u8], out: &mut Vec<u8>) {
    c.reset();
    out.clear();
    out.resize(input.len() + 64, 0);
    let r = miniz_oxide::deflate::stream::deflate(c, input, out, MZFlush::Sync);
    assert_eq!(r.bytes_consumed, input.len());
    out.truncate(r.bytes_written - 4);
}

/// One message through this implementation (see the module doc).
pub fn miniz_inflate(s: &mut InflateState, input: &[u8], out: &mut Vec<u8>, want: usize) {
    s.reset(DataFormat::Raw);
    out.clear();
    out.resize(want + 64, 0);
    let r = miniz_oxide::inflate::stream::inflate(s, input, out, MZFlush::None);
    let n = r.bytes_written;
    let r2 = miniz_oxide::inflate::stream::inflate(s, &TAIL, &mut out[n..], MZFlush::Sync);
    out.truncate(n + r2.bytes_written);
}

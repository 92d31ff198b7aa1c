//! Raw deflate as RFC 7692 uses it: a message compressed with a sync flush and its four-byte
//! tail removed (§7.2.1), inflated with the tail put back (§7.2.2), through flate2 with its
//! zlib-rs backend.
//!
//! Compressors live one per thread (per level and window) and are reset before every
//! message, so no connection keeps compression state. Inflaters come from a small
//! per-thread pool for the length of one message. A peer that keeps its context keeps its
//! LZ77 window with its connection instead: the last 2^w bytes it sent, exactly the window
//! agreed, given to the borrowed inflater as its dictionary when its next message begins
//! (zlib-rs, like zlib-ng, allocates a 32 KiB inflate window whatever the agreed size, so
//! an inflater kept per connection would cost 32 KiB and more however small the window).

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::params::MAX_WINDOW_BITS;

/// What a sync flush ends with (an empty stored block's length fields): removed by the
/// sender, appended by the receiver (RFC 7692 §7.2.1, §7.2.2).
pub(crate) const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Spare inflaters a thread keeps between messages.
const POOL_SPARES: usize = 4;

/// Compressors a thread keeps (one per level and window in use; a server uses one).
const COMPRESSORS: usize = 2;

/// The window zlib compresses with for an agreed `bits`.
///
/// zlib (and zlib-rs, which follows it) cannot make a raw deflate stream with an 8-bit
/// window: it refuses 8 for raw streams (zlib 1.2.9 on; earlier versions quietly used 9).
/// With 9 it never refers back further than 250 bytes: zlib's longest match distance is the
/// window less `MIN_LOOKAHEAD` (262 bytes), 512 − 262. So a stream made with 9 is a valid
/// stream for a 256-byte window, which is what an agreed 8 asks for. Chromium does exactly
/// this (its deflater upgrades 8 to 9 for the same reason). A test inflates such streams
/// with a strict 256-byte window.
pub(crate) const fn deflate_window(bits: u8) -> u8 {
    if bits < 9 { 9 } else { bits }
}

thread_local! {
    static DEFLATERS: RefCell<Vec<((u8, u8), Compress)>> = const { RefCell::new(Vec::new()) };
    static INFLATERS: RefCell<Vec<Decompress>> = const { RefCell::new(Vec::new()) };
}

/// Compresses `payload` as one message with no context (the thread's compressor for
/// `level` and `window_bits` is reset first), appending the compressed bytes, without the
/// sync flush's tail, to `out`.
pub(crate) fn compress(payload: &[u8], level: u8, window_bits: u8, out: &mut Vec<u8>) {
    let key = (level, deflate_window(window_bits));
    let mut run = |c: &mut Compress| {
        c.reset();
        compress_with(c, payload, out);
    };
    let used = DEFLATERS.try_with(|cell| {
        let Ok(mut list) = cell.try_borrow_mut() else {
            return false;
        };
        let i = match list.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                if list.len() == COMPRESSORS {
                    list.remove(0);
                }
                list.push((key, new_compressor(key)));
                list.len() - 1
            }
        };
        run(&mut list[i].1);
        true
    });
    if used != Ok(true) {
        // The thread is exiting (or re-entered): a compressor for this message only.
        run(&mut new_compressor(key));
    }
}

fn new_compressor((level, bits): (u8, u8)) -> Compress {
    Compress::new_with_window_bits(Compression::new(u32::from(level)), false, bits)
}

/// One message through `c`: all of `payload`, a sync flush, the tail removed.
fn compress_with(c: &mut Compress, payload: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    // Deflate's worst case (stored blocks) plus the flush; grown below if ever short.
    out.reserve(payload.len() + payload.len() / 128 + 32);
    let in_start = c.total_in();
    loop {
        let done = usize::try_from(c.total_in() - in_start).unwrap_or(payload.len());
        let result = c.compress_vec(
            &payload[done.min(payload.len())..],
            out,
            FlushCompress::Sync,
        );
        debug_assert!(result.is_ok(), "compression cannot fail: {result:?}");
        let all_in = usize::try_from(c.total_in() - in_start).ok() == Some(payload.len());
        if all_in && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    debug_assert!(
        out[start..].ends_with(&TAIL),
        "a sync flush ends with the tail"
    );
    if out[start..].ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
}

/// Why inflating stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflateFail {
    /// The bytes are not a valid deflate stream (close 1007).
    Corrupt,
    /// The output would pass the limit (close 1009); nothing beyond it was inflated.
    TooLarge,
}

/// An inflater for one message, from this thread's pool.
#[derive(Debug)]
pub(crate) struct Inflater {
    z: Decompress,
    /// The stream ended (a final block) inside the current message: what follows in the
    /// message is an error, and the tail is not fed.
    ended: bool,
}

impl Inflater {
    /// An inflater from this thread's pool (a new one if the pool is empty), at the start of
    /// a stream. Its window is 32 KiB: it inflates what any agreed window makes.
    pub(crate) fn borrow() -> Self {
        let z = INFLATERS
            .try_with(|cell| cell.try_borrow_mut().ok().and_then(|mut v| v.pop()))
            .ok()
            .flatten()
            .unwrap_or_else(|| Decompress::new_with_window_bits(false, MAX_WINDOW_BITS));
        Self { z, ended: false }
    }

    /// Continues a peer's context: `window` (the last bytes of its earlier messages, at most
    /// its agreed window) becomes what this message may refer back to.
    pub(crate) fn set_window(&mut self, window: &[u8]) {
        if !window.is_empty() {
            let set = self.z.set_dictionary(window);
            debug_assert!(
                set.is_ok(),
                "a raw inflater at its start takes a dictionary"
            );
        }
    }

    /// Ends a message: the inflater is reset and goes back to the pool (if it has room).
    pub(crate) fn finish_message(mut self) {
        self.z.reset(false);
        let _ = INFLATERS.try_with(|cell| {
            if let Ok(mut v) = cell.try_borrow_mut()
                && v.len() < POOL_SPARES
            {
                v.push(self.z);
            }
        });
    }

    /// Inflates `input` (part of a message), appending to `out`, which may hold at most
    /// `limit` bytes in all: once more would come, stops with [`InflateFail::TooLarge`]
    /// (`out` then holds at most `limit + 1` bytes; the rest of the input is left alone).
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateFail> {
        if self.ended {
            return if input.is_empty() {
                Ok(())
            } else {
                Err(InflateFail::Corrupt)
            };
        }
        let in_start = self.z.total_in();
        let consumed =
            |z: &Decompress| usize::try_from(z.total_in() - in_start).unwrap_or(usize::MAX);
        loop {
            if out.len() == out.capacity() {
                let cap = limit.saturating_add(1);
                if out.len() >= cap {
                    return Err(InflateFail::TooLarge);
                }
                // Geometric growth from a guess of 4x the input, never past the limit.
                let want = out.len().max(input.len().saturating_mul(4)).max(256);
                out.reserve_exact(want.min(cap - out.len()));
            }
            let (in_before, out_before) = (consumed(&self.z), out.len());
            let rest = input.get(in_before..).unwrap_or_default();
            let status = self
                .z
                .decompress_vec(rest, out, FlushDecompress::None)
                .map_err(|_| InflateFail::Corrupt)?;
            if out.len() > limit {
                return Err(InflateFail::TooLarge);
            }
            let in_after = consumed(&self.z);
            if status == Status::StreamEnd {
                self.ended = true;
                return if in_after >= input.len() {
                    Ok(())
                } else {
                    Err(InflateFail::Corrupt)
                };
            }
            let room = out.len() < out.capacity();
            let progress = in_after > in_before || out.len() > out_before;
            if room && (in_after >= input.len() || !progress) {
                // Everything is in, or nothing more can come of it with room to write.
                return Ok(());
            }
        }
    }

    /// Feeds the tail that ends every message (unless the stream already ended).
    pub(crate) fn end_of_message(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateFail> {
        if self.ended {
            return Ok(());
        }
        self.inflate(&TAIL, out, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(data: &[u8], level: u8, bits: u8) -> Vec<u8> {
        let mut packed = Vec::new();
        compress(data, level, bits, &mut packed);
        let mut inf = Inflater::borrow();
        let mut out = Vec::new();
        inf.inflate(&packed, &mut out, usize::MAX - 1).unwrap();
        inf.end_of_message(&mut out, usize::MAX - 1).unwrap();
        inf.finish_message();
        out
    }

    #[test]
    fn messages_round_trip_at_every_level_and_window() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for bits in 8..=15 {
            for level in [0, 1, 6, 9] {
                assert_eq!(roundtrip(&data, level, bits), data, "{level} {bits}");
            }
        }
        assert_eq!(roundtrip(b"", 6, 15), b"");
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 10 << 20];
        let mut packed = Vec::new();
        compress(&zeros, 9, 15, &mut packed);
        assert!(packed.len() < 20 << 10, "{}", packed.len());
        let mut inf = Inflater::borrow();
        let mut out = Vec::new();
        assert_eq!(
            inf.inflate(&packed, &mut out, 64 << 10),
            Err(InflateFail::TooLarge)
        );
        assert!(out.len() <= (64 << 10) + 1, "{}", out.len());
        assert!(out.capacity() <= (64 << 10) + 1, "{}", out.capacity());
    }

    /// Data that repeats a 300-byte random block: a deflater that may reach 300 bytes back
    /// uses the repeats; one limited to 250 cannot.
    fn repeats_at_300() -> Vec<u8> {
        let mut x = 0x1234_5678_u32;
        let block: Vec<u8> = (0..300)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect();
        block.repeat(40)
    }

    /// Inflates with a decoder that keeps exactly 256 bytes of history (miniz_oxide's core
    /// inflater over a wrapping 256-byte output buffer): what an agreed 8 lets a peer keep.
    /// A stream that refers back further comes out wrong (or fails).
    fn strict_inflate_8(packed: &[u8]) -> Option<Vec<u8>> {
        use miniz_oxide::inflate::TINFLStatus;
        use miniz_oxide::inflate::core::{DecompressorOxide, decompress};
        let mut r = DecompressorOxide::new();
        let mut ring = [0u8; 256];
        let (mut input, mut pos, mut out) = (packed, 0usize, Vec::new());
        loop {
            let (status, used, made) = decompress(&mut r, input, &mut ring, pos, 0);
            for i in 0..made {
                out.push(ring[(pos + i) % 256]);
            }
            pos = (pos + made) % 256;
            input = &input[used..];
            match status {
                TINFLStatus::HasMoreOutput => {}
                TINFLStatus::Done
                | TINFLStatus::FailedCannotMakeProgress
                | TINFLStatus::NeedsMoreInput => return Some(out),
                _ => return None,
            }
        }
    }

    #[test]
    fn window_bits_8_makes_streams_a_256_byte_window_inflates() {
        let data = repeats_at_300();
        let mut packed = Vec::new();
        compress(&data, 9, 8, &mut packed);
        packed.extend_from_slice(&TAIL);
        assert_eq!(strict_inflate_8(&packed).as_deref(), Some(&data[..]));
        // The control: with a 10-bit window (distances up to 762) the compressor uses the
        // repeats, and the strict inflater refuses the stream: the check above has teeth.
        let mut wide = Vec::new();
        compress(&data, 9, 10, &mut wide);
        wide.extend_from_slice(&TAIL);
        assert!(
            wide.len() < packed.len() / 4,
            "{} vs {}",
            wide.len(),
            packed.len()
        );
        assert_ne!(strict_inflate_8(&wide).as_deref(), Some(&data[..]));
    }

    #[test]
    fn corrupt_input_is_refused() {
        let mut inf = Inflater::borrow();
        let mut out = Vec::new();
        // BTYPE 11 (reserved) in the first block header.
        assert_eq!(
            inf.inflate(&[0xff, 0xff, 0xff], &mut out, 1 << 20),
            Err(InflateFail::Corrupt)
        );
    }
}

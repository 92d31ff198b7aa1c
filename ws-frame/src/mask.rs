//! Payload masking (RFC 6455 §5.3), in 128-byte blocks of word XORs, in safe code.

/// XORs `buf` in place with `mask`, as if `buf` began `offset` bytes into the payload.
///
/// Masking is its own inverse, so this both masks and unmasks. `offset` lets a payload that
/// arrives in pieces be unmasked piece by piece: pass the number of payload bytes already
/// processed.
///
/// It works in blocks of 128 bytes of `u64` XORs (8 bytes at a time for the rest), which the
/// compiler turns into vector instructions; the mask is rotated once so that its phase
/// matches the start of `buf`, whatever `offset` is. Safe code, correct at every alignment,
/// offset and length (a property test checks it against the byte loop of RFC 6455 §5.3).
///
/// ```
/// use oyez_frame::apply_mask;
/// let mask = [0x37, 0xfa, 0x21, 0x3d];
/// let mut data = *b"Hello";
/// apply_mask(&mut data, mask, 0);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455 §5.7
/// // Unmask in two pieces.
/// apply_mask(&mut data[..2], mask, 0);
/// apply_mask(&mut data[2..], mask, 2);
/// assert_eq!(&data, b"Hello");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    // For long buffers, bytes up to a 16-byte boundary first, so the block loop's loads and
    // stores are aligned (unaligned vector access at an odd address costs about a quarter of
    // the throughput at 1 MiB); short buffers go straight to the word loop, where the byte
    // head would cost more than it saves. `align_offset` only queries the address;
    // correctness never depends on it.
    if buf.len() < ALIGN_FROM {
        return apply_mask_words(buf, mask, offset);
    }
    let head = buf.as_ptr().align_offset(16).min(buf.len());
    let (head, body) = buf.split_at_mut(head);
    apply_mask_naive(head, mask, offset);
    let offset = offset + head.len();
    // Whole blocks of 128 bytes: a loop body of eight 16-byte vector XORs with one branch,
    // against two per branch for the plain word loop (about 3,600 instructions per 16 KiB
    // against 4,750; the `mask` bench and `scripts/instructions.sh` measure it). Each block
    // starts at a multiple of 4 from `body`'s start, so all share one mask phase.
    let wide = wide(rotate(mask, offset));
    let (blocks, rest) = body.as_chunks_mut::<BLOCK>();
    let done = blocks.len() * BLOCK;
    for block in blocks {
        xor_words(block.as_chunks_mut::<8>().0, wide);
    }
    apply_mask_words(rest, mask, offset + done);
}

/// Buffers at least this long are aligned before the block loop.
const ALIGN_FROM: usize = 1024;
/// The block loop's step (a multiple of 4, so that every block has the same mask phase).
const BLOCK: usize = 128;

/// The mask repeated over a `u64`: its in-memory order is mask[0], mask[1], … on every
/// target.
#[inline]
const fn wide(mask: [u8; 4]) -> u64 {
    let m = u32::from_ne_bytes(mask) as u64;
    m | m << 32
}

/// XORs each 8-byte word with `wide` (the mask repeated, in phase with the first word).
#[inline(always)]
fn xor_words(words: &mut [[u8; 8]], wide: u64) {
    for word in words {
        *word = (u64::from_ne_bytes(*word) ^ wide).to_ne_bytes();
    }
}

/// Eight bytes at a time: `u64` XOR over 8-byte chunks, then the remainder.
#[inline]
fn apply_mask_words(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let mask = rotate(mask, offset);
    let wide = wide(mask);
    let (words, rest) = buf.as_chunks_mut::<8>();
    xor_words(words, wide);
    // The remainder starts at a multiple of 8 from `buf`'s start, so its mask phase is 0:
    // four bytes at once if there are four, then the last (at most three) one by one.
    let (four, rest) = rest.as_chunks_mut::<4>();
    for word in four {
        *word = (u32::from_ne_bytes(*word) ^ u32::from_ne_bytes(mask)).to_ne_bytes();
    }
    for (byte, m) in rest.iter_mut().zip(mask) {
        *byte ^= m;
    }
}

/// The mask as seen from `offset` bytes into the payload: its bytes rotated by `offset % 4`
/// (one rotation of a `u32`, in the direction that moves bytes toward the front in memory).
#[inline]
const fn rotate(mask: [u8; 4], offset: usize) -> [u8; 4] {
    #[allow(clippy::cast_possible_truncation)] // `% 4`: at most 3
    let bits = (offset % 4) as u32 * 8;
    let m = u32::from_ne_bytes(mask);
    let m = if cfg!(target_endian = "little") {
        m.rotate_right(bits)
    } else {
        m.rotate_left(bits)
    };
    m.to_ne_bytes()
}

/// The RFC 6455 §5.3 byte loop: the oracle for tests and the differential fuzz target.
#[doc(hidden)]
pub fn apply_mask_naive(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= mask[(offset + i) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_offset_and_length_matches_the_byte_loop() {
        let mask = [0xa1, 0x52, 0x0c, 0xff];
        let source: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3).to_le_bytes()[0]).collect();
        for start in 0..8 {
            for len in 0..=256 {
                for offset in 0..4 {
                    let mut fast = source[start..start + len].to_vec();
                    let mut slow = fast.clone();
                    apply_mask(&mut fast, mask, offset);
                    apply_mask_naive(&mut slow, mask, offset);
                    assert_eq!(fast, slow, "start {start} len {len} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn long_buffers_match_the_byte_loop() {
        // The aligned block path: every start (so every head length), lengths around the
        // threshold and the block size, every mask phase.
        let mask = [0x5a, 0x01, 0xe7, 0x80];
        let source: Vec<u8> = (0..4200u32)
            .map(|i| (i * 13 + 1).to_le_bytes()[0])
            .collect();
        for start in 0..17 {
            for len in [
                1023,
                1024,
                1025,
                1151,
                1152,
                1153,
                1279,
                2048,
                4095,
                4096 + 27,
            ] {
                for offset in 0..4 {
                    // In place in one buffer, so that `start` moves the address.
                    let mut fast = source.clone();
                    let mut slow = source.clone();
                    apply_mask(&mut fast[start..start + len], mask, offset);
                    apply_mask_naive(&mut slow[start..start + len], mask, offset);
                    assert_eq!(fast, slow, "start {start} len {len} offset {offset}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn matches_naive(data in proptest::collection::vec(any::<u8>(), 0..3000), mask: [u8; 4],
                         skip in 0usize..20, offset in 0usize..1000) {
            let skip = skip.min(data.len());
            let mut fast = data.clone();
            let mut slow = data;
            apply_mask(&mut fast[skip..], mask, offset);
            apply_mask_naive(&mut slow[skip..], mask, offset);
            prop_assert_eq!(fast, slow);
        }

        #[test]
        fn piecewise_equals_whole(data in proptest::collection::vec(any::<u8>(), 0..200), mask: [u8; 4],
                                  cut in any::<usize>()) {
            let cut = cut % (data.len() + 1);
            let mut whole = data.clone();
            let mut pieces = data;
            apply_mask(&mut whole, mask, 0);
            apply_mask(&mut pieces[..cut], mask, 0);
            apply_mask(&mut pieces[cut..], mask, cut);
            prop_assert_eq!(whole, pieces);
        }
    }
}

//! Fuzz bodies, compiled on stable so that `cargo test` replays the committed seeds.
//!
//! **Not part of the public API.** Each takes raw bytes as a broker would deliver them,
//! never panics on its own account, and asserts a round-trip oracle.

use crate::mega::{Broadcast, Direct, Roster};
use crate::tina4::Envelope;

/// Decoding never panics; a decoded Tina4 envelope re-encodes to bytes that decode to the
/// same envelope and re-encode to the same bytes.
pub fn tina4(data: &[u8]) {
    if let Ok(env) = Envelope::decode(data) {
        let bytes = env.encode();
        let again = Envelope::decode(&bytes).expect("our own encoding decodes");
        assert_eq!(again, env);
        assert_eq!(again.encode(), bytes);
    }
}

/// The same for the three mega envelopes (whichever the input decodes as): our encoding of
/// a decoded envelope decodes, and encodes to the same bytes again.
pub fn mega(data: &[u8]) {
    fn round_trip<T>(
        data: &[u8],
        decode: fn(&[u8]) -> Result<T, crate::Error>,
        encode: fn(&T) -> Vec<u8>,
    ) {
        if let Ok(value) = decode(data) {
            let bytes = encode(&value);
            let again = decode(&bytes).expect("our own encoding decodes");
            assert_eq!(encode(&again), bytes);
        }
    }
    round_trip(data, Broadcast::decode, Broadcast::encode);
    round_trip(data, Direct::decode, Direct::encode);
    round_trip(data, Roster::decode, Roster::encode);
}

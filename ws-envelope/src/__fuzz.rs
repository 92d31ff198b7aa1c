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

/// The same for the three mega envelopes (whichever the input decodes as).
pub fn mega(data: &[u8]) {
    if let Ok(b) = Broadcast::decode(data) {
        let bytes = b.encode();
        assert_eq!(
            Broadcast::decode(&bytes)
                .expect("our own encoding decodes")
                .encode(),
            bytes
        );
    }
    if let Ok(d) = Direct::decode(data) {
        let bytes = d.encode();
        assert_eq!(
            Direct::decode(&bytes)
                .expect("our own encoding decodes")
                .encode(),
            bytes
        );
    }
    if let Ok(r) = Roster::decode(data) {
        let bytes = r.encode();
        assert_eq!(
            Roster::decode(&bytes)
                .expect("our own encoding decodes")
                .encode(),
            bytes
        );
    }
}

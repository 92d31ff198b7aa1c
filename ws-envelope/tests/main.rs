//! Integration tests for oyez-envelope, in one binary.

// Every golden vector the reference code emitted: decode, re-encode byte for byte.
mod golden;
// proptest round trips with arbitrary text, binary and JSON payloads.
mod props;
// Malformed input: errors, never panics.
mod malformed;
// The committed fuzz seeds (fuzz/seeds/envelope_*), replayed through the fuzz bodies.
mod fuzz_seeds;
// The README's example is a doc test of src/lib.rs, line for line.
mod readme;

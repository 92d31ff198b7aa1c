//! Integration tests for oyez-frame, in one binary.

// Test helpers shared by the modules below: wire builders.
mod util;

// RFC 6455 byte examples (§5.7) and the decoder's acceptance of them in both roles.
mod rfc;
// Every rule the decoder enforces, each with the close code it maps to.
mod rules;
// proptest: encode → decode round trips and chunking invariance.
mod props;
// Client and server sessions wired together in memory, with virtual time.
mod sim;
// The committed fuzz seeds, replayed through the fuzz bodies as regression tests.
mod fuzz_seeds;
// The README's example is a doc test of src/lib.rs, line for line.
mod readme;

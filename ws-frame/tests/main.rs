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
// permessage-deflate in sessions: RSV1 rules, streaming inflate, limits, context takeover,
// compress-once broadcasts, and proptest round trips across chunkings.
#[cfg(feature = "deflate")]
mod deflate;
// What a session with permessage-deflate holds between messages (a counting allocator).
#[cfg(feature = "deflate")]
mod memory;

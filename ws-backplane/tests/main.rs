//! Integration tests for oyez-backplane, against the real brokers on 127.0.0.1 (no mocks):
//! Redis on 6379 and NATS on 4222 (`scripts/ensure-services.sh` starts them). Tests that
//! restart a broker start their own on a free port.

// The suites' helpers unwrap freely, as the tests themselves may.
#![allow(clippy::unwrap_used)]

// Helpers: transports per backend, waiting, private brokers.
mod util;

// The transport conformance suite (opaque channel + bytes), for memory, Redis and NATS.
mod transport;

// The manager conformance suite (Tina4 and mega over each transport), for memory, Redis
// and NATS.
mod conformance;

// Killing and restarting a private broker: local-only during the outage, delivery resumes.
mod restart;
// The README's example is a doc test of src/lib.rs, line for line.
mod readme;

//! `oyez-backplane`: pub/sub backplanes that carry broadcasts between server instances, the
//! cluster managers that speak the Tina4 and mega envelopes over them, and the cluster-wide
//! presence roster.
//!
//! **What it does not do:** no WebSocket I/O and no local delivery (the server does that with
//! what the managers hand it), no persistence, no exactly-once.
//!
//! # Layers
//!
//! - [`Transport`]: moves opaque `(channel, bytes)`. [`transport::memory`] (an in-process
//!   hub: the embedded default and the test double), [`transport::redis`] (feature `redis`:
//!   one publishing and one subscribing connection) and [`transport::nats`] (feature `nats`).
//!   Broker error types stay out of the API ([`Error::Backend`] boxes them).
//! - [`BackplaneConfig`]: a kind (`redis`, `nats`, `memory`) and a URL, and
//!   [`BackplaneConfig::connect`] to open it (the `ws-server` binary reads them from
//!   `TINA4_WS_BACKPLANE` and `TINA4_WS_BACKPLANE_URL`, as the reference does).
//! - [`Tina4Cluster`]: the `tina4:ws` envelopes. [`MegaCluster`]: `mega.ws.<app>.*`
//!   broadcasts, direct messages and the roster.
//!
//! # Delivery guarantees
//!
//! - **At-most-once.** A message is published once; nothing is stored or retried. While a
//!   broker is unreachable, publishes are dropped and counted ([`Stats::publish_dropped`]),
//!   never queued for later and never an error to the caller, and local delivery is never
//!   delayed by the backplane.
//! - **Per-publisher order.** Messages from one instance on one channel arrive in the order
//!   it published them (each transport keeps one ordered publishing path).
//! - **Echo suppression.** Every instance receives its own publishes back from the broker;
//!   the managers drop them by instance id (`src` / `o`), counted in [`Stats::echoes`].
//!   Received envelopes are delivered locally and never re-published, so there are no loops.
//! - **Slow consumers lose, publishers never wait.** A subscriber more than
//!   [`transport::RECEIVE_QUEUE`] messages behind loses the newest ones (counted in
//!   [`Stats::receive_dropped`]); it never blocks the publisher or the other subscribers.
//! - **Malformed input** (bad JSON, wrong types, lone surrogates, invalid base64) is dropped
//!   and counted ([`Stats::malformed`]); it never reaches a socket.
//!
//! # Surviving the broker (where we improve on the reference)
//!
//! The reference goes local-only for good after a broker failure (and the Node Redis backend
//! can crash the process, WIRE-SPEC T12). Here the instance keeps serving locally, and each
//! connection reconnects with capped exponential backoff ([`Backoff::reconnect`]: 25 ms
//! doubling to 500 ms) and subscribes again, logging (`warn!` on loss, `info!` on return) and
//! counting ([`Stats::disconnects`], [`Stats::reconnects`]) each step. Cross-instance delivery
//! resumes within about half a second of the broker's return (measured against a real
//! `redis-server` and `nats-server` killed and restarted: about 0.46 s). Redis reconnects
//! are ours; NATS uses async-nats' own reconnect and resubscribe, driven by the same backoff,
//! with our publish path refusing to let the client buffer during the outage. The wire format is unchanged:
//! peers cannot tell. The managers also wire up eagerly at start (the reference subscribes
//! only after its first local broadcast, T9).
//!
//! # Example
//!
//! Two instances on the in-process hub; over Redis or NATS only the transport differs
//! ([`BackplaneConfig::new`]`(kind, url).connect(&hub)`, or the transports directly). (The
//! same code is the example in the crate's README.)
//!
//! ```
//! use std::sync::Arc;
//!
//! use oyez_backplane::{Tina4Cluster, transport::memory::MemoryHub};
//! use oyez_envelope::tina4::{Envelope, Kind, Payload};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), oyez_backplane::Error> {
//!     let hub = MemoryHub::new();
//!     let (a, _from_others_a) = Tina4Cluster::start(Arc::new(hub.transport())).await?;
//!     let (_b, mut from_others_b) = Tina4Cluster::start(Arc::new(hub.transport())).await?;
//!
//!     // Instance a publishes a room broadcast; instance b receives it (a does not: echo guard).
//!     a.publish(Envelope {
//!         src: String::new(), // the cluster sets it to its instance id
//!         kind: Kind::Room,
//!         exclude: None,
//!         room: Some("lobby".into()),
//!         path: None,
//!         payload: Payload::Text("hi".into()),
//!     });
//!     let env = from_others_b.recv().await.expect("delivered to b");
//!     assert_eq!((env.kind, env.room.as_deref()), (Kind::Room, Some("lobby")));
//!     assert_eq!(env.src, a.instance_id());
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backoff;
mod cluster;
mod config;
mod error;
mod stats;

pub mod transport;

pub use backoff::Backoff;
pub use cluster::mega::{
    BRIDGED_SUFFIX, MegaCluster, MegaConfig, MegaIncoming, RosterDriver, RosterSize,
};
pub use cluster::tina4::Tina4Cluster;
pub use config::{BackplaneConfig, BackplaneKind};
pub use error::Error;
pub use stats::Stats;
pub use transport::{Received, Transport};

/// Locks `m`, poisoned or not: every lock here guards state that each operation leaves
/// consistent before it could panic.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

//! The cluster managers: Tina4 and mega.

pub(crate) mod mega;
pub(crate) mod roster;
pub(crate) mod tina4;

/// Messages waiting to be published; more are dropped and counted.
pub(crate) const PUBLISH_QUEUE: usize = 4096;

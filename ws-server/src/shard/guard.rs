//! A handler callback's panic costs only its connection, never the shard and its other
//! connections.

use tracing::error;

use crate::{ConnId, Stats};

/// Runs a handler callback; a panic in it is caught, logged and counted
/// ([`Stats::handler_panics`]). Returns false if it panicked: the caller then closes the
/// connection with 1011.
pub(super) fn guarded(stats: &Stats, what: &str, id: ConnId, f: impl FnOnce()) -> bool {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(()) => true,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(not a string)");
            error!(id = %id, callback = what, panic = msg, "a handler panicked; closing its connection with 1011");
            Stats::add(&stats.handler_panics, 1);
            false
        }
    }
}

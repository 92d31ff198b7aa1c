//! Memory a burst of connections freed goes back to the system.
//!
//! Each handshake runs in a task of its own, with its buffers, on a tokio worker; after a
//! burst of them, glibc keeps what they freed in that worker's arena, held in place by the
//! few allocations that outlive the burst (measured after 10,000 handshakes, 64 at a time:
//! 999 KB of arena, 42 KB of it in use). Once the number of connections has stayed the same
//! for [`QUIET`] after at least [`MIN_CHURN`] connections opened or ended, the server asks
//! glibc to give free pages back (`malloc_trim`): an idle server's resident memory is then
//! its connections' own. The task sleeps until the count changes, so a quiet server pays
//! nothing, and a busy one one check per [`QUIET`]. Linux with glibc only (elsewhere, and
//! with [`crate::ServerConfig::trim_heap`] off, nothing runs).
#![allow(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tracing::debug;

use super::Server;
use crate::Stats;

/// How long the connection count must stay the same before a trim.
const QUIET: Duration = Duration::from_millis(250);
/// The fewest connections opened or ended since the last trim that make one worth it.
const MIN_CHURN: u64 = 256;

/// Starts the trimming task of `server` (if its configuration wants it); the task ends when
/// the server is gone (it holds no handle to it, only the connection count and the stats).
pub(crate) fn spawn_trimmer(server: &Server) {
    let inner = &server.inner;
    if inner.config.trim_heap && cfg!(all(target_os = "linux", target_env = "gnu")) {
        tokio::spawn(trim_after_bursts(
            inner.live.subscribe(),
            inner.stats.clone(),
        ));
    }
}

async fn trim_after_bursts(mut live: watch::Receiver<usize>, stats: Arc<Stats>) {
    let churn = || {
        stats.connections_opened.load(Ordering::Relaxed)
            + stats.connections_closed.load(Ordering::Relaxed)
    };
    let mut trimmed_at = churn();
    while live.changed().await.is_ok() {
        // A burst: wait until the count has stayed the same for `QUIET`.
        let mut seen = churn();
        loop {
            tokio::time::sleep(QUIET).await;
            let now = churn();
            if now == seen {
                break;
            }
            seen = now;
        }
        live.borrow_and_update();
        if seen.saturating_sub(trimmed_at) >= MIN_CHURN {
            trimmed_at = seen;
            // It walks every arena's free memory: off the async workers.
            let _ = tokio::task::spawn_blocking(release).await;
            stats.heap_trims.fetch_add(1, Ordering::Relaxed);
            debug!(connections = *live.borrow(), "gave freed memory back");
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release() {
    unsafe extern "C" {
        /// glibc's `int malloc_trim(size_t pad)`: returns free memory at the top of each
        /// arena and the free pages inside them to the system (`madvise(MADV_DONTNEED)`).
        safe fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    malloc_trim(0);
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
const fn release() {}

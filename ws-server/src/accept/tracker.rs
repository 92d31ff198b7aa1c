//! A tiny task tracker: counts live tasks and wakes the waiter when none remain.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

#[derive(Debug)]
pub(super) struct Tracker {
    live: Arc<watch::Sender<usize>>,
}

impl Default for Tracker {
    fn default() -> Self {
        Self {
            live: Arc::new(watch::channel(0).0),
        }
    }
}

impl Tracker {
    pub(super) fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        let live = self.live.clone();
        live.send_modify(|n| *n += 1);
        tokio::spawn(async move {
            fut.await;
            live.send_modify(|n| *n -= 1);
        });
    }

    pub(super) async fn wait(&self) {
        let _ = self.live.subscribe().wait_for(|n| *n == 0).await;
    }
}

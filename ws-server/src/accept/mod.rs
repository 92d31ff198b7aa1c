//! The accept side: tokio accepts connections and runs each one's opening handshake (or
//! plain HTTP exchange) in a task of its own; an upgraded connection then moves to a shard.

mod admit;
mod deflate;
mod plain;
mod tls;
mod tracker;
mod upgrade;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, info};

use crate::Server;
use crate::http::HttpHandler;
use crate::routes::Routes;
use crate::tls::TlsStore;
use crate::upgrade::UpgradeHook;

/// What a connection's handshake task needs.
#[derive(Clone)]
pub(crate) struct Accept {
    pub(crate) server: Server,
    pub(crate) routes: Arc<Routes>,
    pub(crate) http: Option<Arc<dyn HttpHandler>>,
    pub(crate) hook: Option<Arc<dyn UpgradeHook>>,
    /// The certificate, when every connection is `wss://`.
    pub(crate) tls: Option<Arc<TlsStore>>,
}

/// Waits until the flag is set (or its sender is gone). Returns no guard, so it can sit in a
/// `select!` beside branches that await.
async fn until_true(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|v| *v).await;
}

/// Accepts until shutdown; then waits for the handshakes in flight, closes every connection
/// (1001) and sets `done` once they have all ended.
pub(crate) async fn accept_loop(listener: TcpListener, ctx: Accept, done: watch::Sender<bool>) {
    let mut shutdown = ctx.server.inner.shutdown.subscribe();
    let tasks = tracker::Tracker::default();
    loop {
        tokio::select! {
            () = until_true(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let ctx = ctx.clone();
                    tasks.spawn(async move {
                        let _ = stream.set_nodelay(true);
                        let served = match &ctx.tls {
                            Some(store) => match tls::handshake(stream, store, &ctx).await {
                                Ok(stream) => upgrade::serve(stream, peer, ctx).await,
                                Err(e) => Err(e),
                            },
                            None => upgrade::serve(stream, peer, ctx).await,
                        };
                        if let Err(e) = served {
                            debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    debug!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    }
    drop(listener);
    info!("stopped accepting; closing connections");
    tasks.wait().await;
    ctx.server.stop_shards().await;
    info!("shut down");
    done.send_replace(true);
}

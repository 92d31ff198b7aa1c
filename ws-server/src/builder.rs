//! Building a server: routes, the HTTP hook, clusters, then [`Builder::bind`].

use std::sync::Arc;

use oyez_backplane::{MegaConfig, Transport};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

use crate::accept::{Accept, accept_loop};
use crate::cluster::ClusterPlan;
use crate::dispatch::Dispatch;
use crate::http::HttpHandler;
use crate::id::MAX_SHARDS;
use crate::routes::Routes;
use crate::server::{Parts, spawn_relays, spawn_trimmer};
use crate::shard::{Cmd, Seed, ShardConfig};
use crate::tls::TlsStore;
use crate::upgrade::{Protocols, UpgradeHook};
use crate::{Error, Handler, Server, ServerConfig, Stats};

/// Builds a [`Server`].
///
/// ```no_run
/// # async fn demo() -> Result<(), oyez_server::Error> {
/// use oyez_server::{Builder, Conn, Handler, Message, ServerConfig};
///
/// struct Echo;
/// impl Handler for Echo {
///     fn on_message(&self, conn: &Conn, msg: Message) {
///         conn.send(msg);
///     }
/// }
///
/// let server = Builder::new(ServerConfig::default()).route("/echo", Echo).bind().await?;
/// println!("listening on {}", server.local_addr());
/// server.closed().await;
/// # Ok(()) }
/// ```
pub struct Builder {
    config: ServerConfig,
    routes: Routes,
    http: Option<Arc<dyn HttpHandler>>,
    hook: Option<Arc<dyn UpgradeHook>>,
    plan: ClusterPlan,
}

impl Builder {
    /// A builder with `config`, no routes and no HTTP hook.
    pub fn new(config: ServerConfig) -> Self {
        Self {
            config,
            routes: Routes::default(),
            http: None,
            hook: None,
            plan: ClusterPlan::default(),
        }
    }

    /// Serves WebSocket connections to exactly `path` with `handler`.
    #[must_use]
    pub fn route(self, path: &str, handler: impl Handler) -> Self {
        self.route_with(path, handler, Protocols::default())
    }

    /// [`Builder::route`], speaking `protocols` (see [`Protocols`]: the server picks from
    /// the client's offer, and refuses with 400 a client that offers none of a route that
    /// requires one).
    #[must_use]
    pub fn route_with(mut self, path: &str, handler: impl Handler, protocols: Protocols) -> Self {
        self.routes.exact(path, Arc::new(handler), protocols);
        self
    }

    /// Serves WebSocket connections to every path that starts with `prefix`.
    #[must_use]
    pub fn route_prefix(self, prefix: &str, handler: impl Handler) -> Self {
        self.route_prefix_with(prefix, handler, Protocols::default())
    }

    /// [`Builder::route_prefix`], speaking `protocols`.
    #[must_use]
    pub fn route_prefix_with(
        mut self,
        prefix: &str,
        handler: impl Handler,
        protocols: Protocols,
    ) -> Self {
        self.routes.prefix(prefix, Arc::new(handler), protocols);
        self
    }

    /// Serves every other path with `handler` (without one, other paths get 404).
    #[must_use]
    pub fn fallback(self, handler: impl Handler) -> Self {
        self.fallback_with(handler, Protocols::default())
    }

    /// [`Builder::fallback`], speaking `protocols`.
    #[must_use]
    pub fn fallback_with(mut self, handler: impl Handler, protocols: Protocols) -> Self {
        self.routes.fallback(Arc::new(handler), protocols);
        self
    }

    /// Decides every upgrade with `hook` (see [`crate::upgrade`]): accept, with a
    /// subprotocol, an identity and headers, or refuse with a status.
    #[must_use]
    pub fn upgrade_hook(mut self, hook: impl UpgradeHook) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Answers plain HTTP requests (not upgrades) with `handler` (see [`crate::http`]).
    /// Without one, the server answers none: such requests get 426 on a WebSocket route and
    /// 404 elsewhere.
    #[must_use]
    pub fn http(mut self, handler: impl HttpHandler) -> Self {
        self.http = Some(Arc::new(handler));
        self
    }

    /// Joins the Tina4 cluster over `transport`: broadcasts to all, a path or a room are
    /// published as `tina4:ws` envelopes, and other instances' are delivered here.
    #[must_use]
    pub fn tina4_cluster(mut self, transport: Arc<dyn Transport>) -> Self {
        self.plan.tina4 = Some(transport);
        self
    }

    /// Joins the mega cluster over `transport`: direct messages, namespace broadcasts
    /// ([`Server::broadcast_ns`]) and, with the roster on, the presence roster.
    #[must_use]
    pub fn mega_cluster(mut self, transport: Arc<dyn Transport>, config: MegaConfig) -> Self {
        self.plan.mega = Some((transport, config));
        self
    }

    /// Binds the listener, joins the clusters, starts the shards, and starts accepting in the
    /// background.
    ///
    /// # Errors
    /// The bind failed, the TLS certificate or key could not be loaded ([`Error::Tls`]), a
    /// cluster transport refused to subscribe, or a shard's thread or poller could not be
    /// made.
    pub async fn bind(self) -> Result<Server, Error> {
        let tls = match &self.config.tls {
            Some(paths) => Some(Arc::new(TlsStore::load(paths.clone())?)),
            None => None,
        };
        let listener = TcpListener::bind(self.config.bind).await?;
        let local_addr = listener.local_addr()?;
        let (clusters, incoming) = self.plan.start().await?;
        let count = match self.config.shards {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
        .min(MAX_SHARDS);
        let seeds = (0..count)
            .map(|i| Seed::new(u16::try_from(i).expect("at most MAX_SHARDS shards")))
            .collect::<Result<Vec<_>, _>>()?;
        let stats = Arc::new(Stats::default());
        let shard_config = ShardConfig {
            session: oyez_frame::session::Config::default()
                .with_limits(self.config.limits)
                .with_idle_timeout(self.config.idle_timeout)
                .with_keepalive(self.config.keepalive),
            max_backlog: self.config.max_backlog,
            stats: stats.clone(),
            runtime: tokio::runtime::Handle::current(),
        };
        let (done_tx, done_rx) = watch::channel(false);
        let server = Server::new(Parts {
            config: self.config,
            stats,
            local_addr,
            clusters,
            shards: seeds.iter().map(Seed::handle).collect(),
            done: done_rx,
            tls: tls.clone(),
        });
        let routes = Arc::new(self.routes);
        for seed in seeds {
            let host = Dispatch {
                server: server.clone(),
                routes: routes.clone(),
            };
            if let Err(e) = seed.spawn(host, shard_config.clone()) {
                // The shards already running have no connection: they stop at once.
                for shard in &server.inner.shards {
                    shard.post(Cmd::Shutdown);
                }
                return Err(e.into());
            }
        }
        spawn_relays(&server, incoming);
        spawn_trimmer(&server);
        info!(addr = %local_addr, tls = tls.is_some(), "listening");
        let accept = Accept {
            server: server.clone(),
            routes,
            http: self.http,
            hook: self.hook,
            tls,
        };
        tokio::spawn(accept_loop(listener, accept, done_tx));
        Ok(server)
    }
}

impl core::fmt::Debug for Builder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("routes", &self.routes.len())
            .field("http", &self.http.is_some())
            .field("upgrade_hook", &self.hook.is_some())
            .finish_non_exhaustive()
    }
}

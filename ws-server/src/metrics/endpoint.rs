//! `GET /metrics`: on the server's own port (an [`HttpHandler`]) or on a listener of its own.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use oyez_frame::handshake::server as hs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::debug;

use super::{CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE};
use crate::Server;
use crate::http::{HttpFuture, HttpHandler, HttpRequest, HttpResponse};

/// Answers `GET /metrics` (or another path) with [`crate::Metrics`], in the Prometheus text
/// format, or OpenMetrics for a scraper whose `Accept` asks for it.
///
/// Who may read it: with a token ([`MetricsEndpoint::token`]) only requests with
/// `Authorization: Bearer <token>` (401 otherwise); without one, anyone who can reach the
/// port. The figures hold no user data (no paths, rooms or user ids unless
/// [`MetricsEndpoint::path_labels`] is on), but they tell how busy the server is: serve
/// them on a listener of their own bound to a private address ([`MetricsEndpoint::serve`]),
/// or behind a token on a public port.
///
/// ```no_run
/// # async fn demo() -> Result<(), oyez_server::Error> {
/// use oyez_server::{Builder, MetricsEndpoint, ServerConfig};
///
/// // On the WebSocket port, behind a token:
/// let endpoint = MetricsEndpoint::new().token(Some("s3cret".into()));
/// let server = Builder::new(ServerConfig::default()).http(endpoint).bind().await?;
/// // Or on a port of its own:
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await?;
/// tokio::spawn(MetricsEndpoint::new().serve(listener, server.clone()));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct MetricsEndpoint {
    path: String,
    token: Option<String>,
    path_labels: bool,
}

impl Default for MetricsEndpoint {
    fn default() -> Self {
        Self::new()
    }
}

impl MetricsEndpoint {
    /// `GET /metrics`, without a token.
    pub fn new() -> Self {
        Self {
            path: "/metrics".to_owned(),
            token: None,
            path_labels: false,
        }
    }

    /// Answers on `path` instead of `/metrics`.
    #[must_use]
    pub fn path(mut self, path: &str) -> Self {
        path.clone_into(&mut self.path);
        self
    }

    /// Requires `Authorization: Bearer <token>` when given.
    #[must_use]
    pub fn token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// Exports connections per path too ([`crate::Metrics::with_path_labels`]).
    #[must_use]
    pub const fn path_labels(mut self, on: bool) -> Self {
        self.path_labels = on;
        self
    }

    /// The answer to `req` if it is for this endpoint (its path), else `None`.
    pub fn answer(&self, req: &HttpRequest, server: &Server) -> Option<HttpResponse> {
        if req.path() != self.path {
            return None;
        }
        if !matches!(req.method(), "GET" | "HEAD") {
            return Some(HttpResponse::text(405, "method not allowed\n"));
        }
        if let Some(token) = &self.token
            && !req.has_bearer(token)
        {
            return Some(
                HttpResponse::text(401, "unauthorized\n").with_header("WWW-Authenticate", "Bearer"),
            );
        }
        let metrics = server.metrics().with_path_labels(self.path_labels);
        let openmetrics = req
            .header("accept")
            .is_some_and(|a| a.contains("application/openmetrics-text"));
        Some(if openmetrics {
            HttpResponse::new(200, OPENMETRICS_CONTENT_TYPE, metrics.render_openmetrics())
        } else {
            HttpResponse::new(200, CONTENT_TYPE, metrics.render())
        })
    }

    /// Serves this endpoint alone on `listener` (any other path gets 404), one short task
    /// per request, until `server` shuts down. Each request must arrive within the server's
    /// handshake timeout.
    pub async fn serve(self, listener: TcpListener, server: Server) {
        let mut shutdown = server.inner.shutdown.subscribe();
        // Awaited to the end inside, so that no guard of the flag is held across the select.
        async fn stopped(flag: &mut tokio::sync::watch::Receiver<bool>) {
            let _ = flag.wait_for(|stop| *stop).await;
        }
        loop {
            tokio::select! {
                () = stopped(&mut shutdown) => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let (endpoint, server) = (self.clone(), server.clone());
                        tokio::spawn(async move {
                            if let Err(e) = endpoint.exchange(stream, peer, &server).await {
                                debug!(%peer, error = %e, "metrics request failed");
                            }
                        });
                    }
                    Err(e) => {
                        debug!(error = %e, "metrics accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                }
            }
        }
    }

    /// One request on the dedicated listener.
    async fn exchange(
        &self,
        mut stream: TcpStream,
        peer: SocketAddr,
        server: &Server,
    ) -> Result<(), crate::Error> {
        let config = &server.inner.config;
        let deadline = tokio::time::Instant::now() + config.handshake_timeout;
        let mut buf = BytesMut::with_capacity(1024);
        let head = loop {
            match hs::parse_request(&mut buf, &config.limits) {
                Ok(Some(head)) => break head,
                Ok(None) => {}
                Err(e) => {
                    let mut out = BytesMut::new();
                    hs::write_error(&e, &mut out);
                    stream.write_all(&out).await?;
                    return Ok(());
                }
            }
            match tokio::time::timeout_at(deadline, stream.read_buf(&mut buf)).await {
                Ok(Ok(0)) => return Err(crate::Error::HandshakeEof),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => return Err(crate::Error::Timeout),
            }
        };
        let head_only = head.method() == "HEAD";
        let req = HttpRequest::new(head, Bytes::new(), peer);
        let response = self
            .answer(&req, server)
            .unwrap_or_else(|| HttpResponse::text(404, "not found\n"));
        stream.write_all(&response.to_bytes(head_only)).await?;
        let _ = stream.shutdown().await;
        Ok(())
    }
}

impl HttpHandler for MetricsEndpoint {
    fn handle<'a>(&'a self, req: &'a HttpRequest, server: &'a Server) -> HttpFuture<'a> {
        Box::pin(std::future::ready(self.answer(req, server)))
    }
}

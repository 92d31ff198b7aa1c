//! The `ws-server` binary: [`oyez_server::apps`] on one port, configured from the
//! environment (`ws-server --help`; every variable is read in [`settings`]).

mod auth;
mod settings;

use std::process::ExitCode;

use oyez_backplane::transport::memory::MemoryHub;
use oyez_server::apps::Site;
use oyez_server::{Builder, MetricsEndpoint};
use tracing_subscriber::EnvFilter;

use settings::{SETTINGS, Settings};

fn usage() -> String {
    let mut s = String::from(
        "ws-server: a WebSocket broadcast server\n\n\
         Routes: /echo (echo), /rooms/<name> (room relay), /all (everyone), any other path (same-path relay),\n\
         ?user=U&session=S on any path (user session; {\"type\":\"direct\",\"to\":\"U2\",\"payload\":..} reaches U2),\n\
         GET /healthz, /api/roster|broadcast|direct when WS_API_TOKEN is set, and the Prometheus metrics\n\
         at GET /metrics on WS_METRICS_ADDR (or on this port behind WS_METRICS_TOKEN).\n\n\
         Identities: without WS_JWT_SECRET or WS_JWT_PUBLIC_KEY they are UNAUTHENTICATED (anyone may\n\
         claim any ?user=, and GET /chat/roster lists user ids). With one, every connection needs a JWT\n\
         (Authorization: Bearer, ?token=, or the subprotocol bearer.<token> beside oyez) whose sub is\n\
         its user; no valid token: 401; a path outside its \"paths\" claim: 403; /chat/roster is off.\n\n\
         Settings (environment variables):\n",
    );
    let width = SETTINGS.iter().map(|d| d.env.len()).max().unwrap_or(0);
    for d in SETTINGS {
        s.push_str(&format!(
            "  {:<width$} default {:<28} {}\n",
            d.env, d.default, d.help
        ));
    }
    s
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        // --help is the one place the binary writes to stdout.
        #[allow(clippy::print_stdout)]
        {
            print!("{}", usage());
        }
        return ExitCode::SUCCESS;
    }
    let settings = Settings::from_env(|name| std::env::var(name).ok());
    let filter = settings.as_ref().map_or("info", |s| s.log_filter.as_str());
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "bad settings");
            return ExitCode::from(2);
        }
    };
    let metrics = &settings.metrics;
    let endpoint = MetricsEndpoint::new()
        .token(metrics.token.clone())
        .path_labels(metrics.path_labels);
    let mut site = Site::new(settings.api_token);
    if metrics.on_main_port() {
        site = site.with_metrics(endpoint.clone());
    }
    let metrics_listener = match metrics.addr {
        None => None,
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::error!(%addr, error = %e, "cannot listen for the metrics");
                return ExitCode::FAILURE;
            }
        },
    };
    let mut builder = auth::mount(Builder::new(settings.server), site, settings.auth);
    // One in-process hub serves every `memory` backplane of this process.
    let hub = MemoryHub::new();
    if let Some(bp) = settings.clusters.tina4 {
        match bp.connect(&hub).await {
            Ok(t) => {
                tracing::info!(kind = t.kind(), url = %bp.url, "tina4 cluster");
                builder = builder.tina4_cluster(t);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot set up the tina4 backplane");
                return ExitCode::from(2);
            }
        }
    }
    if let Some((bp, mega)) = settings.clusters.mega {
        match bp.connect(&hub).await {
            Ok(t) => {
                tracing::info!(kind = t.kind(), url = %bp.url, app = %mega.app, "mega cluster");
                builder = builder.mega_cluster(t, mega);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot set up the mega cluster");
                return ExitCode::from(2);
            }
        }
    }
    let server = match builder.bind().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    if server.is_tls() {
        tokio::spawn(reload_on_hangup(server.clone()));
    }
    if let Some(listener) = metrics_listener {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "metrics at GET /metrics");
        }
        tokio::spawn(endpoint.serve(listener, server.clone()));
    } else if settings.metrics.on_main_port() {
        tracing::info!("metrics at GET /metrics on the WebSocket port (bearer token)");
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}

/// `SIGHUP` reloads the TLS certificate and key; a pair that fails to load is logged and the
/// last good one stays. Established connections are not touched.
async fn reload_on_hangup(server: oyez_server::Server) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: the certificate will not be reloaded");
        return;
    };
    while hup.recv().await.is_some() {
        match server.reload_tls() {
            Ok(()) => tracing::info!("tls certificate reloaded"),
            Err(e) => {
                tracing::warn!(error = %e, "tls reload failed; the previous certificate stays")
            }
        }
    }
}

async fn shutdown_signal() {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

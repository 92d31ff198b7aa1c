//! Prometheus metrics: the server's counters ([`crate::Stats`], the registry, the clusters)
//! in the Prometheus text format, for the binary and for embedders.
//!
//! [`Metrics`] reads everything at scrape time; nothing is recorded for it. The hot path
//! only counts: per shard, with plain loads and stores of counters that one thread writes
//! (no lock, no map lookup, no shared cache line per message); once per event elsewhere.
//!
//! An embedder can
//! - serve [`Metrics::render`] (Prometheus text format 0.0.4; [`Metrics::render_openmetrics`]
//!   for OpenMetrics) from its own HTTP stack,
//! - register [`Metrics`] with its own [`prometheus_client`] registry (it is a
//!   [`Collector`](prometheus_client::collector::Collector): names without a prefix there,
//!   so use a sub-registry with one, e.g. `registry.sub_registry_with_prefix("oyez")`),
//! - or answer `GET /metrics` on the server's own port or a port of its own with
//!   [`MetricsEndpoint`] (the `ws-server` binary's `WS_METRICS_*` settings).
//!
//! # The figures
//!
//! With the prefix `oyez` (the families, their labels and meanings are the workspace
//! README's table):
//!
//! | family | type | labels |
//! | --- | --- | --- |
//! | `oyez_connections` | gauge | — |
//! | `oyez_connections_accepted_total` | counter | — |
//! | `oyez_connections_closed_total` | counter | `code`: 1000–1003, 1005–1011 or `other` |
//! | `oyez_handshakes_rejected_total` | counter | `status`: 400, 403, 404, 408, 426, 431, 503 and any other status answered |
//! | `oyez_received_messages_total`, `oyez_received_bytes_total` | counter | — |
//! | `oyez_sent_messages_total`, `oyez_sent_bytes_total` | counter | — |
//! | `oyez_slow_clients_dropped_total`, `oyez_idle_closed_total`, `oyez_handler_panics_total`, `oyez_heap_trims_total` | counter | — |
//! | `oyez_registry_paths`, `oyez_registry_rooms`, `oyez_registry_users` | gauge | — |
//! | `oyez_broadcast_delivery_seconds` | histogram | `origin`: `local`, `tina4`, `mega` |
//! | `oyez_cluster_published_total`, `oyez_cluster_received_total`, `oyez_cluster_relayed_total`, `oyez_cluster_echoes_total`, `oyez_cluster_disconnects_total`, `oyez_cluster_reconnects_total` | counter | `cluster`: `tina4`, `mega` |
//! | `oyez_cluster_dropped_total` | counter | `cluster`; `reason`: `publish_queue_full`, `broker_down`, `refused`, `receive_queue_full`, `malformed` |
//! | `oyez_cluster_broker_up` | gauge | `cluster` |
//! | `oyez_bridge_copies_skipped_total` | counter | — |
//! | `oyez_roster_members`, `oyez_roster_local_members` | gauge | — |
//! | `oyez_path_connections` | gauge | `path` (only with [`Metrics::with_path_labels`]) |
//! | `oyez_build_info` | gauge | `version` |
//!
//! No label takes a value from users (paths, rooms, user ids) unless the operator turns
//! per-path labels on ([`Metrics::with_path_labels`]; every distinct path is then a series).
//! The per-message counters and the histogram need the crate's `metrics` feature (on by
//! default); without it they are not exported.
//!
//! `oyez_broadcast_delivery_seconds` measures, per broadcast and per shard it reaches, the
//! time from its start on this instance (the local publish, or for a message from another
//! instance the moment the relay task takes the decoded envelope from the cluster manager:
//! envelopes carry no time, so time on the wire and at the broker is not included) to the
//! moment the shard queues the frame for its recipients, which it writes to their sockets in
//! the same loop iteration (unless a socket is full).

mod endpoint;
mod families;

use std::sync::Weak;

use prometheus_client::registry::Registry;

pub use endpoint::MetricsEndpoint;

use crate::Server;
use crate::server::Shared;

/// The prefix of every family [`Metrics::render`] writes.
pub const PREFIX: &str = "oyez";

/// The `Content-Type` of [`Metrics::render`] (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The `Content-Type` of [`Metrics::render_openmetrics`].
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A server's figures for Prometheus ([`Server::metrics`]). Cheap to clone; it does not keep
/// the server alive (after the server is gone it exports nothing).
#[derive(Clone, Debug)]
pub struct Metrics {
    server: Weak<Shared>,
    path_labels: bool,
}

impl Server {
    /// The server's figures for Prometheus (see [`Metrics`]).
    pub fn metrics(&self) -> Metrics {
        Metrics {
            server: std::sync::Arc::downgrade(&self.inner),
            path_labels: false,
        }
    }
}

impl Metrics {
    /// Also exports `oyez_path_connections{path=…}`: the connections on each path. Off by
    /// default: a path is chosen by clients, and every distinct path becomes a series.
    #[must_use]
    pub const fn with_path_labels(mut self, on: bool) -> Self {
        self.path_labels = on;
        self
    }

    /// Every figure in the Prometheus text format (0.0.4), each family prefixed `oyez_`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; an error would leave the text written so far.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry());
        out
    }

    /// Every figure in the OpenMetrics text format, each family prefixed `oyez_`.
    pub fn render_openmetrics(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry());
        out
    }

    fn registry(&self) -> Registry {
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register_collector(Box::new(self.clone()));
        registry
    }
}

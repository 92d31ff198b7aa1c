//! Every family, read at scrape time and encoded through `prometheus_client`.

use std::fmt::Error;
use std::sync::atomic::Ordering;

use oyez_backplane::{MegaCluster, Stats as BackplaneStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use super::Metrics;
use crate::server::Shared;
use crate::stats::{CLOSE_CODES, Origin};

/// Refusal statuses always exported (at zero until one happens), so that rates and alerts
/// have a series from the start; others appear once answered.
const KNOWN_STATUSES: [u16; 7] = [400, 403, 404, 408, 426, 431, 503];

impl Collector for Metrics {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Result<(), Error> {
        let Some(shared) = self.server.upgrade() else {
            return Ok(());
        };
        server_families(&shared, &mut enc)?;
        if self.path_labels {
            let mut paths = shared.registry.path_counts();
            paths.sort();
            let rows: Vec<([(&str, &str); 1], u64)> = paths
                .iter()
                .map(|(p, n)| ([("path", p.as_str())], *n as u64))
                .collect();
            gauges(
                &mut enc,
                "path_connections",
                "Open connections per path (an operator's choice: one series per path)",
                &rows,
            )?;
        }
        cluster_families(&shared, &mut enc)
    }
}

fn server_families(s: &Shared, enc: &mut DescriptorEncoder<'_>) -> Result<(), Error> {
    let stats = &s.stats;
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    enc.encode_descriptor("build", "The server's version", None, MetricType::Info)?
        .encode_info(&[("version", env!("CARGO_PKG_VERSION"))])?;
    let sizes = s.registry.sizes();
    gauge(
        enc,
        "connections",
        "Open WebSocket connections",
        sizes.connections as u64,
    )?;
    counter(
        enc,
        "connections_accepted",
        "Connections upgraded since start",
        None,
        get(&stats.connections_opened),
    )?;
    let totals = stats.totals();
    let closes: Vec<([(&str, String); 1], u64)> = CLOSE_CODES
        .iter()
        .map(|c| c.to_string())
        .chain(std::iter::once("other".to_owned()))
        .zip(totals.closes)
        .map(|(code, n)| ([("code", code)], n))
        .collect();
    counters(
        enc,
        "connections_closed",
        "Connections ended, by close code (the peer's; 1005 for a close frame without a code, 1006 for no close handshake)",
        None,
        &closes,
    )?;
    let mut statuses: Vec<(u16, u64)> = KNOWN_STATUSES
        .iter()
        .map(|s| (*s, stats.rejected_with(*s)))
        .collect();
    for (status, n) in stats.rejections() {
        if !KNOWN_STATUSES.contains(&status) {
            statuses.push((status, n));
        }
    }
    statuses.sort_unstable();
    let rows: Vec<([(&str, u16); 1], u64)> = statuses
        .into_iter()
        .map(|(status, n)| ([("status", status)], n))
        .collect();
    counters(
        enc,
        "handshakes_rejected",
        "Upgrade requests refused, by HTTP status",
        None,
        &rows,
    )?;
    counter(
        enc,
        "upgrades_limited",
        "Upgrades refused at the door (429: the client address's connection or rate limit)",
        None,
        stats.upgrades_limited.load(Ordering::Relaxed),
    )?;
    counter(
        enc,
        "upgrades_refused",
        "Upgrades the upgrade hook refused (or failed to decide)",
        None,
        stats.upgrades_refused.load(Ordering::Relaxed),
    )?;
    #[cfg(feature = "metrics")]
    {
        let bytes = Some(&Unit::Bytes);
        let none: Option<&Unit> = None;
        counter(
            enc,
            "received_messages",
            "Whole messages received from clients",
            none,
            totals.received_messages,
        )?;
        counter(
            enc,
            "received",
            "Bytes read from clients' sockets",
            bytes,
            totals.received_bytes,
        )?;
        counter(
            enc,
            "sent_messages",
            "Messages queued for clients (one per recipient; control frames not included)",
            none,
            totals.sent_messages,
        )?;
        counter(
            enc,
            "sent",
            "Bytes written to clients' sockets",
            bytes,
            totals.sent_bytes,
        )?;
        latency(enc, s, &totals)?;
    }
    counter(
        enc,
        "slow_clients_dropped",
        "Clients dropped because their outbound backlog reached the bound (close 1008)",
        None,
        get(&stats.slow_dropped),
    )?;
    counter(
        enc,
        "idle_closed",
        "Connections closed by the idle timeout (1001)",
        None,
        get(&stats.idle_closed),
    )?;
    counter(
        enc,
        "handler_panics",
        "Handler callbacks that panicked (each closed its connection with 1011)",
        None,
        get(&stats.handler_panics),
    )?;
    counter(
        enc,
        "heap_trims",
        "Times the memory a burst of connections freed was given back to the system",
        None,
        get(&stats.heap_trims),
    )?;
    for (name, help, n) in [
        (
            "registry_paths",
            "Distinct paths with a connection",
            sizes.paths,
        ),
        ("registry_rooms", "Rooms with a member", sizes.rooms),
        (
            "registry_users",
            "Users with a session on a connection here",
            sizes.users,
        ),
    ] {
        gauge(enc, name, help, n as u64)?;
    }
    Ok(())
}

/// The delivery-time histogram, one series per origin.
#[cfg(feature = "metrics")]
fn latency(
    enc: &mut DescriptorEncoder<'_>,
    s: &Shared,
    totals: &crate::stats::Totals,
) -> Result<(), Error> {
    use crate::stats::LATENCY_BOUNDS_NS;
    use prometheus_client::encoding::NoLabelSet;
    let mut m = enc.encode_descriptor(
        "broadcast_delivery",
        "Time from a broadcast's start on this instance (its publish here, or its envelope's receipt from a cluster) to its queueing for the recipients' sockets, per shard reached",
        Some(&Unit::Seconds),
        MetricType::Histogram,
    )?;
    let on = |o: &Origin| match o {
        Origin::Local => true,
        Origin::Tina4 => s.clusters.tina4().is_some(),
        Origin::Mega => s.clusters.mega().is_some(),
    };
    for (origin, (buckets, sum_ns)) in Origin::ALL.iter().zip(&totals.latency) {
        if !on(origin) {
            continue;
        }
        let bounds = LATENCY_BOUNDS_NS
            .iter()
            .map(|b| *b as f64 / 1e9)
            .chain(std::iter::once(f64::INFINITY));
        let rows: Vec<(f64, u64)> = bounds.zip(buckets.iter().copied()).collect();
        let count = buckets.iter().sum();
        let labels = [("origin", origin.label())];
        m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
            *sum_ns as f64 / 1e9,
            count,
            &rows,
            None,
        )?;
    }
    Ok(())
}

fn cluster_families(s: &Shared, enc: &mut DescriptorEncoder<'_>) -> Result<(), Error> {
    let clusters = &s.clusters;
    let mut on: Vec<(&str, &BackplaneStats, Origin)> = Vec::new();
    if let Some(t) = clusters.tina4() {
        on.push(("tina4", t.stats(), Origin::Tina4));
    }
    if let Some(m) = clusters.mega() {
        on.push(("mega", m.stats(), Origin::Mega));
    }
    if on.is_empty() {
        return Ok(());
    }
    let get = BackplaneStats::get;
    let per_cluster =
        |f: &dyn Fn(&BackplaneStats, Origin) -> u64| -> Vec<([(&str, &str); 1], u64)> {
            on.iter()
                .map(|(name, st, origin)| ([("cluster", *name)], f(st, *origin)))
                .collect()
        };
    for (name, help, rows) in [
        (
            "cluster_published",
            "Envelopes handed to the broker",
            per_cluster(&|st, _| get(&st.published)),
        ),
        (
            "cluster_received",
            "Envelopes received from the broker (this instance's own echoes included)",
            per_cluster(&|st, _| get(&st.received)),
        ),
        (
            "cluster_relayed",
            "Envelopes from other instances delivered here",
            per_cluster(&|_, origin| s.stats.relayed_from(origin)),
        ),
        (
            "cluster_echoes",
            "This instance's own envelopes, dropped on their way back",
            per_cluster(&|st, _| get(&st.echoes)),
        ),
        (
            "cluster_disconnects",
            "Broker connections lost",
            per_cluster(&|st, _| get(&st.disconnects)),
        ),
        (
            "cluster_reconnects",
            "Broker connections made again after a loss",
            per_cluster(&|st, _| get(&st.reconnects)),
        ),
    ] {
        counters(enc, name, help, None, &rows)?;
    }
    let mut dropped = Vec::new();
    for (name, st, _) in &on {
        for (reason, n) in [
            ("publish_queue_full", get(&st.dropped_queue_full)),
            ("broker_down", get(&st.dropped_broker_down)),
            ("refused", get(&st.dropped_refused)),
            ("receive_queue_full", get(&st.receive_dropped)),
            ("malformed", get(&st.malformed)),
        ] {
            dropped.push(([("cluster", *name), ("reason", reason)], n));
        }
    }
    counters(
        enc,
        "cluster_dropped",
        "Envelopes dropped, by reason (publish_queue_full, broker_down, refused: not published; receive_queue_full, malformed: not delivered)",
        None,
        &dropped,
    )?;
    let up = per_cluster(&|st, _| u64::from(st.is_up()));
    gauges(
        enc,
        "cluster_broker_up",
        "Whether the cluster's broker connection is up (1) or not (0)",
        &up,
    )?;
    if clusters.tina4().is_some() && clusters.mega().is_some() {
        counter(
            enc,
            "bridge_copies_skipped",
            "Bridged mega copies skipped because the same message came over Tina4",
            None,
            s.stats.bridged_skipped_total(),
        )?;
    }
    if let Some(m) = clusters.mega() {
        roster(enc, m)?;
    }
    Ok(())
}

fn roster(enc: &mut DescriptorEncoder<'_>, m: &MegaCluster) -> Result<(), Error> {
    let size = m.roster_size();
    gauge(
        enc,
        "roster_members",
        "Sessions in the mega roster (cluster-wide with the shared roster, else this instance's)",
        size.total as u64,
    )?;
    gauge(
        enc,
        "roster_local_members",
        "Sessions in the mega roster that are on this instance",
        size.local as u64,
    )
}

fn counter(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: u64,
) -> Result<(), Error> {
    let c = ConstCounter::new(v);
    c.encode(enc.encode_descriptor(name, help, unit, c.metric_type())?)
}

fn counters<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    rows: &[(L, u64)],
) -> Result<(), Error> {
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Counter)?;
    for (labels, v) in rows {
        ConstCounter::new(*v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

fn gauge(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> Result<(), Error> {
    let g = ConstGauge::new(v);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

fn gauges<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: &[(L, u64)],
) -> Result<(), Error> {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in rows {
        ConstGauge::new(*v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

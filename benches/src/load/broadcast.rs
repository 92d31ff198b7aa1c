//! Broadcast: `subscribers` connections and one publisher on a relaying route (the
//! `ws-server` binary's `/all`: every message goes to every other connection). Each message carries a sequence
//! number and its send time; every subscriber checks that it gets each message exactly once
//! and in order.
//!
//! Two modes:
//! - window: the publisher keeps at most `window` messages in flight per subscriber (it sends
//!   message `s` only once every subscriber has every message before `s - window + 1`), until
//!   `messages` or the time bound;
//! - burst: the publisher writes `burst` messages at once and the run ends when all are
//!   delivered (or at the time bound).
//!
//! Before measuring, the publisher sends probe messages until every subscriber has seen one,
//! so that every subscriber is known to be registered with the server's route.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::LocalSet;

use super::client::{self, Target, Template, WsConn};
use super::echo::connect_all;
use super::metrics::{CpuMeter, Latency};
use super::{DRAIN, Report, round, runtime, stamp};

/// The sequence number of a probe message.
const PROBE: u64 = u64::MAX - 1;
/// How long the probe phase may take.
const PROBE_BOUND: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone)]
pub struct BroadcastOpts {
    /// The relaying route (`ws://127.0.0.1:8080/all`); the publisher connects to it too.
    pub target: Target,
    /// Subscribers.
    pub subscribers: usize,
    /// Payload bytes per message (at least 16).
    pub size: usize,
    /// Messages in flight per subscriber (window mode).
    pub window: u64,
    /// Burst mode: this many messages at once (and `window` is ignored).
    pub burst: Option<u64>,
    /// Messages in all (the count bound).
    pub messages: u64,
    /// The time bound for publishing; deliveries in flight then get [`DRAIN`] more.
    pub duration: Duration,
    /// Loopback source addresses to spread the subscribers over.
    pub sources: usize,
    /// The server's pid, for its CPU time.
    pub server_pid: Option<u32>,
}

struct State {
    subs: u32,
    messages: u64,
    /// Deliveries of each message so far.
    counts: RefCell<Vec<u32>>,
    /// The lowest message not yet delivered to every subscriber.
    lowest: Cell<u64>,
    advanced: Notify,
    sent: Cell<u64>,
    deliveries: Cell<u64>,
    probes_seen: Cell<u32>,
    duplicated: Cell<u64>,
    reordered: Cell<u64>,
    bad: Cell<u64>,
    sub_errors: Cell<u64>,
    /// Distinct messages each subscriber got.
    distinct: RefCell<Vec<u64>>,
    last_delivery: Cell<Option<Instant>>,
    latency: RefCell<Latency>,
}

/// Runs the scenario on its own one-thread runtime.
///
/// # Errors
/// A connection could not be set up, not every subscriber was reached by the probes, the
/// publisher's connection failed, or the server's CPU time could not be read.
pub fn run(opts: &BroadcastOpts) -> io::Result<Report> {
    let rt = runtime()?;
    LocalSet::new().block_on(&rt, run_local(opts))
}

async fn run_local(opts: &BroadcastOpts) -> io::Result<Report> {
    let subs = u32::try_from(opts.subscribers).map_err(io::Error::other)?;
    assert!(subs > 0 && opts.window > 0 && opts.messages > 0);
    let messages = opts.burst.map_or(opts.messages, |b| b.min(opts.messages));
    let words = usize::try_from(messages.div_ceil(64)).map_err(io::Error::other)?;
    let conns = connect_all(&opts.target, opts.subscribers, opts.sources).await?;
    let mut publisher = client::connect(&opts.target, None).await?;
    let template = Template::new(opts.size);
    let state = Rc::new(State {
        subs,
        messages,
        counts: RefCell::new(vec![
            0;
            usize::try_from(messages).map_err(io::Error::other)?
        ]),
        lowest: Cell::new(0),
        advanced: Notify::new(),
        sent: Cell::new(0),
        deliveries: Cell::new(0),
        probes_seen: Cell::new(0),
        duplicated: Cell::new(0),
        reordered: Cell::new(0),
        bad: Cell::new(0),
        sub_errors: Cell::new(0),
        distinct: RefCell::new(vec![0; opts.subscribers]),
        last_delivery: Cell::new(None),
        latency: RefCell::new(Latency::default()),
    });
    let base = Instant::now();
    for (k, conn) in conns.into_iter().enumerate() {
        let (state, size) = (state.clone(), opts.size);
        tokio::task::spawn_local(async move {
            if subscribe(conn, k, words, size, base, &state).await.is_err() {
                state.sub_errors.set(state.sub_errors.get() + 1);
            }
        });
    }

    // Probe until every subscriber is registered on the route.
    let probe_start = Instant::now();
    let mut probes = 0u64;
    while state.probes_seen.get() < subs {
        if probe_start.elapsed() > PROBE_BOUND {
            return Err(io::Error::other(format!(
                "only {} of {subs} subscribers received a probe within {PROBE_BOUND:?}",
                state.probes_seen.get()
            )));
        }
        publisher.send(&template, PROBE..PROBE + 1, 0).await?;
        probes += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the last probes drain before measuring.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let meter = CpuMeter::start(opts.server_pid)?;
    let start = Instant::now();
    let deadline = start + opts.duration;
    if let Some(burst) = opts.burst {
        let n = burst.min(messages);
        publisher.send(&template, 0..n, stamp(base)).await?;
        state.sent.set(n);
    } else {
        let mut sent = 0;
        while sent < messages && Instant::now() < deadline {
            let allowed = (state.lowest.get() + opts.window).min(messages);
            if sent < allowed {
                publisher
                    .send(&template, sent..allowed, stamp(base))
                    .await?;
                sent = allowed;
                state.sent.set(sent);
            } else {
                let _ = tokio::time::timeout_at(deadline.into(), state.advanced.notified()).await;
            }
        }
    }
    let expected = state.sent.get() * u64::from(subs);
    let hard_stop = deadline + DRAIN;
    while state.deliveries.get() < expected && Instant::now() < hard_stop {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let end = state
        .last_delivery
        .get()
        .unwrap_or_else(Instant::now)
        .max(start);
    let elapsed = end - start;
    let deliveries = state.deliveries.get();

    let mut r = Report::new(if opts.burst.is_some() {
        "broadcast-burst"
    } else {
        "broadcast"
    });
    r.set("target", opts.target.path.as_str());
    r.set("subscribers", opts.subscribers);
    r.set("size", opts.size);
    match opts.burst {
        Some(b) => r.set("burst", b),
        None => r.set("window", opts.window),
    }
    let sent = state.sent.get();
    r.set("sent", sent);
    // Probes reach every subscriber too (before the measured part): for counts of the
    // server's whole work, such as `scripts/instructions.sh`.
    r.set("probes", probes);
    r.set("deliveries", deliveries);
    r.set("expected", expected);
    let distinct = state.distinct.borrow();
    let lost: Vec<u64> = distinct.iter().map(|d| sent.saturating_sub(*d)).collect();
    r.set("lost", lost.iter().sum::<u64>());
    r.set("lost_max_per_sub", lost.iter().copied().max().unwrap_or(0));
    r.set("subs_with_loss", lost.iter().filter(|l| **l > 0).count());
    r.set("duplicated", state.duplicated.get());
    r.set("reordered", state.reordered.get());
    r.set("bad", state.bad.get());
    r.set("sub_errors", state.sub_errors.get());
    r.set(
        "deliveries_per_s",
        round(deliveries as f64 / elapsed.as_secs_f64().max(1e-9), 1),
    );
    let lat = state.latency.borrow();
    r.set("p50_us", round(lat.quantile_us(0.5), 1));
    r.set("p99_us", round(lat.quantile_us(0.99), 1));
    r.set("max_us", round(lat.quantile_us(1.0), 1));
    r.cpu(&meter, elapsed, deliveries, "deliveries");
    Ok(r)
}

async fn subscribe(
    mut conn: WsConn,
    k: usize,
    words: usize,
    size: usize,
    base: Instant,
    state: &State,
) -> io::Result<()> {
    let mut seen = vec![0u64; words];
    let mut got_probe = false;
    let mut max_seen: Option<u64> = None;
    loop {
        conn.read_some().await?;
        let now = stamp(base);
        let mut delivered = false;
        while let Some(frame) = conn.next_frame()? {
            let Some((seq, ts)) = client::read_stamp(&frame.payload) else {
                state.bad.set(state.bad.get() + 1);
                continue;
            };
            if seq == PROBE {
                if !got_probe {
                    got_probe = true;
                    state.probes_seen.set(state.probes_seen.get() + 1);
                }
                continue;
            }
            if seq >= state.messages || frame.payload.len() != size {
                state.bad.set(state.bad.get() + 1);
                continue;
            }
            let (w, bit) = (
                usize::try_from(seq / 64).expect("< messages"),
                1u64 << (seq % 64),
            );
            if seen[w] & bit != 0 {
                state.duplicated.set(state.duplicated.get() + 1);
                continue;
            }
            seen[w] |= bit;
            if max_seen.is_some_and(|m| seq < m) {
                state.reordered.set(state.reordered.get() + 1);
            }
            max_seen = Some(max_seen.map_or(seq, |m| m.max(seq)));
            state.distinct.borrow_mut()[k] += 1;
            state.deliveries.set(state.deliveries.get() + 1);
            state.latency.borrow_mut().record(now.saturating_sub(ts));
            delivered = true;
            let mut counts = state.counts.borrow_mut();
            let i = usize::try_from(seq).expect("< messages");
            counts[i] += 1;
            let mut lowest = state.lowest.get();
            if counts[i] == state.subs && seq == lowest {
                while usize::try_from(lowest)
                    .ok()
                    .and_then(|l| counts.get(l))
                    .is_some_and(|c| *c == state.subs)
                {
                    lowest += 1;
                }
                state.lowest.set(lowest);
                state.advanced.notify_one();
            }
        }
        if delivered {
            state.last_delivery.set(Some(Instant::now()));
        }
    }
}

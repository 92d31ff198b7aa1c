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
//!
//! With permessage-deflate (the target's `deflate`: subscribers offer it as browsers do), a
//! generator that inflated every delivery would saturate its own core long before the
//! server: only `sample` subscribers inflate and check each delivery (its sequence number,
//! its length, its content against raw deflate of the same message at `ref_level`); the
//! others count a compressed delivery by its frame (RSV1 set, next in order), so their
//! sequence numbers are inferred. The messages are then JSON text and the probes 16-byte
//! binary messages, so a probe is told by its opcode even when a server compresses it
//! (Node `ws` compresses every message when it keeps its context).

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
    /// Messages are chat-like JSON text (at least `client::JSON_MIN` bytes), else binary.
    pub json: bool,
    /// With permessage-deflate: how many subscribers inflate and check every delivery.
    pub sample: usize,
    /// With permessage-deflate: the level of the raw deflate the received sizes are
    /// compared with.
    pub ref_level: u32,
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
    /// Counting bytes and compressed deliveries (the measured window).
    measuring: Cell<bool>,
    wire_bytes: Cell<u64>,
    compressed: Cell<u64>,
    /// Sampled compressed deliveries: inflated and checked, their compressed payload bytes,
    /// and what raw deflate at `ref_level` makes of the same messages.
    inflated: Cell<u64>,
    sampled_payload: Cell<u64>,
    sampled_ref: Cell<u64>,
    ref_level: u32,
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
    let agreed = conns.iter().filter(|c| c.deflate().is_some()).count();
    // The publisher sends plain frames: the server's work is the fan-out.
    let mut publisher = client::connect(&opts.target.with_deflate(false), None).await?;
    let template = if opts.json {
        Template::json(opts.size)
    } else {
        Template::new(opts.size)
    };
    let probe = Template::new(client::STAMP_LEN);
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
        measuring: Cell::new(false),
        wire_bytes: Cell::new(0),
        compressed: Cell::new(0),
        inflated: Cell::new(0),
        sampled_payload: Cell::new(0),
        sampled_ref: Cell::new(0),
        ref_level: opts.ref_level,
    });
    let base = Instant::now();
    for (k, conn) in conns.into_iter().enumerate() {
        let (state, size) = (state.clone(), opts.size);
        let sampled = k < opts.sample;
        tokio::task::spawn_local(async move {
            if subscribe(conn, k, words, size, sampled, base, &state)
                .await
                .is_err()
            {
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
        publisher.send(&probe, PROBE..PROBE + 1, 0).await?;
        probes += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the last probes drain before measuring.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let meter = CpuMeter::start(opts.server_pid)?;
    state.measuring.set(true);
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
    r.set("json", opts.json);
    r.set("deflate_offered", opts.target.deflate);
    r.set("deflate_agreed", agreed);
    r.set("compressed_deliveries", state.compressed.get());
    r.set("sampled_subscribers", opts.sample.min(opts.subscribers));
    r.set("inflated_checked", state.inflated.get());
    r.set("wire_bytes", state.wire_bytes.get());
    r.set(
        "wire_bytes_per_delivery",
        round(
            state.wire_bytes.get() as f64 / (deliveries.max(1)) as f64,
            1,
        ),
    );
    if state.inflated.get() > 0 {
        let n = state.inflated.get() as f64;
        r.set(
            "payload_bytes_per_msg",
            round(state.sampled_payload.get() as f64 / n, 1),
        );
        r.set(
            "raw_deflate_bytes_per_msg",
            round(state.sampled_ref.get() as f64 / n, 1),
        );
        r.set(
            "vs_raw_deflate",
            round(
                state.sampled_payload.get() as f64 / state.sampled_ref.get().max(1) as f64,
                4,
            ),
        );
    }
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
    sampled: bool,
    base: Instant,
    state: &State,
) -> io::Result<()> {
    let mut seen = vec![0u64; words];
    let mut got_probe = false;
    let mut max_seen: Option<u64> = None;
    let mut inflater = conn
        .deflate()
        .filter(|_| sampled)
        .map(|d| Inflate::new(d.server_context, state.ref_level));
    loop {
        let n = conn.read_some().await?;
        if state.measuring.get() {
            state.wire_bytes.set(state.wire_bytes.get() + n as u64);
        }
        let now = stamp(base);
        let mut delivered = false;
        while let Some(frame) = conn.next_frame()? {
            let compressed = frame.header.rsv & oyez_frame::FrameHeader::RSV1 != 0;
            // (compressed payload bytes, raw deflate's) of a sampled, inflated delivery.
            let mut sampled_sizes: Option<(u64, u64)> = None;
            // Whether the stamp's time was read (not inferred), for the latency figures.
            let mut timed = true;
            let stamp = if !compressed {
                client::read_stamp(&frame.payload).map(|s| (s, frame.payload.len()))
            } else {
                if state.measuring.get() {
                    state.compressed.set(state.compressed.get() + 1);
                }
                match inflater.as_mut() {
                    // A probe (binary while the messages are text), never inflated.
                    None if frame.header.opcode == oyez_frame::OpCode::Binary => {
                        Some(((PROBE, 0), client::STAMP_LEN))
                    }
                    Some(inf) => {
                        let plain = inf.inflate(&frame.payload)?;
                        sampled_sizes = Some((frame.payload.len() as u64, inf.reference(&plain)));
                        client::read_stamp(&plain).map(|s| (s, plain.len()))
                    }
                    // Not sampled: the next message in order (its time unknown).
                    None => {
                        timed = false;
                        Some(((max_seen.map_or(0, |m| m + 1), now), size))
                    }
                }
            };
            let Some(((seq, ts), len)) = stamp else {
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
            if seq >= state.messages || len != size {
                state.bad.set(state.bad.get() + 1);
                continue;
            }
            if let Some((payload, reference)) = sampled_sizes {
                state.inflated.set(state.inflated.get() + 1);
                state
                    .sampled_payload
                    .set(state.sampled_payload.get() + payload);
                state.sampled_ref.set(state.sampled_ref.get() + reference);
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
            if timed {
                state.latency.borrow_mut().record(now.saturating_sub(ts));
            }
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

/// A sampled subscriber's inflater: RFC 7692's tail put back, the window kept only if the
/// server keeps its context; and raw deflate at the reference level of what it inflated.
struct Inflate {
    z: flate2::Decompress,
    server_context: bool,
    reference: flate2::Compress,
    out: Vec<u8>,
}

impl Inflate {
    fn new(server_context: bool, level: u32) -> Self {
        Self {
            z: flate2::Decompress::new(false),
            server_context,
            reference: flate2::Compress::new(flate2::Compression::new(level), false),
            out: Vec::new(),
        }
    }

    fn inflate(&mut self, payload: &[u8]) -> io::Result<Vec<u8>> {
        if !self.server_context {
            self.z.reset(false);
        }
        let mut out = Vec::with_capacity(payload.len() * 4 + 64);
        for part in [payload, &crate::deflate::TAIL[..]] {
            let start = self.z.total_in();
            loop {
                let done = usize::try_from(self.z.total_in() - start).map_err(io::Error::other)?;
                self.z
                    .decompress_vec(&part[done..], &mut out, flate2::FlushDecompress::None)
                    .map_err(io::Error::other)?;
                let all = usize::try_from(self.z.total_in() - start).map_err(io::Error::other)?
                    == part.len();
                if all && out.len() < out.capacity() {
                    break;
                }
                out.reserve(out.capacity().max(1024));
            }
        }
        Ok(out)
    }

    /// Raw deflate of `plain` on its own at the reference level (sync flush, tail removed).
    fn reference(&mut self, plain: &[u8]) -> u64 {
        crate::deflate::flate2_compress(&mut self.reference, plain, &mut self.out);
        self.out.len() as u64
    }
}

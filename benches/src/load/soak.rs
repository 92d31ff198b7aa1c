//! Soak: a long, churning load across several server instances on a real broker, and the
//! proof that nothing grows and nothing is lost.
//!
//! - **Stayers** (`stayers`, spread over the instances) join one room with a user session
//!   each and stay the whole run. A **publisher** per instance broadcasts to that room at
//!   `rate` messages a second, so every stayer gets every publisher's messages, half of
//!   them across the broker; each stayer checks each publisher's sequence for loss,
//!   duplicates and order.
//! - **Churners** (`churners` at once) keep connecting to a random instance, joining one of
//!   `rooms` rooms and a session of one of `users` users, sending a few messages to their
//!   room, and leaving after a random 0.5 to 3 s: half with a clean close, a quarter by
//!   dropping TCP (FIN without a close frame), a quarter with a reset.
//! - A **sampler** reads, every `sample_every`, each server's resident memory and open
//!   descriptors (`/proc/<pid>`), and its metrics endpoint: connections, registry paths,
//!   rooms and users, roster members.
//!
//! Bounded by `duration` and by `max_connects`. At the end the churners leave, the stayers'
//! last messages drain, the stayers leave, and every server must come back to the baseline
//! it had before the run (connections, registry sizes, roster, descriptors) within `settle`.
//! The baseline is read after one message has gone through each server, so that what a
//! server opens on first use and keeps (Redis' publishing connection) is not taken for a
//! leak; the servers must have no connection then.
//! The report's `ok` says whether everything held: nothing lost, duplicated or reordered for
//! the stayers, no stayer or publisher error, at most 0.5 % of churn cycles failing, and
//! every server back to its baseline.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::LocalSet;

use super::client::{self, Target, Template, WsConn};
use super::metrics::vm_rss;
use super::{CONNECT_CONCURRENCY, Report, round, runtime, stamp};

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakOpts {
    /// Each instance's address (`ws://127.0.0.1:8081`; the path is chosen here).
    pub targets: Vec<Target>,
    /// Each instance's metrics listener (`GET /metrics`).
    pub metrics: Vec<SocketAddr>,
    /// Each instance's pid (memory and descriptors).
    pub server_pids: Vec<u32>,
    /// Connections that stay the whole run.
    pub stayers: usize,
    /// Churning connections at any time.
    pub churners: usize,
    /// Rooms the churners spread over.
    pub rooms: usize,
    /// Users the churners' sessions belong to (a user has several sessions at once).
    pub users: usize,
    /// Each publisher's messages per second.
    pub rate: u64,
    /// The run's length (then the churners leave and everything settles).
    pub duration: Duration,
    /// The most churn connections in all.
    pub max_connects: u64,
    /// Loopback source addresses for the churners (so that ports in TIME_WAIT never run out).
    pub sources: usize,
    /// How often to sample the servers.
    pub sample_every: Duration,
    /// How long the servers may take to come back to their baseline at the end.
    pub settle: Duration,
}

/// Payload bytes of every message: the stamp and a tail that marks it as ours.
const SIZE: usize = 32;
/// The sequence number of a probe, in the low 48 bits.
const PROBE: u64 = (1 << 48) - 1;
/// The stayers' room.
const STAY_ROOM: &str = "/rooms/soak-stay";

/// One server's figures at one time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Sample {
    rss: u64,
    fds: u64,
    connections: u64,
    paths: u64,
    rooms: u64,
    users: u64,
    roster: u64,
    /// Envelopes the server's clusters dropped so far, for any reason (reported only).
    cluster_dropped: u64,
}

impl Sample {
    fn json(&self) -> Value {
        json!({
            "rss": self.rss, "fds": self.fds, "connections": self.connections,
            "paths": self.paths, "rooms": self.rooms, "users": self.users, "roster": self.roster,
            "cluster_dropped": self.cluster_dropped,
        })
    }

    /// Whether the figures that must come back did (memory is reported, not required to;
    /// fewer descriptors than at the start are no leak).
    fn back_to(&self, base: &Self) -> bool {
        self.fds <= base.fds
            && (
                self.connections,
                self.paths,
                self.rooms,
                self.users,
                self.roster,
            ) == (
                base.connections,
                base.paths,
                base.rooms,
                base.users,
                base.roster,
            )
    }

    fn max(&self, o: &Self) -> Self {
        Self {
            rss: self.rss.max(o.rss),
            fds: self.fds.max(o.fds),
            connections: self.connections.max(o.connections),
            paths: self.paths.max(o.paths),
            rooms: self.rooms.max(o.rooms),
            users: self.users.max(o.users),
            roster: self.roster.max(o.roster),
            cluster_dropped: self.cluster_dropped.max(o.cluster_dropped),
        }
    }
}

/// What a stayer saw of one publisher.
#[derive(Default)]
struct Track {
    seen: Vec<u64>,
    distinct: u64,
    duplicated: u64,
    reordered: u64,
    max: Option<u64>,
    probed: bool,
}

impl Track {
    fn record(&mut self, n: u64) {
        let (w, bit) = (
            usize::try_from(n / 64).unwrap_or(usize::MAX),
            1u64 << (n % 64),
        );
        if self.seen.len() <= w {
            self.seen.resize(w + 1, 0);
        }
        if self.seen[w] & bit != 0 {
            self.duplicated += 1;
            return;
        }
        self.seen[w] |= bit;
        self.distinct += 1;
        if self.max.is_some_and(|m| n < m) {
            self.reordered += 1;
        }
        self.max = Some(self.max.map_or(n, |m| m.max(n)));
    }
}

#[derive(Default)]
struct State {
    /// Churners and publishers stop.
    stop: Cell<bool>,
    /// Stayers leave.
    leave: Cell<bool>,
    published: RefCell<Vec<u64>>,
    publisher_errors: Cell<u64>,
    tracks: RefCell<Vec<Vec<Track>>>,
    stayer_errors: Cell<u64>,
    foreign: Cell<u64>,
    churn_connects: Cell<u64>,
    churn_errors: Cell<u64>,
    churn_messages: Cell<u64>,
    clean: Cell<u64>,
    fin: Cell<u64>,
    rst: Cell<u64>,
    churners_done: Cell<usize>,
    stayers_done: Cell<usize>,
}

/// A small xorshift generator: the load needs spread, not quality.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }

    fn pick(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).unwrap_or(0)
    }
}

/// Runs the scenario on its own one-thread runtime.
///
/// # Errors
/// A stayer or publisher could not connect, the probes did not reach every stayer, or a
/// server's memory, descriptors or metrics could not be read.
pub fn run(opts: &SoakOpts) -> io::Result<Report> {
    let rt = runtime()?;
    LocalSet::new().block_on(&rt, run_local(opts))
}

#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
async fn run_local(opts: &SoakOpts) -> io::Result<Report> {
    let n = opts.targets.len();
    assert!(n > 0 && n == opts.metrics.len() && n == opts.server_pids.len());
    let nonce = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos()),
    )
    .unwrap_or(1);
    // A message through each instance first, so that what a server makes on first use
    // (Redis' publishing connection) is in the baseline; then the baseline, once they are
    // all empty again.
    let warm = Template::new(SIZE);
    for t in &opts.targets {
        let mut c = client::connect(&t.with_path("/rooms/soak-warm"), None).await?;
        c.send(&warm, 0..1, 0).await?;
        c.close(Duration::from_secs(2)).await?;
    }
    // The baseline: three readings in a row, 200 ms apart, with no connection and the same
    // descriptors (a scrape's own socket may still be closing, Redis' publishing connection
    // may still be opening).
    let mut baseline: Vec<Sample> = Vec::with_capacity(n);
    let bound = Instant::now() + Duration::from_secs(10);
    let mut same = 0;
    loop {
        let mut now = Vec::with_capacity(n);
        for i in 0..n {
            now.push(sample(opts, i).await?);
        }
        let steady = now.iter().all(|s| s.connections == 0)
            && now.len() == baseline.len()
            && now.iter().zip(&baseline).all(|(a, b)| a.fds == b.fds);
        same = if steady { same + 1 } else { 0 };
        baseline = now;
        if same >= 2 || Instant::now() > bound {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let state = Rc::new(State {
        published: RefCell::new(vec![0; n]),
        tracks: RefCell::new(
            (0..opts.stayers)
                .map(|_| (0..n).map(|_| Track::default()).collect())
                .collect(),
        ),
        ..State::default()
    });
    let template = Rc::new(Template::new(SIZE));
    let base = Instant::now();

    // Stayers, then a publisher per instance, and probes until every stayer hears each.
    let mut stayers = Vec::with_capacity(opts.stayers);
    for chunk in (0..opts.stayers)
        .collect::<Vec<_>>()
        .chunks(CONNECT_CONCURRENCY)
    {
        let pending: Vec<_> = chunk
            .iter()
            .map(|&k| {
                let t = opts.targets[k % n].with_path(&format!(
                    "{STAY_ROOM}?user=stay{k}&session=stay-{k}-{nonce:x}"
                ));
                tokio::task::spawn_local(async move { client::connect(&t, None).await })
            })
            .collect();
        for p in pending {
            stayers.push(p.await.map_err(io::Error::other)??);
        }
    }
    for (k, conn) in stayers.into_iter().enumerate() {
        let state = state.clone();
        tokio::task::spawn_local(async move {
            if stay(conn, k, &state).await.is_err() {
                state.stayer_errors.set(state.stayer_errors.get() + 1);
            }
            state.stayers_done.set(state.stayers_done.get() + 1);
        });
    }
    let mut publishers = Vec::with_capacity(n);
    for t in &opts.targets {
        publishers.push(client::connect(&t.with_path(STAY_ROOM), None).await?);
    }
    let probe_until = Instant::now() + Duration::from_secs(20);
    loop {
        let heard = state
            .tracks
            .borrow()
            .iter()
            .all(|per| per.iter().all(|t| t.probed));
        if heard {
            break;
        }
        if Instant::now() > probe_until {
            return Err(io::Error::other("the probes did not reach every stayer"));
        }
        for (p, conn) in publishers.iter_mut().enumerate() {
            conn.send(&template, seq(p, PROBE)..seq(p, PROBE) + 1, 0)
                .await?;
            while conn.next_frame()?.is_some() {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The run: publishers, churners and the sampler.
    let start = Instant::now();
    let deadline = start + opts.duration;
    for (p, conn) in publishers.into_iter().enumerate() {
        let (state, template, rate) = (state.clone(), template.clone(), opts.rate);
        tokio::task::spawn_local(async move {
            if publish(conn, p, rate, &template, base, &state)
                .await
                .is_err()
            {
                state.publisher_errors.set(state.publisher_errors.get() + 1);
            }
        });
    }
    for c in 0..opts.churners {
        let (state, template, opts) = (state.clone(), template.clone(), opts.clone());
        tokio::task::spawn_local(async move {
            churn(c, nonce, &opts, &template, base, &state).await;
            state.churners_done.set(state.churners_done.get() + 1);
        });
    }
    let mut samples: Vec<Vec<(f64, Sample)>> = vec![Vec::new(); n];
    let mut max = baseline.clone();
    let mut next_sample = start;
    while Instant::now() < deadline && state.churn_connects.get() < opts.max_connects {
        if Instant::now() >= next_sample {
            for i in 0..n {
                let s = sample(opts, i).await?;
                max[i] = max[i].max(&s);
                samples[i].push((start.elapsed().as_secs_f64(), s));
            }
            next_sample += opts.sample_every;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ran = start.elapsed();

    // The end: churners leave, the stayers' last messages arrive, the stayers leave.
    state.stop.set(true);
    let bound = Instant::now() + Duration::from_secs(20);
    while state.churners_done.get() < opts.churners && Instant::now() < bound {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let churners_stuck = opts.churners - state.churners_done.get();
    let expected: Vec<u64> = state.published.borrow().clone();
    let bound = Instant::now() + Duration::from_secs(10);
    while Instant::now() < bound {
        let all_in = state
            .tracks
            .borrow()
            .iter()
            .all(|per| per.iter().zip(&expected).all(|(t, e)| t.distinct >= *e));
        if all_in {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut lost, mut duplicated, mut reordered, mut deliveries) = (0u64, 0u64, 0u64, 0u64);
    for per in state.tracks.borrow().iter() {
        for (t, e) in per.iter().zip(&expected) {
            lost += e.saturating_sub(t.distinct);
            duplicated += t.duplicated;
            reordered += t.reordered;
            deliveries += t.distinct;
        }
    }
    state.leave.set(true);
    let bound = Instant::now() + Duration::from_secs(10);
    while state.stayers_done.get() < opts.stayers && Instant::now() < bound {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let settle_start = Instant::now();
    let mut end = Vec::with_capacity(n);
    loop {
        end.clear();
        for i in 0..n {
            end.push(sample(opts, i).await?);
        }
        let back = end.iter().zip(&baseline).all(|(e, b)| e.back_to(b));
        if back || settle_start.elapsed() > opts.settle {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let settled_s = settle_start.elapsed().as_secs_f64();
    let back: Vec<bool> = end
        .iter()
        .zip(&baseline)
        .map(|(e, b)| e.back_to(b))
        .collect();

    let cycles = state.churn_connects.get();
    let churn_ok = state.churn_errors.get() * 200 <= cycles.max(1);
    let ok = lost == 0
        && duplicated == 0
        && reordered == 0
        && state.stayer_errors.get() == 0
        && state.publisher_errors.get() == 0
        && state.foreign.get() == 0
        && churners_stuck == 0
        && churn_ok
        && back.iter().all(|b| *b);
    let mut r = Report::new("soak");
    r.set("ok", ok);
    r.set("instances", n);
    r.set("seconds", round(ran.as_secs_f64(), 1));
    r.set("stayers", opts.stayers);
    r.set("churners", opts.churners);
    r.set("churn_connects", cycles);
    r.set(
        "churn_connects_per_s",
        round(cycles as f64 / ran.as_secs_f64().max(1e-9), 1),
    );
    r.set("churn_errors", state.churn_errors.get());
    r.set("churn_messages", state.churn_messages.get());
    r.set("left_clean", state.clean.get());
    r.set("left_fin", state.fin.get());
    r.set("left_reset", state.rst.get());
    r.set("churners_stuck", churners_stuck);
    r.set("published", expected.iter().sum::<u64>());
    r.set("stayer_deliveries", deliveries);
    r.set("lost", lost);
    r.set("duplicated", duplicated);
    r.set("reordered", reordered);
    r.set("foreign", state.foreign.get());
    r.set("stayer_errors", state.stayer_errors.get());
    r.set("publisher_errors", state.publisher_errors.get());
    r.set("settle_s", round(settled_s, 2));
    let per: Vec<Value> = (0..n)
        .map(|i| {
            let mut m = Map::new();
            m.insert("baseline".into(), baseline[i].json());
            m.insert("max".into(), max[i].json());
            m.insert("end".into(), end[i].json());
            m.insert("back_to_baseline".into(), back[i].into());
            // At most 20 samples, evenly spaced, with their time.
            let step = samples[i].len().div_ceil(20).max(1);
            let series: Vec<Value> = samples[i]
                .iter()
                .step_by(step)
                .map(|(t, s)| {
                    let mut v = s.json();
                    v["t"] = round(*t, 1).into();
                    v
                })
                .collect();
            m.insert("samples".into(), series.into());
            Value::Object(m)
        })
        .collect();
    r.set("servers", per);
    Ok(r)
}

/// Publisher `p`'s message `n`: the publisher in the high 16 bits.
const fn seq(p: usize, n: u64) -> u64 {
    ((p as u64 + 1) << 48) | n
}

/// Whether a payload is one of this run's messages: its size and its tail.
fn ours(payload: &[u8]) -> bool {
    payload.len() == SIZE && payload[16..] == crate::payload(SIZE)[16..]
}

async fn stay(mut conn: WsConn, k: usize, state: &State) -> io::Result<()> {
    loop {
        if state.leave.get() {
            let _ = conn.close(Duration::from_secs(2)).await;
            return Ok(());
        }
        match tokio::time::timeout(Duration::from_millis(100), conn.read_some()).await {
            Ok(r) => {
                r?;
            }
            Err(_) => continue,
        }
        let mut tracks = state.tracks.borrow_mut();
        while let Some(frame) = conn.next_frame()? {
            let Some((s, _)) = client::read_stamp(&frame.payload).filter(|_| ours(&frame.payload))
            else {
                state.foreign.set(state.foreign.get() + 1);
                continue;
            };
            let (p, n) = (usize::try_from(s >> 48).unwrap_or(0), s & PROBE);
            let Some(track) = p.checked_sub(1).and_then(|p| tracks[k].get_mut(p)) else {
                state.foreign.set(state.foreign.get() + 1);
                continue;
            };
            if n == PROBE {
                track.probed = true;
            } else {
                track.record(n);
            }
        }
    }
}

async fn publish(
    mut conn: WsConn,
    p: usize,
    rate: u64,
    template: &Template,
    base: Instant,
    state: &State,
) -> io::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if state.stop.get() {
                    let _ = conn.close(Duration::from_secs(2)).await;
                    return Ok(());
                }
                conn.send(template, seq(p, n)..seq(p, n) + 1, stamp(base)).await?;
                n += 1;
                state.published.borrow_mut()[p] = n;
            }
            r = conn.read_some() => {
                r?;
                // The other publishers' messages: read and dropped.
                while conn.next_frame()?.is_some() {}
            }
        }
    }
}

/// One churner: connect, join, talk, leave; again until the end.
async fn churn(
    c: usize,
    nonce: u64,
    opts: &SoakOpts,
    template: &Template,
    base: Instant,
    state: &State,
) {
    let mut rng = Rng::new(nonce ^ (c as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut generation = 0u64;
    // Spread the first connections over the first second.
    tokio::time::sleep(Duration::from_millis(rng.below(1000))).await;
    while !state.stop.get() && state.churn_connects.get() < opts.max_connects {
        generation += 1;
        state.churn_connects.set(state.churn_connects.get() + 1);
        let target = &opts.targets[rng.pick(opts.targets.len())];
        let (room, user) = (rng.below(opts.rooms as u64), rng.below(opts.users as u64));
        let path = format!("/rooms/soak-c{room}?user=u{user}&session=c{c}-{generation}-{nonce:x}");
        let source = client::source_addr(c, opts.sources);
        let conn = tokio::time::timeout(
            Duration::from_secs(10),
            client::connect(&target.with_path(&path), source),
        )
        .await;
        let Ok(Ok(mut conn)) = conn else {
            state.churn_errors.set(state.churn_errors.get() + 1);
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let life = Duration::from_millis(500 + rng.below(2500));
        let sends = 1 + rng.below(3);
        let until = Instant::now() + life;
        let gap = life / u32::try_from(sends + 1).unwrap_or(1);
        let mut next_send = Instant::now() + gap;
        let mut sent = 0;
        let mut failed = false;
        while Instant::now() < until && !state.stop.get() {
            let wake = if sent < sends {
                next_send.min(until)
            } else {
                until
            };
            let r = tokio::time::timeout_at(wake.into(), conn.read_some()).await;
            match r {
                Ok(Ok(_)) => while let Ok(Some(_)) = conn.next_frame() {},
                Ok(Err(_)) => {
                    failed = true;
                    break;
                }
                Err(_) => {}
            }
            if sent < sends && Instant::now() >= next_send {
                let s = (0xffu64 << 48) | sent;
                if conn.send(template, s..s + 1, stamp(base)).await.is_err() {
                    failed = true;
                    break;
                }
                sent += 1;
                state.churn_messages.set(state.churn_messages.get() + 1);
                next_send += gap;
            }
        }
        if failed {
            state.churn_errors.set(state.churn_errors.get() + 1);
            continue;
        }
        match rng.below(4) {
            0 | 1 => {
                if conn.close(Duration::from_secs(2)).await.unwrap_or(false) {
                    state.clean.set(state.clean.get() + 1);
                } else {
                    state.churn_errors.set(state.churn_errors.get() + 1);
                }
            }
            2 => {
                conn.abort(false);
                state.fin.set(state.fin.get() + 1);
            }
            _ => {
                conn.abort(true);
                state.rst.set(state.rst.get() + 1);
            }
        }
    }
}

/// One server's figures now.
async fn sample(opts: &SoakOpts, i: usize) -> io::Result<Sample> {
    let pid = opts.server_pids[i];
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64;
    let rss = vm_rss(Some(pid))?;
    let text = scrape(opts.metrics[i]).await?;
    // Every figure read here is an integer in the exposition.
    let get = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    Ok(Sample {
        rss,
        fds,
        connections: get("oyez_connections"),
        paths: get("oyez_registry_paths"),
        rooms: get("oyez_registry_rooms"),
        users: get("oyez_registry_users"),
        roster: get("oyez_roster_members"),
        cluster_dropped: text
            .lines()
            .filter(|l| l.starts_with("oyez_cluster_dropped_total{"))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<u64>().ok())
            .sum(),
    })
}

/// `GET /metrics`, the body.
async fn scrape(addr: SocketAddr) -> io::Result<String> {
    let mut s = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
        .await?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other("no HTTP response from the metrics endpoint"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(io::Error::other(format!(
            "metrics: {}",
            head.lines().next().unwrap_or("")
        )));
    }
    Ok(body.to_owned())
}

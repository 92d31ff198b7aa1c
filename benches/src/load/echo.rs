//! Echo: `connections` connections each keep up to `depth` messages of `size` bytes in
//! flight to an echoing route, until `messages` replies in all or the time bound.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use oyez_frame::OpCode;
use tokio::task::LocalSet;

use super::client::{self, Target, Template, WsConn};
use super::metrics::{CpuMeter, Latency};
use super::{CONNECT_CONCURRENCY, DRAIN, Report, round, runtime, stamp};

/// What to run.
#[derive(Debug, Clone)]
pub struct EchoOpts {
    /// The echo route (`ws://127.0.0.1:8080/echo`).
    pub target: Target,
    /// Connections.
    pub connections: usize,
    /// Payload bytes per message (at least 16).
    pub size: usize,
    /// Messages in flight per connection (1 = request/response).
    pub depth: u64,
    /// Messages in all (the count bound).
    pub messages: u64,
    /// The time bound for sending; replies in flight then get [`DRAIN`] more.
    pub duration: Duration,
    /// Loopback source addresses to spread the connections over (1 = the kernel's choice).
    pub sources: usize,
    /// The server's pid, for its CPU time.
    pub server_pid: Option<u32>,
}

#[derive(Default)]
struct Totals {
    sent: Cell<u64>,
    received: Cell<u64>,
    /// Replies that were not the next expected sequence number, or of the wrong size/kind.
    bad: Cell<u64>,
    errors: Cell<u64>,
    done: Cell<usize>,
    /// Finished connections, kept open until the figures are read.
    parked: RefCell<Vec<WsConn>>,
    last_reply: Cell<Option<Instant>>,
    latency: RefCell<Latency>,
}

/// Runs the scenario on its own one-thread runtime.
///
/// # Errors
/// A connection could not be set up, or the server's CPU time could not be read.
pub fn run(opts: &EchoOpts) -> io::Result<Report> {
    let rt = runtime()?;
    LocalSet::new().block_on(&rt, run_local(opts))
}

async fn run_local(opts: &EchoOpts) -> io::Result<Report> {
    assert!(opts.connections > 0 && opts.depth > 0);
    let conns = connect_all(&opts.target, opts.connections, opts.sources).await?;
    let template = Rc::new(Template::new(opts.size));
    let totals = Rc::new(Totals::default());
    let base = Instant::now();
    let deadline = base + opts.duration;
    let meter = CpuMeter::start(opts.server_pid)?;
    let n = opts.connections as u64;
    for (i, conn) in conns.into_iter().enumerate() {
        let i = i as u64;
        let quota = opts.messages / n + u64::from(i < opts.messages % n);
        let (template, totals) = (template.clone(), totals.clone());
        let depth = opts.depth;
        tokio::task::spawn_local(async move {
            let mut conn = conn;
            let r = drive(&mut conn, &template, quota, depth, base, deadline, &totals).await;
            if r.is_err() {
                totals.errors.set(totals.errors.get() + 1);
            }
            totals.parked.borrow_mut().push(conn);
            totals.done.set(totals.done.get() + 1);
        });
    }
    // The tasks end on their own (count reached, or time up and replies drained); this is the
    // outer bound should a connection stall.
    let hard_stop = deadline + DRAIN;
    while totals.done.get() < opts.connections && Instant::now() < hard_stop {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let end = totals.last_reply.get().unwrap_or_else(Instant::now);
    let elapsed = end.saturating_duration_since(base);
    let received = totals.received.get();
    let mut r = Report::new("echo");
    r.set("target", opts.target.path.as_str());
    r.set("connections", opts.connections);
    r.set("size", opts.size);
    r.set("depth", opts.depth);
    r.set("sent", totals.sent.get());
    r.set("received", received);
    r.set("bad", totals.bad.get());
    r.set("conn_errors", totals.errors.get());
    let secs = elapsed.as_secs_f64().max(1e-9);
    r.set("msgs_per_s", round(received as f64 / secs, 1));
    r.set(
        "mb_per_s",
        round(received as f64 * opts.size as f64 / secs / 1e6, 2),
    );
    let lat = totals.latency.borrow();
    r.set("p50_us", round(lat.quantile_us(0.5), 1));
    r.set("p99_us", round(lat.quantile_us(0.99), 1));
    r.set("max_us", round(lat.quantile_us(1.0), 1));
    r.cpu(&meter, elapsed, received, "msgs");
    Ok(r)
}

/// Connects `n` clients with at most [`CONNECT_CONCURRENCY`] handshakes outstanding.
pub(crate) async fn connect_all(
    target: &Target,
    n: usize,
    sources: usize,
) -> io::Result<Vec<WsConn>> {
    let mut conns = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let batch = (n - i).min(CONNECT_CONCURRENCY);
        let handles: Vec<_> = (i..i + batch)
            .map(|k| {
                let target = target.clone();
                let source = client::source_addr(k, sources);
                tokio::task::spawn_local(async move {
                    tokio::time::timeout(Duration::from_secs(10), client::connect(&target, source))
                        .await
                        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
                })
            })
            .collect();
        for h in handles {
            let conn = h.await.map_err(io::Error::other)?.map_err(|e| {
                io::Error::new(e.kind(), format!("connection {}: {e}", conns.len()))
            })?;
            conns.push(conn);
        }
        i += batch;
    }
    Ok(conns)
}

async fn drive(
    conn: &mut WsConn,
    template: &Template,
    quota: u64,
    depth: u64,
    base: Instant,
    deadline: Instant,
    totals: &Totals,
) -> io::Result<()> {
    let (mut sent, mut received) = (0u64, 0u64);
    let mut stopping = false;
    loop {
        if !stopping && Instant::now() >= deadline {
            stopping = true;
        }
        if !stopping {
            let want = (depth - (sent - received)).min(quota - sent);
            if want > 0 {
                conn.send(template, sent..sent + want, stamp(base)).await?;
                sent += want;
                totals.sent.set(totals.sent.get() + want);
            }
        }
        if received == sent && (stopping || sent == quota) {
            return Ok(());
        }
        // Frames may already be buffered (read while a write waited).
        let mut got = 0u64;
        loop {
            let now = stamp(base);
            while let Some(frame) = conn.next_frame()? {
                let ok =
                    frame.header.opcode == OpCode::Binary && frame.payload.len() == template.size();
                match client::read_stamp(&frame.payload) {
                    Some((seq, ts)) if ok => {
                        if seq != received + got {
                            totals.bad.set(totals.bad.get() + 1);
                        }
                        totals.latency.borrow_mut().record(now.saturating_sub(ts));
                    }
                    _ => totals.bad.set(totals.bad.get() + 1),
                }
                got += 1;
            }
            if got > 0 {
                break;
            }
            if stopping && Instant::now() >= deadline + DRAIN {
                return Ok(());
            }
            conn.read_some().await?;
        }
        received += got;
        totals.received.set(totals.received.get() + got);
        totals.last_reply.set(Some(Instant::now()));
    }
}

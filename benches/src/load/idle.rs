//! Idle: `connections` connections that complete the handshake and then send nothing,
//! spread over loopback source addresses; the server's resident memory per connection.

use std::io;
use std::time::{Duration, Instant};

use tokio::task::LocalSet;

use super::client::Target;
use super::echo::connect_all;
use super::metrics::{CpuMeter, vm_rss};
use super::{Report, round, runtime};

/// What to run.
#[derive(Debug, Clone)]
pub struct IdleOpts {
    /// Any WebSocket route (`ws://127.0.0.1:8080/echo`).
    pub target: Target,
    /// Connections.
    pub connections: usize,
    /// Loopback source addresses (127.0.0.1 to 127.0.0.N) to spread them over.
    pub sources: usize,
    /// How long to wait after the last handshake before reading the server's memory.
    pub settle: Duration,
    /// The server's pid (required: its memory is the point).
    pub server_pid: u32,
}

/// Runs the scenario on its own one-thread runtime.
///
/// # Errors
/// A connection could not be set up, or the server's memory or CPU could not be read.
pub fn run(opts: &IdleOpts) -> io::Result<Report> {
    let rt = runtime()?;
    LocalSet::new().block_on(&rt, run_local(opts))
}

async fn run_local(opts: &IdleOpts) -> io::Result<Report> {
    let pid = opts.server_pid;
    let rss_before = vm_rss(Some(pid))?;
    let own_before = vm_rss(None)?;
    let meter = CpuMeter::start(Some(pid))?;
    let start = Instant::now();
    let conns = connect_all(&opts.target, opts.connections, opts.sources).await?;
    let connected = start.elapsed();
    tokio::time::sleep(opts.settle).await;
    let rss_after = vm_rss(Some(pid))?;
    let own_after = vm_rss(None)?;
    let alive = conns.iter().filter(|c| c.is_alive()).count();
    let n = opts.connections as f64;
    let mut r = Report::new("idle");
    r.set("target", opts.target.path.as_str());
    r.set("connections", opts.connections);
    r.set("sources", opts.sources);
    r.set("alive", alive);
    r.set("deflate_offered", opts.target.deflate);
    r.set(
        "deflate_agreed",
        conns.iter().filter(|c| c.deflate().is_some()).count(),
    );
    r.set("connect_s", round(connected.as_secs_f64(), 3));
    r.set("server_rss_before", rss_before);
    r.set("server_rss_after", rss_after);
    r.set(
        "server_bytes_per_conn",
        round(rss_after.saturating_sub(rss_before) as f64 / n, 1),
    );
    r.set(
        "gen_bytes_per_conn",
        round(own_after.saturating_sub(own_before) as f64 / n, 1),
    );
    r.set(
        "handshakes_per_s",
        round(n / connected.as_secs_f64().max(1e-9), 1),
    );
    r.cpu(&meter, connected, opts.connections as u64, "handshakes");
    drop(conns);
    Ok(r)
}

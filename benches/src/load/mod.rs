//! The end-to-end load tool: a small raw WebSocket client ([`client`]) and four scenarios,
//! [`echo`], [`broadcast`], [`idle`] and [`soak`] (churn across instances), each bounded in
//! count and in time.
//!
//! Every scenario runs on one thread (a current-thread tokio runtime), so that pinning the
//! tool to one core (`taskset -c 1`) gives it exactly one core; each report carries the
//! tool's own CPU time, so a saturated generator shows (`gen_cpu_util` near 1), and, given
//! the server's pid, the server's CPU time, so figures per server CPU-second can be computed.

pub mod broadcast;
pub mod client;
pub mod echo;
pub mod idle;
pub mod metrics;
pub mod soak;

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use metrics::CpuMeter;

/// How long a scenario waits, after its time bound, for replies still in flight.
pub const DRAIN: Duration = Duration::from_secs(2);

/// The most connection attempts a scenario has outstanding at once: below the 128-entry
/// accept queue that `tokio::net::TcpListener::bind` gives a server (more overflow it, and
/// the kernel drops SYNs, which costs a 1 s retransmit).
pub const CONNECT_CONCURRENCY: usize = 64;

/// A finished scenario: its figures, as a flat JSON object (one line on stdout).
#[derive(Debug, Clone)]
pub struct Report(pub Map<String, Value>);

impl Report {
    fn new(scenario: &str) -> Self {
        let mut m = Map::new();
        m.insert("scenario".into(), scenario.into());
        Self(m)
    }

    fn set(&mut self, key: &str, v: impl Into<Value>) {
        self.0.insert(key.to_owned(), v.into());
    }

    /// A number from the report.
    pub fn f64(&self, key: &str) -> Option<f64> {
        self.0.get(key).and_then(Value::as_f64)
    }

    /// An integer from the report.
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.0.get(key).and_then(Value::as_u64)
    }

    /// Adds the CPU figures of a measured window: the generator's own CPU (getrusage) and,
    /// when the server's pid was given, the server's (/proc/<pid>/stat), with `work` (the
    /// scenario's unit count: messages, deliveries) per CPU-second of each.
    fn cpu(&mut self, meter: &CpuMeter, elapsed: Duration, work: u64, unit: &str) {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let gen_cpu = meter.own_elapsed().as_secs_f64();
        self.set("elapsed_s", round(secs, 4));
        self.set("gen_cpu_s", round(gen_cpu, 4));
        self.set("gen_cpu_util", round(gen_cpu / secs, 3));
        if gen_cpu > 0.0 {
            self.set(
                &format!("{unit}_per_gen_cpu_s"),
                round(work as f64 / gen_cpu, 1),
            );
        }
        if let Some(server_cpu) = meter.server_elapsed() {
            let server_cpu = server_cpu.as_secs_f64();
            self.set("server_cpu_s", round(server_cpu, 4));
            self.set("server_cpu_util", round(server_cpu / secs, 3));
            if server_cpu > 0.0 {
                self.set(
                    &format!("{unit}_per_server_cpu_s"),
                    round(work as f64 / server_cpu, 1),
                );
            }
        }
    }
}

impl core::fmt::Display for Report {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", Value::Object(self.0.clone()))
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// Nanoseconds since `base`, as carried in a message's timestamp.
fn stamp(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A current-thread runtime: the whole load tool runs on one core.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

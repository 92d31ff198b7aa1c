//! CPU time (ours from `getrusage`, the server's from `/proc`), resident memory and latency.

use std::io;
use std::time::Duration;

use hdrhistogram::Histogram;

/// This process's CPU time, user plus system, from `getrusage(RUSAGE_SELF)`.
#[allow(unsafe_code)]
pub fn own_cpu() -> Duration {
    // SAFETY: `rusage` is a plain C struct for which all-zero bytes are a valid value, and
    // getrusage only writes into the struct we pass, which lives across the call.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &raw mut ru) != 0 {
            return Duration::ZERO;
        }
        ru
    };
    timeval(ru.ru_utime) + timeval(ru.ru_stime)
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
}

/// Clock ticks per second, the unit of `/proc/<pid>/stat`'s times.
#[allow(unsafe_code)]
fn clock_ticks() -> u64 {
    // SAFETY: sysconf takes no pointers and only reads a constant of the system.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|t| *t > 0).unwrap_or(100)
}

/// Another process's CPU time, user plus system over all its threads, from
/// `/proc/<pid>/stat` (fields 14 and 15; a resolution of one clock tick, 10 ms here).
///
/// # Errors
/// The process does not exist, or its stat file is not as documented in proc(5).
pub fn proc_cpu(pid: u32) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::other("malformed /proc/<pid>/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime (14) and stime (15) are at 11 and 12.
    let ticks = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("malformed /proc/<pid>/stat"))
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_nanos(
        total.saturating_mul(1_000_000_000) / clock_ticks(),
    ))
}

/// A process's resident set size in bytes (`VmRSS` of `/proc/<pid>/status`); `None` for
/// ourselves reads `/proc/self/status`.
///
/// # Errors
/// The process does not exist, or its status file has no `VmRSS` line.
pub fn vm_rss(pid: Option<u32>) -> io::Result<u64> {
    let path = pid.map_or_else(
        || "/proc/self/status".to_owned(),
        |p| format!("/proc/{p}/status"),
    );
    let status = std::fs::read_to_string(path)?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other("no VmRSS in /proc/<pid>/status"))
}

/// CPU time of this process and, optionally, of the server, from a starting point.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    own: Duration,
    server: Option<(u32, Duration)>,
}

impl CpuMeter {
    /// Starts measuring now; `server_pid` is the server's process, if known.
    ///
    /// # Errors
    /// The server's pid was given but its CPU time cannot be read.
    pub fn start(server_pid: Option<u32>) -> io::Result<Self> {
        let server = match server_pid {
            Some(pid) => Some((pid, proc_cpu(pid)?)),
            None => None,
        };
        Ok(Self {
            own: own_cpu(),
            server,
        })
    }

    /// Our CPU time since the start.
    pub fn own_elapsed(&self) -> Duration {
        own_cpu().saturating_sub(self.own)
    }

    /// The server's CPU time since the start (None without a pid, or if it has gone).
    pub fn server_elapsed(&self) -> Option<Duration> {
        let (pid, at) = self.server?;
        proc_cpu(pid).ok().map(|now| now.saturating_sub(at))
    }
}

/// A latency histogram in nanoseconds, 1 ns to 60 s, three significant digits.
#[derive(Debug, Clone)]
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Self(Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds"))
    }
}

impl Latency {
    /// Records one latency.
    pub fn record(&mut self, nanos: u64) {
        self.0.saturating_record(nanos.max(1));
    }

    /// How many were recorded.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The `q` quantile (0..=1) in microseconds; 0 if nothing was recorded.
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.value_at_quantile(q) as f64 / 1000.0
    }
}

//! `ws-load`: the end-to-end load tool. One scenario per run; the figures go to stdout as one
//! JSON object, a summary to stderr.
//!
//! ```text
//! ws-load echo      --url ws://127.0.0.1:8080/echo --connections 100 --size 20 [--depth 1]
//! ws-load broadcast --url ws://127.0.0.1:8080/all  --subscribers 1000 --size 64 [--window 8 | --burst 1000]
//! ws-load idle      --url ws://127.0.0.1:8080/echo --connections 10000 --server-pid PID
//! ws-load soak      --urls ws://127.0.0.1:8081,ws://127.0.0.1:8082 --metrics A,B --server-pids P,Q
//! ws-load broadcast --url ws://127.0.0.1:8080/all --size 1024 --payload json --deflate on
//! ```

use std::collections::HashMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use oyez_benches::load::broadcast::{self, BroadcastOpts};
use oyez_benches::load::client::Target;
use oyez_benches::load::echo::{self, EchoOpts};
use oyez_benches::load::idle::{self, IdleOpts};
use oyez_benches::load::soak::{self, SoakOpts};

const USAGE: &str = "\
ws-load: end-to-end WebSocket load scenarios (one thread; pin it with taskset)

  ws-load echo      [--url ws://127.0.0.1:8080/echo] [--connections 100] [--size 20]
                    [--depth 1] [--messages 1000000] [--seconds 5] [--sources 1] [--server-pid PID]
  ws-load broadcast [--url ws://127.0.0.1:8080/all] [--subscribers 1000] [--size 64]
                    [--window 8 | --burst 1000] [--messages 100000] [--seconds 5] [--sources 1]
                    [--server-pid PID] [--payload binary|json] [--deflate off|on]
                    [--sample 10] [--ref-level 3]
  ws-load idle      --server-pid PID [--url ws://127.0.0.1:8080/echo] [--connections 10000]
                    [--sources 50] [--settle-ms 1000] [--deflate off|on]
  ws-load soak      --urls URL,URL --metrics HOST:PORT,HOST:PORT --server-pids PID,PID
                    [--stayers 200] [--churners 2000] [--rooms 50] [--users 500] [--rate 20]
                    [--seconds 60] [--max-connects 10000000] [--sources 20] [--sample-ms 1000]
                    [--settle-s 30]

--deflate on (echo, broadcast, idle): the connections offer permessage-deflate as browsers do. In broadcast, only
--sample subscribers inflate and check each delivery (and compare its size with raw deflate
of the same message at --ref-level); the others count compressed deliveries by their frames.
--payload json: chat-like JSON text messages (--size at least 96) instead of binary.

Every run is bounded by --messages (or --connections) and by --seconds (plus 2 s for replies
in flight). Messages are binary and carry a sequence number and a timestamp (size >= 16).
With --server-pid, the server's CPU time (/proc/PID/stat) is reported next to ours
(getrusage), with messages (deliveries) per server CPU-second. The result is one JSON object
on stdout. soak exits with status 1 when its report says \"ok\": false (a stayer lost,
duplicated or reordered a message, a server did not return to its baseline, or errors).
";

struct Args(HashMap<String, String>);

impl Args {
    fn parse(args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut map = HashMap::new();
        let mut args = args.peekable();
        while let Some(a) = args.next() {
            let key = a
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {a:?}"))?;
            let value = args
                .next()
                .ok_or_else(|| format!("--{key} needs a value"))?;
            map.insert(key.to_owned(), value);
        }
        Ok(Self(map))
    }

    fn get<T: std::str::FromStr>(&mut self, key: &str, default: T) -> Result<T, String> {
        match self.0.remove(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{key}: bad value {v:?}")),
        }
    }

    fn opt<T: std::str::FromStr>(&mut self, key: &str) -> Result<Option<T>, String> {
        self.0
            .remove(key)
            .map(|v| v.parse().map_err(|_| format!("--{key}: bad value {v:?}")))
            .transpose()
    }

    fn target(&mut self, default: &str) -> Result<Target, String> {
        let url: String = self.get("url", default.to_owned())?;
        let deflate = self.switch("deflate")?;
        Target::parse(&url)
            .map(|t| t.with_deflate(deflate))
            .map_err(|e| e.to_string())
    }

    /// An `on`/`off` option (off by default).
    fn switch(&mut self, key: &str) -> Result<bool, String> {
        match self.0.remove(key).as_deref() {
            None | Some("off") => Ok(false),
            Some("on") => Ok(true),
            Some(v) => Err(format!("--{key}: expected on or off, got {v:?}")),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self.0.keys().next() {
            Some(k) => Err(format!("unknown option --{k}")),
            None => Ok(()),
        }
    }
}

fn run(mut argv: impl Iterator<Item = String>) -> Result<oyez_benches::load::Report, String> {
    let scenario = argv.next().ok_or("no scenario given")?;
    let mut a = Args::parse(argv)?;
    let seconds = |a: &mut Args| a.get("seconds", 5.0f64).map(Duration::from_secs_f64);
    let report = match scenario.as_str() {
        "echo" => {
            let opts = EchoOpts {
                target: a.target("ws://127.0.0.1:8080/echo")?,
                connections: a.get("connections", 100)?,
                size: a.get("size", 20)?,
                depth: a.get("depth", 1)?,
                messages: a.get("messages", 1_000_000)?,
                duration: seconds(&mut a)?,
                sources: a.get("sources", 1)?,
                server_pid: a.opt("server-pid")?,
            };
            check_size(opts.size)?;
            if opts.connections == 0 || opts.depth == 0 {
                return Err("--connections and --depth must be at least 1".into());
            }
            a.finish()?;
            echo::run(&opts)
        }
        "broadcast" => {
            let opts = BroadcastOpts {
                target: a.target("ws://127.0.0.1:8080/all")?,
                subscribers: a.get("subscribers", 1000)?,
                size: a.get("size", 64)?,
                window: a.get("window", 8)?,
                burst: a.opt("burst")?,
                messages: a.get("messages", 100_000)?,
                duration: seconds(&mut a)?,
                sources: a.get("sources", 1)?,
                server_pid: a.opt("server-pid")?,
                json: match a.get("payload", "binary".to_owned())?.as_str() {
                    "binary" => false,
                    "json" => true,
                    other => {
                        return Err(format!("--payload: expected binary or json, got {other:?}"));
                    }
                },
                sample: a.get("sample", 10)?,
                ref_level: a.get("ref-level", 3)?,
            };
            check_size(opts.size)?;
            if opts.target.deflate && !opts.json {
                return Err("broadcast --deflate on needs --payload json (its probes are told apart by their opcode)".into());
            }
            if opts.json && opts.size < oyez_benches::load::client::JSON_MIN {
                return Err(format!(
                    "--payload json needs --size of at least {}",
                    oyez_benches::load::client::JSON_MIN
                ));
            }
            if opts.subscribers == 0 || opts.window == 0 || opts.messages == 0 {
                return Err("--subscribers, --window and --messages must be at least 1".into());
            }
            a.finish()?;
            broadcast::run(&opts)
        }
        "idle" => {
            let opts = IdleOpts {
                target: a.target("ws://127.0.0.1:8080/echo")?,
                connections: a.get("connections", 10_000)?,
                sources: a.get("sources", 50)?,
                settle: Duration::from_millis(a.get("settle-ms", 1000)?),
                server_pid: a
                    .opt("server-pid")?
                    .ok_or("idle needs --server-pid (its memory is measured)")?,
            };
            if opts.connections == 0 {
                return Err("--connections must be at least 1".into());
            }
            a.finish()?;
            idle::run(&opts)
        }
        "soak" => {
            let list = |a: &mut Args, key: &str| -> Result<Vec<String>, String> {
                let v: String = a.get(key, String::new())?;
                if v.is_empty() {
                    return Err(format!("soak needs --{key}"));
                }
                Ok(v.split(',').map(str::to_owned).collect())
            };
            let targets = list(&mut a, "urls")?
                .iter()
                .map(|u| Target::parse(u).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            let metrics = list(&mut a, "metrics")?
                .iter()
                .map(|m| {
                    m.parse()
                        .map_err(|_| format!("--metrics: bad address {m:?}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let server_pids = list(&mut a, "server-pids")?
                .iter()
                .map(|p| {
                    p.parse()
                        .map_err(|_| format!("--server-pids: bad pid {p:?}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if targets.len() != metrics.len() || targets.len() != server_pids.len() {
                return Err("--urls, --metrics and --server-pids need one entry per server".into());
            }
            let opts = SoakOpts {
                targets,
                metrics,
                server_pids,
                stayers: a.get("stayers", 200)?,
                churners: a.get("churners", 2000)?,
                rooms: a.get("rooms", 50)?,
                users: a.get("users", 500)?,
                rate: a.get("rate", 20)?,
                duration: seconds(&mut a)?,
                max_connects: a.get("max-connects", 10_000_000)?,
                sources: a.get("sources", 20)?,
                sample_every: Duration::from_millis(a.get("sample-ms", 1000)?),
                settle: Duration::from_secs(a.get("settle-s", 30)?),
            };
            if opts.stayers == 0 || opts.rooms == 0 || opts.users == 0 || opts.rate == 0 {
                return Err("--stayers, --rooms, --users and --rate must be at least 1".into());
            }
            a.finish()?;
            soak::run(&opts)
        }
        "-h" | "--help" | "help" => return Err(String::new()),
        other => return Err(format!("unknown scenario {other:?}")),
    };
    report.map_err(|e| format!("{scenario}: {e}"))
}

fn check_size(size: usize) -> Result<(), String> {
    if size < oyez_benches::load::client::STAMP_LEN {
        return Err(format!(
            "--size must be at least {} (sequence number and timestamp)",
            oyez_benches::load::client::STAMP_LEN
        ));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1)) {
        Ok(report) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{report}");
            // A scenario that checks (soak) says whether it held.
            match report.0.get("ok") {
                Some(serde_json::Value::Bool(false)) => ExitCode::FAILURE,
                _ => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            let mut err = std::io::stderr().lock();
            if !e.is_empty() {
                let _ = writeln!(err, "ws-load: {e}\n");
            }
            let _ = write!(err, "{USAGE}");
            ExitCode::from(2)
        }
    }
}

//! Idle `wss://` connections: opens N TLS WebSocket connections to a server (oyez-tokio's
//! client, trusting the given CA), lets them sit, and reports the server's resident memory
//! growth per connection (`VmRSS` of `--server-pid`, as `ws-load idle` does for `ws://`).
//!
//! ```sh
//! TINA4_WS_PORT=9443 TINA4_WS_TLS_CERT=cert.pem TINA4_WS_TLS_KEY=key.pem target/release/ws-server &
//! cargo run --release -p oyez-benches --example wss_idle -- \
//!     --url wss://localhost:9443/echo --ca ca.pem --connections 2000 --server-pid $!
//! ```
//!
//! Prints one JSON object. Connections are opened 100 at a time; every wait is bounded.

use std::time::Duration;

use oyez_tokio::tls::{Connector, roots_from_pem_file};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The server's resident set size in bytes.
fn rss(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server's /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = arg(&args, "--url").expect("--url wss://host:port/path");
    let ca = arg(&args, "--ca").expect("--ca roots.pem");
    let n: usize = arg(&args, "--connections").map_or(1000, |v| v.parse().expect("a number"));
    let pid: u32 = arg(&args, "--server-pid")
        .expect("--server-pid")
        .parse()
        .expect("a pid");
    let connector =
        Connector::with_roots(roots_from_pem_file(&ca).expect("the CA")).expect("a connector");
    let before = rss(pid);
    let mut sockets = Vec::with_capacity(n);
    while sockets.len() < n {
        let batch = (n - sockets.len()).min(100);
        let mut tasks = Vec::with_capacity(batch);
        for _ in 0..batch {
            let (url, connector) = (url.clone(), connector.clone());
            tasks.push(tokio::spawn(async move {
                tokio::time::timeout(
                    Duration::from_secs(10),
                    oyez_tokio::client::Builder::new(url)
                        .tls(connector)
                        .connect(),
                )
                .await
            }));
        }
        for t in tasks {
            let (ws, _) = t
                .await
                .expect("joined")
                .expect("in time")
                .expect("connected");
            sockets.push(ws);
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = rss(pid);
    let per = (after.saturating_sub(before)) as f64 / n as f64;
    // The result, one JSON object, is the program's output.
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{{\"scenario\":\"wss_idle\",\"connections\":{n},\"server_rss_before\":{before},\"server_rss_after\":{after},\"server_bytes_per_connection\":{per:.0}}}"
        );
    }
    drop(sockets);
}

//! A short run of the load tool's scenarios against an in-process oyez-server: the tool's
//! client, accounting and bounds work end to end. Correctness only; no figure is checked
//! against a threshold (performance is measured by the tool itself, not by tests).

use std::net::SocketAddr;
use std::time::Duration;

use oyez_benches::load::broadcast::{self, BroadcastOpts};
use oyez_benches::load::client::Target;
use oyez_benches::load::echo::{self, EchoOpts};
use oyez_benches::load::idle::{self, IdleOpts};
use std::sync::Mutex;

use oyez_server::apps::{All, Echo};
use oyez_server::{Audience, Builder, Conn, Handler, Message, Server, ServerConfig};

/// A server on its own runtime (the load tool runs its own current-thread runtime).
fn server() -> (tokio::runtime::Runtime, Server) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut config = ServerConfig::default();
    config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = rt
        .block_on(
            Builder::new(config)
                .route("/echo", Echo)
                .route("/all", All)
                .route("/faulty", Faulty::default())
                .bind(),
        )
        .expect("the server binds");
    (rt, server)
}

/// A relay to every other connection that misbehaves on purpose, by sequence number (the
/// load tool's stamp): drops `s % 11 == 5`, sends `s % 7 == 3` twice, and sends 20 after 21.
#[derive(Default)]
struct Faulty {
    held: Mutex<Option<Message>>,
}

impl Handler for Faulty {
    fn on_message(&self, conn: &Conn, msg: Message) {
        let seq = u64::from_le_bytes(msg.as_bytes()[..8].try_into().expect("a stamp"));
        let relay = |m: Message| {
            conn.server()
                .broadcast(Audience::path(conn.path()).except(conn.id()), m);
        };
        if seq >= 50 {
            relay(msg); // probes
        } else if seq == 20 {
            *self.held.lock().expect("not poisoned") = Some(msg);
        } else if seq % 11 == 5 {
        } else if seq % 7 == 3 {
            relay(msg.clone());
            relay(msg);
        } else {
            relay(msg);
            if seq == 21 {
                let held = self.held.lock().expect("not poisoned").take();
                relay(held.expect("20 came before 21"));
            }
        }
    }
}

fn target(server: &Server, path: &str) -> Target {
    Target::parse(&format!("ws://{}{path}", server.local_addr())).expect("a ws:// URL")
}

#[test]
fn echo_200_messages_all_come_back_in_order() {
    let (_rt, server) = server();
    let report = echo::run(&EchoOpts {
        target: target(&server, "/echo"),
        connections: 4,
        size: 20,
        depth: 4,
        messages: 200,
        duration: Duration::from_secs(10),
        sources: 1,
        server_pid: Some(std::process::id()),
    })
    .unwrap();
    assert_eq!(report.u64("sent"), Some(200), "{report}");
    assert_eq!(report.u64("received"), Some(200), "{report}");
    assert_eq!(report.u64("bad"), Some(0), "{report}");
    assert_eq!(report.u64("conn_errors"), Some(0), "{report}");
    assert!(report.f64("msgs_per_s").unwrap() > 0.0, "{report}");
    assert!(
        report.f64("p99_us").unwrap() >= report.f64("p50_us").unwrap(),
        "{report}"
    );
    // The "server" is this process, so its CPU time is known and counts ours too.
    assert!(report.f64("server_cpu_s").is_some(), "{report}");
}

#[test]
fn echo_of_large_messages_writes_head_and_shared_tail() {
    let (_rt, server) = server();
    let report = echo::run(&EchoOpts {
        target: target(&server, "/echo"),
        connections: 2,
        size: 256 << 10,
        depth: 1,
        messages: 10,
        duration: Duration::from_secs(10),
        sources: 2,
        server_pid: None,
    })
    .unwrap();
    assert_eq!(report.u64("received"), Some(10), "{report}");
    assert_eq!(report.u64("bad"), Some(0), "{report}");
}

#[test]
fn broadcast_window_and_burst_deliver_everything_once() {
    let (_rt, server) = server();
    for burst in [None, Some(50)] {
        let report = broadcast::run(&BroadcastOpts {
            target: target(&server, "/all"),
            subscribers: 10,
            size: 64,
            window: 4,
            burst,
            messages: 50,
            duration: Duration::from_secs(10),
            sources: 1,
            server_pid: None,
            json: false,
            sample: 0,
            ref_level: 3,
        })
        .unwrap();
        assert_eq!(report.u64("sent"), Some(50), "{report}");
        assert_eq!(report.u64("deliveries"), Some(500), "{report}");
        for key in ["lost", "duplicated", "reordered", "bad", "sub_errors"] {
            assert_eq!(report.u64(key), Some(0), "{key}: {report}");
        }
    }
}

/// Compressed broadcasts: every subscriber agreed permessage-deflate; the sampled ones
/// inflate and check every delivery, the others count them by their frames; the sizes match
/// raw deflate of the same messages at the server's level.
#[test]
fn broadcast_with_deflate_samples_and_counts() {
    let (_rt, server) = server();
    let report = broadcast::run(&BroadcastOpts {
        target: target(&server, "/all").with_deflate(true),
        subscribers: 10,
        size: 1024,
        window: 4,
        burst: None,
        messages: 50,
        duration: Duration::from_secs(10),
        sources: 1,
        server_pid: None,
        json: true,
        sample: 3,
        ref_level: 3,
    })
    .unwrap();
    assert_eq!(report.u64("deflate_agreed"), Some(10), "{report}");
    assert_eq!(report.u64("deliveries"), Some(500), "{report}");
    assert_eq!(report.u64("compressed_deliveries"), Some(500), "{report}");
    assert_eq!(report.u64("inflated_checked"), Some(150), "{report}");
    for key in ["lost", "duplicated", "reordered", "bad", "sub_errors"] {
        assert_eq!(report.u64(key), Some(0), "{key}: {report}");
    }
    let vs = report.f64("vs_raw_deflate").unwrap();
    assert!((0.95..=1.05).contains(&vs), "{report}");
    assert!(
        report.f64("wire_bytes_per_delivery").unwrap() < 700.0,
        "{report}"
    );
}

#[test]
fn idle_connections_are_counted_alive_and_memory_is_read() {
    let (_rt, server) = server();
    let report = idle::run(&IdleOpts {
        target: target(&server, "/echo"),
        connections: 20,
        sources: 4,
        settle: Duration::from_millis(50),
        server_pid: std::process::id(),
    })
    .unwrap();
    assert_eq!(report.u64("alive"), Some(20), "{report}");
    assert!(report.u64("server_rss_after").unwrap() > 0, "{report}");
    assert_eq!(report.u64("deflate_agreed"), Some(0), "{report}");
    // The same, offering permessage-deflate: every connection agreed it.
    let report = idle::run(&IdleOpts {
        target: target(&server, "/echo").with_deflate(true),
        connections: 20,
        sources: 4,
        settle: Duration::from_millis(50),
        server_pid: std::process::id(),
    })
    .unwrap();
    assert_eq!(report.u64("alive"), Some(20), "{report}");
    assert_eq!(report.u64("deflate_agreed"), Some(20), "{report}");
}

#[test]
fn broadcast_counts_lost_duplicated_and_reordered_messages() {
    let (_rt, server) = server();
    let report = broadcast::run(&BroadcastOpts {
        target: target(&server, "/faulty"),
        subscribers: 10,
        size: 64,
        window: 8,
        burst: Some(50),
        messages: 50,
        duration: Duration::from_millis(500),
        sources: 1,
        server_pid: None,
        json: false,
        sample: 0,
        ref_level: 3,
    })
    .unwrap();
    // Per subscriber: 5 lost (5, 16, 27, 38, 49), 6 duplicated (3, 10, 17, 24, 31, 45; 38 is
    // lost), 1 reordered (20 after 21).
    assert_eq!(report.u64("sent"), Some(50), "{report}");
    assert_eq!(report.u64("deliveries"), Some(450), "{report}");
    assert_eq!(report.u64("lost"), Some(50), "{report}");
    assert_eq!(report.u64("lost_max_per_sub"), Some(5), "{report}");
    assert_eq!(report.u64("subs_with_loss"), Some(10), "{report}");
    assert_eq!(report.u64("duplicated"), Some(60), "{report}");
    assert_eq!(report.u64("reordered"), Some(10), "{report}");
}

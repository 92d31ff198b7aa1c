//! Helpers shared by the suites.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use oyez_backplane::Transport;
use oyez_backplane::transport::memory::MemoryHub;
use oyez_backplane::transport::nats::NatsTransport;
use oyez_backplane::transport::redis::RedisTransport;
use tokio::sync::mpsc;

/// Every wait is bounded by this.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

pub(crate) const REDIS_URL: &str = "redis://127.0.0.1:6379";
pub(crate) const NATS_URL: &str = "nats://127.0.0.1:4222";

/// Makes `n` transports that reach each other, for a backend.
pub(crate) async fn transports(backend: &str, n: usize) -> Vec<Arc<dyn Transport>> {
    let hub = MemoryHub::new();
    let mut out: Vec<Arc<dyn Transport>> = Vec::new();
    for _ in 0..n {
        out.push(match backend {
            "memory" => Arc::new(hub.transport()),
            "redis" => Arc::new(RedisTransport::connect(REDIS_URL).expect("redis url")),
            "nats" => Arc::new(NatsTransport::connect(NATS_URL).await.expect("nats url")),
            other => panic!("unknown backend {other}"),
        });
    }
    out
}

/// Receives until `pred` accepts an item, skipping others; fails after [`WAIT`].
pub(crate) async fn recv_matching<T: std::fmt::Debug>(
    rx: &mut mpsc::Receiver<T>,
    what: &str,
    pred: impl Fn(&T) -> bool,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(item)) if pred(&item) => return item,
            Ok(Some(_)) => {}
            Ok(None) => panic!("channel closed waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// Drains what arrives within `quiet`.
pub(crate) async fn drain<T>(rx: &mut mpsc::Receiver<T>, quiet: Duration) -> Vec<T> {
    let mut out = Vec::new();
    while let Ok(Some(item)) = tokio::time::timeout(quiet, rx.recv()).await {
        out.push(item);
    }
    out
}

/// A unique token for this test run (channel names, app names, message bodies).
pub(crate) fn unique(prefix: &str) -> String {
    use std::hash::BuildHasher;
    let r = std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
    format!("{prefix}{r:016x}")
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A broker of our own, on its own port; killed on drop.
pub(crate) struct PrivateBroker {
    child: Option<Child>,
    kind: &'static str,
    pub(crate) port: u16,
}

impl PrivateBroker {
    pub(crate) fn start(kind: &'static str, port: u16) -> Self {
        let mut b = Self {
            child: None,
            kind,
            port,
        };
        b.spawn();
        b
    }

    pub(crate) fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.kind, self.port)
    }

    pub(crate) fn spawn(&mut self) {
        let port = self.port.to_string();
        let mut cmd = match self.kind {
            "redis" => {
                let mut c = Command::new("redis-server");
                c.args([
                    "--port",
                    &port,
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ]);
                c
            }
            "nats" => {
                let bin = if std::path::Path::new("/usr/sbin/nats-server").exists() {
                    "/usr/sbin/nats-server"
                } else {
                    "nats-server"
                };
                let mut c = Command::new(bin);
                c.args(["-a", "127.0.0.1", "-p", &port]);
                c
            }
            other => panic!("no broker {other}"),
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("broker binary");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "{} did not start on {}",
                self.kind,
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a test under a 60 s bound, so a broker that never answers fails it instead of hanging
/// the suite.
pub(crate) async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test finished within 60 s");
}

/// A Tina4 envelope to publish (the cluster sets its `src`).
pub(crate) fn tina4(
    kind: oyez_envelope::tina4::Kind,
    payload: oyez_envelope::tina4::Payload,
    room: Option<&str>,
    path: Option<&str>,
    exclude: Option<&str>,
) -> oyez_envelope::tina4::Envelope {
    oyez_envelope::tina4::Envelope {
        src: String::new(),
        kind,
        exclude: exclude.map(str::to_owned),
        room: room.map(str::to_owned),
        path: path.map(str::to_owned),
        payload,
    }
}

/// A Tina4 text envelope for every connection.
pub(crate) fn tina4_all(text: &str) -> oyez_envelope::tina4::Envelope {
    tina4(
        oyez_envelope::tina4::Kind::All,
        oyez_envelope::tina4::Payload::Text(text.to_owned()),
        None,
        None,
        None,
    )
}

/// A mega broadcast to publish (the cluster sets its `o`).
pub(crate) fn bcast(
    ns: &str,
    channel: oyez_envelope::mega::Channel,
    message: Box<serde_json::value::RawValue>,
    except_session_ids: Vec<String>,
) -> oyez_envelope::mega::Broadcast {
    oyez_envelope::mega::Broadcast {
        o: None,
        ns: ns.to_owned(),
        channel,
        message,
        except_session_ids,
    }
}

/// A mega direct message to publish (the cluster sets its `o`).
pub(crate) fn direct(
    user_id: &str,
    message: Box<serde_json::value::RawValue>,
) -> oyez_envelope::mega::Direct {
    oyez_envelope::mega::Direct {
        o: None,
        user_id: oyez_envelope::mega::raw_string(user_id),
        message,
    }
}

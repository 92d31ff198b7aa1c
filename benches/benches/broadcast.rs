//! In-process broadcast fan-out to 1,000 connections.
//!
//! - `fanout_1000_oyez-server`: a real `oyez_server::Server` on loopback with 1,000 connected raw
//!   clients (ws-load's client). `Server::broadcast` alone (encode once, queue for every
//!   recipient: what the caller's thread pays), and broadcast until all 1,000 clients have
//!   read the frame (the whole fan-out: queueing, the connection tasks' writes, the clients'
//!   reads). The server runs on its own one-worker runtime, the clients on another.
//! - `queue_1000_*`: the mechanism alone, 1,000 unbounded tokio channels as the server's
//!   per-connection queues: one `SharedFrame` cloned into each, next to encoding the frame
//!   again for each recipient (what a server without a shared encoded frame does).
//!
//! `cargo bench -p oyez-benches --bench broadcast`

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oyez_benches::load::client::{self, Target};
use oyez_frame::{Encoder, OpCode, Role, SharedFrame};
use oyez_server::{Builder, Message, NoopHandler, Server, ServerConfig};
use tokio::sync::mpsc;

const CONNS: usize = 1000;

/// Deliveries counted by the clients, and a way to wait for a count.
#[derive(Default)]
struct Counter {
    delivered: AtomicU64,
    goal: AtomicU64,
    lock: Mutex<()>,
    reached: Condvar,
}

impl Counter {
    fn add(&self, n: u64) {
        let now = self.delivered.fetch_add(n, Ordering::AcqRel) + n;
        if now >= self.goal.load(Ordering::Acquire) {
            let _g = self.lock.lock().expect("not poisoned");
            self.reached.notify_all();
        }
    }

    /// Sets the goal `more` deliveries from now; returns it.
    fn expect(&self, more: u64) -> u64 {
        let goal = self.delivered.load(Ordering::Acquire) + more;
        self.goal.store(goal, Ordering::Release);
        goal
    }

    fn wait(&self, goal: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut g = self.lock.lock().expect("not poisoned");
        while self.delivered.load(Ordering::Acquire) < goal {
            assert!(Instant::now() < deadline, "deliveries stalled");
            g = self
                .reached
                .wait_timeout(g, Duration::from_millis(100))
                .expect("not poisoned")
                .0;
        }
    }
}

struct Fanout {
    _server_rt: tokio::runtime::Runtime,
    _client_rt: tokio::runtime::Runtime,
    server: Server,
    counter: Arc<Counter>,
}

fn one_worker() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn fanout() -> Fanout {
    let server_rt = one_worker();
    let client_rt = one_worker();
    let mut config = ServerConfig::default();
    config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = server_rt
        .block_on(Builder::new(config).route("/b", NoopHandler).bind())
        .expect("the server binds");
    let target = Target::parse(&format!("ws://{}/b", server.local_addr())).expect("a URL");
    let counter = Arc::new(Counter::default());
    let conns = client_rt.block_on(async {
        let mut conns = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            conns.push(client::connect(&target, None).await.expect("connects"));
        }
        conns
    });
    for mut conn in conns {
        let counter = counter.clone();
        client_rt.spawn(async move {
            while conn.read_some().await.is_ok() {
                let mut n = 0;
                while let Ok(Some(_)) = conn.next_frame() {
                    n += 1;
                }
                counter.add(n);
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.client_count() < CONNS {
        assert!(Instant::now() < deadline, "clients did not all register");
        std::thread::sleep(Duration::from_millis(10));
    }
    Fanout {
        _server_rt: server_rt,
        _client_rt: client_rt,
        server,
        counter,
    }
}

fn server_fanout(c: &mut Criterion) {
    let f = fanout();
    for size in [64usize, 16 << 10] {
        let msg = Message::binary(Bytes::from(oyez_benches::payload(size)));
        let mut g = c.benchmark_group(format!("fanout_1000_oyez-server_{size}B"));
        g.throughput(Throughput::Elements(CONNS as u64));
        g.bench_function("Server::broadcast (queue only)", |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    // Batches small enough to stay far below the per-connection backlog bound.
                    let k = (iters - done).min(32);
                    let goal = f.counter.expect(k * CONNS as u64);
                    let t = Instant::now();
                    for _ in 0..k {
                        assert_eq!(f.server.broadcast(msg.clone(), &[], None), CONNS);
                    }
                    timed += t.elapsed();
                    f.counter.wait(goal);
                    done += k;
                }
                timed
            })
        });
        g.bench_function("broadcast until 1000 clients read it", |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    let goal = f.counter.expect(CONNS as u64);
                    f.server.broadcast(msg.clone(), &[], None);
                    f.counter.wait(goal);
                }
                t.elapsed()
            })
        });
        g.finish();
    }
}

fn queues(c: &mut Criterion) {
    for size in [64usize, 16 << 10] {
        let payload = oyez_benches::payload(size);
        let mut g = c.benchmark_group(format!("queue_1000_{size}B"));
        g.throughput(Throughput::Elements(CONNS as u64));
        let (shared_tx, mut shared_rx): (Vec<_>, Vec<_>) = (0..CONNS)
            .map(|_| mpsc::unbounded_channel::<SharedFrame>())
            .unzip();
        g.bench_function("SharedFrame encoded once, cloned into each", |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    let frame = SharedFrame::binary(black_box(&payload));
                    for tx in &shared_tx {
                        let _ = tx.send(frame.clone());
                    }
                    timed += t.elapsed();
                    for rx in &mut shared_rx {
                        while rx.try_recv().is_ok() {}
                    }
                }
                timed
            })
        });
        let (bytes_tx, mut bytes_rx): (Vec<_>, Vec<_>) = (0..CONNS)
            .map(|_| mpsc::unbounded_channel::<Bytes>())
            .unzip();
        let mut enc = Encoder::new(Role::Server);
        g.bench_function("encoded again for each recipient", |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    for tx in &bytes_tx {
                        let mut out = BytesMut::with_capacity(size + 10);
                        enc.encode(OpCode::Binary, true, black_box(&payload), &mut out);
                        let _ = tx.send(out.freeze());
                    }
                    timed += t.elapsed();
                    for rx in &mut bytes_rx {
                        while rx.try_recv().is_ok() {}
                    }
                }
                timed
            })
        });
        g.finish();
    }
}

criterion_group!(benches, queues, server_fanout);
criterion_main!(benches);

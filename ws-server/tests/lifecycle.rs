//! Idle timeout, slow clients and graceful shutdown.

use std::sync::atomic::Ordering;
use std::time::Duration;

use oyez_frame::CloseCode;
use oyez_server::client::ClientEvent;
use oyez_server::{Audience, Message};
use tokio::io::AsyncReadExt;

use crate::util::{WAIT, config, connect, eventually, next_message, start, upgrade_request};

#[tokio::test]
async fn idle_connections_are_closed_with_1001() {
    let mut c = config();
    c.idle_timeout = Some(Duration::from_millis(300));
    let server = start(c).await;
    let mut quiet = connect(&server, "/echo").await;
    let mut chatty = connect(&server, "/echo").await;
    let started = tokio::time::Instant::now();
    let closed = loop {
        tokio::select! {
            ev = quiet.recv() => break ev.unwrap(),
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                chatty.send("still here").await.unwrap();
                assert_eq!(next_message(&mut chatty).await, Message::text("still here"));
            }
        }
    };
    match closed {
        Some(ClientEvent::Closed { code, reason }) => {
            assert_eq!(code, CloseCode::GOING_AWAY);
            assert_eq!(reason, "idle timeout");
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(250));
    eventually("one client left", || server.client_count() == 1).await;
    assert_eq!(server.stats().idle_closed.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_slow_client_is_dropped_while_the_others_keep_receiving() {
    let mut c = config();
    c.max_backlog = 64 << 10;
    let server = start(c).await;
    // A client that completes the upgrade and then never reads.
    let mut slow = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut slow, &upgrade_request("/all", ""))
        .await
        .unwrap();
    let mut fast = connect(&server, "/all").await;
    eventually("two clients", || server.client_count() == 2).await;

    let payload = vec![7u8; 16 << 10];
    let mut received = 0usize;
    for i in 0..400 {
        server.broadcast(Audience::all(), payload.clone());
        // The fast client keeps up.
        assert_eq!(
            next_message(&mut fast).await.as_bytes().len(),
            payload.len(),
            "message {i}"
        );
        received += 1;
        if server.stats().slow_dropped.load(Ordering::Relaxed) == 1 {
            break;
        }
    }
    assert_eq!(
        server.stats().slow_dropped.load(Ordering::Relaxed),
        1,
        "the slow client was dropped"
    );
    eventually("the slow client is gone", || server.client_count() == 1).await;
    // The fast one is unaffected.
    server.broadcast(Audience::all(), "after");
    assert_eq!(next_message(&mut fast).await, Message::text("after"));
    assert!(received > 4);
    // What the slow client could still read ends in a close frame 1008 or a cut connection.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(WAIT, slow.read_to_end(&mut rest))
        .await
        .expect("the server hung up");
}

#[tokio::test]
async fn graceful_shutdown_closes_everyone_with_1001() {
    let server = start(config()).await;
    let mut a = connect(&server, "/echo").await;
    let mut b = connect(&server, "/rooms/x").await;
    eventually("two clients", || server.client_count() == 2).await;
    let s2 = server.clone();
    let shutdown = tokio::spawn(async move { s2.shutdown().await });
    for c in [&mut a, &mut b] {
        match tokio::time::timeout(WAIT, c.recv()).await.unwrap().unwrap() {
            Some(ClientEvent::Closed { code, .. }) => assert_eq!(code, CloseCode::GOING_AWAY),
            other => panic!("{other:?}"),
        }
    }
    tokio::time::timeout(WAIT, shutdown)
        .await
        .expect("shut down in time")
        .unwrap();
    assert_eq!(server.client_count(), 0);
    assert!(
        tokio::net::TcpStream::connect(server.local_addr())
            .await
            .is_err(),
        "no longer accepting"
    );
}

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test]
async fn memory_stays_bounded_however_many_clients_are_slow() {
    let mut c = config();
    c.max_backlog = 256 << 10;
    let server = start(c).await;
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = tokio::net::TcpStream::connect(server.local_addr())
            .await
            .unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut s, &upgrade_request("/all", ""))
            .await
            .unwrap();
        slow.push(s);
    }
    let mut fast = connect(&server, "/all").await;
    eventually("21 clients", || server.client_count() == 21).await;
    let before = rss_bytes();
    let payload = vec![3u8; 64 << 10];
    // 2,000 × 64 KiB: a broadcast frame is shared by all its recipients, so without the
    // bound the slow clients' queues would keep all 125 MiB of frames alive.
    for _ in 0..2000 {
        server.broadcast(Audience::all(), payload.clone());
        assert_eq!(
            next_message(&mut fast).await.as_bytes().len(),
            payload.len()
        );
    }
    let grown = rss_bytes().saturating_sub(before);
    assert_eq!(server.stats().slow_dropped.load(Ordering::Relaxed), 20);
    assert!(grown < 64 << 20, "RSS grew by {} MiB", grown >> 20);
    eventually("the slow clients are gone", || server.client_count() == 1).await;
}

/// A handler that panics costs only its connection (closed with 1011), never the shard's
/// other connections.
#[tokio::test]
async fn a_panicking_handler_closes_only_its_connection() {
    struct Fragile;
    impl oyez_server::Handler for Fragile {
        fn on_message(&self, conn: &oyez_server::Conn, msg: Message) {
            assert!(
                msg.as_text() != Some("boom"),
                "the handler was told to fail"
            );
            conn.send(msg);
        }
    }
    let mut c = config();
    c.shards = 1; // both connections on the same shard
    let server = oyez_server::Builder::new(c)
        .fallback(Fragile)
        .bind()
        .await
        .expect("bind");
    let mut victim = connect(&server, "/x").await;
    let mut bystander = connect(&server, "/x").await;
    victim.send("boom").await.unwrap();
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match victim.recv().await.unwrap() {
                Some(ClientEvent::Closed { code, .. }) => break code,
                Some(_) => {}
                None => panic!("ended without a close"),
            }
        }
    })
    .await
    .expect("closed in time");
    assert_eq!(closed, CloseCode::INTERNAL_ERROR);
    bystander.send("still fine").await.unwrap();
    assert_eq!(
        next_message(&mut bystander).await,
        Message::text("still fine")
    );
    assert_eq!(server.stats().handler_panics.load(Ordering::Relaxed), 1);
}

/// A peer that sends a message and hangs up at once (FIN, or a reset, right behind the data)
/// is gone from the server: the end of its stream is read even when it arrived with the
/// data, in the same readiness event (the soak found connections left behind otherwise).
#[tokio::test]
async fn a_peer_that_sends_and_hangs_up_at_once_is_gone() {
    use tokio::io::AsyncWriteExt;
    let server = start(config()).await;
    let mut frame = bytes::BytesMut::new();
    oyez_frame::Encoder::new(oyez_frame::Role::Client).encode(
        oyez_frame::OpCode::Text,
        true,
        b"bye",
        &mut frame,
    );
    for i in 0..200 {
        let mut s = tokio::net::TcpStream::connect(server.local_addr())
            .await
            .unwrap();
        s.write_all(&upgrade_request("/rooms/quiet", ""))
            .await
            .unwrap();
        let mut head = [0u8; 1024];
        let mut got = 0;
        while !head[..got].windows(4).any(|w| w == b"\r\n\r\n") {
            got += s.read(&mut head[got..]).await.unwrap();
        }
        eventually("registered", || server.client_count() == 1).await;
        s.write_all(&frame).await.unwrap();
        if i % 2 == 0 {
            s.shutdown().await.unwrap();
            drop(s);
        } else {
            // A reset: SO_LINGER 0 never blocks in close.
            #[allow(deprecated)]
            s.set_linger(Some(Duration::ZERO)).unwrap();
            drop(s);
        }
        eventually("the peer is gone", || server.client_count() == 0).await;
    }
}

/// Opens `n` more connections to `/echo` and keeps them.
async fn burst(server: &oyez_server::Server, n: usize) -> Vec<oyez_server::client::Client> {
    let before = server.client_count();
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(connect(server, "/echo").await);
    }
    eventually("all connected", || server.client_count() == before + n).await;
    clients
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[tokio::test]
async fn a_burst_of_connections_gives_its_memory_back_once_the_count_is_steady() {
    let server = start(config()).await;
    let trims = || server.stats().heap_trims.load(Ordering::Relaxed);
    // A few connections are not a burst.
    let few = burst(&server, 20).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(trims(), 0);
    let mut many = burst(&server, 300).await;
    eventually("a trim after the burst of opens", || trims() == 1).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(trims(), 1, "none while nothing changes");
    // Closing them is a burst too.
    for c in &mut many {
        c.close(CloseCode::NORMAL, "").await.unwrap();
    }
    drop(many);
    eventually("all but the few closed", || {
        server.client_count() == few.len()
    })
    .await;
    eventually("a trim after the burst of closes", || trims() == 2).await;
}

#[tokio::test]
async fn trim_heap_off_never_trims() {
    let mut c = config();
    c.trim_heap = false;
    let server = start(c).await;
    let _many = burst(&server, 300).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(server.stats().heap_trims.load(Ordering::Relaxed), 0);
}

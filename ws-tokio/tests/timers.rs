//! Keepalive, pong, idle and close timeouts, on tokio's paused clock (virtual time: each
//! test takes milliseconds).

use std::time::Duration;

use oyez_frame::{CloseCode, OpCode, Role};
use oyez_tokio::{Config, Error, Lost, Message, WebSocket};
use tokio::io::duplex;
use tokio::time::Instant;

use crate::common::{RawPeer, close_code};

fn server(
    config: Config,
) -> (
    WebSocket<tokio::io::DuplexStream>,
    RawPeer<tokio::io::DuplexStream>,
) {
    let (a, b) = duplex(4096);
    (
        WebSocket::from_upgraded(a, Role::Server, config),
        RawPeer::new(b, Role::Client),
    )
}

#[tokio::test(start_paused = true)]
async fn keepalive_pings_then_a_silent_peer_times_out() {
    let config = Config::default()
        .with_keepalive(Some(Duration::from_secs(1)))
        .with_session(
            Config::default()
                .with_keepalive(Some(Duration::from_secs(1)))
                .session()
                .with_pong_timeout(Duration::from_secs(2)),
        );
    let (mut ws, mut peer) = server(config);
    let start = Instant::now();
    let task = tokio::spawn(async move {
        let mut pongs = 0;
        loop {
            match ws.recv().await {
                Some(Ok(Message::Pong(_))) => pongs += 1,
                Some(other) => return (pongs, other),
                None => panic!("ended without an error"),
            }
        }
    });
    // The first ping, a second after the last byte received; answered.
    let ping = peer.frame().await.unwrap();
    assert_eq!(ping.header.opcode, OpCode::Ping);
    assert!(start.elapsed() >= Duration::from_secs(1));
    peer.send(OpCode::Pong, true, &ping.payload).await;
    // The next one is left unanswered: the pong timeout ends the connection.
    assert_eq!(peer.frame().await.unwrap().header.opcode, OpCode::Ping);
    let (pongs, end) = task.await.unwrap();
    assert_eq!(pongs, 1);
    assert!(
        matches!(end, Err(Error::Lost(Lost::PongTimeout))),
        "{end:?}"
    );
    assert!(start.elapsed() >= Duration::from_secs(4));
    assert!(peer.eof().await);
}

#[tokio::test(start_paused = true)]
async fn the_idle_timeout_closes_with_1001() {
    let (mut ws, mut peer) =
        server(Config::default().with_idle_timeout(Some(Duration::from_secs(3))));
    let task = tokio::spawn(async move { ws.recv().await });
    let close = peer.frame().await.unwrap();
    assert_eq!(close_code(&close), 1001);
    assert_eq!(&close.payload[2..], b"idle timeout");
    peer.send(OpCode::Close, true, &close.payload[..2]).await;
    match task.await.unwrap() {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(f.code, Some(CloseCode::GOING_AWAY)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_close_without_reply_times_out() {
    let (mut ws, mut peer) = server(Config::default());
    let start = Instant::now();
    let task = tokio::spawn(async move { ws.close(CloseCode::NORMAL, "bye").await });
    assert_eq!(close_code(&peer.frame().await.unwrap()), 1000);
    // No reply, but the stream stays open: the close timeout (5 s) ends it.
    let end = task.await.unwrap();
    assert!(
        matches!(end, Err(Error::Lost(Lost::CloseTimeout))),
        "{end:?}"
    );
    assert!(start.elapsed() >= Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn no_timer_runs_without_a_deadline() {
    // Nothing configured: a silent peer is waited for as long as it takes.
    let (mut ws, mut peer) = server(Config::default());
    let waited = tokio::time::timeout(Duration::from_secs(3600), ws.recv()).await;
    assert!(waited.is_err(), "still waiting after an hour");
    peer.send(OpCode::Text, true, b"late").await;
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("late"));
}

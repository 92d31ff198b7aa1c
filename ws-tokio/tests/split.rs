//! The reader and writer halves.

use std::time::Duration;

use bytes::Bytes;
use oyez_frame::{CloseCode, OpCode, Role};
use oyez_tokio::{Config, Error, Message, WebSocket};
use tokio::io::duplex;
use tokio::net::{TcpListener, TcpStream};

use crate::common::{RawPeer, close_code, within};

/// A server WebSocket over TCP and a raw client peer on the other end.
async fn tcp_pair(config: Config) -> (WebSocket<TcpStream>, RawPeer<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (
        WebSocket::from_upgraded(server, Role::Server, config),
        RawPeer::new(client, Role::Client),
    )
}

/// tokio-tungstenite's issue 232, fastwebsockets' 87: with the writer idle (held by a task
/// that never sends), pings are still answered, by the reader, with nothing routed by hand.
#[tokio::test]
async fn pongs_go_out_while_the_writer_is_idle() {
    let (ws, mut peer) = tcp_pair(Config::default()).await;
    let (mut rx, tx) = ws.into_split();
    let reader = tokio::spawn(async move {
        let mut pings = 0;
        while let Some(Ok(m)) = rx.recv().await {
            if matches!(m, Message::Ping(_)) {
                pings += 1;
            }
        }
        pings
    });
    for i in 0..50u8 {
        peer.send(OpCode::Ping, true, &[i]).await;
        let pong = peer.frame().await.unwrap();
        assert_eq!(
            (pong.header.opcode, &pong.payload[..]),
            (OpCode::Pong, &[i][..])
        );
    }
    peer.send(OpCode::Close, true, &[0x03, 0xe8]).await;
    assert_eq!(close_code(&peer.frame().await.unwrap()), 1000);
    assert_eq!(within(reader).await.unwrap(), 50);
    drop(tx);
}

/// The same over `tokio::io::split` of an in-memory pipe, and keepalive pings from the
/// reader's timer while the writer is idle.
#[tokio::test(start_paused = true)]
async fn keepalive_pings_come_from_the_reader() {
    let (a, b) = duplex(1024);
    let config = Config::default().with_keepalive(Some(Duration::from_secs(1)));
    let (mut rx, _tx) = WebSocket::from_upgraded(a, Role::Server, config).split();
    let mut peer = RawPeer::new(b, Role::Client);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    for _ in 0..3 {
        let ping = peer.frame().await.unwrap();
        assert_eq!(ping.header.opcode, OpCode::Ping);
        peer.send(OpCode::Pong, true, &ping.payload).await;
    }
}

#[tokio::test]
async fn both_directions_at_once() {
    let (ws, peer) = tcp_pair(Config::default()).await;
    let (mut rx, mut tx) = ws.into_split();
    let peer_ws = WebSocket::from_upgraded(peer.io, Role::Client, Config::default());
    const N: u32 = 3_000;
    let writer = tokio::spawn(async move {
        for i in 0..N {
            tx.send(Message::text(format!("s{i}"))).await.unwrap();
        }
        tx
    });
    let reader = tokio::spawn(async move {
        for i in 0..N {
            let m = rx.recv().await.unwrap().unwrap();
            assert_eq!(m.as_text(), Some(format!("c{i}").as_str()));
        }
        rx
    });
    let (mut peer_rx, mut peer_tx) = peer_ws.split();
    let peer_sender = tokio::spawn(async move {
        for i in 0..N {
            peer_tx.send(Message::text(format!("c{i}"))).await.unwrap();
        }
        peer_tx
    });
    for i in 0..N {
        let m = within(peer_rx.recv()).await.unwrap().unwrap();
        assert_eq!(m.as_text(), Some(format!("s{i}").as_str()));
    }
    let _peer_tx = within(peer_sender).await.unwrap();
    let (mut tx, mut rx) = (within(writer).await.unwrap(), within(reader).await.unwrap());
    // The writer closes; the peer replies; the reader sees the reply and ends.
    tx.close(CloseCode::from_u16(4001), "w").await.unwrap();
    assert!(!tx.is_open());
    assert!(matches!(
        tx.send(Message::text("x")).await,
        Err(Error::Closed)
    ));
    let peer_end = tokio::spawn(async move { while peer_rx.recv().await.is_some() {} });
    match within(rx.recv()).await {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(f.code, Some(CloseCode::from_u16(4001))),
        other => panic!("{other:?}"),
    }
    assert!(rx.recv().await.is_none());
    within(peer_end).await.unwrap();
}

#[tokio::test]
async fn a_peer_close_stops_the_writer() {
    let (ws, mut peer) = tcp_pair(Config::default()).await;
    let (mut rx, mut tx) = ws.into_split();
    peer.send(OpCode::Close, true, &[0x0f, 0xa2]).await; // 4002
    assert!(matches!(
        within(rx.recv()).await,
        Some(Ok(Message::Close(_)))
    ));
    assert!(matches!(
        tx.send(Message::text("after")).await,
        Err(Error::Closed)
    ));
    // Exactly one close frame (the reply), then the end of the stream.
    assert_eq!(close_code(&peer.frame().await.unwrap()), 4002);
    assert!(peer.eof().await);
    tx.close(CloseCode::NORMAL, "").await.unwrap(); // a no-op now
}

/// A close from the writer crossing the peer's close: one close frame goes out, not two.
#[tokio::test]
async fn crossing_closes_send_one_frame() {
    let (ws, mut peer) = tcp_pair(Config::default()).await;
    let (mut rx, mut tx) = ws.into_split();
    peer.send(OpCode::Close, true, &[0x03, 0xe8]).await;
    tokio::time::sleep(Duration::from_millis(20)).await; // the peer's close is in the socket
    tx.close(CloseCode::from_u16(4003), "").await.unwrap();
    match within(rx.recv()).await {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(f.code, Some(CloseCode::NORMAL)),
        other => panic!("{other:?}"),
    }
    assert!(rx.recv().await.is_none());
    assert_eq!(close_code(&peer.frame().await.unwrap()), 4003);
    assert!(peer.eof().await, "no second close frame");
}

#[tokio::test]
async fn the_writer_works_with_the_reader_gone() {
    let (ws, mut peer) = tcp_pair(Config::default()).await;
    let (rx, mut tx) = ws.into_split();
    drop(rx);
    tx.send(Message::Binary(Bytes::from_static(b"still here")))
        .await
        .unwrap();
    let f = peer.frame().await.unwrap();
    assert_eq!(&f.payload[..], b"still here");
}

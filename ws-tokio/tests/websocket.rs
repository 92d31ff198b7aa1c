//! Both roles over TCP and in-memory pipes.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_sink::Sink;
use futures_util::StreamExt;
use oyez_frame::{CloseCode, Limits, OpCode, Role};
use oyez_tokio::{Config, Error, Lost, Message, WebSocket};
use proptest::prelude::*;
use tokio::io::{AsyncWriteExt, duplex};
use tokio::net::TcpListener;

use crate::common::{RawPeer, close_code, within};

/// An echo server on 127.0.0.1:0; its URL.
async fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/echo", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut ws = oyez_tokio::accept(stream).await?;
                while let Some(msg) = ws.recv().await {
                    let msg = msg?;
                    if msg.is_data() {
                        ws.send(msg).await?;
                    }
                }
                Ok::<_, Error>(())
            });
        }
    });
    url
}

#[tokio::test]
async fn echo_over_tcp_in_both_roles() {
    let url = echo_server().await;
    let (mut ws, response) = within(oyez_tokio::connect(&url)).await.unwrap();
    assert_eq!(response.protocol(), None);
    let big = Bytes::from((0..200_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    for msg in [
        Message::text("hello"),
        Message::binary(&b"\x00\x01\x02"[..]),
        Message::text(""),
        Message::Binary(big),
        Message::text("é".repeat(10_000)),
    ] {
        ws.send(msg.clone()).await.unwrap();
        assert_eq!(within(ws.recv()).await.unwrap().unwrap(), msg);
    }
    // A ping is answered by the server's receiving side, with no help from its loop.
    ws.send(Message::Ping(Bytes::from_static(b"p")))
        .await
        .unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::Pong(Bytes::from_static(b"p"))
    );
    let reply = within(ws.close(CloseCode::from_u16(4000), "done"))
        .await
        .unwrap();
    assert_eq!(reply.and_then(|f| f.code), Some(CloseCode::from_u16(4000)));
    assert!(ws.recv().await.is_none(), "the stream ends after the close");
    assert!(matches!(
        ws.send(Message::text("late")).await,
        Err(Error::Closed)
    ));
}

#[tokio::test]
async fn many_messages_in_flight_through_the_sink_and_stream() {
    use futures_util::SinkExt;
    let url = echo_server().await;
    let (ws, _) = within(oyez_tokio::connect(&url)).await.unwrap();
    let (mut rx, mut tx) = ws.split();
    let sender = tokio::spawn(async move {
        for i in 0..2_000u32 {
            tx.feed(Message::text(format!("m{i}"))).await.unwrap();
        }
        tx.flush().await.unwrap();
        tx
    });
    for i in 0..2_000u32 {
        let got = within(rx.next()).await.unwrap().unwrap();
        assert_eq!(got.as_text(), Some(format!("m{i}").as_str()));
    }
    let mut tx = sender.await.unwrap();
    tx.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(matches!(
        within(rx.next()).await,
        Some(Ok(Message::Close(_)))
    ));
    assert!(rx.next().await.is_none());
}

#[tokio::test]
async fn the_peer_close_is_replied_to_and_the_stream_ends() {
    let (a, b) = duplex(4096);
    let mut ws = WebSocket::from_upgraded(a, Role::Server, Config::default());
    let mut peer = RawPeer::new(b, Role::Client);
    peer.send(OpCode::Close, true, &[0x0f, 0xa0, b'b', b'y', b'e'])
        .await; // 4000 "bye"
    match within(ws.recv()).await {
        Some(Ok(Message::Close(Some(f)))) => {
            assert_eq!(
                (f.code, f.reason.as_str()),
                (Some(CloseCode::from_u16(4000)), "bye")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(ws.recv().await.is_none());
    let reply = peer.frame().await.unwrap();
    assert_eq!(close_code(&reply), 4000);
    assert!(
        peer.eof().await,
        "the server shuts the stream down after the handshake"
    );
}

#[tokio::test]
async fn protocol_errors_close_with_the_codec_code() {
    let cases: [(&[u8], u16); 3] = [
        (&[0x83, 0x80, 0, 0, 0, 0], 1002),             // a reserved opcode
        (&[0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28], 1007), // invalid UTF-8
        (&[0x82, 0xfe, 0x10, 0x00, 0, 0, 0, 0], 1009), // 4 KiB over a 1 KiB limit
    ];
    for (bytes, code) in cases {
        let (a, b) = duplex(8192);
        let config = Config::default().with_limits(Limits::default().with_max_frame_payload(1024));
        let mut ws = WebSocket::from_upgraded(a, Role::Server, config);
        let mut peer = RawPeer::new(b, Role::Client);
        peer.send(OpCode::Text, true, b"first").await;
        peer.send_raw(bytes).await;
        // The message before the error comes first; then the error.
        assert_eq!(
            within(ws.recv()).await.unwrap().unwrap(),
            Message::text("first")
        );
        match within(ws.recv()).await {
            Some(Err(Error::Protocol(e))) => assert_eq!(e.close_code().unwrap().as_u16(), code),
            other => panic!("{code}: {other:?}"),
        }
        assert!(ws.recv().await.is_none());
        assert_eq!(close_code(&peer.frame().await.unwrap()), code);
        assert!(peer.eof().await);
    }
}

#[tokio::test]
async fn a_hang_up_without_a_close_is_a_lost_connection() {
    let (a, b) = duplex(4096);
    let mut ws = WebSocket::from_upgraded(a, Role::Client, Config::default());
    drop(b);
    assert!(matches!(
        within(ws.recv()).await,
        Some(Err(Error::Lost(Lost::Eof)))
    ));
    assert!(ws.recv().await.is_none());
}

#[tokio::test]
async fn fragments_are_joined_and_control_frames_interleave() {
    let (a, b) = duplex(4096);
    let mut ws = WebSocket::from_upgraded(a, Role::Server, Config::default());
    let mut peer = RawPeer::new(b, Role::Client);
    peer.send(OpCode::Text, false, b"hel").await;
    peer.send(OpCode::Ping, true, b"x").await;
    peer.send(OpCode::Continuation, true, "lo é".as_bytes())
        .await;
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::Ping(Bytes::from_static(b"x"))
    );
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::text("hello é")
    );
    let pong = peer.frame().await.unwrap();
    assert_eq!(
        (pong.header.opcode, &pong.payload[..]),
        (OpCode::Pong, &b"x"[..])
    );
}

#[tokio::test]
async fn frames_sent_with_the_handshake_are_not_lost() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = oyez_tokio::accept(stream).await.unwrap();
        ws.recv().await.unwrap().unwrap()
    });
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut bytes = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    bytes.extend_from_slice(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    stream.write_all(&bytes).await.unwrap();
    assert_eq!(within(server).await.unwrap(), Message::text("Hello"));
}

#[tokio::test]
async fn the_write_buffer_bounds_what_is_accepted() {
    let (a, _b) = duplex(16 << 10); // the peer never reads
    let config = Config::default().with_write_buffer(32 << 10);
    let mut ws = WebSocket::from_upgraded(a, Role::Server, config);
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut accepted = 0usize;
    for _ in 0..1_000 {
        match Pin::new(&mut ws).poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => {
                Pin::new(&mut ws)
                    .start_send(Message::binary(vec![7u8; 1000]))
                    .unwrap();
                accepted += 1000;
                let _ = Pin::new(&mut ws).poll_flush(&mut cx);
            }
            Poll::Ready(Err(e)) => panic!("{e}"),
            Poll::Pending => break,
        }
    }
    // The pipe holds 16 KiB, the buffer 32 KiB, plus one message over the bound.
    assert!(accepted <= (48 << 10) + 2000, "accepted {accepted}");
    assert!(accepted >= 32 << 10, "accepted {accepted}");
    assert!(ws.buffered_bytes() >= 32 << 10);
}

#[tokio::test]
async fn control_payloads_over_125_bytes_are_refused() {
    let (a, _b) = duplex(4096);
    let mut ws = WebSocket::from_upgraded(a, Role::Client, Config::default());
    let err = ws
        .send(Message::Ping(vec![0u8; 126].into()))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Send(oyez_frame::Error::PayloadTooLarge(126))
    ));
    let err = ws.close(CloseCode::ABNORMAL, "").await.unwrap_err();
    assert!(matches!(err, Error::Send(_)), "1006 may not be sent");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Messages of any sizes, through a pipe small enough to cut reads and writes anywhere,
    /// come back whole and in order (a client and an echoing server, both this crate).
    #[test]
    fn any_messages_through_a_narrow_pipe(
        sizes in proptest::collection::vec(0usize..40_000, 1..12),
        pipe in 1usize..3000,
        text in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let (a, b) = duplex(pipe);
            let mut server = WebSocket::from_upgraded(a, Role::Server, Config::default().with_read_chunk(512));
            let echo = tokio::spawn(async move {
                while let Some(Ok(m)) = server.recv().await {
                    if m.is_data() {
                        server.send(m).await.unwrap();
                    }
                }
            });
            let client = WebSocket::from_upgraded(b, Role::Client, Config::default().with_read_chunk(256));
            let msgs: Vec<Message> = sizes.iter().enumerate().map(|(i, &n)| {
                if text { Message::text("ab€".repeat(n / 5 + i)) } else { Message::binary(vec![u8::try_from(i % 256).unwrap(); n]) }
            }).collect();
            let (mut rx, mut tx) = client.split();
            let expected = msgs.clone();
            let send = tokio::spawn(async move {
                for m in msgs { tx.send(m).await.unwrap(); }
                tx
            });
            for m in expected {
                assert_eq!(within(rx.recv()).await.unwrap().unwrap(), m);
            }
            let mut tx = send.await.unwrap();
            tx.close(CloseCode::NORMAL, "").await.unwrap();
            assert!(matches!(within(rx.recv()).await, Some(Ok(Message::Close(_)))));
            within(echo).await.unwrap();
        });
    }
}

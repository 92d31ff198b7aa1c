//! Echo and protocol behaviour over real sockets.

use bytes::BytesMut;
use oyez_frame::{CloseCode, Encoder, OpCode, Role};
use oyez_server::Message;
use oyez_server::client::ClientEvent;

use crate::util::{WAIT, config, connect, next_message, start};

fn masked(op: OpCode, fin: bool, payload: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    Encoder::new(Role::Client).encode(op, fin, payload, &mut out);
    out
}

async fn close_code(c: &mut oyez_server::client::Client) -> CloseCode {
    loop {
        match tokio::time::timeout(WAIT, c.recv())
            .await
            .expect("closed in time")
        {
            Ok(Some(ClientEvent::Closed { code, .. })) => return code,
            Ok(Some(_)) => {}
            Ok(None) => panic!("ended without a close"),
            Err(e) => panic!("client error {e}"),
        }
    }
}

#[tokio::test]
async fn echoes_text_and_binary() {
    let server = start(config()).await;
    let mut c = connect(&server, "/echo").await;
    c.send("héllo").await.unwrap();
    assert_eq!(next_message(&mut c).await, Message::text("héllo"));
    c.send(vec![0u8, 255, 7]).await.unwrap();
    assert_eq!(
        next_message(&mut c).await,
        Message::binary(vec![0u8, 255, 7])
    );
    let big = vec![0x42u8; 200_000];
    c.send(big.clone()).await.unwrap();
    assert_eq!(next_message(&mut c).await, Message::binary(big));
    assert_eq!(
        c.close(CloseCode::NORMAL, "done").await.unwrap(),
        CloseCode::NORMAL
    );
}

#[tokio::test]
async fn echoes_a_fragmented_message_with_a_ping_inside() {
    let server = start(config()).await;
    let mut c = connect(&server, "/echo").await;
    let mut wire = masked(OpCode::Text, false, b"frag");
    wire.extend_from_slice(&masked(OpCode::Ping, true, b"p"));
    wire.extend_from_slice(&masked(OpCode::Continuation, true, "mented €".as_bytes()));
    c.send_raw(&wire).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        match tokio::time::timeout(WAIT, c.recv()).await.unwrap().unwrap() {
            Some(ClientEvent::Pong(p)) => got.push(format!("pong {}", String::from_utf8_lossy(&p))),
            Some(ClientEvent::Message(m)) => got.push(m.as_text().unwrap().to_owned()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, vec!["pong p".to_owned(), "fragmented €".to_owned()]);
}

#[tokio::test]
async fn protocol_errors_close_with_their_codes() {
    let mut c = config();
    c.limits = c.limits.with_max_message_size(1000);
    let server = start(c).await;
    for (wire, expected) in [
        (masked(OpCode::Binary, true, b"x").to_vec(), None),
        (vec![0x83, 0x80, 1, 2, 3, 4], Some(1002)), // reserved opcode
        (
            masked(OpCode::Text, true, &[0x61, 0xff]).to_vec(),
            Some(1007),
        ), // invalid UTF-8
        (
            masked(OpCode::Binary, true, &[0; 1001]).to_vec(),
            Some(1009),
        ), // too big
        (vec![0x81, 0x01, b'a'], Some(1002)),       // unmasked from a client
    ] {
        let mut c = connect(&server, "/echo").await;
        c.send_raw(&wire).await.unwrap();
        match expected {
            None => assert_eq!(next_message(&mut c).await, Message::binary(vec![b'x'])),
            Some(code) => assert_eq!(close_code(&mut c).await.as_u16(), code),
        }
    }
}

#[tokio::test]
async fn pings_are_answered() {
    let server = start(config()).await;
    let mut c = connect(&server, "/echo").await;
    c.ping(b"hi").await.unwrap();
    match tokio::time::timeout(WAIT, c.recv()).await.unwrap().unwrap() {
        Some(ClientEvent::Pong(p)) => assert_eq!(&p[..], b"hi"),
        other => panic!("{other:?}"),
    }
}

/// The shard reads into a shared receive block and moves a frame that does not end in a read
/// into a buffer of its own: frames cut anywhere (inside the header, inside the payload, at
/// the edge of one read), a frame larger than any read, and a burst larger than a read all
/// come back whole and in order.
#[tokio::test]
async fn echoes_frames_however_the_bytes_are_cut() {
    let server = start(config()).await;
    let mut c = connect(&server, "/echo").await;
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(2));

    // One byte at a time: every cut inside the header and the payload.
    for b in masked(OpCode::Text, true, "héllo wörld".as_bytes()).iter() {
        c.send_raw(&[*b]).await.unwrap();
        pause().await;
    }
    assert_eq!(next_message(&mut c).await, Message::text("héllo wörld"));

    // A frame larger than a read: cut inside its 14-byte header, then at odd sizes.
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    let wire = masked(OpCode::Binary, true, &big);
    let (head, rest) = wire.split_at(7);
    c.send_raw(head).await.unwrap();
    pause().await;
    let (mid, rest) = rest.split_at(65_537);
    c.send_raw(mid).await.unwrap();
    pause().await;
    c.send_raw(rest).await.unwrap();
    assert_eq!(next_message(&mut c).await, Message::binary(big));

    // A burst of small frames larger than one read, in one write: nothing more arrives to
    // announce what the first read left in the socket.
    let mut burst = BytesMut::new();
    for i in 0..5_000u32 {
        burst.extend_from_slice(&masked(OpCode::Binary, true, format!("{i:020}").as_bytes()));
    }
    c.send_raw(&burst).await.unwrap();
    for i in 0..5_000u32 {
        assert_eq!(
            next_message(&mut c).await,
            Message::binary(format!("{i:020}").into_bytes()),
            "message {i}"
        );
    }
    assert_eq!(
        c.close(CloseCode::NORMAL, "done").await.unwrap(),
        CloseCode::NORMAL
    );
}

//! permessage-deflate against a real server: the answer in the 101, compressed messages both
//! ways, broadcasts compressed once (plain for those who did not agree), the setting off, and
//! Safari 15.0-15.3 left uncompressed.

use bytes::BytesMut;
use oyez_frame::deflate::DeflateConfig;
use oyez_frame::session::Config;
use oyez_frame::{Decoder, Encoder, FrameHeader, Limits, OpCode, Role};
use oyez_server::client::{self, Client};
use oyez_server::{Audience, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::{
    WAIT, config, connect, eventually, next_message, raw_http_head, start, upgrade_request, url,
};

const OFFER: &str = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";

#[tokio::test]
async fn the_server_agrees_and_answers_in_the_101() {
    let server = start(config()).await;
    let res = raw_http_head(&server, &upgrade_request("/echo", OFFER)).await;
    assert!(res.starts_with("HTTP/1.1 101 "), "{res}");
    assert!(
        res.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
        ),
        "{res}"
    );
    // An unacceptable offer (an unknown parameter) is declined, not refused.
    let res = raw_http_head(
        &server,
        &upgrade_request(
            "/echo",
            "Sec-WebSocket-Extensions: permessage-deflate; foo\r\n",
        ),
    )
    .await;
    assert!(
        res.starts_with("HTTP/1.1 101 ") && !res.contains("Extensions"),
        "{res}"
    );
}

#[tokio::test]
async fn off_declines_every_offer() {
    let mut c = config();
    c.deflate = None;
    let server = start(c).await;
    let res = raw_http_head(&server, &upgrade_request("/echo", OFFER)).await;
    assert!(
        res.starts_with("HTTP/1.1 101 ") && !res.contains("Extensions"),
        "{res}"
    );
    let mut client = connect(&server, "/echo").await;
    assert!(client.deflate().is_none());
    client.send(Message::text("x".repeat(1000))).await.unwrap();
    assert_eq!(
        next_message(&mut client).await,
        Message::text("x".repeat(1000))
    );
}

#[tokio::test]
async fn safari_15_0_to_15_3_is_left_uncompressed() {
    let server = start(config()).await;
    let ua = "User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
              (KHTML, like Gecko) Version/15.2 Safari/605.1.15\r\n";
    let res = raw_http_head(&server, &upgrade_request("/echo", &format!("{OFFER}{ua}"))).await;
    assert!(
        res.starts_with("HTTP/1.1 101 ") && !res.contains("Extensions"),
        "{res}"
    );
    let fixed = ua.replace("15.2", "15.4");
    let res = raw_http_head(
        &server,
        &upgrade_request("/echo", &format!("{OFFER}{fixed}")),
    )
    .await;
    assert!(res.contains("permessage-deflate"), "{res}");
}

/// A raw client that offers permessage-deflate, to look at the frames themselves.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
    dec: Decoder,
}

impl Raw {
    async fn connect(server: &oyez_server::Server, path: &str) -> Self {
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        stream
            .write_all(&upgrade_request(path, OFFER))
            .await
            .unwrap();
        let mut buf = BytesMut::new();
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            stream.read_buf(&mut buf).await.unwrap();
        }
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8(buf.split_to(end).to_vec()).unwrap();
        assert!(head.contains("permessage-deflate"), "{head}");
        let mut dec = Decoder::new(Role::Client, Limits::default());
        dec.set_extension_rsv(FrameHeader::RSV1);
        Self { stream, buf, dec }
    }

    /// The next data frame's header and payload as sent (compressed or not).
    async fn next_frame(&mut self) -> (FrameHeader, Vec<u8>) {
        loop {
            if let Some(f) = self.dec.decode(&mut self.buf).unwrap() {
                return (f.header, f.payload.to_vec());
            }
            let n = tokio::time::timeout(WAIT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("a frame in time")
                .unwrap();
            assert!(n > 0, "closed");
        }
    }
}

fn inflate(payload: &[u8]) -> Vec<u8> {
    let mut d = flate2::Decompress::new(false);
    let mut input = payload.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::with_capacity(1 << 20);
    d.decompress_vec(&input, &mut out, flate2::FlushDecompress::Sync)
        .unwrap();
    out
}

fn chat_json(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"type\":\"chat\",\"from\":\"user{}\",\"text\":\"message number {i}\"}}",
                i % 7
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[tokio::test]
async fn messages_go_compressed_both_ways() {
    let server = start(config()).await;
    let mut c = connect(&server, "/echo").await;
    assert!(c.deflate().is_some(), "our client offers it by default");
    let text = chat_json(40);
    for msg in [
        Message::text(text.clone()),
        Message::text("tiny"),
        Message::binary(vec![7u8; 100_000]),
    ] {
        c.send(msg.clone()).await.unwrap();
        assert_eq!(next_message(&mut c).await, msg);
    }
    // On the wire: the echo of a large message is compressed, a tiny one is not.
    let mut raw = Raw::connect(&server, "/echo").await;
    let mut enc = Encoder::new(Role::Client);
    let mut out = BytesMut::new();
    enc.encode(OpCode::Text, true, text.as_bytes(), &mut out);
    enc.encode(OpCode::Text, true, b"tiny", &mut out);
    raw.stream.write_all(&out).await.unwrap();
    let (h, p) = raw.next_frame().await;
    assert_eq!((h.opcode, h.rsv), (OpCode::Text, FrameHeader::RSV1));
    assert!(p.len() < text.len() / 4, "{} vs {}", p.len(), text.len());
    assert_eq!(inflate(&p), text.as_bytes());
    let (h, p) = raw.next_frame().await;
    assert_eq!((h.rsv, &p[..]), (0, &b"tiny"[..]));
}

#[tokio::test]
async fn a_broadcast_is_compressed_once_and_plain_for_the_others() {
    let server = start(config()).await;
    let mut raws = Vec::new();
    for _ in 0..3 {
        raws.push(Raw::connect(&server, "/all").await);
    }
    let mut plain: Client = tokio::time::timeout(
        WAIT,
        client::connect_with_deflate(&url(&server, "/all"), Config::default(), &[], None),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(plain.deflate().is_none());
    eventually("four on /all", || server.client_count() == 4).await;
    let text = chat_json(30);
    assert_eq!(server.broadcast(Audience::all(), text.as_str()), 4);
    let mut payloads = Vec::new();
    for raw in &mut raws {
        let (h, p) = raw.next_frame().await;
        assert_eq!(h.rsv, FrameHeader::RSV1);
        payloads.push(p);
    }
    // The same compressed bytes for every recipient that agreed.
    assert!(payloads.iter().all(|p| *p == payloads[0]));
    assert_eq!(inflate(&payloads[0]), text.as_bytes());
    assert_eq!(next_message(&mut plain).await, Message::text(text));
}

#[tokio::test]
async fn a_client_may_keep_its_context_when_allowed() {
    let mut c = config();
    c.deflate = Some(
        DeflateConfig::default()
            .with_client_context_takeover(true)
            .with_client_max_window_bits(10),
    );
    let server = start(c).await;
    let res = raw_http_head(&server, &upgrade_request("/echo", OFFER)).await;
    assert!(
        res.contains(
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\n"
        ),
        "{res}"
    );
    // Our client keeps no context, so it works either way.
    let mut client = connect(&server, "/echo").await;
    for i in 0..5 {
        let m = Message::text(format!("{} {i}", chat_json(10)));
        client.send(m.clone()).await.unwrap();
        assert_eq!(next_message(&mut client).await, m);
    }
}

/// oyez-tokio's client (deflate on by default) and the server agree it, and talk compressed.
#[tokio::test]
async fn with_the_oyez_tokio_client() {
    let server = start(config()).await;
    let (mut ws, response) =
        tokio::time::timeout(WAIT, oyez_tokio::connect(&url(&server, "/echo")))
            .await
            .expect("in time")
            .expect("connect");
    assert!(response.deflate().is_some() && ws.deflate().is_some());
    let text: String = (0..100)
        .map(|i| format!(r#"{{"from":"u{}","text":"hello {i}"}},"#, i % 5))
        .collect();
    ws.send(oyez_tokio::Message::text(text.clone()))
        .await
        .unwrap();
    let got = tokio::time::timeout(WAIT, ws.recv())
        .await
        .expect("in time");
    assert_eq!(got.unwrap().unwrap(), oyez_tokio::Message::text(text));
    let _ = tokio::time::timeout(WAIT, ws.close(oyez_tokio::CloseCode::NORMAL, "")).await;
    server.shutdown().await;
}

//! permessage-deflate through the type: agreed by `accept`, `connect` and the hyper upgrade
//! (on by default), compressed on the wire both ways, through the split halves too, and off
//! when either side says so.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use oyez_tokio::{Config, Message, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use crate::common::within;

/// A chat-like JSON text that compresses well.
fn chat(n: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"type":"chat","room":"lobby","from":"user{}","text":"hello number {i}"}}"#,
                i % 7
            )
        })
        .collect();
    format!("[{}]", rows.join(","))
}

/// Echoes until the peer closes.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocket<S>) {
    while let Some(Ok(msg)) = ws.recv().await {
        if msg.is_data() && ws.send(msg).await.is_err() {
            break;
        }
    }
}

/// A TCP relay in front of `to` that counts the bytes going each way.
async fn counting_proxy(to: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (up, down) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (u, d) = (up.clone(), down.clone());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(to).await.unwrap();
            let (u, d) = (u.clone(), d.clone());
            tokio::spawn(async move {
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let a = async {
                    let mut buf = vec![0u8; 64 << 10];
                    loop {
                        let n = tokio::io::AsyncReadExt::read(&mut cr, &mut buf)
                            .await
                            .unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        u.fetch_add(n, Ordering::Relaxed);
                        let _ = tokio::io::AsyncWriteExt::write_all(&mut sw, &buf[..n]).await;
                    }
                    let _ = tokio::io::AsyncWriteExt::shutdown(&mut sw).await;
                };
                let b = async {
                    let mut buf = vec![0u8; 64 << 10];
                    loop {
                        let n = tokio::io::AsyncReadExt::read(&mut sr, &mut buf)
                            .await
                            .unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        d.fetch_add(n, Ordering::Relaxed);
                        let _ = tokio::io::AsyncWriteExt::write_all(&mut cw, &buf[..n]).await;
                    }
                    let _ = tokio::io::AsyncWriteExt::shutdown(&mut cw).await;
                };
                tokio::join!(a, b);
            });
        }
    });
    (addr, up, down)
}

/// An echo server on `accept` with `config`.
async fn echo_server(config: Config) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(ws) = oyez_tokio::accept_with(tcp, config).await {
                    echo(ws).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn agreed_by_default_and_compressed_both_ways() {
    let (addr, up, down) = counting_proxy(echo_server(Config::default()).await).await;
    let (mut ws, response) = within(oyez_tokio::connect(&format!("ws://{addr}/")))
        .await
        .unwrap();
    assert!(response.deflate().is_some(), "the server agreed");
    assert!(ws.deflate().is_some());
    let text = chat(200);
    let (u0, d0) = (up.load(Ordering::Relaxed), down.load(Ordering::Relaxed));
    ws.send(Message::text(text.clone())).await.unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::text(text.clone())
    );
    let (u, d) = (
        up.load(Ordering::Relaxed) - u0,
        down.load(Ordering::Relaxed) - d0,
    );
    assert!(
        u * 4 < text.len() && d * 4 < text.len(),
        "{u} and {d} bytes for {}",
        text.len()
    );
    // Binary too, and a message too short to be worth compressing still arrives.
    for m in [Message::binary(chat(50).into_bytes()), Message::text("hi")] {
        ws.send(m.clone()).await.unwrap();
        assert_eq!(within(ws.recv()).await.unwrap().unwrap(), m);
    }
}

#[tokio::test]
async fn off_on_either_side_is_off() {
    let off = Config::default().with_deflate(None);
    let addr = echo_server(off).await;
    let (mut ws, response) = within(oyez_tokio::connect(&format!("ws://{addr}/")))
        .await
        .unwrap();
    assert!(response.deflate().is_none() && ws.deflate().is_none());
    ws.send(Message::text(chat(20))).await.unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::text(chat(20))
    );

    let addr = echo_server(Config::default()).await;
    let (ws, response) = within(
        oyez_tokio::client::Builder::new(format!("ws://{addr}/"))
            .config(off)
            .connect(),
    )
    .await
    .unwrap();
    assert!(response.deflate().is_none() && ws.deflate().is_none());
}

#[tokio::test]
async fn the_split_halves_speak_it() {
    let addr = echo_server(Config::default()).await;
    let (ws, _) = within(oyez_tokio::connect(&format!("ws://{addr}/")))
        .await
        .unwrap();
    assert!(ws.deflate().is_some());
    let (mut reader, mut writer) = ws.split();
    let sent: Vec<Message> = (0..20)
        .map(|i| Message::text(format!("{i} {}", chat(30))))
        .collect();
    let expect = sent.clone();
    let send = async move {
        for m in sent {
            writer.send(m).await.unwrap();
        }
        writer
    };
    let recv = async move {
        for m in expect {
            assert_eq!(within(reader.recv()).await.unwrap().unwrap(), m);
        }
    };
    let (_writer, ()) = tokio::join!(send, recv);
}

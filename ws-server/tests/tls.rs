//! `wss://`: the server with a certificate made by rcgen at test time (a private CA), and
//! oyez-tokio's client trusting that CA.

use std::path::PathBuf;
use std::sync::Arc;

use oyez_backplane::transport::memory::MemoryHub;
use oyez_server::apps::{self, Site};
use oyez_server::{Builder, Server, ServerConfig, TlsConfig};
use oyez_tokio::tls::{Connector, roots_from_pem};
use oyez_tokio::{CloseCode, Message, client::Builder as ClientBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::{WAIT, config};

/// A private CA and a certificate it signed for `localhost` and `127.0.0.1`.
struct Pki {
    ca: String,
    cert: String,
    key: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "oyez test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let leaf =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca).unwrap();
    Pki {
        ca: ca.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// A directory of this test's own for the PEM files.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("oyez-tls-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes `pki`'s certificate and key into `dir`; the paths, as the server takes them.
fn install(dir: &std::path::Path, pki: &Pki) -> TlsConfig {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &pki.cert).unwrap();
    std::fs::write(&key, &pki.key).unwrap();
    TlsConfig { cert, key }
}

fn tls_config(tls: TlsConfig) -> ServerConfig {
    let mut c = config();
    c.tls = Some(tls);
    c
}

fn trusting(pki: &Pki) -> Connector {
    Connector::with_roots(roots_from_pem(pki.ca.as_bytes()).unwrap()).unwrap()
}

async fn wss(
    server: &Server,
    path: &str,
    trust: &Connector,
) -> Result<oyez_tokio::WebSocket<oyez_tokio::MaybeTls<tokio::net::TcpStream>>, oyez_tokio::Error> {
    let url = format!("wss://localhost:{}{path}", server.local_addr().port());
    let (ws, _) = tokio::time::timeout(WAIT, ClientBuilder::new(url).tls(trust.clone()).connect())
        .await
        .expect("in time")?;
    Ok(ws)
}

async fn next(
    ws: &mut oyez_tokio::WebSocket<impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>,
) -> Message {
    loop {
        match tokio::time::timeout(WAIT, ws.recv())
            .await
            .expect("in time")
        {
            Some(Ok(m)) if m.is_data() => return m,
            Some(Ok(_)) => {}
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn wss_echo() {
    let pki = pki();
    let server = apps::mount(
        Builder::new(tls_config(install(&dir("echo"), &pki))),
        Site::default(),
    )
    .bind()
    .await
    .unwrap();
    assert!(server.is_tls());
    let mut ws = wss(&server, "/echo", &trusting(&pki)).await.unwrap();
    let big = Message::binary(
        (0..3_000_000u32)
            .map(|i| (i % 253) as u8)
            .collect::<Vec<_>>(),
    );
    for m in [
        Message::text("over tls"),
        big,
        Message::text("é".repeat(50_000)),
    ] {
        ws.send(m.clone()).await.unwrap();
        assert_eq!(next(&mut ws).await, m);
    }
    // Many small messages at once, through the shard's TLS writer.
    for i in 0..500 {
        ws.send(Message::text(format!("m{i}"))).await.unwrap();
    }
    for i in 0..500 {
        assert_eq!(
            next(&mut ws).await.as_text(),
            Some(format!("m{i}").as_str())
        );
    }
    let reply = tokio::time::timeout(WAIT, ws.close(CloseCode::NORMAL, "bye"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.and_then(|f| f.code), Some(CloseCode::NORMAL));
    // Plain ws:// to a TLS port gets no WebSocket.
    let plain = format!("ws://{}/echo", server.local_addr());
    assert!(
        tokio::time::timeout(WAIT, oyez_tokio::connect(&plain))
            .await
            .unwrap()
            .is_err()
    );
    server.shutdown().await;
}

/// Frames sent in the same TLS record as the upgrade request (decrypted by rustls before the
/// shard adopts the connection) are not lost; plain HTTP works over TLS too.
#[tokio::test]
async fn early_frames_and_plain_http_over_tls() {
    let pki = pki();
    let server = apps::mount(
        Builder::new(tls_config(install(&dir("early"), &pki))),
        Site::default(),
    )
    .bind()
    .await
    .unwrap();
    let tls = tokio_rustls::TlsConnector::from(trusting(&pki).config().clone());
    let connect = || async {
        let tcp = tokio::net::TcpStream::connect(server.local_addr())
            .await
            .unwrap();
        tls.connect("localhost".try_into().unwrap(), tcp)
            .await
            .unwrap()
    };
    let mut s = connect().await;
    let mut bytes =
        b"GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            .to_vec();
    bytes.extend_from_slice(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    s.write_all(&bytes).await.unwrap();
    let mut got = Vec::new();
    let want = b"\x81\x05Hello";
    while !got.ends_with(want) {
        let mut chunk = [0u8; 1024];
        let n = tokio::time::timeout(WAIT, s.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 101 "));
    drop(s);

    let mut s = connect().await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_string(&mut out))
        .await
        .unwrap();
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    drop(s);
    server.shutdown().await;
}

#[tokio::test]
async fn wss_broadcast_across_two_instances() {
    let pki = pki();
    let hub = MemoryHub::new();
    let tls = install(&dir("cluster"), &pki);
    let mut servers = Vec::new();
    for _ in 0..2 {
        servers.push(
            apps::mount(Builder::new(tls_config(tls.clone())), Site::default())
                .tina4_cluster(Arc::new(hub.transport()))
                .bind()
                .await
                .unwrap(),
        );
    }
    let trust = trusting(&pki);
    let mut a = wss(&servers[0], "/rooms/lobby", &trust).await.unwrap();
    let mut b = wss(&servers[1], "/rooms/lobby", &trust).await.unwrap();
    let mut b2 = wss(&servers[1], "/rooms/lobby", &trust).await.unwrap();
    // The memory backplane is live once subscribed (at bind), and the room once joined.
    for i in 0..20 {
        a.send(Message::text(format!("hi {i}"))).await.unwrap();
        assert_eq!(
            next(&mut b).await.as_text(),
            Some(format!("hi {i}").as_str())
        );
        assert_eq!(
            next(&mut b2).await.as_text(),
            Some(format!("hi {i}").as_str())
        );
    }
    b.send(Message::text("back")).await.unwrap();
    assert_eq!(next(&mut a).await.as_text(), Some("back"));
    assert_eq!(next(&mut b2).await.as_text(), Some("back"));
    drop((a, b, b2));
    for s in servers {
        s.shutdown().await;
    }
}

#[tokio::test]
async fn a_reload_takes_the_new_certificate_and_keeps_connections() {
    let (first, second) = (pki(), pki());
    let d = dir("reload");
    let server = apps::mount(
        Builder::new(tls_config(install(&d, &first))),
        Site::default(),
    )
    .bind()
    .await
    .unwrap();
    let mut old = wss(&server, "/echo", &trusting(&first)).await.unwrap();
    install(&d, &second);
    server.reload_tls().unwrap();
    // New handshakes present the new certificate...
    let mut fresh = wss(&server, "/echo", &trusting(&second)).await.unwrap();
    assert!(wss(&server, "/echo", &trusting(&first)).await.is_err());
    // ...and the connection made before the reload goes on.
    for ws in [&mut old, &mut fresh] {
        ws.send(Message::text("still")).await.unwrap();
        assert_eq!(next(ws).await.as_text(), Some("still"));
    }
    drop((old, fresh));
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_reload_keeps_the_last_good_certificate() {
    let good = pki();
    let d = dir("bad-reload");
    let paths = install(&d, &good);
    let server = apps::mount(Builder::new(tls_config(paths.clone())), Site::default())
        .bind()
        .await
        .unwrap();
    let mut before = wss(&server, "/echo", &trusting(&good)).await.unwrap();
    // A truncated certificate, then a key that does not match, then a missing key.
    std::fs::write(&paths.cert, &good.cert[..good.cert.len() / 2]).unwrap();
    let err = server.reload_tls().unwrap_err();
    assert!(err.to_string().contains("cert.pem"), "{err}");
    std::fs::write(&paths.cert, &good.cert).unwrap();
    std::fs::write(&paths.key, pki().key).unwrap();
    assert!(
        server.reload_tls().is_err(),
        "a key that is not the certificate's"
    );
    std::fs::remove_file(&paths.key).unwrap();
    assert!(
        server
            .reload_tls()
            .unwrap_err()
            .to_string()
            .contains("key.pem")
    );
    // Still serving, with the certificate it had.
    let mut after = wss(&server, "/echo", &trusting(&good)).await.unwrap();
    for ws in [&mut before, &mut after] {
        ws.send(Message::text("ok")).await.unwrap();
        assert_eq!(next(ws).await.as_text(), Some("ok"));
    }
    drop((before, after));
    server.shutdown().await;
    // A server whose pair does not load does not start.
    let err = Builder::new(tls_config(paths)).bind().await.unwrap_err();
    assert!(matches!(err, oyez_server::Error::Tls(_)), "{err}");
}

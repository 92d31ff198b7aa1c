//! The `ws-server` binary over `wss://`: started with a certificate made by rcgen at test
//! time, talked to by oyez-tokio's wss client, its certificate swapped and reloaded with
//! `SIGHUP` (a bad pair too, which must leave it serving with the last good one).

// Test helpers unwrap freely, as the tests themselves may.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use oyez_tokio::tls::{Connector, roots_from_pem};
use oyez_tokio::{CloseCode, Message, client::Builder};

const WAIT: Duration = Duration::from_secs(10);

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
    let leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca).unwrap();
    Pki {
        ca: ca.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn install(dir: &Path, pki: &Pki) {
    std::fs::write(dir.join("cert.pem"), &pki.cert).unwrap();
    std::fs::write(dir.join("key.pem"), &pki.key).unwrap();
}

/// The binary, killed when the test ends.
struct Binary(Child);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hangup(bin: &Binary) {
    let status = Command::new("kill")
        .args(["-HUP", &bin.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn echo_once(url: &str, trust: &Connector) -> Result<(), oyez_tokio::Error> {
    let (mut ws, _) = tokio::time::timeout(WAIT, Builder::new(url).tls(trust.clone()).connect())
        .await
        .expect("in time")?;
    ws.send(Message::text("ping over wss")).await?;
    let got = tokio::time::timeout(WAIT, ws.recv())
        .await
        .expect("in time");
    assert_eq!(got.unwrap()?, Message::text("ping over wss"));
    let _ = ws.close(CloseCode::NORMAL, "").await;
    Ok(())
}

fn trusting(pki: &Pki) -> Connector {
    Connector::with_roots(roots_from_pem(pki.ca.as_bytes()).unwrap()).unwrap()
}

#[tokio::test]
async fn the_binary_serves_wss_and_reloads_on_sighup() {
    let dir = std::env::temp_dir().join(format!("oyez-bin-wss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (first, second) = (pki(), pki());
    install(&dir, &first);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = Binary(
        Command::new(env!("CARGO_BIN_EXE_ws-server"))
            .env("TINA4_WS_PORT", port.to_string())
            .env("TINA4_WS_TLS_CERT", dir.join("cert.pem"))
            .env("TINA4_WS_TLS_KEY", dir.join("key.pem"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("wss://localhost:{port}/echo");
    let start = tokio::time::Instant::now();
    while echo_once(&url, &trusting(&first)).await.is_err() {
        assert!(start.elapsed() < WAIT, "the binary never served wss://");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A connection made before the reload, kept open across it.
    let (mut kept, _) = Builder::new(&url)
        .tls(trusting(&first))
        .connect()
        .await
        .unwrap();

    install(&dir, &second);
    hangup(&bin);
    let start = tokio::time::Instant::now();
    while echo_once(&url, &trusting(&second)).await.is_err() {
        assert!(
            start.elapsed() < WAIT,
            "SIGHUP did not reload the certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        echo_once(&url, &trusting(&first)).await.is_err(),
        "the old certificate is gone"
    );

    // A bad pair: logged, and the last good one stays.
    std::fs::write(dir.join("cert.pem"), "-----BEGIN CERTIFICATE-----\nnope\n").unwrap();
    hangup(&bin);
    tokio::time::sleep(Duration::from_millis(300)).await;
    echo_once(&url, &trusting(&second)).await.unwrap();

    kept.send(Message::text("still here")).await.unwrap();
    let got = tokio::time::timeout(WAIT, kept.recv()).await.unwrap();
    assert_eq!(got.unwrap().unwrap(), Message::text("still here"));
    drop(bin);
    let _ = std::fs::remove_dir_all(&dir);
}

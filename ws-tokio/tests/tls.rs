//! wss:// with a private CA and a certificate made by rcgen at test time.

use oyez_frame::CloseCode;
use oyez_tokio::tls::{Connector, roots_from_pem};
use oyez_tokio::{Error, Message, client::Builder};
use tokio::net::TcpListener;

use crate::common::{acceptor, test_pki, within};

/// A wss echo server (tokio-rustls, then this crate's accept); its port.
async fn wss_echo(pki: &crate::common::TestPki) -> u16 {
    let tls = acceptor(pki);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok(stream) = tls.accept(tcp).await else {
                    return;
                };
                let Ok(ws) = oyez_tokio::accept(stream).await else {
                    return;
                };
                // Split over TLS: tokio::io::split (a TLS stream has no native halves).
                let (mut rx, mut tx) = ws.split();
                while let Some(Ok(m)) = rx.recv().await {
                    if m.is_data() && tx.send(m).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn wss_echo_with_a_private_ca() {
    let pki = test_pki();
    let port = wss_echo(&pki).await;
    let connector = Connector::with_roots(roots_from_pem(pki.ca_pem.as_bytes()).unwrap()).unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let (mut ws, _) = within(
            Builder::new(format!("wss://{host}:{port}/echo"))
                .tls(connector.clone())
                .connect(),
        )
        .await
        .unwrap();
        for m in [
            Message::text("over tls"),
            Message::binary(vec![9u8; 300_000]),
        ] {
            ws.send(m.clone()).await.unwrap();
            assert_eq!(within(ws.recv()).await.unwrap().unwrap(), m);
        }
        let reply = within(ws.close(CloseCode::NORMAL, "")).await.unwrap();
        assert_eq!(reply.and_then(|f| f.code), Some(CloseCode::NORMAL));
    }
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let pki = test_pki();
    let port = wss_echo(&pki).await;
    let other_ca = test_pki();
    let connector =
        Connector::with_roots(roots_from_pem(other_ca.ca_pem.as_bytes()).unwrap()).unwrap();
    let err = within(
        Builder::new(format!("wss://localhost:{port}/"))
            .tls(connector)
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.to_string().contains("certificate")),
        "{err}"
    );
}

#[tokio::test]
async fn the_root_store_comes_from_a_feature() {
    let found = Connector::from_features();
    if cfg!(any(feature = "webpki-roots", feature = "native-roots")) {
        assert!(found.is_ok());
    } else {
        let err = found.unwrap_err();
        assert!(err.to_string().contains("webpki-roots"), "{err}");
        // And connect says so rather than panicking.
        let err = oyez_tokio::connect("wss://127.0.0.1:9/").await.unwrap_err();
        assert!(matches!(err, Error::Io(_) | Error::Tls(_)), "{err}");
    }
    assert!(roots_from_pem(b"not pem").is_err());
}

//! A `wss://` client: connects, sends each line of standard input as a text message and
//! prints what comes back. Talks to the `ws-server` binary serving TLS:
//!
//! ```sh
//! TINA4_WS_PORT=8443 TINA4_WS_TLS_CERT=cert.pem TINA4_WS_TLS_KEY=key.pem cargo run -p oyez
//! echo hello | cargo run -p oyez-tokio --example wss_client -- wss://localhost:8443/echo ca.pem
//! ```
//!
//! The second argument is a PEM file of the roots to trust (a private CA, or the server's
//! self-signed certificate); without it the `webpki-roots` / `native-roots` feature's store
//! is used. `cargo test -p oyez-tokio --example wss_client` runs it against a TLS echo server
//! with a certificate made at test time.

use std::process::ExitCode;

use oyez_tokio::tls::{Connector, roots_from_pem_file};
use oyez_tokio::{CloseCode, Error, Message, client::Builder};

/// Connects to `url` trusting `ca` (a PEM file) or the feature's roots, sends each line,
/// and returns the replies.
async fn run(url: &str, ca: Option<&str>, lines: Vec<String>) -> Result<Vec<String>, Error> {
    let connector = match ca {
        Some(path) => Connector::with_roots(roots_from_pem_file(path)?)?,
        None => Connector::from_features()?,
    };
    let (mut ws, _) = Builder::new(url).tls(connector).connect().await?;
    let mut replies = Vec::new();
    for line in lines {
        ws.send(Message::text(line)).await?;
        match ws.recv().await.transpose()? {
            Some(Message::Text(t)) => replies.push(t.as_str().to_owned()),
            Some(other) => replies.push(format!("{other:?}")),
            None => break,
        }
    }
    ws.close(CloseCode::NORMAL, "").await?;
    Ok(replies)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(url) = args.first() else {
        eprintln!("usage: wss_client wss://host:port/path [roots.pem] < lines");
        return ExitCode::from(2);
    };
    let lines: Vec<String> = std::io::stdin().lines().map_while(Result::ok).collect();
    match run(url, args.get(1).map(String::as_str), lines).await {
        Ok(replies) => {
            #[allow(clippy::print_stdout)] // the example's output
            for r in replies {
                println!("{r}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wss_client: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    use super::*;

    #[tokio::test]
    async fn talks_to_a_tls_echo_server() {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let ca_file =
            std::env::temp_dir().join(format!("oyez-wss-client-{}.pem", std::process::id()));
        std::fs::write(&ca_file, ca.pem()).unwrap();

        let config = rustls::ServerConfig::builder_with_provider(oyez_tokio::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from_pem_slice(cert.pem().as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap(),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = oyez_tokio::accept(acceptor.accept(tcp).await.unwrap())
                .await
                .unwrap();
            while let Some(Ok(m)) = ws.recv().await {
                if m.is_data() {
                    ws.send(m).await.unwrap();
                }
            }
        });
        let url = format!("wss://localhost:{port}/echo");
        let replies = run(&url, ca_file.to_str(), vec!["a".into(), "b".into()])
            .await
            .unwrap();
        assert_eq!(replies, ["a", "b"]);
        let _ = std::fs::remove_file(ca_file);
    }
}

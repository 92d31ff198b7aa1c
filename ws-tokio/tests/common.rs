//! Helpers: a raw peer that speaks frames by hand, and timeouts.

use std::future::Future;
use std::time::Duration;

use bytes::BytesMut;
use oyez_frame::{Decoder, Encoder, Frame, Limits, OpCode, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Fails the test instead of hanging.
pub(crate) async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("within 10 s")
}

/// The other end of a connection, frame by frame, in `role`.
pub(crate) struct RawPeer<S> {
    pub(crate) io: S,
    enc: Encoder,
    dec: Decoder,
    buf: BytesMut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> RawPeer<S> {
    pub(crate) fn new(io: S, role: Role) -> Self {
        Self {
            io,
            enc: Encoder::new(role),
            dec: Decoder::new(role, Limits::default()),
            buf: BytesMut::new(),
        }
    }

    pub(crate) async fn send(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) {
        let mut out = BytesMut::new();
        self.enc.encode(opcode, fin, payload, &mut out);
        self.io.write_all(&out).await.unwrap();
    }

    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }

    /// The next frame, or `None` at EOF.
    pub(crate) async fn frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.dec.decode(&mut self.buf).expect("a valid frame") {
                return Some(f);
            }
            if within(self.io.read_buf(&mut self.buf)).await.unwrap() == 0 {
                return None;
            }
        }
    }

    /// Whether the connection reaches EOF with nothing more on it.
    pub(crate) async fn eof(&mut self) -> bool {
        self.buf.is_empty() && within(self.io.read_buf(&mut self.buf)).await.unwrap_or(0) == 0
    }
}

/// The close code in a close frame's payload.
pub(crate) fn close_code(f: &Frame) -> u16 {
    assert_eq!(f.header.opcode, OpCode::Close);
    u16::from_be_bytes([f.payload[0], f.payload[1]])
}

/// A private CA and a certificate for `localhost` and `127.0.0.1` signed by it, made now.
pub(crate) struct TestPki {
    pub(crate) ca_pem: String,
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

pub(crate) fn test_pki() -> TestPki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "oyez test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let leaf =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca).unwrap();
    TestPki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// A tokio-rustls acceptor for `pki`'s certificate (ring provider, chosen explicitly).
pub(crate) fn acceptor(pki: &TestPki) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(pki.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(oyez_tokio::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))
}

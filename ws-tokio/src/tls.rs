//! TLS for `wss://`, through rustls (feature `rustls`).
//!
//! **The crypto provider is chosen here, explicitly:** every configuration this module makes
//! is built with [`provider`] (rustls' `ring` provider), never with rustls' process-level
//! default. So a program never meets the panic tokio-tungstenite users report (its issue
//! 336: "no process-level CryptoProvider available") when two crates in its tree enable
//! different providers, and never needs to install one. A program that wants another
//! provider (aws-lc-rs, a FIPS build) builds its own `rustls::ClientConfig` and hands it
//! to [`Connector::new`].
//!
//! **The root store is chosen by a feature:** `webpki-roots` (Mozilla's roots, compiled in)
//! or `native-roots` (the operating system's, loaded when the connector is made); with
//! neither, `wss://` needs a [`Connector`] with roots of your own (e.g.
//! [`roots_from_pem_file`] for a private CA). PEM files are read through
//! `rustls-pki-types` ([`PemObject`]), not the archived `rustls-pemfile`.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::Error;

/// The crypto provider this crate uses: rustls' `ring` provider.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// How a client makes TLS connections: a rustls client configuration. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Connector {
    config: Arc<ClientConfig>,
}

impl Connector {
    /// A connector with your own rustls configuration (any provider, client certificates,
    /// custom verification). Set its ALPN to `http/1.1` or nothing: a WebSocket over
    /// HTTP/1.1 cannot follow an `h2` negotiation.
    pub const fn new(config: Arc<ClientConfig>) -> Self {
        Self { config }
    }

    /// A connector that trusts `roots`, with [`provider`] and rustls' safe defaults
    /// (TLS 1.2 and 1.3), offering ALPN `http/1.1`.
    ///
    /// # Errors
    /// [`Error::Tls`] if the provider cannot make a configuration (it always can with the
    /// built-in provider).
    pub fn with_roots(roots: RootCertStore) -> Result<Self, Error> {
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self::new(Arc::new(config)))
    }

    /// A connector over the root store the crate's features choose: the operating system's
    /// (`native-roots`) added to Mozilla's (`webpki-roots`), whichever are enabled.
    ///
    /// # Errors
    /// [`Error::Tls`] when neither feature is enabled, or the system's store yields no
    /// certificate.
    pub fn from_features() -> Result<Self, Error> {
        #[allow(unused_mut)]
        let mut roots = RootCertStore::empty();
        #[cfg(feature = "webpki-roots")]
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        #[cfg(feature = "native-roots")]
        {
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 && roots.is_empty() {
                return Err(Error::Tls(format!(
                    "no usable certificate in the system's root store ({} errors)",
                    found.errors.len()
                )));
            }
        }
        if roots.is_empty() {
            return Err(Error::Tls(
                "no root store: enable the webpki-roots or native-roots feature, or connect with a tls::Connector of your own".to_owned(),
            ));
        }
        Self::with_roots(roots)
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// Runs the TLS handshake over `io` for `server_name` (a DNS name or an IP address).
    ///
    /// # Errors
    /// [`Error::Tls`] for a name that is neither; [`Error::Io`] for a failed handshake
    /// (a certificate not trusted, a name that does not match…).
    pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        server_name: &str,
        io: S,
    ) -> Result<TlsStream<S>, Error> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| Error::Tls(format!("not a DNS name or IP address: {server_name}")))?;
        Ok(TlsConnector::from(self.config.clone())
            .connect(name, io)
            .await?)
    }
}

/// A root store of the certificates in a PEM buffer (e.g. a private CA's).
///
/// # Errors
/// [`Error::Tls`] if the PEM does not parse, holds no certificate, or one is not a valid
/// trust anchor.
pub fn roots_from_pem(pem: &[u8]) -> Result<RootCertStore, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("pem: {e}")))?;
    roots_of(certs)
}

/// As [`roots_from_pem`], reading a file.
///
/// # Errors
/// As [`roots_from_pem`], and [`Error::Tls`] if the file cannot be read.
pub fn roots_from_pem_file(path: impl AsRef<Path>) -> Result<RootCertStore, Error> {
    let path = path.as_ref();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| Error::Tls(format!("{}: {e}", path.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("{}: {e}", path.display())))?;
    roots_of(certs)
}

fn roots_of(certs: Vec<CertificateDer<'static>>) -> Result<RootCertStore, Error> {
    if certs.is_empty() {
        return Err(Error::Tls("no certificate in the PEM".to_owned()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| Error::Tls(format!("not a trust anchor: {e}")))?;
    }
    Ok(roots)
}

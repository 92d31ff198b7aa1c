//! TLS for `wss://`: the certificate and key, loaded from PEM files, and their reload.
//!
//! The TLS handshake and the HTTP upgrade run on tokio (tokio-rustls); an upgraded
//! connection then moves to its shard with its `rustls::ServerConnection`, and the shard
//! drives rustls itself (`shard/tls.rs`). Plain connections never touch any of it.
//!
//! Reloading ([`crate::Server::reload_tls`], the binary's `SIGHUP`) reads both files again
//! and swaps the configuration new handshakes use; a pair that fails to load is reported and
//! the last good one stays. Established connections keep the session they negotiated.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rustls::ServerConfig as RustlsConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::Error;

/// Where the server's certificate chain and private key are (PEM files).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain, leaf first (PEM, one or more `CERTIFICATE` blocks).
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The configuration new TLS handshakes use, swapped on reload.
pub(crate) struct TlsStore {
    paths: TlsConfig,
    current: RwLock<TlsAcceptor>,
}

impl TlsStore {
    /// Loads the pair.
    ///
    /// # Errors
    /// [`Error::Tls`] naming the file and what is wrong with it.
    pub(crate) fn load(paths: TlsConfig) -> Result<Self, Error> {
        let acceptor = acceptor(&paths)?;
        Ok(Self {
            paths,
            current: RwLock::new(acceptor),
        })
    }

    /// The acceptor for a new connection.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the pair again; on success new handshakes use it, on failure nothing changes.
    pub(crate) fn reload(&self) -> Result<(), Error> {
        let fresh = acceptor(&self.paths)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        Ok(())
    }
}

/// A tokio-rustls acceptor for the pair, with rustls' `ring` provider chosen explicitly
/// (never the process-level default) and ALPN `http/1.1`.
fn acceptor(paths: &TlsConfig) -> Result<TlsAcceptor, Error> {
    let bad =
        |what: &PathBuf, e: &dyn std::fmt::Display| Error::Tls(format!("{}: {e}", what.display()));
    let certs = CertificateDer::pem_file_iter(&paths.cert)
        .map_err(|e| bad(&paths.cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&paths.cert, &e))?;
    if certs.is_empty() {
        return Err(bad(&paths.cert, &"no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(&paths.key).map_err(|e| bad(&paths.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = RustlsConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            Error::Tls(format!(
                "{} and {}: {e}",
                paths.cert.display(),
                paths.key.display()
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

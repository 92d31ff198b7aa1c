//! Reloading the TLS certificate.

use crate::{Error, Server};

impl Server {
    /// Reads the TLS certificate and key files again ([`crate::ServerConfig::tls`]): new
    /// handshakes use the new pair; established connections keep theirs. A pair that fails
    /// to load changes nothing (the last good one stays) and is returned as the error. The
    /// `ws-server` binary calls this on `SIGHUP`.
    ///
    /// # Errors
    /// [`Error::Tls`] naming the file and the reason; also when the server does not serve
    /// TLS.
    pub fn reload_tls(&self) -> Result<(), Error> {
        match &self.inner.tls {
            Some(store) => store.reload(),
            None => Err(Error::Tls("this server does not serve TLS".to_owned())),
        }
    }

    /// Whether the server serves `wss://`.
    pub fn is_tls(&self) -> bool {
        self.inner.tls.is_some()
    }
}

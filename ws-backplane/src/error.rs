//! The crate's error type. Broker client errors are boxed, so their types stay out of the API.

/// Errors from configuring or talking to a backplane.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration the crate cannot serve (a transport compiled out).
    #[error("invalid setting {name}={value:?}: {reason}")]
    Config {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The broker refused or failed an operation.
    #[error("{kind} backplane: {source}")]
    Backend {
        /// `redis` or `nats`.
        kind: &'static str,
        /// The client library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The broker is not connected right now (the publish was dropped).
    #[error("{0} backplane is disconnected")]
    Disconnected(&'static str),
    /// The transport was closed.
    #[error("the backplane is closed")]
    Closed,
}

impl Error {
    #[allow(dead_code)] // used only by the optional transports
    pub(crate) fn backend(
        kind: &'static str,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Backend {
            kind,
            source: Box::new(e),
        }
    }
}

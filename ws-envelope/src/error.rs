//! The crate's error type.

/// Why an envelope could not be decoded. A receiver drops such an envelope and counts it; it
/// never panics on any input.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not JSON (including invalid UTF-8 and lone surrogate escapes such as `\ud800`), or
    /// nested deeper than 128 levels.
    #[error("not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// JSON, but not an object.
    #[error("the envelope is not a JSON object")]
    NotObject,
    /// A Tina4 envelope with neither a string `text` nor a string `b64`.
    #[error("the envelope carries no message")]
    NoMessage,
    /// `b64` is not base64.
    #[error("b64 is not base64")]
    InvalidBase64,
    /// A required field is missing or has the wrong type.
    #[error("field `{0}` is missing or has the wrong type")]
    Field(&'static str),
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::Json(e)
    }
}

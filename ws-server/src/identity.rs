//! Who a connection is, as its upgrade decided ([`Identity`]).

/// Who a connection is: a user, one of the user's sessions, and optional JSON metadata.
/// Attached by an [`UpgradeHook`](crate::upgrade::UpgradeHook) with
/// [`Decision::with_identity`](crate::upgrade::Decision::with_identity), it becomes the
/// connection's user session (namespace: its path) for its whole life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub(crate) user_id: String,
    pub(crate) session_id: Option<String>,
    pub(crate) metadata: Option<String>,
}

impl Identity {
    /// User `user_id`, in a session whose id the server makes (random, 32 hex digits).
    pub fn new(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            session_id: None,
            metadata: None,
        }
    }

    /// The session's id (unique across the cluster: the mega roster keys on it), instead of
    /// one the server makes.
    #[must_use]
    pub fn with_session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// Metadata, as JSON text (shown in the roster); text that is not JSON refuses the
    /// upgrade (500: the hook's bug).
    #[must_use]
    pub fn with_metadata(mut self, json: impl Into<String>) -> Self {
        self.metadata = Some(json.into());
        self
    }

    /// The user.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The session id given, if any.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The metadata given, if any.
    pub fn metadata(&self) -> Option<&str> {
        self.metadata.as_deref()
    }
}

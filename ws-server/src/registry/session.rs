//! User sessions: the mega-style presence model.

/// A user session joined on a connection ([`crate::Server::join_session`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The namespace (the connection's path).
    pub ns: String,
    /// The user.
    pub user_id: String,
    /// The session id, unique across the cluster.
    pub session_id: String,
    /// Optional JSON metadata, as raw JSON text.
    pub metadata: Option<String>,
}

/// Sessions as the HTTP roster endpoints return them: `[{sessionId, userId, metadata?}]`.
pub(crate) fn roster_json(sessions: &[SessionInfo]) -> String {
    let mut out = String::from("[");
    for (i, s) in sessions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"sessionId\":");
        out.push_str(&serde_json::Value::from(s.session_id.as_str()).to_string());
        out.push_str(",\"userId\":");
        out.push_str(&serde_json::Value::from(s.user_id.as_str()).to_string());
        if let Some(m) = &s.metadata {
            out.push_str(",\"metadata\":");
            out.push_str(m);
        }
        out.push('}');
    }
    out.push(']');
    out
}

//! What is kept of an upgrade request for [`crate::Handler::on_open`].

/// The upgrade request's headers, handed to `on_open` only: an idle connection keeps no copy
/// of its request.
#[derive(Debug)]
pub(crate) struct RequestInfo {
    pub(crate) headers: Vec<(String, Vec<u8>)>,
}

impl RequestInfo {
    /// A copy of `req`'s headers.
    pub(crate) fn of(req: &oyez_frame::handshake::server::Request) -> Self {
        Self {
            headers: req
                .headers()
                .map(|(n, v)| (n.to_owned(), v.to_vec()))
                .collect(),
        }
    }
}

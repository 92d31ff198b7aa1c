//! permessage-deflate at the upgrade: what to agree to, as the server's settings allow.

use oyez_frame::deflate::{Agreed, DeflateConfig};
use oyez_frame::handshake::server::{Request, negotiate_deflate};

/// The `Sec-WebSocket-Extensions` header of the 101 and what the connection's session
/// applies, when the client offers permessage-deflate acceptably and the server has it on
/// (`config`); `None` otherwise (and for Safari 15.0 to 15.3, which mishandle the
/// `client_no_context_takeover` the server asks for: see
/// [`negotiate_deflate`]).
pub(super) fn negotiate(req: &Request, config: Option<&DeflateConfig>) -> Option<(String, Agreed)> {
    let config = config?;
    let params = negotiate_deflate(req, config)?;
    Some((params.to_string(), params.agreed(config)))
}

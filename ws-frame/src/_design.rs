//! Design notes: the choices behind the defaults and policies, and why.
//!
//! This module holds no code; it is documentation, in the manner of rustls' `manual`.
//!
//! # Strictness
//!
//! The codec follows RFC 6455 to the letter and fails the connection on every violation, with
//! the close code of §7.4.1:
//!
//! | violation | error | close code |
//! | --- | --- | --- |
//! | reserved opcode (0x3–0x7, 0xB–0xF) | [`Error::ReservedOpcode`] | 1002 |
//! | RSV bit set with no extension defining it | [`Error::ReservedBits`] | 1002 |
//! | unmasked frame to a server / masked frame to a client | [`Error::MaskMissing`] / [`Error::MaskUnexpected`] | 1002 |
//! | control frame not final, or over 125 bytes (ping, pong **and** close) | [`Error::ControlFragmented`] / [`Error::ControlTooLong`] | 1002 |
//! | continuation with no message open; new data frame while one is open | [`Error::UnexpectedContinuation`] / [`Error::ExpectedContinuation`] | 1002 |
//! | non-minimal length; 64-bit length with the top bit set | [`Error::NonMinimalLength`] / [`Error::LengthOverflow`] | 1002 |
//! | close payload of 1 byte; close code not allowed on the wire | [`Error::InvalidClosePayload`] / [`Error::InvalidCloseCode`] | 1002 |
//! | invalid UTF-8 in a text message or a close reason, or a text message ending mid-sequence | [`Error::InvalidUtf8`] | 1007 |
//! | frame, message or fragment count over its limit | [`Error::FrameTooLarge`] / [`Error::MessageTooLarge`] / [`Error::TooManyFragments`] | 1009 |
//!
//! Every check happens as early as the bytes allow: header rules when the header is complete
//! (before any payload is buffered), UTF-8 on each piece of payload as it arrives (so a text
//! frame that turns invalid midway fails at that byte, which Autobahn's 6.4.x cases check),
//! close payload rules when the close frame is complete.
//!
//! # Lengths: only the minimal form
//!
//! §5.2 says "the minimal number of bytes MUST be used to encode the length". The encoder
//! always does; the decoder rejects anything else with 1002 (as tokio-websockets does), which
//! also closes a covert channel and a parser-differential risk.
//!
//! # RSV bits and the extension hook
//!
//! With no extension negotiated every RSV bit is an error. [`Decoder::set_extension_rsv`]
//! accepts given bits on the *first* frame of a data message, the only place RFC 7692
//! (permessage-deflate) sets RSV1; control and continuation frames must keep them clear. A
//! message whose first frame has RSV1 set skips the UTF-8 check here: its payload is not text
//! until the extension inflates it, and the extension validates it then.
//!
//! # permessage-deflate (feature `deflate`)
//!
//! The session applies it (`Session::set_deflate`); its rules, close codes and memory
//! figures are in the `deflate` module. The choices, in short:
//!
//! - **Never our own context.** Every message is compressed on its own, with the thread's
//!   compressor reset first; a server always answers `server_no_context_takeover`. That is
//!   what lets a broadcast be compressed once for all its recipients, and keeps compression
//!   state off the connections.
//! - **No inflater per connection.** Inflaters come from a small per-thread pool for one
//!   message; a peer that keeps its context keeps, with its connection, only its window's
//!   bytes (exactly 2^w), handed to the borrowed inflater as its dictionary.
//! - **Inflate as bytes arrive**, as the decoder unmasks them, with UTF-8 checked on the
//!   inflated bytes and the message limit on the inflated size: a bomb or bad text fails
//!   after the bytes that prove it (1009 or 1007), not after its frame. Corrupt deflate data
//!   is 1007 (as Node `ws` answers it).
//! - **Window bits 8** is compressed with zlib's 9, whose matches never reach back more than
//!   250 bytes (zlib's longest distance is the window less 262), which fits the 256-byte
//!   window 8 asks for; Chromium does the same. zlib and zlib-rs refuse 8 for raw deflate.
//! - **Errors from the extension** are recorded in the decoder, as if it had found them, so
//!   the one-error rule and the deferral behind earlier messages hold for them too.
//!
//! # Limits and their defaults
//!
//! | limit | default | why |
//! | --- | --- | --- |
//! | [`Limits::max_frame_payload`] | 16 MiB | Autobahn 9.1.6 / 9.2.6 send 16 MiB single frames; the same as tungstenite's frame limit |
//! | [`Limits::max_message_size`] | 64 MiB | tungstenite's default, familiar to its users |
//! | [`Limits::max_fragments`] | 131,072 | Autobahn 9.3.1 / 9.4.1 send 4 MiB in 64-byte fragments (65,536 frames); twice that bounds a flood of empty fragments |
//! | [`Limits::max_handshake_bytes`] | 16 KiB | headers with cookies fit; a slow-loris head is cut off |
//! | [`Limits::max_handshake_headers`] | 64 | likewise |
//!
//! Limits are checked before memory is reserved, and the decoder reserves at most
//! [`MAX_RESERVE`] (1 MiB) or twice what has arrived for a frame in progress, so a peer that
//! announces a 16 MiB frame and stalls holds 1 MiB of our memory, not 16 MiB, while a frame
//! that really arrives grows its buffer geometrically (moved a few times at most). The rule
//! lives in the decoder only: a caller that sizes a buffer for a frame before decoding it
//! (moving a frame longer than its read out of a shared read buffer, say) asks
//! [`Decoder::buffer_room`] or [`Session::buffer_room`], and `decode` then finds the room it
//! wants there and moves nothing.
//!
//! # Close codes
//!
//! [`CloseCode::is_valid_on_wire`] accepts 1000–1003, 1007–1014 and 3000–4999: the codes of
//! §7.4.1, the codes IANA registered since (1012 service restart, 1013 try again later, 1014
//! bad gateway), and the ranges for libraries and applications. 1004–1006 and 1015 are
//! reserved values that must never be sent; 0–999, 1016–2999 and 5000+ are unassigned. A
//! close frame that carries no code is answered with 1000 and reported as 1005.
//!
//! # Allocation
//!
//! The decoder does not allocate beyond growing the caller's buffer: payloads leave it by
//! `BytesMut::split_to(..).freeze()`, which is O(1) (the first split of a `Vec`-backed buffer
//! allocates one shared header; later ones only bump a count). A fragmented message is copied
//! once into its own buffer as it is put together. A busy [`Session`] keeps its transmit
//! queue, its event queue and one own-frame buffer in one box: the frames it encodes wait in
//! that buffer itself (never split off, so no reference count per message) and the next ones
//! are written at the same place once they are out; [`Session::shrink`] lets the box go, so
//! an idle session holds no buffer.
//!
//! # Size
//!
//! A server keeps one [`Session`] per connection, most of them idle, so the session is kept
//! small: 240 bytes on 64-bit targets (a test in `oyez-server` holds it there). Limits and
//! timer settings are stored as 32-bit values (milliseconds for times; see [`Limits`] and
//! [`crate::session::Config`]), the session keeps its limits only in its decoder, the
//! protocol error only in the decoder (the session's state says whether it took effect),
//! and rare state (a fragmented message being put together, permessage-deflate's state, a
//! client's mask source) is boxed.
//!
//! A broadcast is encoded once into a [`SharedFrame`]; [`Session::send_shared`] queues the
//! same bytes for every server session.
//!
//! # Safety
//!
//! `#![forbid(unsafe_code)]`. Masking XORs `u64`s over 128-byte blocks (`as_chunks_mut`),
//! which the compiler turns into 16-byte vector XORs, eight per loop branch; measured as fast
//! as unsafe word-at-a-time versions (see the `mask` bench in `oyez-benches`).
//! `Utf8Bytes::as_str` re-checks UTF-8 rather than use `from_utf8_unchecked`.

#[allow(unused_imports)]
use crate::{CloseCode, Decoder, Error, Limits, MAX_RESERVE, Session, SharedFrame};

//! `ws-envelope`: the cross-instance broadcast envelopes of two existing frameworks, encoded
//! byte for byte as they emit them, so that our server and theirs relay each other's
//! broadcasts over the same Redis or NATS.
//!
//! **What it does not do:** no I/O, no broker client, no delivery. It turns envelopes into
//! bytes and back; [`ws-backplane`](https://docs.rs/ws-backplane) moves the bytes and the
//! server delivers them. It does not depend on the WebSocket codec: an envelope is a payload.
//!
//! # The wire contract
//!
//! Both frameworks serialise with `JSON.stringify`: no whitespace, keys in insertion order,
//! `JSON.stringify` string escaping (which serde_json's compact output matches). Our encoders
//! write exactly those bytes; the tests check every golden vector the reference code emitted.
//!
//! **Tina4** ([`tina4`]), one channel/subject `tina4:ws` for every instance:
//! `{"src":S,"kind":"all"|"path"|"room","exclude":E|null,"room":R|null,"path":P|null,"text":T}`
//! or `…,"b64":B}` (standard base64 with padding) for binary.
//!
//! **mega** ([`mega`]), subjects `<prefix>.<app>.bcast|direct|roster` (prefix `mega.ws`):
//! `{"o","ns","channel"?,"message","exceptSessionIds"?}`, `{"o","userId","message"}`,
//! `{"o","op":"add","member"}`, `{"o","op":"remove","sessionId"}`,
//! `{"o","op":"heartbeat","members"}`, `{"o","op":"sync_request"}`; a member is
//! `{"ns","sessionId","userId","metadata"?}`. `message`, `payload`, `userId` and `metadata`
//! are relayed as raw JSON, never re-serialised.
//!
//! Instance ids: [`new_instance_id`] (16 lowercase hex, UUIDv4-style); peers compare them by
//! equality only.
//!
//! ```
//! use ws_envelope::tina4::{Envelope, Kind, Payload};
//!
//! let wire = br#"{"src":"3f2a9c1b7e4d4a08","kind":"all","exclude":null,"room":null,"path":null,"text":"hello"}"#;
//! let env = Envelope::decode(wire)?;
//! assert_eq!((env.kind, &env.payload), (Kind::All, &Payload::Text("hello".into())));
//! assert_eq!(env.encode(), wire); // byte for byte
//! # Ok::<(), ws_envelope::Error>(())
//! ```
//!
//! # Where we are stricter or looser than the reference
//!
//! | case | reference | here |
//! | --- | --- | --- |
//! | malformed JSON, non-object | dropped silently | [`Error`]; the backplane drops and counts it |
//! | invalid UTF-8 in the payload | Node's `TextDecoder` substitutes U+FFFD | [`Error::Json`]: dropped (we never deliver text we did not receive) |
//! | lone surrogate escape `\ud800` (T14) in a field we read (`text`, `src`, `ns`, …) | Node delivers U+FFFD | [`Error::Json`]: dropped, because a Rust `String` cannot hold it and a lossy substitution would forward different text |
//! | the same escape inside relayed raw JSON (mega `message`, `userId`, `metadata`) | passed on | passed on verbatim (we never parse it) |
//! | a field we do not read holding something odd (a number beyond `f64`, deep nesting) | ignored | ignored: top-level values are kept raw and only the fields we read are parsed |
//! | unknown or missing Tina4 `kind` (T3) | delivered to all | the same ([`tina4::Kind::All`]) |
//! | `text` not a string but `b64` is (T5) | Node: binary | the same (we follow Node, not tina4-python) |
//! | neither `text` nor `b64` a string | dropped | [`Error::NoMessage`] |
//! | `b64` decoding (T7) | Node: any junk skipped | standard or URL-safe alphabet, padding optional, whitespace ignored; other junk is [`Error::InvalidBase64`] |
//! | `exclude` `""` (T8) | no exclusion | the same (`None`) |
//! | tina4-python spacing and `\u` escapes (T15) | — | decoded like Node's; we always emit Node's bytes |
//! | mega `message` `null` | dropped (falsy) | [`Error::Field`] |
//! | mega roster member without string `ns`/`sessionId` | ignored | skipped in a heartbeat, [`Error::Field`] for `add` |
//! | mega `exceptSessionIds` not an array of strings | passed through unvalidated | treated as empty |
//! | mega unknown `op` | ignored | [`mega::RosterOp::Unknown`], for the receiver to ignore |
//!
//! Nesting deeper than 128 levels is an error (serde_json's recursion limit), never a stack
//! overflow.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod instance_id;
mod json;

pub mod mega;
pub mod tina4;

pub use error::Error;
pub use instance_id::new_instance_id;

//! `oyez-envelope`: the cross-instance broadcast envelopes of two existing frameworks (the
//! Tina4 backplane and the mega ws-cluster), encoded byte for byte as they emit them, so that
//! our server and theirs relay each other's broadcasts over the same Redis or NATS.
//!
//! **What it does:** encode an envelope to the exact bytes the reference emits; decode the
//! raw bytes a broker delivers (`decode(&[u8]) -> Result<_, Error>`, never a panic) as
//! tolerantly as the reference; peek at the sender's instance id without decoding
//! ([`tina4::peek_src`], [`mega::peek_o`]) for the echo guard; name the channels and subjects
//! ([`tina4::TINA4_CHANNEL`], [`mega::Subjects`]); make instance ids ([`new_instance_id`]).
//!
//! **What it does not do:** no I/O, no broker client, no delivery, no roster state, no
//! size limits. It turns envelopes into bytes and back;
//! [`oyez-backplane`](https://docs.rs/oyez-backplane) moves the bytes and the server delivers
//! them. It does not depend on the WebSocket codec: an envelope is a payload.
//!
//! (The same code is the example in the crate's README.)
//!
//! ```
//! use oyez_envelope::tina4::{Envelope, Kind, Payload, peek_src};
//!
//! fn main() -> Result<(), oyez_envelope::Error> {
//!     // A broadcast another instance published on `tina4:ws`.
//!     let wire = br#"{"src":"3f2a9c1b7e4d4a08","kind":"all","exclude":null,"room":null,"path":null,"text":"hello"}"#;
//!     assert_eq!(peek_src(wire).as_deref(), Some("3f2a9c1b7e4d4a08")); // echo guard: not ours
//!     let env = Envelope::decode(wire)?;
//!     assert_eq!((env.kind, &env.payload), (Kind::All, &Payload::Text("hello".into())));
//!     assert_eq!(env.encode(), wire); // byte for byte
//!     Ok(())
//! }
//! ```
//!
//! # The wire contract
//!
//! Both frameworks serialise with `JSON.stringify` and send UTF-8: no whitespace, keys in
//! insertion order, `JSON.stringify` string escaping (`\"`, `\\`, `\b \f \n \r \t`, other
//! controls as lowercase `\u00xx`, everything else literal UTF-8), which serde_json's compact
//! output matches. Our encoders write exactly those bytes. `tests/golden/` is a committed copy
//! of the bytes the reference code emitted (`MANIFEST.tsv`: file, channel or subject, size,
//! sha256); the tests check each file's sha256, check the copy against
//! `../../shared/reference/golden` when that directory exists, and require every Node and
//! mega vector to decode and re-encode byte for byte.
//!
//! **Tina4** ([`tina4`]), one channel/subject `tina4:ws` for every instance:
//! `{"src":S,"kind":"all"|"path"|"room","exclude":E|null,"room":R|null,"path":P|null,"text":T}`
//! or `…,"b64":B}` (standard base64 with padding) for binary.
//!
//! **mega** ([`mega`]), subjects `<prefix>.<app>.bcast|direct|roster` (prefix `mega.ws`):
//! `{"o","ns","channel"?,"message","exceptSessionIds"?}`, `{"o","userId","message"}`,
//! `{"o","op":"add","member"}`, `{"o","op":"remove","sessionId"}`,
//! `{"o","op":"heartbeat","members"}`, `{"o","op":"sync_request"}`; a member is
//! `{"ns","sessionId","userId","metadata"?}`. `channel` is absent unless given (and may be
//! `null` if given as such, [`mega::Channel`]); `exceptSessionIds` is absent unless non-empty.
//! `message`, `payload`, `userId` and `metadata` are relayed as raw JSON
//! ([`serde_json::value::RawValue`]), never re-serialised: key order, spacing, big numbers and
//! `1.0` survive.
//!
//! **Instance ids** ([`new_instance_id`]): 16 lowercase hex characters, the first 16 hex digits
//! of a random UUIDv4 (hex digit 12 is `4`), exactly the Tina4 `src` format. We use the same
//! format for mega's `o`: mega's own ids are about 16 characters of `[0-9a-z]`, and both
//! references compare ids by string equality only, so peers accept ours (M1).
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
//! overflow; inside a relayed raw value nesting is skipped without recursion and carried
//! verbatim.
//!
//! # Decisions on the reference's quirks (WIRE-SPEC T1–T15, M1–M13)
//!
//! * **T1** `exclude` holds one id; a publisher with several passes the first.
//! * **T2** [`tina4::Envelope::encode`] writes what it is given, so `kind:"path"` with
//!   `path:""` gives Node's bytes (golden `edge-path-empty-string`). On receipt it stays
//!   [`tina4::Kind::Path`] and [`tina4::Envelope::targets`] reaches nobody (Node). The
//!   tina4-python form (`kind:"all"`, `path:""`) decodes as [`tina4::Kind::All`] and reaches
//!   everyone, as it does on every reference receiver. Refusing an empty path belongs to the
//!   publishing API (oyez-server), not to this crate.
//! * **T3, T8** as the reference (table above).
//! * **T4, M12** not silent: every drop is an [`Error`] value, for the caller to count.
//! * **T5** Node's rule: a string `text` wins; otherwise a string `b64`; otherwise
//!   [`Error::NoMessage`]. The tina4-python behaviour (drop on `"text":null`, prune on a
//!   non-string) is not reproduced.
//! * **T6, M3** the echo guard is string equality on `src`/`o`; an envelope without one has
//!   `src == ""` / `o == None` and a `None` peek, so it is never taken for our own. Never
//!   re-publishing is the backplane's rule.
//! * **T7** emit standard padded base64; accept standard or URL-safe, padding optional,
//!   whitespace ignored; anything else (junk characters, data after `=`) is
//!   [`Error::InvalidBase64`] rather than Node's silent skipping.
//! * **T9, T12 (listener survival), M4–M7, M9, M10, M13** transport and roster behaviour:
//!   oyez-backplane's, not this crate's. For T12 this crate guarantees that it never emits
//!   invalid UTF-8 (everything is written from `str`) and that invalid UTF-8 input is an error.
//! * **T10** not applicable here: the envelope carries `path` verbatim (a query string
//!   included); how paths are matched is the server's decision.
//! * **T11** empty `text` and empty binary (`"b64":""`) are valid and round-trip.
//! * **T13** no size limit in this crate: decoding accepts any size (tested with
//!   multi-megabyte strings), and the encoders return the exact bytes, so refusing an
//!   oversize publish (NATS `max_payload`, 1 MiB by default: binary above about 786 KB) is
//!   the transport's job, as is keeping local delivery unaffected by it.
//! * **T14** a lone surrogate escape in a field we read is an [`Error::Json`] and the envelope
//!   is dropped (Node would deliver U+FFFD). In relayed raw JSON it is carried verbatim; in a
//!   mega `o` it makes the id unreadable (`None`), so the envelope is not taken for our own.
//! * **T15** tina4-python vectors are not byte-identical (spacing, `\u` escapes): the tests
//!   check that each decodes to the same envelope as its Node twin (except T2's); we always
//!   emit Node's bytes.
//! * **M2** [`mega::Channel`] keeps absent, `null` and a name apart; `exceptSessionIds` is
//!   written only when non-empty; raw values are relayed verbatim.
//! * **M8** a [`mega::Member`] keeps `userId` and `metadata` raw and unvalidated (a `null` or
//!   `{}` metadata re-encodes as it came); the roster's keying and truthiness rules are the
//!   backplane's.
//! * **M11** [`mega::Subjects::new`] uses prefix and app verbatim, without validation.
#![forbid(unsafe_code)]
#![cfg_attr(not(fuzzing), warn(missing_docs))]

mod error;
mod instance_id;
mod json;

pub mod mega;
pub mod tina4;

#[doc(hidden)]
pub mod __fuzz;

pub use error::Error;
pub use instance_id::new_instance_id;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

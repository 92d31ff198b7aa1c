//! The Tina4 backplane envelope, on the `tina4:ws` channel.

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};

use crate::Error;
use std::borrow::Cow;

use crate::json::{fields, peek_string, push_key, push_opt_str, push_str, take_string};

/// The one channel (Redis) or subject (NATS) every Tina4 instance publishes and subscribes on.
pub const TINA4_CHANNEL: &str = "tina4:ws";

/// Which local connections a receiver delivers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Every connection.
    All,
    /// Connections whose path equals the envelope's `path`.
    Path,
    /// Members of the envelope's `room`.
    Room,
}

impl Kind {
    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Path => "path",
            Self::Room => "room",
        }
    }
}

/// The message an envelope carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// A text message: `"text"` on the wire.
    Text(String),
    /// A binary message: `"b64"` on the wire, standard base64 with padding.
    Binary(Vec<u8>),
}

/// A Tina4 broadcast envelope:
/// `{"src":S,"kind":K,"exclude":E,"room":R,"path":P,"text":T}` or `…,"b64":B}`.
///
/// ```
/// use oyez_envelope::tina4::{Envelope, Kind, Payload};
///
/// let env = Envelope {
///     src: "3f2a9c1b7e4d4a08".into(),
///     kind: Kind::Room,
///     exclude: Some("c1".into()),
///     room: Some("lobby".into()),
///     path: None,
///     payload: Payload::Binary(vec![0, 1, 2, 0x80, 0xff]),
/// };
/// let bytes = env.encode();
/// assert_eq!(
///     bytes,
///     br#"{"src":"3f2a9c1b7e4d4a08","kind":"room","exclude":"c1","room":"lobby","path":null,"b64":"AAECgP8="}"#
/// );
/// assert_eq!(Envelope::decode(&bytes)?, env);
/// # Ok::<(), oyez_envelope::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The publisher's instance id (the echo guard compares it with ours). Empty when the
    /// envelope had none (such an envelope is never taken for our own).
    pub src: String,
    /// Which connections to deliver to.
    pub kind: Kind,
    /// One connection id that receivers skip.
    pub exclude: Option<String>,
    /// The room, for [`Kind::Room`].
    pub room: Option<String>,
    /// The path, for [`Kind::Path`].
    pub path: Option<String>,
    /// The message.
    pub payload: Payload,
}

impl Envelope {
    /// The envelope as the reference emits it: keys in its order, `null` for absent
    /// `exclude`/`room`/`path`, `JSON.stringify` escaping, no whitespace.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + payload_len(&self.payload));
        out.push(b'{');
        push_key(&mut out, true, "src");
        push_str(&mut out, &self.src);
        push_key(&mut out, false, "kind");
        push_str(&mut out, self.kind.as_str());
        push_key(&mut out, false, "exclude");
        push_opt_str(&mut out, self.exclude.as_deref());
        push_key(&mut out, false, "room");
        push_opt_str(&mut out, self.room.as_deref());
        push_key(&mut out, false, "path");
        push_opt_str(&mut out, self.path.as_deref());
        match &self.payload {
            Payload::Text(text) => {
                push_key(&mut out, false, "text");
                push_str(&mut out, text);
            }
            Payload::Binary(data) => {
                push_key(&mut out, false, "b64");
                out.push(b'"');
                out.extend_from_slice(general_purpose::STANDARD.encode(data).as_bytes());
                out.push(b'"');
            }
        }
        out.push(b'}');
        out
    }

    /// Decodes an envelope as tolerantly as the reference (Node) receiver:
    /// unknown fields are ignored; an unknown or missing `kind` means [`Kind::All`]; a
    /// non-string `src`, `exclude`, `room` or `path` counts as absent, and so does an empty
    /// `exclude`; a string `text` wins over `b64`.
    ///
    /// # Errors
    /// [`Error::Json`] for anything that is not JSON (including invalid UTF-8 and lone
    /// surrogate escapes), [`Error::NotObject`], [`Error::NoMessage`] when neither `text`
    /// nor `b64` is a string, [`Error::InvalidBase64`].
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut map = fields(bytes)?;
        let payload = match (
            take_string(&mut map, "text")?,
            take_string(&mut map, "b64")?,
        ) {
            (Some(text), _) => Payload::Text(text),
            (None, Some(b64)) => Payload::Binary(decode_base64(&b64)?),
            (None, None) => return Err(Error::NoMessage),
        };
        let kind = match take_string(&mut map, "kind")?.as_deref() {
            Some("room") => Kind::Room,
            Some("path") => Kind::Path,
            _ => Kind::All,
        };
        Ok(Self {
            src: take_string(&mut map, "src")?.unwrap_or_default(),
            kind,
            exclude: take_string(&mut map, "exclude")?.filter(|e| !e.is_empty()),
            room: take_string(&mut map, "room")?,
            path: take_string(&mut map, "path")?,
            payload,
        })
    }

    /// Whether a receiver delivers this envelope to a connection with `conn_id`, on
    /// `conn_path`, in rooms `in_room` (the reference's rules: a `room`/`path` envelope with
    /// an empty or missing name reaches nobody; `exclude` skips one id).
    pub fn targets(&self, conn_id: &str, conn_path: &str, in_room: impl Fn(&str) -> bool) -> bool {
        if self.exclude.as_deref() == Some(conn_id) {
            return false;
        }
        match self.kind {
            Kind::All => true,
            Kind::Path => self
                .path
                .as_deref()
                .is_some_and(|p| !p.is_empty() && p == conn_path),
            Kind::Room => self
                .room
                .as_deref()
                .is_some_and(|r| !r.is_empty() && in_room(r)),
        }
    }
}

/// Reads just `src` from an encoded envelope, for an echo guard that drops our own envelopes
/// before decoding the message. Cheap: no other value is parsed or copied, and the id is
/// borrowed from `bytes` (it has no escapes when a peer made it). `None` if absent, not a
/// string, or not a JSON object; such an envelope is never our own.
///
/// ```
/// let wire = br#"{"src":"3f2a9c1b7e4d4a08","kind":"all","exclude":null,"room":null,"path":null,"text":"hi"}"#;
/// assert_eq!(oyez_envelope::tina4::peek_src(wire).as_deref(), Some("3f2a9c1b7e4d4a08"));
/// ```
pub fn peek_src(bytes: &[u8]) -> Option<Cow<'_, str>> {
    peek_string(bytes, "src")
}

fn payload_len(p: &Payload) -> usize {
    match p {
        Payload::Text(t) => t.len(),
        Payload::Binary(b) => b.len().div_ceil(3) * 4,
    }
}

/// Standard or URL-safe alphabet, padding optional, ASCII whitespace ignored (Node's
/// `Buffer.from(s, "base64")` accepts all of these); anything else is an error where Node
/// would skip the junk.
fn decode_base64(s: &str) -> Result<Vec<u8>, Error> {
    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);
    let compact: Cow<'_, str> = if s.bytes().any(|b| b.is_ascii_whitespace()) {
        s.chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect::<String>()
            .into()
    } else {
        s.into()
    };
    STANDARD
        .decode(compact.as_bytes())
        .or_else(|_| URL_SAFE.decode(compact.as_bytes()))
        .map_err(|_| Error::InvalidBase64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(payload: Payload) -> Envelope {
        Envelope {
            src: "abc".into(),
            kind: Kind::All,
            exclude: None,
            room: None,
            path: None,
            payload,
        }
    }

    #[test]
    fn tolerance_matches_node() {
        let e = Envelope::decode(br#"{"kind":"weird","text":"t","extra":[1,2]}"#).unwrap();
        assert_eq!(
            (e.kind, e.src.as_str(), e.payload),
            (Kind::All, "", Payload::Text("t".into()))
        );
        let e = Envelope::decode(br#"{"text":null,"b64":"AQI="}"#).unwrap();
        assert_eq!(
            e.payload,
            Payload::Binary(vec![1, 2]),
            "a non-string text does not win (Node, T5)"
        );
        let e = Envelope::decode(br#"{"text":"t","b64":"AQI="}"#).unwrap();
        assert_eq!(e.payload, Payload::Text("t".into()));
        let e = Envelope::decode(br#"{"exclude":"","room":5,"text":""}"#).unwrap();
        assert_eq!((e.exclude, e.room), (None, None));
    }

    #[test]
    fn rejections() {
        assert!(matches!(Envelope::decode(b"[1]"), Err(Error::NotObject)));
        assert!(matches!(Envelope::decode(b"null"), Err(Error::NotObject)));
        assert!(matches!(
            Envelope::decode(br#"{"src":"a"}"#),
            Err(Error::NoMessage)
        ));
        assert!(matches!(
            Envelope::decode(br#"{"text":1}"#),
            Err(Error::NoMessage)
        ));
        assert!(matches!(
            Envelope::decode(br#"{"b64":"!!"}"#),
            Err(Error::InvalidBase64)
        ));
        assert!(matches!(
            Envelope::decode(br#"{"text":"a"#),
            Err(Error::Json(_))
        ));
        assert!(matches!(
            Envelope::decode(br#"{"text":"\ud800"}"#),
            Err(Error::Json(_))
        ));
        assert!(matches!(
            Envelope::decode(b"{\"text\":\"\xff\"}"),
            Err(Error::Json(_))
        ));
    }

    #[test]
    fn lenient_base64() {
        for s in ["AQID", "AQID\n", "AQ", "AQ==", "-_8", "+/8="] {
            assert!(decode_base64(s).is_ok(), "{s}");
        }
        assert_eq!(
            decode_base64("-_8").unwrap(),
            decode_base64("+/8=").unwrap()
        );
    }

    #[test]
    fn targets_follow_the_reference() {
        let mut e = env(Payload::Text(String::new()));
        assert!(e.targets("c1", "/x", |_| false));
        e.exclude = Some("c1".into());
        assert!(!e.targets("c1", "/x", |_| false));
        e.kind = Kind::Path;
        e.path = Some(String::new());
        assert!(
            !e.targets("c2", "", |_| false),
            "an empty path reaches nobody"
        );
        e.path = Some("/x".into());
        assert!(e.targets("c2", "/x", |_| false) && !e.targets("c2", "/y", |_| false));
        e.kind = Kind::Room;
        e.room = Some("r".into());
        assert!(e.targets("c2", "/", |r| r == "r") && !e.targets("c2", "/", |_| false));
    }

    #[test]
    fn peek() {
        assert_eq!(
            peek_src(br#"{"src":"me","text":"x"}"#).as_deref(),
            Some("me")
        );
        assert_eq!(peek_src(br#"{"src":1}"#), None);
        assert_eq!(peek_src(b"junk"), None);
    }
}

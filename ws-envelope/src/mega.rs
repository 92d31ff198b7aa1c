//! The mega-framework ws-cluster envelopes, on `<prefix>.<app>.bcast|direct|roster`.
//!
//! User data (`message`, `payload`, `metadata`, `userId`) is kept as raw JSON
//! ([`RawValue`]) and written back verbatim, so relaying never re-serialises it: key order,
//! big numbers and `1.0`-style numbers survive.

use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::Error;
use crate::json::{Fields, fields, push_key, push_raw, push_str};

/// The default subject prefix.
pub const DEFAULT_PREFIX: &str = "mega.ws";

/// The three subjects of one app: `<prefix>.<app>.bcast`, `.direct` and `.roster`. On Redis
/// the same names are used as channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subjects {
    /// Broadcasts.
    pub bcast: String,
    /// Direct messages to a user.
    pub direct: String,
    /// Presence roster deltas and heartbeats.
    pub roster: String,
}

impl Subjects {
    /// The subjects for `app`, under `prefix` (`None` or empty: [`DEFAULT_PREFIX`]). Both are
    /// used verbatim, as the reference does: dots add subject tokens, and spaces, `*` or `>`
    /// make subjects NATS will refuse.
    pub fn new(prefix: Option<&str>, app: &str) -> Self {
        let prefix = prefix.filter(|p| !p.is_empty()).unwrap_or(DEFAULT_PREFIX);
        Self {
            bcast: format!("{prefix}.{app}.bcast"),
            direct: format!("{prefix}.{app}.direct"),
            roster: format!("{prefix}.{app}.roster"),
        }
    }
}

/// The `channel` of a broadcast: absent, `null`, or a name (the reference distinguishes all
/// three on the wire).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Channel {
    /// No `channel` key.
    #[default]
    Absent,
    /// `"channel":null`.
    Null,
    /// `"channel":"name"`.
    Name(String),
}

/// `{"o":O,"ns":NS,"channel"?:C,"message":M,"exceptSessionIds"?:[…]}`
///
/// ```
/// use oyez_envelope::mega::{Broadcast, Channel, message};
///
/// let b = Broadcast {
///     o: Some("k7q2x9abmi5pt0zs".into()),
///     ns: "/ws/chat".into(),
///     channel: Channel::Name("general".into()),
///     message: message("chat", Some(&serde_json::value::RawValue::from_string(r#"{"text":"hi","n":1}"#.into())?)),
///     except_session_ids: vec![],
/// };
/// assert_eq!(
///     b.encode(),
///     br#"{"o":"k7q2x9abmi5pt0zs","ns":"/ws/chat","channel":"general","message":{"type":"chat","payload":{"text":"hi","n":1}}}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Broadcast {
    /// The publisher's instance id; `None` if the envelope had none (it is then delivered).
    pub o: Option<String>,
    /// The namespace (the WebSocket path, e.g. `/ws/chat`).
    pub ns: String,
    /// The channel within the namespace.
    pub channel: Channel,
    /// The message, by contract `{"type":…,"payload"?:…}`, verbatim.
    pub message: Box<RawValue>,
    /// Sessions to skip; written only when non-empty.
    pub except_session_ids: Vec<String>,
}

/// `{"o":O,"userId":U,"message":M}`
#[derive(Clone, Debug)]
pub struct Direct {
    /// The publisher's instance id.
    pub o: Option<String>,
    /// The user, verbatim JSON (a string from the reference; not validated by it).
    pub user_id: Box<RawValue>,
    /// The message, verbatim.
    pub message: Box<RawValue>,
}

/// A roster member: `{"ns","sessionId","userId","metadata"?}`.
#[derive(Clone, Debug)]
pub struct Member {
    /// The namespace.
    pub ns: String,
    /// The session id: the roster's key across the whole cluster.
    pub session_id: String,
    /// The user, verbatim JSON.
    pub user_id: Box<RawValue>,
    /// Optional metadata, verbatim JSON.
    pub metadata: Option<Box<RawValue>>,
}

/// A roster operation.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum RosterOp {
    /// A member joined: `{"op":"add","member":{…}}`.
    Add(Member),
    /// A session left: `{"op":"remove","sessionId":S}`.
    Remove {
        /// The session.
        session_id: String,
    },
    /// Every member of the sender: `{"op":"heartbeat","members":[…]}` (possibly empty).
    Heartbeat(Vec<Member>),
    /// Please send a heartbeat now: `{"op":"sync_request"}`.
    SyncRequest,
    /// An op this version does not know; receivers ignore it.
    Unknown(String),
}

/// `{"o":O,"op":OP,…}`
#[derive(Clone, Debug)]
pub struct Roster {
    /// The publisher's instance id.
    pub o: Option<String>,
    /// The operation.
    pub op: RosterOp,
}

/// Builds a message `{"type":T}` or `{"type":T,"payload":P}` (the reference's key order).
pub fn message(kind: &str, payload: Option<&RawValue>) -> Box<RawValue> {
    let mut out = Vec::with_capacity(24 + kind.len() + payload.map_or(0, |p| p.get().len()));
    out.push(b'{');
    push_key(&mut out, true, "type");
    push_str(&mut out, kind);
    if let Some(p) = payload {
        push_key(&mut out, false, "payload");
        push_raw(&mut out, p);
    }
    out.push(b'}');
    raw(out)
}

/// A JSON string as raw JSON (for `userId`).
pub fn raw_string(s: &str) -> Box<RawValue> {
    let mut out = Vec::with_capacity(s.len() + 2);
    push_str(&mut out, s);
    raw(out)
}

/// The string inside raw JSON, if it is a JSON string.
pub fn as_string(v: &RawValue) -> Option<String> {
    serde_json::from_str(v.get()).ok()
}

fn raw(json: Vec<u8>) -> Box<RawValue> {
    let text = String::from_utf8(json).expect("we wrote UTF-8");
    RawValue::from_string(text).expect("we wrote valid JSON")
}

impl Broadcast {
    /// The envelope as nats.js `JSONCodec` (`JSON.stringify`) emits it.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.ns.len() + self.message.get().len());
        out.push(b'{');
        push_o(&mut out, self.o.as_deref());
        push_key(&mut out, self.o.is_none(), "ns");
        push_str(&mut out, &self.ns);
        match &self.channel {
            Channel::Absent => {}
            Channel::Null => {
                push_key(&mut out, false, "channel");
                out.extend_from_slice(b"null");
            }
            Channel::Name(name) => {
                push_key(&mut out, false, "channel");
                push_str(&mut out, name);
            }
        }
        push_key(&mut out, false, "message");
        push_raw(&mut out, &self.message);
        if !self.except_session_ids.is_empty() {
            push_key(&mut out, false, "exceptSessionIds");
            out.push(b'[');
            for (i, id) in self.except_session_ids.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_str(&mut out, id);
            }
            out.push(b']');
        }
        out.push(b'}');
        out
    }

    /// Decodes a broadcast.
    ///
    /// # Errors
    /// [`Error::Json`], [`Error::NotObject`]; [`Error::Field`] when `ns` is not a string or
    /// `message` is missing or `null` (the reference drops a falsy message).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut map = fields(bytes)?;
        let message = map
            .remove("message")
            .filter(|m| m.get() != "null")
            .ok_or(Error::Field("message"))?
            .to_owned();
        let channel = match map.remove("channel") {
            None => Channel::Absent,
            Some(c) if c.get() == "null" => Channel::Null,
            Some(c) => Channel::Name(as_string(c).ok_or(Error::Field("channel"))?),
        };
        let except_session_ids = match map.remove("exceptSessionIds") {
            None => Vec::new(),
            // The reference omits the key unless it is a non-empty array; tolerate others.
            Some(list) => serde_json::from_str::<Vec<String>>(list.get()).unwrap_or_default(),
        };
        Ok(Self {
            o: take_string(&mut map, "o"),
            ns: take_string(&mut map, "ns").ok_or(Error::Field("ns"))?,
            channel,
            message,
            except_session_ids,
        })
    }
}

impl Direct {
    /// The envelope as the reference emits it.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + self.user_id.get().len() + self.message.get().len());
        out.push(b'{');
        push_o(&mut out, self.o.as_deref());
        push_key(&mut out, self.o.is_none(), "userId");
        push_raw(&mut out, &self.user_id);
        push_key(&mut out, false, "message");
        push_raw(&mut out, &self.message);
        out.push(b'}');
        out
    }

    /// Decodes a direct message.
    ///
    /// # Errors
    /// [`Error::Json`], [`Error::NotObject`], [`Error::Field`] when `userId` or `message` is
    /// missing or `message` is `null`.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut map = fields(bytes)?;
        Ok(Self {
            o: take_string(&mut map, "o"),
            user_id: map
                .remove("userId")
                .ok_or(Error::Field("userId"))?
                .to_owned(),
            message: map
                .remove("message")
                .filter(|m| m.get() != "null")
                .ok_or(Error::Field("message"))?
                .to_owned(),
        })
    }
}

impl Member {
    /// A member with a string user id.
    pub fn new(ns: &str, session_id: &str, user_id: &str, metadata: Option<Box<RawValue>>) -> Self {
        Self {
            ns: ns.to_owned(),
            session_id: session_id.to_owned(),
            user_id: raw_string(user_id),
            metadata,
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        push_key(out, true, "ns");
        push_str(out, &self.ns);
        push_key(out, false, "sessionId");
        push_str(out, &self.session_id);
        push_key(out, false, "userId");
        push_raw(out, &self.user_id);
        if let Some(m) = &self.metadata {
            push_key(out, false, "metadata");
            push_raw(out, m);
        }
        out.push(b'}');
    }

    /// A member needs a string `ns` and a string `sessionId` (the reference ignores others).
    fn decode(raw: &RawValue) -> Option<Self> {
        let mut map: Fields<'_> = serde_json::from_str(raw.get()).ok()?;
        Some(Self {
            ns: take_string(&mut map, "ns")?,
            session_id: take_string(&mut map, "sessionId")?,
            user_id: map
                .remove("userId")
                .map_or_else(raw_null, RawValue::to_owned),
            metadata: map.remove("metadata").map(RawValue::to_owned),
        })
    }
}

fn raw_null() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).expect("null is JSON")
}

impl Roster {
    /// The envelope as the reference emits it.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.push(b'{');
        push_o(&mut out, self.o.as_deref());
        push_key(&mut out, self.o.is_none(), "op");
        match &self.op {
            RosterOp::Add(member) => {
                push_str(&mut out, "add");
                push_key(&mut out, false, "member");
                member.encode_into(&mut out);
            }
            RosterOp::Remove { session_id } => {
                push_str(&mut out, "remove");
                push_key(&mut out, false, "sessionId");
                push_str(&mut out, session_id);
            }
            RosterOp::Heartbeat(members) => {
                push_str(&mut out, "heartbeat");
                push_key(&mut out, false, "members");
                out.push(b'[');
                for (i, m) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    m.encode_into(&mut out);
                }
                out.push(b']');
            }
            RosterOp::SyncRequest => push_str(&mut out, "sync_request"),
            RosterOp::Unknown(op) => push_str(&mut out, op),
        }
        out.push(b'}');
        out
    }

    /// Decodes a roster message. Heartbeat members without a string `ns` and `sessionId` are
    /// skipped, as the reference's upsert skips them.
    ///
    /// # Errors
    /// [`Error::Json`], [`Error::NotObject`]; [`Error::Field`] for a missing or non-string
    /// `op`, or an `add` without a valid member, a `remove` without a string `sessionId`, a
    /// `heartbeat` whose `members` is not an array.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut map = fields(bytes)?;
        let op = take_string(&mut map, "op").ok_or(Error::Field("op"))?;
        let op = match op.as_str() {
            "add" => RosterOp::Add(
                map.remove("member")
                    .and_then(Member::decode)
                    .ok_or(Error::Field("member"))?,
            ),
            "remove" => RosterOp::Remove {
                session_id: take_string(&mut map, "sessionId").ok_or(Error::Field("sessionId"))?,
            },
            "heartbeat" => {
                let members = map.remove("members").ok_or(Error::Field("members"))?;
                let list: Vec<&RawValue> =
                    serde_json::from_str(members.get()).map_err(|_| Error::Field("members"))?;
                RosterOp::Heartbeat(list.into_iter().filter_map(Member::decode).collect())
            }
            "sync_request" => RosterOp::SyncRequest,
            _ => RosterOp::Unknown(op),
        };
        Ok(Self {
            o: take_string(&mut map, "o"),
            op,
        })
    }
}

/// Reads just `o` from an encoded envelope (any of the three), for an echo guard that drops
/// our own before decoding. Cheap: no other value is parsed or copied, and the id is borrowed
/// from `bytes` unless it holds escapes. `None` if absent, not a string, or not a JSON
/// object; such an envelope is never our own (the reference delivers it).
///
/// ```
/// let wire = br#"{"o":"k7q2x9abmi5pt0zs","op":"sync_request"}"#;
/// assert_eq!(oyez_envelope::mega::peek_o(wire).as_deref(), Some("k7q2x9abmi5pt0zs"));
/// ```
pub fn peek_o(bytes: &[u8]) -> Option<Cow<'_, str>> {
    crate::json::peek_string(bytes, "o")
}

fn push_o(out: &mut Vec<u8>, o: Option<&str>) {
    if let Some(o) = o {
        push_key(out, true, "o");
        push_str(out, o);
    }
}

fn take_string(map: &mut Fields<'_>, key: &str) -> Option<String> {
    crate::json::take_string(map, key).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        let s = Subjects::new(None, "chat");
        assert_eq!(
            (s.bcast.as_str(), s.direct.as_str(), s.roster.as_str()),
            (
                "mega.ws.chat.bcast",
                "mega.ws.chat.direct",
                "mega.ws.chat.roster"
            )
        );
        assert_eq!(Subjects::new(Some(""), "a").bcast, "mega.ws.a.bcast");
        assert_eq!(Subjects::new(Some("x.y"), "a").roster, "x.y.a.roster");
    }

    #[test]
    fn raw_values_survive() {
        let b = Broadcast::decode(br#"{"ns":"/a","message":{"type":"t","payload":{"big":12345678901234567890123,"f":1.0, "z":[ ]}}}"#).unwrap();
        assert_eq!(b.o, None);
        assert_eq!(
            b.message.get(),
            r#"{"type":"t","payload":{"big":12345678901234567890123,"f":1.0, "z":[ ]}}"#
        );
        assert_eq!(b.encode(), br#"{"ns":"/a","message":{"type":"t","payload":{"big":12345678901234567890123,"f":1.0, "z":[ ]}}}"#);
    }

    #[test]
    fn channel_null_and_absent() {
        let b = Broadcast::decode(br#"{"o":"x","ns":"/a","channel":null,"message":{"type":"t"}}"#)
            .unwrap();
        assert_eq!(b.channel, Channel::Null);
        assert_eq!(
            b.encode(),
            br#"{"o":"x","ns":"/a","channel":null,"message":{"type":"t"}}"#
        );
    }

    #[test]
    fn rejections() {
        assert!(matches!(Broadcast::decode(b"[]"), Err(Error::NotObject)));
        assert!(matches!(Broadcast::decode(b"nul"), Err(Error::Json(_))));
        assert!(matches!(
            Broadcast::decode(br#"{"ns":"/a","message":null}"#),
            Err(Error::Field("message"))
        ));
        assert!(matches!(
            Broadcast::decode(br#"{"ns":1,"message":{}}"#),
            Err(Error::Field("ns"))
        ));
        assert!(matches!(
            Direct::decode(br#"{"o":"x","message":{}}"#),
            Err(Error::Field("userId"))
        ));
        assert!(matches!(
            Roster::decode(br#"{"o":"x"}"#),
            Err(Error::Field("op"))
        ));
        assert!(matches!(
            Roster::decode(br#"{"op":"add","member":{"ns":"/a"}}"#),
            Err(Error::Field("member"))
        ));
        assert!(
            matches!(Roster::decode(br#"{"op":"teleport"}"#).unwrap().op, RosterOp::Unknown(op) if op == "teleport")
        );
        let hb = Roster::decode(
            br#"{"op":"heartbeat","members":[{"ns":"/a","sessionId":"s","userId":1},{"ns":2}]}"#,
        )
        .unwrap();
        assert!(
            matches!(hb.op, RosterOp::Heartbeat(m) if m.len() == 1 && m[0].user_id.get() == "1")
        );
    }
}

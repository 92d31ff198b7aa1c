//! The one place where an [`Audience`] and a [`Message`] become cluster envelopes, and the
//! one place where envelopes from other instances become an audience and a message again.
//!
//! | audience | Tina4 (`tina4:ws`) | mega (`<prefix>.<app>.*`) |
//! | --- | --- | --- |
//! | all | `kind:"all"` | — (a client's relayed message: `bcast` for its path, as path `p`) |
//! | path `p` | `kind:"path"`, `path:p` | `bcast`, `ns:p` |
//! | room `r` | `kind:"room"`, `room:r` | — (a client's relayed message: `bcast` for its path, as path `p`) |
//! | user `u` | — | `direct`, `userId:u` |
//! | except connections | `exclude`: the first id only (the wire has room for one, WIRE-SPEC T1) | — |
//! | except sessions | — | `exceptSessionIds` |
//!
//! A mega message is JSON: a text that is JSON goes as that JSON, any other text as a JSON
//! string, and binary does not go (the mega wire cannot carry it). What arrives is
//! delivered as the text of its JSON.

use oyez_backplane::MegaIncoming;
use oyez_envelope::mega::{self, Broadcast, Channel, Direct};
use oyez_envelope::tina4::{Envelope, Kind, Payload};
use serde_json::value::RawValue;

use crate::{Audience, ConnId, Message, Scope};

/// The Tina4 envelope for `to` (its `src` is the cluster's to fill in), or `None` when the
/// Tina4 wire cannot say who it is for.
pub(crate) fn to_tina4(to: Audience<'_>, msg: &Message) -> Option<Envelope> {
    let (kind, room, path) = match to.scope() {
        Scope::All => (Kind::All, None, None),
        Scope::Path(p) => (Kind::Path, None, Some(p.to_owned())),
        Scope::Room(r) => (Kind::Room, Some(r.to_owned()), None),
        Scope::User(_) => return None,
    };
    let payload = match msg {
        Message::Text(text) => Payload::Text(text.as_str().to_owned()),
        Message::Binary(data) => Payload::Binary(data.to_vec()),
    };
    Some(Envelope {
        src: String::new(),
        kind,
        exclude: to.excluded().first().map(ConnId::to_string),
        room,
        path,
        payload,
    })
}

/// A mega envelope to publish.
#[derive(Debug)]
pub(crate) enum MegaOut {
    /// On `bcast`.
    Broadcast(Broadcast),
    /// On `direct`.
    Direct(Direct),
}

/// The mega envelope for `to` (its `o` is the cluster's to fill in), or `None` when the mega
/// wire cannot say who it is for or carry the message.
pub(crate) fn to_mega(to: Audience<'_>, msg: &Message, channel: Channel) -> Option<MegaOut> {
    let text = msg.as_text()?;
    let message = RawValue::from_string(text.to_owned()).unwrap_or_else(|_| mega::raw_string(text));
    match to.scope() {
        Scope::Path(ns) => Some(MegaOut::Broadcast(Broadcast {
            o: None,
            ns: ns.to_owned(),
            channel,
            message,
            except_session_ids: to.excluded_sessions().to_vec(),
        })),
        Scope::User(user) => Some(MegaOut::Direct(Direct {
            o: None,
            user_id: mega::raw_string(user),
            message,
        })),
        Scope::All | Scope::Room(_) => None,
    }
}

/// What another instance sent, ready for local delivery.
#[derive(Debug)]
pub(crate) struct Relayed {
    scope: Owned,
    except: Option<ConnId>,
    except_sessions: Vec<String>,
    pub(crate) msg: Message,
}

/// [`Scope`], owning its name.
#[derive(Debug)]
enum Owned {
    All,
    Path(String),
    Room(String),
    User(String),
}

impl Relayed {
    /// Who it is for here.
    pub(crate) fn audience(&self) -> Audience<'_> {
        let scope = match &self.scope {
            Owned::All => Scope::All,
            Owned::Path(p) => Scope::Path(p),
            Owned::Room(r) => Scope::Room(r),
            Owned::User(u) => Scope::User(u),
        };
        let to = Audience::new(scope).except_sessions(&self.except_sessions);
        match self.except {
            Some(id) => to.except(id),
            None => to,
        }
    }
}

/// Another instance's Tina4 envelope, as the reference's `relayLocal` delivers it: a `path`
/// or `room` envelope with an empty or missing name reaches nobody (`None`), and `exclude`
/// skips one connection (an id that is not one of ours skips none).
pub(crate) fn from_tina4(env: Envelope) -> Option<Relayed> {
    let named = |name: Option<String>| name.filter(|n| !n.is_empty());
    let scope = match env.kind {
        Kind::All => Owned::All,
        Kind::Path => Owned::Path(named(env.path)?),
        Kind::Room => Owned::Room(named(env.room)?),
    };
    let msg = match env.payload {
        Payload::Text(t) => Message::text(t),
        Payload::Binary(b) => Message::binary(b),
    };
    Some(Relayed {
        scope,
        except: env.exclude.as_deref().and_then(|e| e.parse().ok()),
        except_sessions: Vec::new(),
        msg,
    })
}

/// Another instance's mega broadcast (to the connections on path `ns` but the excepted
/// sessions) or direct message (to a user's connections; a `userId` that is not a string
/// reaches nobody).
pub(crate) fn from_mega(item: MegaIncoming) -> Option<Relayed> {
    match item {
        MegaIncoming::Broadcast(b) => Some(Relayed {
            scope: Owned::Path(b.ns),
            except: None,
            except_sessions: b.except_session_ids,
            msg: Message::text(b.message.get()),
        }),
        MegaIncoming::Direct(d) => Some(Relayed {
            scope: Owned::User(mega::as_string(&d.user_id)?),
            except: None,
            except_sessions: Vec::new(),
            msg: Message::text(d.message.get()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tina4_both_ways() {
        let ids = [ConnId(0xab), ConnId(0xcd)];
        let env = to_tina4(
            Audience::room("lobby").except_ids(&ids),
            &Message::text("hi"),
        )
        .unwrap();
        assert_eq!(
            (env.kind, env.room.as_deref(), env.path.as_deref()),
            (Kind::Room, Some("lobby"), None)
        );
        assert_eq!(
            env.exclude.as_deref(),
            Some("00000000000000ab"),
            "the first id only"
        );
        let back = from_tina4(env).unwrap();
        assert_eq!(back.audience(), Audience::room("lobby").except(ids[0]));
        assert_eq!(back.msg, Message::text("hi"));
        assert!(to_tina4(Audience::user("u"), &Message::text("x")).is_none());
        let bin = to_tina4(Audience::path("/p"), &Message::binary(vec![1, 2])).unwrap();
        assert_eq!(from_tina4(bin).unwrap().audience(), Audience::path("/p"));
    }

    #[test]
    fn tina4_nameless_reaches_nobody() {
        for kind in [Kind::Path, Kind::Room] {
            for name in [None, Some(String::new())] {
                let env = Envelope {
                    src: "x".into(),
                    kind,
                    exclude: None,
                    room: name.clone(),
                    path: name.clone(),
                    payload: Payload::Text("t".into()),
                };
                assert!(from_tina4(env).is_none());
            }
        }
    }

    #[test]
    fn mega_both_ways() {
        let skip = ["s1".to_owned()];
        let to = Audience::path("/chat").except_sessions(&skip);
        let Some(MegaOut::Broadcast(b)) =
            to_mega(to, &Message::text(r#"{"a":1}"#), Channel::Absent)
        else {
            panic!("a broadcast");
        };
        assert_eq!((b.ns.as_str(), b.message.get()), ("/chat", r#"{"a":1}"#));
        let back = from_mega(MegaIncoming::Broadcast(b)).unwrap();
        assert_eq!(back.audience(), to);
        let Some(MegaOut::Direct(d)) =
            to_mega(Audience::user("u1"), &Message::text("hi"), Channel::Absent)
        else {
            panic!("a direct message");
        };
        assert_eq!(
            d.message.get(),
            r#""hi""#,
            "text that is not JSON goes as a JSON string"
        );
        let back = from_mega(MegaIncoming::Direct(d)).unwrap();
        assert_eq!(back.audience(), Audience::user("u1"));
        assert!(
            to_mega(
                Audience::user("u1"),
                &Message::binary(vec![1]),
                Channel::Absent
            )
            .is_none()
        );
        assert!(to_mega(Audience::all(), &Message::text("x"), Channel::Absent).is_none());
    }
}

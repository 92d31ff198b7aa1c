//! Round trips with arbitrary content.

use oyez_envelope::mega::peek_o;
use oyez_envelope::mega::{
    Broadcast, Channel, Direct, Member, Roster, RosterOp, message, raw_string,
};
use oyez_envelope::tina4::{Envelope, Kind, Payload, peek_src};
use proptest::prelude::*;
use serde_json::value::RawValue;

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::All), Just(Kind::Path), Just(Kind::Room)]
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        any::<String>().prop_map(Payload::Text),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Payload::Binary)
    ]
}

fn opt_name() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(
        any::<String>().prop_filter("exclude \"\" decodes as None", |s| !s.is_empty()),
    )
}

/// Arbitrary JSON text, compact, as a JS peer would send it.
fn json() -> impl Strategy<Value = Box<RawValue>> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
    .prop_map(|v| RawValue::from_string(v.to_string()).expect("valid JSON"))
}

proptest! {
    #[test]
    fn tina4_round_trips(src in prop_oneof!["[0-9a-f]{16}", any::<String>()], kind in kind(), exclude in opt_name(), room in opt_name(),
                         path in opt_name(), payload in payload()) {
        let env = Envelope { src, kind, exclude, room, path, payload };
        let bytes = env.encode();
        prop_assert!(std::str::from_utf8(&bytes).is_ok(), "we only publish UTF-8 (T12)");
        prop_assert_eq!(&Envelope::decode(&bytes).unwrap(), &env);
        // Our bytes are what serde_json itself would write for these fields in this order.
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(v["src"].as_str(), Some(env.src.as_str()));
        // The echo guard's peek sees the same id as a full decode.
        let peeked = peek_src(&bytes);
        prop_assert_eq!(peeked.as_deref(), Some(env.src.as_str()));
    }

    #[test]
    fn mega_round_trips(o in proptest::option::of("[0-9a-z]{8,16}"), ns in any::<String>(), channel in proptest::option::of(proptest::option::of(any::<String>())),
                        kind in any::<String>(), payload in proptest::option::of(json()), except in proptest::collection::vec(any::<String>(), 0..3),
                        user in any::<String>(), metadata in proptest::option::of(json())) {
        let channel = match channel { None => Channel::Absent, Some(None) => Channel::Null, Some(Some(c)) => Channel::Name(c) };
        let msg = message(&kind, payload.as_deref());
        let b = Broadcast { o: o.clone(), ns: ns.clone(), channel: channel.clone(), message: msg.clone(), except_session_ids: except.clone() };
        let bytes = b.encode();
        let back = Broadcast::decode(&bytes).unwrap();
        let peeked = peek_o(&bytes);
        prop_assert_eq!(peeked.as_deref(), o.as_deref());
        prop_assert_eq!(back.encode(), bytes);
        prop_assert_eq!((back.o, back.ns, back.channel, back.except_session_ids), (o.clone(), ns.clone(), channel, except));

        let d = Direct { o: o.clone(), user_id: raw_string(&user), message: msg };
        let bytes = d.encode();
        prop_assert_eq!(Direct::decode(&bytes).unwrap().encode(), bytes);

        let member = Member::new(&ns, "s1", &user, metadata);
        for op in [RosterOp::Add(member.clone()), RosterOp::Remove { session_id: user },
                   RosterOp::Heartbeat(vec![member.clone(), member]), RosterOp::SyncRequest] {
            let r = Roster { o: o.clone(), op };
            let bytes = r.encode();
            let peeked = peek_o(&bytes);
            prop_assert_eq!(peeked.as_deref(), o.as_deref());
            prop_assert_eq!(Roster::decode(&bytes).unwrap().encode(), bytes);
        }
    }
}

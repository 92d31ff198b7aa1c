//! A client and a server `Session` wired together in memory, with virtual time.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use oyez_frame::session::{Config, Outbound};
use oyez_frame::{CloseCode, Encoder, Error, Event, OpCode, Role, Session, SharedFrame};

use crate::util::client_frame;

struct Pair {
    now: Instant,
    client: Session,
    server: Session,
    /// Bytes in flight toward each side.
    to_client: BytesMut,
    to_server: BytesMut,
    client_events: Vec<Event>,
    server_events: Vec<Event>,
    server_error: Option<Error>,
    /// When false, the client neither reads nor writes (a dead peer).
    client_alive: bool,
}

impl Pair {
    fn new(client: Config, server: Config) -> Self {
        let now = Instant::now();
        Self {
            now,
            client: Session::new(Role::Client, client, now),
            server: Session::new(Role::Server, server, now),
            to_client: BytesMut::new(),
            to_server: BytesMut::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            server_error: None,
            client_alive: true,
        }
    }

    fn default() -> Self {
        Self::new(Config::default(), Config::default())
    }

    /// Moves bytes both ways until neither side has anything more to say.
    fn drive(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            while let Some(b) = self.server.poll_transmit() {
                self.to_client.extend_from_slice(&b);
                moved = true;
            }
            if self.client_alive {
                while let Some(b) = self.client.poll_transmit() {
                    self.to_server.extend_from_slice(&b);
                    moved = true;
                }
                if !self.to_client.is_empty() {
                    moved = true;
                    self.client
                        .handle_bytes(self.now, &mut self.to_client)
                        .expect("the server speaks correctly");
                }
            }
            if !self.to_server.is_empty() {
                moved = true;
                if let Err(e) = self.server.handle_bytes(self.now, &mut self.to_server) {
                    // A failed session reads no more; the transport would be closed.
                    self.server_error = Some(e);
                    self.to_server.clear();
                }
            }
            while let Some(e) = self.client.poll_event() {
                self.client_events.push(e);
            }
            while let Some(e) = self.server.poll_event() {
                self.server_events.push(e);
            }
            if !moved {
                return;
            }
        }
        panic!("the sessions did not settle");
    }

    /// Advances virtual time by `by`, firing each side's timers in order.
    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        loop {
            let next = [
                self.client.poll_timeout().filter(|_| self.client_alive),
                self.server.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .filter(|t| *t <= end)
            .min();
            let Some(t) = next else { break };
            self.now = t;
            if self.client_alive {
                self.client.handle_timeout(t);
            }
            self.server.handle_timeout(t);
            self.drive();
        }
        self.now = end;
        self.drive();
    }
}

fn closed(code: u16, clean: bool) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::Closed { code: c, clean: k, .. } if *c == code && *k == clean)
}

#[test]
fn messages_flow_both_ways() {
    let mut p = Pair::default();
    p.client.send(Outbound::Text("hello")).unwrap();
    p.client.send(Outbound::Binary(&[0, 1, 2])).unwrap();
    p.server.send(Outbound::Text("hi back")).unwrap();
    p.drive();
    assert_eq!(
        p.server_events,
        vec![
            Event::Text("hello".into()),
            Event::Binary(vec![0, 1, 2].into())
        ]
    );
    assert_eq!(p.client_events, vec![Event::Text("hi back".into())]);
}

#[test]
fn client_initiated_close_handshake() {
    let mut p = Pair::default();
    p.client.close(p.now, CloseCode::NORMAL, "bye").unwrap();
    assert!(!p.client.is_open() && !p.client.is_closed());
    p.drive();
    assert_eq!(
        p.server_events,
        vec![Event::Closed {
            code: CloseCode::NORMAL,
            reason: "bye".into(),
            clean: true
        }]
    );
    assert!(p.client_events.iter().any(closed(1000, true)));
    assert!(p.client.is_closed() && p.server.is_closed());
    assert_eq!(p.client.send(Outbound::Text("late")), Err(Error::Closing));
    assert_eq!(p.server.send(Outbound::Text("late")), Err(Error::Closing));
}

#[test]
fn server_initiated_close_echoes_the_code_once() {
    let mut p = Pair::default();
    p.server
        .close(p.now, CloseCode::from_u16(4001), "app")
        .unwrap();
    p.server.close(p.now, CloseCode::NORMAL, "again").unwrap(); // no second close frame
    p.drive();
    assert_eq!(
        p.client_events,
        vec![Event::Closed {
            code: CloseCode::from_u16(4001),
            reason: "app".into(),
            clean: true
        }]
    );
    assert_eq!(p.server_events.len(), 1);
    assert!(p.server_events.iter().any(closed(4001, true)));
}

#[test]
fn an_empty_close_is_answered_with_1000_and_reported_as_1005() {
    let mut p = Pair::default();
    p.to_server.extend_from_slice(&client_frame(0x88, b""));
    p.drive();
    assert!(p.server_events.iter().any(closed(1005, true)));
    assert!(p.client_events.iter().any(closed(1000, true)));
}

#[test]
fn data_after_our_close_is_discarded_until_the_peers_close() {
    let mut p = Pair::default();
    p.server.close(p.now, CloseCode::GOING_AWAY, "").unwrap();
    // The client sends before it has seen the server's close.
    p.client.send(Outbound::Text("in flight")).unwrap();
    p.drive();
    assert!(!p.server_events.iter().any(|e| matches!(e, Event::Text(_))));
    assert!(p.server_events.iter().any(closed(1001, true)));
}

#[test]
fn pings_are_answered_automatically_unless_disabled() {
    let mut p = Pair::default();
    p.client.send(Outbound::Ping(b"are you there")).unwrap();
    p.drive();
    assert_eq!(p.server_events, vec![Event::Ping("are you there".into())]);
    assert_eq!(p.client_events, vec![Event::Pong("are you there".into())]);

    let mut p = Pair::new(Config::default(), Config::default().with_auto_pong(false));
    p.client.send(Outbound::Ping(b"x")).unwrap();
    p.drive();
    assert_eq!(p.server_events, vec![Event::Ping("x".into())]);
    assert!(p.client_events.is_empty());
    assert_eq!(
        p.client.send(Outbound::Ping(&[0; 126])),
        Err(Error::PayloadTooLarge(126))
    );
}

#[test]
fn keepalive_pings_keep_a_quiet_peer_open() {
    let server = Config::default()
        .with_keepalive(Some(Duration::from_secs(10)))
        .with_pong_timeout(Duration::from_secs(5))
        .with_idle_timeout(Some(Duration::from_secs(30)));
    let mut p = Pair::new(Config::default(), server);
    assert_eq!(
        p.server.poll_timeout(),
        Some(p.now + Duration::from_secs(10))
    );
    p.advance(Duration::from_secs(95));
    let pings = p
        .client_events
        .iter()
        .filter(|e| matches!(e, Event::Ping(_)))
        .count();
    assert!(pings >= 9, "{pings}");
    assert!(p.server.is_open(), "pongs count as traffic");
}

#[test]
fn an_unanswered_keepalive_ping_ends_the_session() {
    let server = Config::default()
        .with_keepalive(Some(Duration::from_secs(10)))
        .with_pong_timeout(Duration::from_secs(5));
    let mut p = Pair::new(Config::default(), server);
    p.client_alive = false;
    p.advance(Duration::from_secs(14));
    assert!(p.server.is_open());
    p.advance(Duration::from_secs(2));
    assert!(p.server.is_closed());
    assert!(p.server_events.iter().any(closed(1006, false)));
}

#[test]
fn idle_timeout_closes_with_1001() {
    let server = Config::default().with_idle_timeout(Some(Duration::from_secs(30)));
    let mut p = Pair::new(Config::default(), server);
    p.advance(Duration::from_secs(20));
    p.client.send(Outbound::Text("still here")).unwrap();
    p.drive();
    p.advance(Duration::from_secs(29));
    assert!(p.server.is_open(), "traffic reset the idle timer");
    p.advance(Duration::from_secs(2));
    assert!(p.client_events.iter().any(|e| matches!(e, Event::Closed { code: CloseCode::GOING_AWAY, reason, clean: true } if *reason == "idle timeout")));
    assert!(p.server.is_closed());
}

#[test]
fn without_timers_an_open_session_never_needs_waking_until_it_closes() {
    let mut p = Pair::new(Config::default(), Config::default());
    assert_eq!(p.server.poll_timeout(), None);
    p.client.send(Outbound::Text("hi")).unwrap();
    p.drive();
    assert_eq!(p.server.poll_timeout(), None);
    p.client_alive = false;
    p.server.close(p.now, CloseCode::NORMAL, "").unwrap();
    assert_eq!(
        p.server.poll_timeout(),
        Some(p.now + Config::default().close_timeout())
    );
}

#[test]
fn close_timeout_when_the_peer_never_answers() {
    let mut p = Pair::new(
        Config::default(),
        Config::default().with_close_timeout(Duration::from_secs(3)),
    );
    p.client_alive = false;
    p.server.close(p.now, CloseCode::NORMAL, "").unwrap();
    p.advance(Duration::from_secs(2));
    assert!(!p.server.is_closed());
    p.advance(Duration::from_secs(2));
    assert!(p.server.is_closed());
    assert!(p.server_events.iter().any(closed(1006, false)));
    assert_eq!(p.server.poll_timeout(), None);
}

#[test]
fn a_protocol_error_sends_its_close_code_and_sticks() {
    for (bytes, expected, code) in [
        (client_frame(0x83, b""), Error::ReservedOpcode(3), 1002),
        (client_frame(0x81, &[0xff]), Error::InvalidUtf8, 1007),
        (
            client_frame(0x88, &[0x03]),
            Error::InvalidClosePayload,
            1002,
        ),
    ] {
        let mut p = Pair::default();
        p.to_server.extend_from_slice(&bytes);
        p.drive();
        assert_eq!(p.server_error, Some(expected));
        assert!(
            p.client_events.iter().any(closed(code, true)),
            "{expected:?}: {:?}",
            p.client_events
        );
        assert!(p.server.is_closed());
        assert_eq!(p.server.error(), Some(expected));
        assert_eq!(p.server.send(Outbound::Text("x")), Err(expected));
        assert_eq!(
            p.server
                .handle_bytes(p.now, &mut BytesMut::from(&client_frame(0x81, b"ok")[..])),
            Err(expected)
        );
    }
}

#[test]
fn oversized_messages_close_with_1009() {
    let limits = oyez_frame::Limits::default().with_max_message_size(10);
    let mut p = Pair::new(Config::default(), Config::default().with_limits(limits));
    p.client.send(Outbound::Binary(&[0; 11])).unwrap();
    p.drive();
    assert!(matches!(
        p.server_error,
        Some(Error::MessageTooLarge { .. })
    ));
    assert!(p.client_events.iter().any(closed(1009, true)));
}

#[test]
fn shared_frames_are_queued_without_copying_on_servers() {
    let frame = SharedFrame::text("broadcast");
    let mut p = Pair::default();
    p.server.send(Outbound::Text("before")).unwrap();
    p.server.send_shared(&frame).unwrap();
    p.server.send(Outbound::Text("after")).unwrap();
    assert_eq!(p.server.pending_bytes(), 8 + frame.len() + 7);
    let first = p.server.poll_transmit().unwrap();
    let second = p.server.poll_transmit().unwrap();
    assert_eq!(first.len(), 8);
    assert_eq!(
        second.as_ptr(),
        frame.parts().0.as_ptr(),
        "the shared bytes themselves"
    );
    p.to_client.extend_from_slice(&first);
    p.to_client.extend_from_slice(&second);
    p.drive();
    assert_eq!(
        p.client_events,
        vec![
            Event::Text("before".into()),
            Event::Text("broadcast".into()),
            Event::Text("after".into())
        ]
    );
    assert_eq!(p.server.pending_bytes(), 0);

    // A client masks a copy.
    p.client.send_shared(&SharedFrame::binary(b"up")).unwrap();
    p.drive();
    assert_eq!(p.server_events, vec![Event::Binary((&b"up"[..]).into())]);
}

#[test]
fn fragmented_messages_are_joined_with_control_frames_in_between() {
    let mut p = Pair::default();
    let mut enc = Encoder::with_mask_source(Role::Client, || [1, 2, 3, 4]);
    enc.encode(OpCode::Text, false, "frag".as_bytes(), &mut p.to_server);
    enc.encode(OpCode::Ping, true, b"p", &mut p.to_server);
    enc.encode(
        OpCode::Continuation,
        false,
        "ment".as_bytes(),
        &mut p.to_server,
    );
    enc.encode(
        OpCode::Continuation,
        true,
        "ed €".as_bytes(),
        &mut p.to_server,
    );
    p.drive();
    assert_eq!(
        p.server_events,
        vec![Event::Ping("p".into()), Event::Text("fragmented €".into())]
    );
    assert_eq!(p.client_events, vec![Event::Pong("p".into())]);
}

#[test]
fn caller_mistakes_are_errors_not_panics() {
    let mut p = Pair::default();
    assert_eq!(
        p.server.close(p.now, CloseCode::NO_STATUS, ""),
        Err(Error::CloseCodeNotSendable(1005))
    );
    assert!(p.server.is_open());
}

#[test]
fn replies_to_messages_before_an_error_go_out_before_the_close() {
    // Autobahn 3.2 / 5.15: a message, then a bad frame, in one read. The echo of the message
    // must precede the close frame.
    let mut p = Pair::default();
    let mut wire = client_frame(0x81, b"first");
    wire.extend(client_frame(0xA1, b"rsv2"));
    p.to_server.extend_from_slice(&wire);
    assert_eq!(
        p.server.handle_bytes(p.now, &mut p.to_server),
        Ok(()),
        "the error waits behind the message"
    );
    assert!(!p.server.is_closed());
    let Some(Event::Text(text)) = p.server.poll_event() else {
        panic!("the message comes first")
    };
    p.server.send(Outbound::Text(text.as_str())).unwrap();
    assert_eq!(p.server.poll_event(), None);
    assert_eq!(p.server.error(), Some(Error::ReservedBits(0x20)));
    assert!(p.server.is_closed());
    p.to_server.clear();
    p.drive();
    assert_eq!(p.client_events[0], Event::Text("first".into()));
    assert!(p.client_events.iter().any(closed(1002, true)));
}

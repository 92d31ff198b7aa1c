//! Who receives what: broadcast shapes, rooms, paths, send_to, sessions, direct, roster.

use oyez_server::apps::{Echo, Site};
use oyez_server::client::Client;
use oyez_server::{Audience, Builder, Conn, ConnId, Handler, Message, Server};

use crate::util::{assert_silent, config, connect, next_message, raw_http, start, url};

/// Tells each client its connection id, then echoes.
struct IdReporter;

impl Handler for IdReporter {
    fn on_open(&self, conn: &Conn) {
        if let (Some(user), Some(session)) = (conn.query_param("user"), conn.query_param("session"))
        {
            conn.server()
                .join_session(conn.id(), &user, &session, Some(r#"{"role":"tester"}"#));
        }
        conn.send(conn.id().to_string());
    }
}

async fn start_with_ids(token: Option<&str>) -> Server {
    Builder::new(config())
        .route("/echo", Echo)
        .fallback(IdReporter)
        .http(Site::new(token.map(str::to_owned)))
        .bind()
        .await
        .expect("bind")
}

async fn connect_with_id(server: &Server, path: &str) -> (Client, ConnId) {
    let mut c = oyez_server::client::connect(&url(server, path))
        .await
        .expect("connect");
    let id = next_message(&mut c)
        .await
        .as_text()
        .expect("text")
        .parse()
        .expect("an id");
    (c, id)
}

#[tokio::test]
async fn all_reaches_everyone_but_the_sender() {
    let server = start(config()).await;
    let mut a = connect(&server, "/all").await;
    let mut b = connect(&server, "/all").await;
    let mut c = connect(&server, "/elsewhere").await;
    crate::util::eventually("three clients", || server.client_count() == 3).await;
    a.send("to all").await.unwrap();
    assert_eq!(next_message(&mut b).await, Message::text("to all"));
    assert_eq!(next_message(&mut c).await, Message::text("to all"));
    assert_silent(&mut a).await;
}

#[tokio::test]
async fn other_paths_are_scoped_to_their_path() {
    let server = start(config()).await;
    let mut a = connect(&server, "/chat").await;
    let mut b = connect(&server, "/chat?x=1").await;
    let mut c = connect(&server, "/other").await;
    crate::util::eventually("three clients", || server.client_count() == 3).await;
    a.send(vec![1u8, 2, 3]).await.unwrap();
    assert_eq!(
        next_message(&mut b).await,
        Message::binary(vec![1u8, 2, 3]),
        "the query is not part of the path"
    );
    assert_silent(&mut c).await;
    assert_silent(&mut a).await;
}

#[tokio::test]
async fn rooms_are_separate() {
    let server = start(config()).await;
    let mut a1 = connect(&server, "/rooms/a").await;
    let mut a2 = connect(&server, "/rooms/a").await;
    let mut b1 = connect(&server, "/rooms/b").await;
    crate::util::eventually("three clients", || server.client_count() == 3).await;
    a1.send("in a").await.unwrap();
    assert_eq!(next_message(&mut a2).await, Message::text("in a"));
    assert_silent(&mut b1).await;
    assert_silent(&mut a1).await;
    assert_eq!(server.broadcast(Audience::room("b"), "server to b"), 1);
    assert_eq!(next_message(&mut b1).await, Message::text("server to b"));
}

#[tokio::test]
async fn server_api_broadcast_send_to_and_rooms() {
    let server = start_with_ids(None).await;
    let (mut a, ida) = connect_with_id(&server, "/x").await;
    let (mut b, idb) = connect_with_id(&server, "/x").await;
    let (mut c, idc) = connect_with_id(&server, "/y").await;

    assert_eq!(
        server.broadcast(Audience::all().except(ida), "everyone but a"),
        2
    );
    assert_eq!(next_message(&mut b).await, Message::text("everyone but a"));
    assert_eq!(next_message(&mut c).await, Message::text("everyone but a"));
    assert_eq!(server.broadcast(Audience::path("/x"), "path x"), 2);
    assert_eq!(next_message(&mut a).await, Message::text("path x"));
    assert_eq!(next_message(&mut b).await, Message::text("path x"));

    assert!(server.send_to(idc, vec![9u8]));
    assert_eq!(next_message(&mut c).await, Message::binary(vec![9u8]));
    assert!(!server.send_to(ConnId(12345), "nobody"));

    assert!(server.join_room(ida, "r") && server.join_room(idc, "r"));
    assert_eq!(
        server.broadcast(Audience::room("r").except(idc), "room r"),
        1
    );
    assert_eq!(next_message(&mut a).await, Message::text("room r"));
    assert!(server.leave_room(ida, "r"));
    assert_eq!(server.broadcast(Audience::room("r"), "only c"), 1);
    assert_eq!(next_message(&mut c).await, Message::text("only c"));
    assert_silent(&mut a).await;
    let _ = idb;
}

#[tokio::test]
async fn sessions_direct_messages_and_the_roster() {
    let server = start(config()).await;
    let mut u1 = connect(&server, "/chat?user=u1&session=s1").await;
    let mut u2 = connect(&server, "/chat?user=u2&session=s2").await;
    let mut u2b = connect(&server, "/other?user=u2&session=s3").await;
    crate::util::eventually("three sessions", || server.roster("/chat").len() == 2).await;
    u1.send(r#"{"type":"direct","to":"u2","payload":{"n":1}}"#)
        .await
        .unwrap();
    let expected = Message::text(r#"{"from":"u1","payload":{"n":1},"type":"direct"}"#);
    let got1 = next_message(&mut u2).await;
    let got2 = next_message(&mut u2b).await;
    for got in [got1, got2] {
        let v: serde_json::Value = serde_json::from_str(got.as_text().unwrap()).unwrap();
        let e: serde_json::Value = serde_json::from_str(expected.as_text().unwrap()).unwrap();
        assert_eq!(v, e);
    }
    assert_silent(&mut u1).await;
    assert_eq!(server.broadcast(Audience::user("u1"), "hi u1"), 1);
    assert_eq!(next_message(&mut u1).await, Message::text("hi u1"));
    let mut ids: Vec<String> = server
        .roster("/chat")
        .into_iter()
        .map(|s| s.session_id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["s1", "s2"]);
    drop(u2b);
    crate::util::eventually("s3 gone", || server.roster("/other").is_empty()).await;
}

#[tokio::test]
async fn http_api_roster_broadcast_and_direct() {
    let server = start_with_ids(Some("sekret")).await;
    let (mut a, _) = connect_with_id(&server, "/room1?user=alice&session=sa").await;
    let (mut b, _) = connect_with_id(&server, "/room1?user=bob&session=sb").await;
    let auth = "Authorization: Bearer sekret\r\n";

    let res = raw_http(
        &server,
        format!("GET /api/roster?ns=%2Froom1 HTTP/1.1\r\nHost: x\r\n{auth}\r\n").as_bytes(),
    )
    .await;
    assert!(
        res.starts_with("HTTP/1.1 200 ") && res.contains("application/json"),
        "{res}"
    );
    let body: serde_json::Value =
        serde_json::from_str(res.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let mut sessions: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sessionId"].as_str().unwrap())
        .collect();
    sessions.sort_unstable();
    assert_eq!(sessions, ["sa", "sb"]);
    assert_eq!(body[0]["metadata"]["role"], "tester");

    let res = raw_http(
        &server,
        b"GET /api/roster?ns=/room1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n\r\n",
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 401 "), "{res}");

    let body = r#"{"path":"/room1","b64":"AAEC"}"#;
    let req = format!(
        "POST /api/broadcast HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let res = raw_http(&server, req.as_bytes()).await;
    assert!(res.contains(r#"{"delivered":2}"#), "{res}");
    assert_eq!(next_message(&mut a).await, Message::binary(vec![0u8, 1, 2]));
    assert_eq!(next_message(&mut b).await, Message::binary(vec![0u8, 1, 2]));

    let body = r#"{"userId":"bob","message":{"hello":"bob"}}"#;
    let req = format!(
        "POST /api/direct HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let res = raw_http(&server, req.as_bytes()).await;
    assert!(res.contains(r#"{"delivered":1}"#), "{res}");
    assert_eq!(
        next_message(&mut b).await,
        Message::text(r#"{"hello":"bob"}"#)
    );

    let req =
        format!("POST /api/broadcast HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 5\r\n\r\nnope!");
    assert!(
        raw_http(&server, req.as_bytes())
            .await
            .starts_with("HTTP/1.1 400 ")
    );
}

/// A client that has seen the `101` is registered: a broadcast sent right after its
/// `connect` returns reaches it (the shard writes the `101` only after registering it).
#[tokio::test]
async fn a_broadcast_right_after_the_upgrade_reaches_the_new_client() {
    let server = start(config()).await;
    let mut clients = Vec::new();
    for i in 0..30 {
        let mut c = connect(&server, "/fresh").await;
        server.broadcast(Audience::path("/fresh"), format!("hello {i}"));
        assert_eq!(
            next_message(&mut c).await,
            Message::text(format!("hello {i}"))
        );
        clients.push(c);
    }
}

/// Query parameters are percent-decoded (`%XX`, and `+` as forms write a space).
#[tokio::test]
async fn session_query_parameters_are_percent_decoded() {
    let server = start_with_ids(None).await;
    let (_c, id) = connect_with_id(&server, "/p?user=Ana+Mar%C3%ADa&session=s%2F1").await;
    let session = server.session_of(id).expect("a session");
    assert_eq!(
        (session.user_id.as_str(), session.session_id.as_str()),
        ("Ana María", "s/1")
    );
}

//! Plain HTTP on the WebSocket port: served only through the embedder's hook.

use std::time::Duration;

use oyez_server::apps::Echo;
use oyez_server::{Builder, HttpFuture, HttpHandler, HttpRequest, HttpResponse, Server};

use crate::util::{config, connect, raw_http, raw_http_head};

/// A library server with no HTTP hook answers no plain HTTP of its own: the binary's pages
/// are not there.
#[tokio::test]
async fn without_a_hook_nothing_is_served() {
    let server = Builder::new(config())
        .route("/echo", Echo)
        .bind()
        .await
        .expect("bind");
    for path in [
        "/healthz",
        "/",
        "/chat",
        "/chat/roster?room=a",
        "/api/roster",
    ] {
        let res = raw_http(
            &server,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(res.starts_with("HTTP/1.1 404 "), "{path}: {res}");
    }
    // A WebSocket route asked without an upgrade says so.
    let res = raw_http(&server, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(res.starts_with("HTTP/1.1 426 "), "{res}");
}

/// Answers `/hello` with the request's body and query; leaves everything else.
struct Hello;

impl HttpHandler for Hello {
    fn handle<'a>(&'a self, req: &'a HttpRequest, _server: &'a Server) -> HttpFuture<'a> {
        Box::pin(async move {
            if req.path() != "/hello" {
                return None;
            }
            // A hook may await (here: a timer) without holding up anyone else.
            tokio::time::sleep(Duration::from_millis(10)).await;
            let body = format!(
                "{} {} {}",
                req.method(),
                req.query_param("name").unwrap_or_default(),
                String::from_utf8_lossy(req.body())
            );
            Some(HttpResponse::text(201, body).with_header("X-Hello", "yes"))
        })
    }
}

#[tokio::test]
async fn a_hook_answers_what_it_wants_and_leaves_the_rest() {
    let server = Builder::new(config())
        .route("/echo", Echo)
        .http(Hello)
        .bind()
        .await
        .expect("bind");
    let res = raw_http(
        &server,
        b"POST /hello?name=Ana%20B HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody",
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 201 Created\r\n"), "{res}");
    assert!(
        res.contains("\r\nX-Hello: yes\r\n") && res.contains("\r\nContent-Length: 15\r\n"),
        "{res}"
    );
    assert!(res.ends_with("\r\n\r\nPOST Ana B body"), "{res}");
    // HEAD: the same head, no body.
    let res = raw_http(&server, b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        res.starts_with("HTTP/1.1 201 ") && res.ends_with("\r\n\r\n"),
        "{res}"
    );
    // Left to the server: 426 on the WebSocket route, 404 elsewhere; upgrades still work.
    let res = raw_http(&server, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(res.starts_with("HTTP/1.1 426 "), "{res}");
    let res = raw_http(&server, b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(res.starts_with("HTTP/1.1 404 "), "{res}");
    let _ws = connect(&server, "/echo").await;
    // A body over 1 MiB is refused before the hook sees it.
    let res = raw_http_head(
        &server,
        b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n",
    )
    .await;
    assert!(res.starts_with("HTTP/1.1 413 "), "{res}");
}

/// A function is a hook too.
#[tokio::test]
async fn a_function_is_a_hook() {
    fn health(req: &HttpRequest, _: &Server) -> Option<HttpResponse> {
        (req.path() == "/healthz").then(|| HttpResponse::text(200, "ok\n"))
    }
    let server = Builder::new(config())
        .http(health)
        .bind()
        .await
        .expect("bind");
    let res = raw_http(&server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        res.starts_with("HTTP/1.1 200 OK\r\n") && res.ends_with("\r\n\r\nok\n"),
        "{res}"
    );
}

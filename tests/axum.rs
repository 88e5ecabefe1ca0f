//! The `axum` example's app, served by `axum::serve` as its `main` does: ordinary routes and the
//! WebSocket layer on one port, an authentication middleware in front whose user the handler
//! sees, and WebSockets over HTTP/1.1 and HTTP/2.

mod support;

// The example itself: its `app()` and `auth` middleware (its `main` goes unused here).
#[path = "../examples/axum.rs"]
#[allow(dead_code)]
mod example;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::middleware;
use futures_util::{SinkExt, StreamExt};
use http::StatusCode;
use http_body_util::Empty;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tower_websocket::{Conn, Message, WebSocketUpgradeLayer};

use support::h2::{connect_request, h2_client, h2_websocket};
use support::{connect, http_exchange, within, ws_url};

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn get(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n")
}

#[tokio::test]
async fn page_json_and_websocket_share_the_router() {
    let addr = serve(example::app()).await;

    let (head, body) = http_exchange(addr, &get("/", "")).await;
    assert_eq!(head.status, 200, "{head:?}");
    assert!(body.contains("new WebSocket"), "{body}");

    let bearer = "Authorization: Bearer alice-token\r\n";
    let (head, body) = http_exchange(addr, &get("/api/me", bearer)).await;
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert_eq!(body, r#"{"user":"alice"}"#);

    let (head, _) = http_exchange(addr, &get("/api/me", "")).await;
    assert_eq!(head.status, 401, "{head:?}");

    let url = ws_url(addr, "/ws?token=bob-token");
    let (mut ws, _) = within("handshake", connect_async(url)).await.unwrap();
    let greeting = within("greeting", ws.next()).await.unwrap().unwrap();
    assert_eq!(
        greeting,
        WsMessage::text("hello, bob"),
        "the middleware's user"
    );
    for message in [WsMessage::text("hi"), WsMessage::binary(vec![0u8, 1, 2])] {
        within("send", ws.send(message.clone())).await.unwrap();
        assert_eq!(within("echo", ws.next()).await.unwrap().unwrap(), message);
    }
    within("close", ws.close(None)).await.unwrap();
}

#[tokio::test]
async fn axum_serve_also_speaks_http2_websockets() {
    let addr = serve(example::app()).await;
    let mut h2 = h2_client(connect(addr).await).await;
    let request = connect_request(&format!("http://{addr}/ws?token=alice-token"))
        .body(Empty::new())
        .unwrap();
    let (_, mut ws) = h2_websocket(&mut h2, request).await.expect("200");
    let greeting = within("greeting", ws.next()).await.unwrap().unwrap();
    assert_eq!(greeting, WsMessage::text("hello, alice"));
    within("send", ws.send(WsMessage::text("h2")))
        .await
        .unwrap();
    let echoed = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echoed, WsMessage::text("h2"));

    // Refused by the middleware over HTTP/2 as well.
    let request = connect_request(&format!("http://{addr}/ws"))
        .body(Empty::new())
        .unwrap();
    let response = h2_websocket(&mut h2, request).await.expect_err("401");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rejected_auth_never_reaches_the_handler() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let handler = move |mut conn: Conn| {
        let calls = counted.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            let user = conn.request().extensions.get::<example::User>().cloned();
            let _ = conn.send(Message::text(format!("{user:?}"))).await;
        }
    };
    // The example's middleware in front of a counting handler.
    let app = Router::new()
        .layer(WebSocketUpgradeLayer::new(handler).path("/ws"))
        .layer(middleware::from_fn(example::auth));
    let addr = serve(app).await;

    for path in ["/ws", "/ws?token=mallory"] {
        let error = within("handshake", connect_async(ws_url(addr, path)))
            .await
            .expect_err("refused");
        match error {
            WsError::Http(response) => assert_eq!(response.status(), StatusCode::UNAUTHORIZED),
            other => panic!("expected a 401, got {other:?}"),
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the handler ran");

    let url = ws_url(addr, "/ws?token=alice-token");
    let (mut ws, _) = within("handshake", connect_async(url)).await.unwrap();
    let report = within("report", ws.next()).await.unwrap().unwrap();
    assert_eq!(report, WsMessage::text(r#"Some(User("alice"))"#));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

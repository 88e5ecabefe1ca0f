//! Plain hyper: the `http1` example (`http1::Builder` with `.with_upgrades()`) echoes; servers
//! that forgot upgrades report it through `on_failed_upgrade` and the error log, and the client
//! sees the connection end instead of a hang.

mod support;

// The example itself: its `serve` (its `main` goes unused here).
#[path = "../examples/http1.rs"]
#[allow(dead_code)]
mod example;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tower::{Layer, ServiceExt, service_fn};
use tower_websocket::{Conn, FailedUpgrade, WebSocketUpgradeLayer};

use support::{KEY, expect_eof, http_exchange, inner, logs, raw_handshake, within, ws_url};

#[tokio::test]
async fn http1_with_upgrades_echoes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(example::serve(listener));

    let request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let (head, body) = http_exchange(addr, request).await;
    assert_eq!(head.status, 200, "{head:?}");
    assert!(body.starts_with("hello from hyper"), "{body}");

    let (mut ws, _) = within("handshake", connect_async(ws_url(addr, "/ws")))
        .await
        .unwrap();
    for message in [
        WsMessage::text("http1"),
        WsMessage::binary(vec![9u8; 200_000]),
    ] {
        within("send", ws.send(message.clone())).await.unwrap();
        assert_eq!(within("echo", ws.next()).await.unwrap().unwrap(), message);
    }
    within("close", ws.close(None)).await.unwrap();
}

/// A layer whose handler counts its runs and whose `on_failed_upgrade` hook forwards the
/// failure.
fn reporting_layer(
    runs: Arc<AtomicUsize>,
) -> (
    WebSocketUpgradeLayer<impl tower_websocket::Handler>,
    mpsc::UnboundedReceiver<FailedUpgrade>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let layer = WebSocketUpgradeLayer::new(move |_conn: Conn| {
        let runs = runs.clone();
        async move {
            runs.fetch_add(1, Ordering::SeqCst);
        }
    })
    .path("/ws")
    .on_failed_upgrade(move |failure| {
        let _ = tx.send(failure);
    });
    (layer, rx)
}

#[derive(Clone, Copy, Debug)]
enum Server {
    /// hyper's `http1::Builder::serve_connection`, without `.with_upgrades()`.
    Http1,
    /// hyper-util's `auto::Builder::serve_connection`, not `serve_connection_with_upgrades`.
    Auto,
}

async fn spawn_without_upgrades<H: tower_websocket::Handler>(
    server: Server,
    layer: WebSocketUpgradeLayer<H>,
) -> SocketAddr {
    let service = layer.layer(service_fn(inner::<Incoming>));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = TowerToHyperService::new(service.clone());
            let io = TokioIo::new(stream);
            tokio::spawn(async move {
                match server {
                    Server::Http1 => {
                        let _ = http1::Builder::new().serve_connection(io, service).await;
                    }
                    Server::Auto => {
                        let _ = auto::Builder::new(TokioExecutor::new())
                            .serve_connection(io, service)
                            .await;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn forgotten_upgrades_are_reported_not_hung() {
    logs::capture();
    for server in [Server::Http1, Server::Auto] {
        let runs = Arc::new(AtomicUsize::new(0));
        let (layer, mut failures) = reporting_layer(runs.clone());
        let addr = spawn_without_upgrades(server, layer).await;

        // The 101 goes out, then the server drops the connection: the client is not left
        // hanging.
        let mut stream = raw_handshake(addr, "/ws?from=test").await;
        expect_eof(&mut stream).await;

        let failure = within("the on_failed_upgrade hook", failures.recv())
            .await
            .expect("a failure");
        assert!(failure.is_after_response(), "{server:?}");
        assert_eq!(failure.request().uri.query(), Some("from=test"));
        let message = failure.to_string();
        assert!(message.contains("with_upgrades"), "{server:?}: {message}");
        assert!(std::error::Error::source(&failure).is_some());
        assert_eq!(runs.load(Ordering::SeqCst), 0, "{server:?}: handler ran");

        let logged = logs::errors().iter().any(|line| {
            line.contains("WebSocket upgrade failed")
                && line.contains("serve_connection_with_upgrades")
        });
        assert!(logged, "{server:?}: not in the error log");
        logs::lines().clear();
    }
}

#[tokio::test]
async fn no_upgrade_support_at_all_is_500_and_reported() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (layer, mut failures) = reporting_layer(runs.clone());
    let service = layer.layer(service_fn(inner::<Empty<Bytes>>));
    let request = Request::get("/ws")
        .header("host", "localhost")
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-key", KEY)
        .header("sec-websocket-version", "13")
        .body(Empty::new())
        .unwrap();
    // No hyper connection, so no upgrade handle in the request.
    let response = within("oneshot", service.oneshot(request)).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("serve_connection_with_upgrades"));
    let failure = failures.try_recv().expect("reported at once");
    assert!(!failure.is_after_response());
    assert_eq!(failure.into_request().uri.path(), "/ws");
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

//! WebSockets over HTTP/2 (RFC 8441) on h2c, with hyper's HTTP/2 client sending the extended
//! CONNECT and tungstenite framing the stream: served as the `echo` example serves (hyper-util's
//! auto builder with `enable_connect_protocol`), with the same layer and handler as over
//! HTTP/1.1.

mod support;

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use hyper::body::Incoming;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tower::{Layer, service_fn};
use tower_websocket::{CloseCode, Conn, Message, WebSocketUpgradeLayer};

use support::h2::{body_text, connect_request, h2_client, h2_websocket};
use support::{connect, echo, spawn_server, spawn_service, within, ws_url};

#[tokio::test]
async fn extended_connect_is_answered_200_and_echoes() {
    let addr = spawn_server(WebSocketUpgradeLayer::new(echo).path("/ws")).await;
    let mut h2 = h2_client(connect(addr).await).await;
    let request = connect_request(&format!("http://{addr}/ws"))
        .body(Empty::new())
        .unwrap();
    let (head, mut ws) = h2_websocket(&mut h2, request).await.expect("200");
    assert_eq!(head.status, StatusCode::OK);
    for name in [
        "sec-websocket-accept",
        "content-length",
        "upgrade",
        "connection",
    ] {
        assert!(head.headers.get(name).is_none(), "{name}: {head:?}");
    }

    within("send", ws.send(WsMessage::text("over h2")))
        .await
        .unwrap();
    let echoed = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echoed, WsMessage::text("over h2"));
    let big = vec![7u8; 100_000];
    within("send", ws.send(WsMessage::binary(big.clone())))
        .await
        .unwrap();
    let echoed = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echoed.into_data(), big);

    // Several WebSockets share the one HTTP/2 connection.
    let request = connect_request(&format!("http://{addr}/ws"))
        .body(Empty::new())
        .unwrap();
    let (_, mut second) = h2_websocket(&mut h2, request).await.expect("200");
    within("send", second.send(WsMessage::text("second")))
        .await
        .unwrap();
    let echoed = within("echo", second.next()).await.unwrap().unwrap();
    assert_eq!(echoed, WsMessage::text("second"));

    // The close handshake completes over the stream.
    within("close", ws.close(None)).await.unwrap();
    while let Some(frame) = within("closing", ws.next()).await {
        if frame.is_err() {
            break;
        }
    }
}

/// Reports what the handler sees, then closes normally.
async fn report(mut conn: Conn) {
    let request = conn.request();
    let report = format!(
        "{} {} {} {}",
        request.method,
        request.uri.path(),
        request
            .headers
            .get("x-user")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-"),
        conn.protocol().unwrap_or("-"),
    );
    if conn.send(Message::text(report)).await.is_ok() {
        let _ = conn.close_with(CloseCode::NORMAL, "").await;
    }
}

#[tokio::test]
async fn the_same_handler_gets_the_same_conn_over_http1_and_http2() {
    let layer = WebSocketUpgradeLayer::new(report)
        .path("/ws")
        .protocols(["v2", "v1"]);
    let addr = spawn_server(layer).await;

    let mut h2 = h2_client(connect(addr).await).await;
    let request = connect_request(&format!("http://{addr}/ws"))
        .header("sec-websocket-protocol", "v1, v2")
        .header("x-user", "alice")
        .body(Empty::new())
        .unwrap();
    let (head, mut ws) = h2_websocket(&mut h2, request).await.expect("200");
    assert_eq!(head.headers["sec-websocket-protocol"], "v2");
    let message = within("report", ws.next()).await.unwrap().unwrap();
    assert_eq!(message, WsMessage::text("CONNECT /ws alice v2"));

    let mut request = ws_url(addr, "/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static("v1, v2"));
    request
        .headers_mut()
        .insert("x-user", HeaderValue::from_static("alice"));
    let (mut ws, response) = within("HTTP/1.1 handshake", connect_async(request))
        .await
        .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "v2");
    let message = within("report", ws.next()).await.unwrap().unwrap();
    assert_eq!(message, WsMessage::text("GET /ws alice v2"));
}

#[tokio::test]
async fn version_is_checked_and_the_426_has_no_upgrade_header() {
    let addr = spawn_server(WebSocketUpgradeLayer::new(echo).path("/ws")).await;
    let mut h2 = h2_client(connect(addr).await).await;
    for version in [None, Some("8")] {
        let mut request = connect_request(&format!("http://{addr}/ws"))
            .body(Empty::new())
            .unwrap();
        request.headers_mut().remove("sec-websocket-version");
        if let Some(v) = version {
            request
                .headers_mut()
                .insert("sec-websocket-version", HeaderValue::from_static(v));
        }
        let response = h2_websocket(&mut h2, request).await.expect_err("refused");
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        assert!(response.headers().get("upgrade").is_none());
        assert!(body_text(response).await.contains("Sec-WebSocket-Version"));
    }
}

/// The inner service behind a layer without a path filter: 404 naming the method and path,
/// so a test can see the request went through.
async fn not_found(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("inner: {} {}", request.method(), request.uri());
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::NOT_FOUND;
    Ok(response)
}

#[tokio::test]
async fn connect_without_the_websocket_protocol_passes_through() {
    // No path filter: only the request itself decides.
    let addr = spawn_service(WebSocketUpgradeLayer::new(echo).layer(service_fn(not_found))).await;
    let mut h2 = h2_client(connect(addr).await).await;

    // A plain CONNECT (a proxy tunnel), even with WebSocket headers.
    let request = Request::connect(addr.to_string())
        .version(http::Version::HTTP_2)
        .header("sec-websocket-version", "13")
        .body(Empty::new())
        .unwrap();
    let response = h2_websocket(&mut h2, request).await.expect_err("inner");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(body_text(response).await, format!("inner: CONNECT {addr}"));

    // An extended CONNECT for another protocol.
    let mut request = connect_request(&format!("http://{addr}/tunnel"))
        .body(Empty::new())
        .unwrap();
    request
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static("connect-udp"));
    let response = h2_websocket(&mut h2, request).await.expect_err("inner");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(body_text(response).await.starts_with("inner: CONNECT"));

    // A WebSocket one still works on the same connection.
    let request = connect_request(&format!("http://{addr}/anything"))
        .body(Empty::new())
        .unwrap();
    let (head, _ws) = h2_websocket(&mut h2, request).await.expect("200");
    assert_eq!(head.status, StatusCode::OK);
}

#[tokio::test]
async fn origin_is_checked_against_the_authority() {
    let addr = spawn_server(WebSocketUpgradeLayer::new(echo).path("/ws")).await;
    let mut h2 = h2_client(connect(addr).await).await;
    let same = format!("http://{addr}");
    let request = connect_request(&format!("http://{addr}/ws"))
        .header("origin", &same)
        .body(Empty::new())
        .unwrap();
    assert!(h2_websocket(&mut h2, request).await.is_ok());

    let request = connect_request(&format!("http://{addr}/ws"))
        .header("origin", "https://evil.example")
        .body(Empty::new())
        .unwrap();
    let response = h2_websocket(&mut h2, request).await.expect_err("403");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(body_text(response).await.contains("Origin"));
}

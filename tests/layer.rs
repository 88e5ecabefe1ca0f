//! The layer as a tower middleware: which requests it answers, which it passes on, how it
//! rejects bad handshakes, and what it hands the handler.

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_websocket::{CloseCode, Conn, Message, WebSocketUpgradeLayer};

use support::{
    ACCEPT, KEY, OpCode, connect, echo, handshake_request, http_exchange, masked_frame,
    raw_handshake, read_frame, read_response_head, spawn_server, within, write_raw, ws_url,
};

async fn echo_server() -> std::net::SocketAddr {
    spawn_server(WebSocketUpgradeLayer::new(echo).path("/ws")).await
}

/// A handshake request with a method and a header list of our choosing (no body).
fn request_with(method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request
}

#[tokio::test]
async fn upgrade_to_the_path_gets_101_with_the_rfc_accept_value() {
    let addr = echo_server().await;
    let mut stream = connect(addr).await;
    write_raw(&mut stream, handshake_request("/ws", &[]).as_bytes()).await;
    let head = read_response_head(&mut stream).await;
    assert_eq!(head.status, 101, "{head:?}");
    assert_eq!(head.header("sec-websocket-accept"), Some(ACCEPT));
    assert!(
        head.header("upgrade")
            .unwrap()
            .eq_ignore_ascii_case("websocket")
    );
    assert!(
        head.header("connection")
            .unwrap()
            .eq_ignore_ascii_case("upgrade")
    );
    assert_eq!(head.header("sec-websocket-protocol"), None);
}

#[tokio::test]
async fn plain_requests_reach_the_inner_service() {
    let addr = echo_server().await;
    let (head, body) = http_exchange(addr, &request_with("GET", "/", &[])).await;
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(body, "inner: /");
    // A plain GET to the WebSocket path is not a handshake attempt either.
    let (head, body) = http_exchange(addr, &request_with("GET", "/ws", &[])).await;
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(body, "inner: /ws");
}

#[tokio::test]
async fn upgrade_to_another_path_reaches_the_inner_service() {
    let addr = echo_server().await;
    let (head, body) = http_exchange(addr, &handshake_request("/other", &[])).await;
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(body, "inner: /other");
}

#[tokio::test]
async fn matching_predicate_filters_handshakes() {
    let layer = WebSocketUpgradeLayer::new(echo)
        .path("/ws")
        .matching(|parts| parts.headers.contains_key("x-allow"));
    let addr = spawn_server(layer).await;

    let (head, body) = http_exchange(addr, &handshake_request("/ws", &[])).await;
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(body, "inner: /ws");

    let mut stream = connect(addr).await;
    let request = handshake_request("/ws", &[("X-Allow", "1")]);
    write_raw(&mut stream, request.as_bytes()).await;
    let head = read_response_head(&mut stream).await;
    assert_eq!(head.status, 101, "{head:?}");

    // Both filters must match: the header alone on another path is not enough.
    let (head, body) = http_exchange(addr, &handshake_request("/other", &[("X-Allow", "1")])).await;
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(body, "inner: /other");
}

const UPGRADE_HEADERS: [(&str, &str); 4] = [
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", KEY),
    ("Sec-WebSocket-Version", "13"),
];

fn upgrade_headers_except(name: &str) -> Vec<(&'static str, &'static str)> {
    UPGRADE_HEADERS
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case(name))
        .collect()
}

#[tokio::test]
async fn post_with_upgrade_headers_is_405_with_allow_get() {
    let addr = echo_server().await;
    let (head, body) = http_exchange(addr, &request_with("POST", "/ws", &UPGRADE_HEADERS)).await;
    assert_eq!(head.status, 405, "{head:?}");
    assert_eq!(head.header("allow"), Some("GET"));
    assert!(body.contains("GET"), "{body:?}");
}

#[tokio::test]
async fn missing_key_is_400() {
    let addr = echo_server().await;
    let headers = upgrade_headers_except("sec-websocket-key");
    let (head, body) = http_exchange(addr, &request_with("GET", "/ws", &headers)).await;
    assert_eq!(head.status, 400, "{head:?}");
    assert!(body.contains("Sec-WebSocket-Key"), "{body:?}");
}

#[tokio::test]
async fn version_8_is_426_with_version_13() {
    let addr = echo_server().await;
    let mut headers = upgrade_headers_except("sec-websocket-version");
    headers.push(("Sec-WebSocket-Version", "8"));
    let (head, _) = http_exchange(addr, &request_with("GET", "/ws", &headers)).await;
    assert_eq!(head.status, 426, "{head:?}");
    assert_eq!(head.header("sec-websocket-version"), Some("13"));
}

/// A valid handshake as an `http::Request`, for calling the service without a server.
fn upgrade_request() -> Request<Empty<Bytes>> {
    let mut builder = Request::get("/ws").header("host", "localhost");
    for (name, value) in UPGRADE_HEADERS {
        builder = builder.header(name, value);
    }
    builder.body(Empty::new()).unwrap()
}

#[tokio::test]
async fn without_hyper_upgrades_a_valid_handshake_is_500_naming_the_fix() {
    let service = WebSocketUpgradeLayer::new(echo)
        .path("/ws")
        .layer(service_fn(support::inner::<Empty<Bytes>>));
    let response = within("oneshot", service.oneshot(upgrade_request()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains("serve_connection_with_upgrades"), "{body:?}");
}

/// An inner service that is not ready until [`Gate::open`], counting its `poll_ready` calls.
#[derive(Clone, Default)]
struct Gate(Arc<GateState>);

#[derive(Default)]
struct GateState {
    open: AtomicBool,
    polls: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

impl Gate {
    fn open(&self) {
        self.0.open.store(true, Ordering::SeqCst);
        if let Some(waker) = self.0.waker.lock().unwrap().take() {
            waker.wake();
        }
    }

    fn polls(&self) -> usize {
        self.0.polls.load(Ordering::SeqCst)
    }
}

impl<B> Service<Request<B>> for Gate {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.polls.fetch_add(1, Ordering::SeqCst);
        if self.0.open.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(()));
        }
        *self.0.waker.lock().unwrap() = Some(cx.waker().clone());
        // Opened between the check and storing the waker: don't miss it.
        if self.0.open.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        std::future::ready(Ok(Response::new(Full::new(Bytes::from_static(b"gated")))))
    }
}

#[tokio::test]
async fn poll_ready_forwards_to_the_inner_service() {
    let gate = Gate::default();
    let mut service = WebSocketUpgradeLayer::new(echo).layer(gate.clone());
    let mut cx = Context::from_waker(Waker::noop());
    let ready = Service::<Request<Empty<Bytes>>>::poll_ready(&mut service, &mut cx);
    assert!(ready.is_pending(), "ready while the inner service is not");
    assert_eq!(gate.polls(), 1);

    let waiter = tokio::spawn(async move {
        ServiceExt::<Request<Empty<Bytes>>>::ready(&mut service)
            .await
            .unwrap();
        service
    });
    tokio::task::yield_now().await;
    gate.open();
    let mut service = within("ready after the gate opens", waiter).await.unwrap();
    assert!(gate.polls() >= 2);

    let plain = Request::get("/").body(Empty::<Bytes>::new()).unwrap();
    let response = within("inner call", service.call(plain)).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "gated");
}

#[tokio::test]
async fn handler_sees_the_request_parts_and_the_negotiated_protocol() {
    let layer = WebSocketUpgradeLayer::new(|mut conn: Conn| async move {
        let request = conn.request();
        let user = request
            .headers
            .get("x-user")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let report = format!(
            "{} {} {} {}",
            request.uri.path(),
            request.uri.query().unwrap_or("-"),
            user,
            conn.protocol().unwrap_or("-"),
        );
        if conn.send(Message::text(report)).await.is_ok() {
            let _ = conn.close_with(CloseCode::NORMAL, "").await;
        }
    })
    .path("/ws")
    .protocols(["v2", "v1"]);
    let addr = spawn_server(layer).await;

    let mut request = ws_url(addr, "/ws?room=7").into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("sec-websocket-protocol", HeaderValue::from_static("v1, v2"));
    headers.insert("x-user", HeaderValue::from_static("alice"));
    let (mut ws, response) = within("connect_async", connect_async(request))
        .await
        .expect("handshake");
    assert_eq!(response.headers()["sec-websocket-protocol"], "v2");
    let message = within("the report", ws.next()).await.unwrap().unwrap();
    assert_eq!(message, WsMessage::text("/ws room=7 alice v2"));
    let _ = within("client close", ws.close(None)).await;
}

/// A handler that reports its `Conn`'s peer address, and its read half's after a split.
async fn report_peer(conn: Conn) {
    let before = conn.peer_addr();
    let (reader, sender) = conn.split();
    let report = format!("{before:?} {:?}", reader.peer_addr());
    let _ = sender.send(Message::text(report)).await;
}

// Served by hyper-util's auto builder, whose wrapped IO only the `http2` feature recovers
// (without it the layer uses hyper's `Upgraded`, which knows no address).
#[cfg(feature = "http2")]
#[tokio::test]
async fn handler_sees_the_peer_address_before_and_after_a_split() {
    let addr = spawn_server(WebSocketUpgradeLayer::new(report_peer).path("/ws")).await;
    let mut stream = raw_handshake(addr, "/ws").await;
    let client = stream.local_addr().expect("local_addr");
    let report = read_frame(&mut stream).await;
    assert_eq!(report.opcode, OpCode::Text);
    let expected = format!("{:?} {:?}", Some(client), Some(client));
    assert_eq!(String::from_utf8(report.payload).unwrap(), expected);
}

#[tokio::test]
async fn frames_sent_in_the_same_write_as_the_handshake_are_not_lost() {
    let addr = echo_server().await;
    let mut stream = connect(addr).await;
    let mut wire = handshake_request("/ws", &[]).into_bytes();
    wire.extend(masked_frame(true, OpCode::Text, b"early bird"));
    wire.extend(masked_frame(true, OpCode::Binary, &[1, 2, 3]));
    write_raw(&mut stream, &wire).await;

    let head = read_response_head(&mut stream).await;
    assert_eq!(head.status, 101, "{head:?}");
    let text = read_frame(&mut stream).await;
    assert_eq!(
        (text.opcode, text.payload.as_slice()),
        (OpCode::Text, &b"early bird"[..])
    );
    let binary = read_frame(&mut stream).await;
    assert_eq!(
        (binary.opcode, binary.payload.as_slice()),
        (OpCode::Binary, &[1u8, 2, 3][..])
    );
    // Still a working connection afterwards.
    write_raw(&mut stream, &masked_frame(true, OpCode::Text, b"later")).await;
    assert_eq!(read_frame(&mut stream).await.payload, b"later");
}

#[tokio::test]
async fn the_layer_service_future_and_body_are_debug_whatever_the_handler() {
    // A closure handler is not `Debug`; the layer's types are anyway.
    let handler = |conn: Conn| echo(conn);
    let layer = WebSocketUpgradeLayer::new(handler).path("/ws");
    assert!(format!("{layer:?}").starts_with("WebSocketUpgradeLayer"));
    let mut service = layer.layer(service_fn(support::inner::<Empty<Bytes>>));
    let debug = format!("{service:?}");
    assert!(debug.starts_with("WebSocketUpgrade {"), "{debug}");
    assert!(debug.contains("\"/ws\""), "{debug}");
    let future = service.call(upgrade_request());
    assert!(format!("{future:?}").starts_with("ResponseFuture"));
    let response = within("the 500", future).await.unwrap();
    assert!(format!("{:?}", response.body()).starts_with("UpgradeBody"));
}

#[tokio::test]
async fn zero_timeouts_turn_the_waits_off_rather_than_dropping_every_connection() {
    let layer = WebSocketUpgradeLayer::new(echo)
        .path("/ws")
        .upgrade_timeout(std::time::Duration::ZERO)
        .handshake_timeout(std::time::Duration::ZERO)
        .on_handshake_async(|handshake| async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok(handshake)
        });
    let addr = spawn_server(layer).await;
    let mut stream = raw_handshake(addr, "/ws").await;
    write_raw(
        &mut stream,
        &masked_frame(true, OpCode::Text, b"still here"),
    )
    .await;
    assert_eq!(read_frame(&mut stream).await.payload, b"still here");
}

//! `server::serve` under hostile clients: slowloris, a connection cap, graceful shutdown; and
//! the layer's own connection cap (503 + Retry-After).

mod support;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::{Layer, service_fn};
use tower_websocket::{Handler, WebSocketUpgrade, WebSocketUpgradeLayer, server};

use support::*;

type Inner = tower::util::ServiceFn<
    fn(
        http::Request<Incoming>,
    ) -> std::future::Ready<
        Result<http::Response<http_body_util::Full<bytes::Bytes>>, std::convert::Infallible>,
    >,
>;

/// `layer` around a service answering `200 inner: <path>`.
fn app<H: Handler>(layer: WebSocketUpgradeLayer<H>) -> WebSocketUpgrade<Inner, H> {
    let inner: fn(_) -> _ = |request: http::Request<Incoming>| {
        let body = format!("inner: {}", request.uri().path());
        std::future::ready(Ok(http::Response::new(http_body_util::Full::new(
            bytes::Bytes::from(body),
        ))))
    };
    layer.layer(service_fn(inner))
}

/// A server started by `start` (given the listener and the shutdown signal), on a fresh
/// loopback port. Dropping or firing the sender starts the graceful shutdown.
struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start<F, Fut>(start: F) -> Running
where
    F: FnOnce(TcpListener, std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
    Fut: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let signal = Box::pin(async {
        let _ = stopped.await;
    });
    let task = tokio::spawn(start(listener, signal));
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

/// Reads until the server closes the connection (EOF or reset); how long that took.
async fn wait_closed(mut stream: TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("the server kept a stalled connection open for {limit:?}"),
        }
    }
}

/// Runs the close handshake from the client side and waits for the server to close TCP.
async fn close_cleanly(mut ws: TcpStream) {
    let close = masked_frame(true, OpCode::Close, &close_payload(1000, b""));
    write_raw(&mut ws, &close).await;
    assert_eq!(read_frame(&mut ws).await.close_code(), 1000);
    expect_eof(&mut ws).await;
}

#[tokio::test]
async fn slowloris_clients_are_dropped_within_the_header_read_timeout() {
    let timeout = Duration::from_millis(800);
    let running = start(|listener, signal| {
        server::serve(listener, app(WebSocketUpgradeLayer::new(echo).path("/ws")))
            .header_read_timeout(Some(timeout))
            .with_graceful_shutdown(signal)
            .into_future()
    })
    .await;
    // Half a request line (HTTP/1 header read), half the HTTP/2 preface (hyper-util's version
    // sniff, which has no timeout of its own), half a handshake, and nothing at all.
    let stalls: [&[u8]; 4] = [
        b"GET /ws HTT",
        b"PRI * HTTP/2",
        b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: webso",
        b"",
    ];
    let mut clients = Vec::new();
    for round in 0..25 {
        for stall in stalls {
            let mut stream = connect(running.addr).await;
            write_raw(&mut stream, stall).await;
            clients.push((round, stall, stream));
        }
    }
    let waits: Vec<_> = clients
        .into_iter()
        .map(|(_, stall, stream)| {
            tokio::spawn(async move { (stall, wait_closed(stream, Duration::from_secs(5)).await) })
        })
        .collect();
    for wait in waits {
        let (stall, elapsed) = wait.await.expect("client task");
        assert!(
            elapsed <= timeout + Duration::from_secs(2),
            "{:?} closed after {elapsed:?}",
            String::from_utf8_lossy(stall)
        );
    }
    // The server still serves a client that sends its request in time.
    let (head, body) = http_exchange(running.addr, "GET /page HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!((head.status, body.as_str()), (200, "inner: /page"));
    let mut ws = raw_handshake(running.addr, "/ws").await;
    write_raw(&mut ws, &masked_frame(true, OpCode::Text, b"hi")).await;
    assert_eq!(read_frame(&mut ws).await.payload, b"hi");
}

#[tokio::test]
async fn the_handler_sees_the_peer_address_under_serve() {
    let layer = WebSocketUpgradeLayer::new(|mut conn: tower_websocket::Conn| async move {
        let report = format!("{:?}", conn.peer_addr());
        let _ = conn.send(tower_websocket::Message::text(report)).await;
    });
    let running = start(|listener, signal| {
        server::serve(listener, app(layer.path("/ws")))
            .with_graceful_shutdown(signal)
            .into_future()
    })
    .await;
    let mut ws = raw_handshake(running.addr, "/ws").await;
    let client = ws.local_addr().expect("local_addr");
    let report = read_frame(&mut ws).await;
    assert_eq!(report.payload, format!("{:?}", Some(client)).into_bytes());
}

#[tokio::test]
async fn a_request_sent_slowly_but_in_time_is_served() {
    let running = start(|listener, signal| {
        server::serve(listener, app(WebSocketUpgradeLayer::new(echo).path("/ws")))
            .header_read_timeout(Some(Duration::from_secs(2)))
            .with_graceful_shutdown(signal)
            .into_future()
    })
    .await;
    let mut stream = connect(running.addr).await;
    for part in ["GET /slow HT", "TP/1.1\r\nHost:", " x\r\n\r\n"] {
        write_raw(&mut stream, part.as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let head = read_response_head(&mut stream).await;
    assert_eq!(head.status, 200);
    assert_eq!(read_body(&mut stream, &head).await, "inner: /slow");
}

#[tokio::test]
async fn over_max_connections_accepting_pauses_until_one_closes() {
    let running = start(|listener, signal| {
        server::serve(listener, app(WebSocketUpgradeLayer::new(echo).path("/ws")))
            .max_connections(2)
            .with_graceful_shutdown(signal)
            .into_future()
    })
    .await;
    // Two WebSockets hold both places (they count after leaving hyper, until they close).
    let first = raw_handshake(running.addr, "/ws").await;
    let mut second = raw_handshake(running.addr, "/ws").await;
    let mut third = connect(running.addr).await;
    write_raw(&mut third, handshake_request("/ws", &[]).as_bytes()).await;
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "a third connection was served over the cap: {early:?}"
    );
    // One closes: the waiting connection is accepted and served.
    close_cleanly(first).await;
    let head = read_response_head(&mut third).await;
    assert_eq!(head.status, 101, "{head:?}");
    for ws in [&mut second, &mut third] {
        write_raw(ws, &masked_frame(true, OpCode::Text, b"still here")).await;
        assert_eq!(read_frame(ws).await.payload, b"still here");
    }
}

#[tokio::test]
async fn layer_max_connections_answers_503_with_retry_after() {
    let addr = spawn_server(WebSocketUpgradeLayer::new(echo).max_connections(1)).await;
    let first = raw_handshake(addr, "/ws").await;
    let (head, body) = http_exchange(addr, &handshake_request("/ws", &[])).await;
    assert_eq!(head.status, 503, "{head:?}");
    assert_eq!(head.header("retry-after"), Some("1"));
    assert!(body.contains("too many WebSocket connections"), "{body}");
    // Plain requests are not counted or refused.
    let (head, _) = http_exchange(addr, "GET /page HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(head.status, 200);
    // Once the first closes, its place is free again.
    close_cleanly(first).await;
    let admitted = within("a place under the cap", async {
        loop {
            let mut stream = connect(addr).await;
            write_raw(&mut stream, handshake_request("/ws", &[]).as_bytes()).await;
            if read_response_head(&mut stream).await.status == 101 {
                return stream;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    drop(admitted);
}

#[tokio::test]
async fn graceful_shutdown_closes_websockets_with_1001_and_returns() {
    let mut running = start(|listener, signal| {
        server::serve(listener, app(WebSocketUpgradeLayer::new(echo).path("/ws")))
            .with_graceful_shutdown(signal)
            .into_future()
    })
    .await;
    let mut sockets = Vec::new();
    for _ in 0..3 {
        sockets.push(raw_handshake(running.addr, "/ws").await);
    }
    // An idle HTTP/1.1 keep-alive connection too.
    let mut idle_http = connect(running.addr).await;
    write_raw(&mut idle_http, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let head = read_response_head(&mut idle_http).await;
    read_body(&mut idle_http, &head).await;

    drop(running.stop.take());
    for ws in &mut sockets {
        let close = read_frame(ws).await;
        assert_eq!(close.close_code(), 1001);
        write_raw(
            ws,
            &masked_frame(true, OpCode::Close, &close_payload(1001, b"")),
        )
        .await;
        expect_eof(ws).await;
    }
    expect_eof(&mut idle_http).await;
    let result = within("serve returns after the shutdown", &mut running.task).await;
    assert!(matches!(result, Ok(Ok(()))), "{result:?}");
    assert!(
        TcpStream::connect(running.addr).await.is_err(),
        "the listener is closed after shutdown"
    );
}

#[tokio::test]
async fn graceful_shutdown_waits_at_most_the_shutdown_timeout() {
    let mut running = start(|listener, signal| {
        server::serve(listener, app(WebSocketUpgradeLayer::new(echo).path("/ws")))
            .shutdown_timeout(Duration::from_millis(300))
            .with_graceful_shutdown(signal)
            .into_future()
    })
    .await;
    // A peer that never answers the server's Close.
    let mut ws = raw_handshake(running.addr, "/ws").await;
    drop(running.stop.take());
    assert_eq!(read_frame(&mut ws).await.close_code(), 1001);
    let started = Instant::now();
    let result = within(
        "serve returns after its shutdown timeout",
        &mut running.task,
    )
    .await;
    assert!(matches!(result, Ok(Ok(()))), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

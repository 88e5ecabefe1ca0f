//! The wait for hyper to hand a connection over after the `101` is bounded: by the layer's
//! upgrade timeout, and by a graceful shutdown starting meanwhile; and a peer that leaves
//! before the `101` reaches it is not an error-log line.
//!
//! hyper hands a connection over once it has written the `101`. A middleware in front of the
//! layer that takes the layer's `101` and never passes it on to hyper (think of one that
//! buffers responses) leaves the layer's connection task waiting: that is the wait tested.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use tokio::sync::{Notify, mpsc};
use tower::{Layer, ServiceExt, service_fn};
use tower_websocket::{GracefulShutdown, UpgradeBody, WebSocketUpgradeLayer};

use support::*;

type Body = UpgradeBody<http_body_util::Full<bytes::Bytes>>;

/// Serves `layer` behind a middleware that holds each response back until `release` is
/// notified (never, if it is not); each status is reported.
async fn spawn_holding<H: tower_websocket::Handler>(
    layer: WebSocketUpgradeLayer<H>,
    release: Arc<Notify>,
) -> (SocketAddr, mpsc::UnboundedReceiver<StatusCode>) {
    let service = layer.layer(service_fn(inner::<Incoming>));
    let (tx, rx) = mpsc::unbounded_channel();
    let hold = service_fn(move |request: Request<Incoming>| {
        let (service, tx, release) = (service.clone(), tx.clone(), release.clone());
        async move {
            let response = service.oneshot(request).await?;
            let _ = tx.send(response.status());
            release.notified().await;
            Ok::<Response<Body>, Infallible>(response)
        }
    });
    (spawn_service(hold).await, rx)
}

/// Serves `layer` behind a middleware that swallows its responses; each status is reported.
async fn spawn_swallowing<H: tower_websocket::Handler>(
    layer: WebSocketUpgradeLayer<H>,
) -> (SocketAddr, mpsc::UnboundedReceiver<StatusCode>) {
    spawn_holding(layer, Arc::new(Notify::new())).await
}

/// Sends a handshake and waits until the layer has answered it `101` (which the middleware
/// holds back); the client, to keep the connection open.
async fn send_handshake(
    addr: SocketAddr,
    statuses: &mut mpsc::UnboundedReceiver<StatusCode>,
) -> tokio::net::TcpStream {
    let mut client = connect(addr).await;
    write_raw(&mut client, handshake_request("/ws", &[]).as_bytes()).await;
    let status = within("the 101", statuses.recv()).await;
    assert_eq!(status, Some(StatusCode::SWITCHING_PROTOCOLS));
    client
}

async fn live_drops_to_zero(shutdown: &GracefulShutdown, within_time: Duration) -> bool {
    tokio::time::timeout(within_time, async {
        while shutdown.live_connections() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn a_connection_never_handed_over_is_dropped_after_the_upgrade_timeout() {
    let shutdown = GracefulShutdown::new();
    let layer = WebSocketUpgradeLayer::new(echo)
        .graceful_shutdown(&shutdown)
        .upgrade_timeout(Duration::from_millis(300));
    let (addr, mut statuses) = spawn_swallowing(layer).await;
    let _client = send_handshake(addr, &mut statuses).await;
    assert_eq!(shutdown.live_connections(), 1, "counted from the 101 on");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(shutdown.live_connections(), 1, "dropped before its timeout");
    assert!(
        live_drops_to_zero(&shutdown, Duration::from_secs(3)).await,
        "still waiting for the upgrade past its timeout"
    );
}

#[tokio::test]
async fn a_graceful_shutdown_ends_the_wait_for_the_upgrade() {
    let shutdown = GracefulShutdown::new();
    let layer = WebSocketUpgradeLayer::new(echo).graceful_shutdown(&shutdown);
    let (addr, mut statuses) = spawn_swallowing(layer).await;
    let _client = send_handshake(addr, &mut statuses).await;
    assert_eq!(shutdown.live_connections(), 1);
    // The default upgrade timeout is 10 s; the shutdown does not wait for it.
    let all_closed = within("shutdown", shutdown.shutdown(Duration::from_secs(2))).await;
    assert!(
        all_closed,
        "shutdown waited for a connection still being upgraded"
    );
}

#[tokio::test]
async fn a_peer_that_leaves_before_the_101_is_not_an_error_log_line() {
    logs::capture();
    let (tx, mut failures) = mpsc::unbounded_channel();
    let layer = WebSocketUpgradeLayer::new(echo).on_failed_upgrade(move |failure| {
        let _ = tx.send(failure.is_after_response());
    });
    let release = Arc::new(Notify::new());
    let (addr, mut statuses) = spawn_holding(layer, release.clone()).await;
    let before = logs::errors().len();
    let client = send_handshake(addr, &mut statuses).await;
    // The client resets the connection; only then does hyper get the 101 to write.
    client.set_zero_linger().unwrap();
    drop(client);
    tokio::time::sleep(Duration::from_millis(50)).await;
    release.notify_one();
    let failure = within("the on_failed_upgrade hook", failures.recv()).await;
    assert_eq!(
        failure,
        Some(true),
        "reported as a failure after the response"
    );
    let lines = logs::errors();
    assert_eq!(
        lines.len(),
        before,
        "logged at error: {:?}",
        &lines[before..]
    );
}

//! tonic: a gRPC service and a WebSocket endpoint on one port.
//!
//! ```sh
//! cargo run --release --example tonic -- 127.0.0.1:50051
//! ```
//!
//! The gRPC service is `grpc.health.v1.Health` from `tonic-health`, so any standard gRPC client
//! can call it (e.g. `grpc_health_probe -addr 127.0.0.1:50051`, or `grpcurl -plaintext
//! 127.0.0.1:50051 grpc.health.v1.Health/Check` with the proto); `/ws` echoes WebSocket
//! messages, over HTTP/1.1 or HTTP/2 (RFC 8441).
//!
//! tonic's own `Server` serves HTTP/2 only and enables neither HTTP/1.1 upgrades nor extended
//! CONNECT, so it cannot accept a WebSocket. tonic's [`Routes`] is a plain tower service,
//! though: wrap it in the layer and serve it with hyper-util's auto builder, which speaks
//! HTTP/1.1 (with upgrades) and HTTP/2 (gRPC, and WebSockets once extended CONNECT is enabled)
//! on the same port. `tower_websocket::server::serve` does exactly that.

mod support;

use tonic::service::Routes;
use tower::Layer;
use tower_websocket::{Conn, Handler, WebSocketUpgrade, WebSocketUpgradeLayer, server};

/// Echoes every data message back.
async fn echo(mut conn: Conn) {
    while let Some(Ok(message)) = conn.recv().await {
        if message.is_data() && conn.send(message).await.is_err() {
            break;
        }
    }
}

/// gRPC health checking, with WebSockets on `/ws` in front of it.
pub fn app() -> WebSocketUpgrade<Routes, impl Handler> {
    // The reporter sets per-service statuses; the server as a whole ("") starts as SERVING.
    let (_reporter, health) = tonic_health::server::health_reporter();
    let grpc = Routes::new(health).prepare();
    WebSocketUpgradeLayer::new(echo).path("/ws").layer(grpc)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let banner = "tonic example: gRPC health and ws://…/ws on ";
    let listener = support::listen("127.0.0.1:50051", banner).await?;
    // The crate's `serve` speaks HTTP/2 (gRPC) and HTTP/1.1 on one port. Its header read
    // timeout also bounds a gRPC client's first request; long-lived gRPC streams are fine (it
    // only covers request heads), and HTTP/2 keepalive pings find dead peers.
    server::serve(listener, app())
        .with_graceful_shutdown(support::ctrl_c())
        .await
}

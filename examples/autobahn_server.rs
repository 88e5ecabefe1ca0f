//! The server the Autobahn|Testsuite runs against: echoes every text and binary message on every
//! path, with every protocol feature the crate has enabled: permessage-deflate (every message
//! compressed, threshold 0) included.
//!
//! ```sh
//! cargo run --release --example autobahn_server -- 127.0.0.1:9001
//! ```

mod support;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use tower::{Layer, service_fn};
use tower_websocket::{Conn, DeflateConfig, WebSocketUpgradeLayer, server};

async fn echo(mut conn: Conn) {
    while let Some(Ok(message)) = conn.recv().await {
        if message.is_data() && conn.send(message).await.is_err() {
            break;
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener =
        support::listen("127.0.0.1:9001", "autobahn echo server listening on ws://").await?;
    let not_found = service_fn(|_request| async {
        let mut response = Response::new(Full::new(Bytes::from_static(b"WebSocket only\n")));
        *response.status_mut() = StatusCode::NOT_FOUND;
        Ok::<_, Infallible>(response)
    });
    let service = WebSocketUpgradeLayer::new(echo)
        .deflate(DeflateConfig::new().threshold(0))
        .layer(not_found);
    server::serve(listener, service)
        .with_graceful_shutdown(support::ctrl_c())
        .await
}

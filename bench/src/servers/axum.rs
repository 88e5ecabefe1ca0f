//! axum: a `Router` with the `WebSocketUpgrade` extractor on `/` and the echo loop from the
//! `axum::extract::ws` docs, served by `axum::serve` (hyper-util's auto builder with upgrades)
//! with `TCP_NODELAY` set through `ListenerExt::tap_io`, as axum documents.

use std::io;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::any;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

pub async fn run(listener: TcpListener) -> io::Result<()> {
    let app = Router::new().route("/", any(handler));
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

async fn handler(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(handle_socket)
}

async fn handle_socket(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if matches!(message, Message::Text(_) | Message::Binary(_))
            && socket.send(message).await.is_err()
        {
            return;
        }
    }
}

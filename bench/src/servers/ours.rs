//! tower-websocket: `WebSocketUpgradeLayer` around a 404 service, served by the crate's
//! `server::serve` with its defaults (as in the README, the crate docs and the examples).
//!
//! The handler is the README's echo: `recv`, then `send` each data message. The layer corks the
//! connection's task, so the replies to all frames of one read leave in one write.

use std::convert::Infallible;
use std::io;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tower::{Layer, service_fn};
use tower_websocket::{Conn, WebSocketUpgradeLayer, server};

pub async fn run(listener: TcpListener) -> io::Result<()> {
    let not_found = service_fn(|_request: Request<Incoming>| async {
        let mut response = Response::new(Full::new(Bytes::from_static(b"WebSocket only\n")));
        *response.status_mut() = StatusCode::NOT_FOUND;
        Ok::<_, Infallible>(response)
    });
    let service = WebSocketUpgradeLayer::new(echo).layer(not_found);
    server::serve(listener, service).await
}

async fn echo(mut conn: Conn) {
    while let Some(Ok(message)) = conn.recv().await {
        if message.is_data() && conn.send(message).await.is_err() {
            break;
        }
    }
}

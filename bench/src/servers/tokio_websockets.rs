//! tokio-websockets: `ServerBuilder::new().accept(stream)` and a `Stream`/`Sink` echo of text and
//! binary messages, as in the crate's README (default `Config` and `Limits`).

use std::io;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_websockets::ServerBuilder;

pub async fn run(listener: TcpListener) -> io::Result<()> {
    crate::accept_loop(listener, |stream| async move {
        let Ok((_request, mut ws)) = ServerBuilder::new().accept(stream).await else {
            return;
        };
        while let Some(Ok(message)) = ws.next().await {
            if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                break;
            }
        }
    })
    .await
}

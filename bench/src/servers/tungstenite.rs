//! tokio-tungstenite: `accept_async`, then the read half filtered to text and binary messages and
//! forwarded into the write half, as in the crate's `examples/echo-server.rs` (default
//! `WebSocketConfig`).

use std::io;

use futures_util::{StreamExt, TryStreamExt, future};
use tokio::net::TcpListener;

pub async fn run(listener: TcpListener) -> io::Result<()> {
    crate::accept_loop(listener, |stream| async move {
        let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        let (write, read) = ws.split();
        let _ = read
            .try_filter(|message| future::ready(message.is_text() || message.is_binary()))
            .forward(write)
            .await;
    })
    .await
}

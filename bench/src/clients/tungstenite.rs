//! tokio-tungstenite's client: `connect_async_with_config`, then the `Sink` / `Stream` of
//! `Message`s (`send`, `feed` + `flush`, `next`), as its `examples/client.rs` shows. Nagle is
//! turned off (`disable_nagle`), as every other client here does.

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

pub struct Tungstenite(WebSocketStream<MaybeTlsStream<TcpStream>>);

pub async fn connect(url: &str) -> Result<Tungstenite, String> {
    let (ws, _response) = connect_async_with_config(url, None, true)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Tungstenite(ws))
}

impl super::Client for Tungstenite {
    async fn send(&mut self, payload: &Bytes, window: usize) -> Result<(), String> {
        if window == 1 {
            return self
                .0
                .send(Message::binary(payload.clone()))
                .await
                .map_err(|e| e.to_string());
        }
        for _ in 0..window {
            self.0
                .feed(Message::binary(payload.clone()))
                .await
                .map_err(|e| e.to_string())?;
        }
        self.0.flush().await.map_err(|e| e.to_string())
    }

    async fn recv(&mut self, payload: &[u8], compare: bool) -> Result<(), String> {
        match self.0.next().await {
            Some(Ok(Message::Binary(data))) => super::check_echo(&data, payload, compare),
            Some(Ok(other)) => Err(format!("a {other:?} for an echo")),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("the server closed".into()),
        }
    }

    async fn close(mut self) -> Result<(), String> {
        self.0.close(None).await.map_err(|e| e.to_string())?;
        // The close handshake completes when the stream ends.
        while let Some(item) = self.0.next().await {
            item.map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

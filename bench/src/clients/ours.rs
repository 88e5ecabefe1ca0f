//! tower-websocket's client: `client::connect`, then `Conn::send` / `feed` + `flush` / `recv`,
//! as the crate's README and `examples/client.rs` show.

use bytes::Bytes;
use tower_websocket::{CloseCode, Conn, Message, client};

pub struct Ours(Conn);

pub async fn connect(url: &str) -> Result<Ours, String> {
    client::connect(url)
        .await
        .map(Ours)
        .map_err(|e| e.to_string())
}

impl super::Client for Ours {
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
                .map_err(|e| e.to_string())?;
        }
        self.0.flush().await.map_err(|e| e.to_string())
    }

    async fn recv(&mut self, payload: &[u8], compare: bool) -> Result<(), String> {
        match self.0.recv().await {
            Some(Ok(Message::Binary(data))) => super::check_echo(&data, payload, compare),
            Some(Ok(other)) => Err(format!("a {other:?} for an echo")),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("the server closed".into()),
        }
    }

    async fn close(mut self) -> Result<(), String> {
        self.0
            .close_with(CloseCode::NORMAL, "")
            .await
            .map_err(|e| e.to_string())
    }
}

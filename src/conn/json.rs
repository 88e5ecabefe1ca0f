//! JSON helpers (feature `json`): x/net's `websocket.JSON`, gorilla's `WriteJSON`/`ReadJSON`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Conn;
use super::Error;
use crate::proto::Message;

impl<T: AsyncRead + AsyncWrite + Unpin> Conn<T> {
    /// Sends `value` as a JSON text message.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use tower_websocket::{Config, Conn, Role};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// struct Move { x: i32, y: i32 }
    ///
    /// let (a, b) = tokio::io::duplex(1024);
    /// let mut client = Conn::from_raw(a, Role::Client, &Config::default());
    /// let mut server = Conn::from_raw(b, Role::Server, &Config::default());
    /// client.send_json(&Move { x: 1, y: 2 }).await.unwrap();
    /// let got: Move = server.recv_json().await.unwrap().unwrap();
    /// assert_eq!(got, Move { x: 1, y: 2 });
    /// # }
    /// ```
    pub async fn send_json<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), Error> {
        let text = serde_json::to_string(value).map_err(Error::Json)?;
        self.send(Message::text(text)).await
    }

    /// Receives the next data message (text or binary) and parses it as JSON; pings and pongs
    /// are skipped (pings still answered). `None` once the connection has closed. A message
    /// that is not valid JSON for `V` gives [`Error::Json`]; the connection stays open.
    pub async fn recv_json<V: DeserializeOwned>(&mut self) -> Option<Result<V, Error>> {
        loop {
            let message = match self.recv().await? {
                Ok(message) => message,
                Err(error) => return Some(Err(error)),
            };
            let parsed = match &message {
                Message::Text(text) => serde_json::from_str(text.as_str()),
                Message::Binary(data) => serde_json::from_slice(data),
                Message::Ping(_) | Message::Pong(_) => continue,
                Message::Close(_) => return None,
            };
            return Some(parsed.map_err(Error::Json));
        }
    }
}

//! An echo server on plain hyper: `GET /` serves a page to try it from a browser, `/ws` echoes
//! every text and binary message.
//!
//! ```sh
//! cargo run --release --example echo -- 127.0.0.1:3000
//! ```

mod support;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use tower::{Layer, service_fn};
use tower_websocket::{Conn, WebSocketUpgradeLayer, server};

/// Echoes every data message back; pings, pongs and the close handshake are handled by `Conn`.
async fn echo(mut conn: Conn) {
    while let Some(Ok(message)) = conn.recv().await {
        if message.is_data() && conn.send(message).await.is_err() {
            break;
        }
    }
}

async fn page<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = if request.uri().path() == "/" {
        Response::builder()
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Full::new(Bytes::from_static(PAGE.as_bytes())))
    } else {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"not found\n")))
    };
    Ok(response.unwrap_or_default())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = support::listen("127.0.0.1:3000", "echo server: open http://").await?;
    let service = WebSocketUpgradeLayer::new(echo)
        .path("/ws")
        .layer(service_fn(page));
    // Header read timeout, connection cap, accept-error backoff, TCP_NODELAY; on Ctrl-C, every
    // WebSocket is closed with 1001 before the process exits.
    server::serve(listener, service)
        .with_graceful_shutdown(support::ctrl_c())
        .await
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>tower-websocket echo</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  #log { border: 1px solid #ccc; height: 20rem; overflow-y: auto; padding: .5rem; white-space: pre-wrap; }
  .sent { color: #555; } .recv { color: #064; } .info { color: #888; font-style: italic; }
  form { display: flex; gap: .5rem; margin-top: .5rem; } input { flex: 1; }
</style>
<h1>tower-websocket echo</h1>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" placeholder="Type a message" autofocus><button>Send</button></form>
<script>
  const log = document.getElementById("log");
  const show = (cls, text) => {
    const line = document.createElement("div");
    line.className = cls; line.textContent = text;
    log.append(line); log.scrollTop = log.scrollHeight;
  };
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onopen = () => show("info", "connected");
  ws.onmessage = (e) => show("recv", "< " + e.data);
  ws.onclose = (e) => show("info", `closed (${e.code})`);
  document.getElementById("form").onsubmit = (e) => {
    e.preventDefault();
    const input = document.getElementById("text");
    if (input.value && ws.readyState === WebSocket.OPEN) {
      ws.send(input.value); show("sent", "> " + input.value); input.value = "";
    }
  };
</script>
</html>
"#;

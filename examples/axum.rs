//! axum: ordinary routes and a WebSocket endpoint in one `Router`, with one `.layer()`.
//!
//! ```sh
//! cargo run --release --example axum -- 127.0.0.1:3000
//! ```
//!
//! - `GET /`: a page that calls the JSON route and opens the WebSocket.
//! - `GET /api/me`: JSON naming the authenticated user.
//! - `/ws`: greets the user by name, then echoes every text and binary message.
//!
//! An axum middleware in front of the layer authenticates every request except the page (a
//! bearer token, or `?token=` since browsers cannot set headers on a WebSocket) and puts the
//! [`User`] in the request extensions, where the WebSocket handler finds it through
//! `conn.request().extensions`. A request without a valid token is answered `401` by the
//! middleware and never reaches the layer or the handler. Demo tokens: `alice-token`,
//! `bob-token`.
//!
//! `axum::serve` enables HTTP/1.1 upgrades, and with axum's `http2` feature HTTP/2 extended
//! CONNECT too, so the same handler also serves RFC 8441 WebSockets. `main` adds what
//! `axum::serve` leaves out for WebSockets: `TCP_NODELAY`, a cap on live WebSockets, and a
//! graceful shutdown that closes them with 1001.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};
use std::time::Duration;

use axum::serve::ListenerExt;
use tower_websocket::{CloseCode, Conn, GracefulShutdown, Message, WebSocketUpgradeLayer};

/// Who the authentication middleware let in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User(pub String);

/// At most this many WebSockets at once; the next handshake is answered `503` + `Retry-After`.
const MAX_WEBSOCKETS: usize = 10_000;

/// The whole app: routes, the WebSocket layer, and authentication in front of both.
pub fn app() -> Router {
    app_with(&GracefulShutdown::new())
}

/// [`app`], with its WebSockets tracked in `shutdown`: `axum::serve` neither waits for nor
/// closes upgraded connections, so `main` does that with this handle.
pub fn app_with(shutdown: &GracefulShutdown) -> Router {
    let websockets = WebSocketUpgradeLayer::new(echo)
        .path("/ws")
        .max_connections(MAX_WEBSOCKETS)
        .graceful_shutdown(shutdown);
    Router::new()
        .route("/", get(page))
        .route("/api/me", get(me))
        .layer(websockets)
        // Added last, so it runs first: WebSocket handshakes pass through it too.
        .layer(middleware::from_fn(auth))
}

/// Lets the page through; everything else needs a known token, and gets its [`User`].
pub async fn auth(mut request: Request, next: Next) -> Response {
    if request.uri().path() == "/" {
        return next.run(request).await;
    }
    match user(&request) {
        Some(user) => {
            request.extensions_mut().insert(user);
            next.run(request).await
        }
        None => (
            StatusCode::UNAUTHORIZED,
            [(WWW_AUTHENTICATE, "Bearer")],
            "missing or invalid token\n",
        )
            .into_response(),
    }
}

/// The user a bearer token or a `token` query parameter names.
fn user(request: &Request) -> Option<User> {
    let bearer = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let query = request.uri().query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))
    });
    let name = match bearer.or(query)? {
        "alice-token" => "alice",
        "bob-token" => "bob",
        _ => return None,
    };
    Some(User(name.to_owned()))
}

async fn me(Extension(user): Extension<User>) -> Json<Value> {
    Json(json!({ "user": user.0 }))
}

/// Greets the user the middleware authenticated, then echoes.
async fn echo(mut conn: Conn) {
    let Some(User(name)) = conn.request().extensions.get::<User>().cloned() else {
        // Not reachable behind `auth`; refuse rather than serve an anonymous user.
        let _ = conn
            .close_with(CloseCode::POLICY_VIOLATION, "not authenticated")
            .await;
        return;
    };
    if conn
        .send(Message::text(format!("hello, {name}")))
        .await
        .is_err()
    {
        return;
    }
    while let Some(Ok(message)) = conn.recv().await {
        if message.is_data() && conn.send(message).await.is_err() {
            break;
        }
    }
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("axum example: open http://{}", listener.local_addr()?);
    // What `axum::serve` does not do, done here: TCP_NODELAY on every connection, and on
    // Ctrl-C, 1001 to every WebSocket and a bounded wait for them. It sets no header read
    // timeout and no cap on HTTP connections: for those, serve the same `Router` with
    // `tower_websocket::server::serve(listener, app)` instead.
    let shutdown = GracefulShutdown::new();
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app_with(&shutdown))
        .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.unwrap_or(()) })
        .await?;
    shutdown.shutdown(Duration::from_secs(15)).await;
    Ok(())
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>tower-websocket in axum</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  #log { border: 1px solid #ccc; height: 16rem; overflow-y: auto; padding: .5rem; white-space: pre-wrap; }
  .recv { color: #064; } .info { color: #888; font-style: italic; }
  form { display: flex; gap: .5rem; margin-top: .5rem; } input { flex: 1; }
</style>
<h1>tower-websocket in axum</h1>
<p>GET /api/me (Bearer alice-token): <code id="me">…</code></p>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" placeholder="Type a message" autofocus><button>Send</button></form>
<script>
  const log = document.getElementById("log");
  const show = (cls, text) => {
    const line = document.createElement("div");
    line.className = cls; line.textContent = text;
    log.append(line); log.scrollTop = log.scrollHeight;
  };
  fetch("/api/me", { headers: { Authorization: "Bearer alice-token" } })
    .then((r) => r.text()).then((t) => { document.getElementById("me").textContent = t; });
  const ws = new WebSocket(`ws://${location.host}/ws?token=alice-token`);
  ws.onopen = () => show("info", "connected");
  ws.onmessage = (e) => show("recv", "< " + e.data);
  ws.onclose = (e) => show("info", `closed (${e.code})`);
  document.getElementById("form").onsubmit = (e) => {
    e.preventDefault();
    const input = document.getElementById("text");
    if (input.value && ws.readyState === WebSocket.OPEN) {
      ws.send(input.value); show("info", "> " + input.value); input.value = "";
    }
  };
</script>
</html>
"#;

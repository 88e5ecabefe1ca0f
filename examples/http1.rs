//! Plain hyper, HTTP/1.1 only: `hyper::server::conn::http1` with `.with_upgrades()`.
//!
//! ```sh
//! cargo run --release --example http1 -- 127.0.0.1:3000
//! ```
//!
//! `GET /` answers a line of text; `/ws` echoes every text and binary message. Without
//! `.with_upgrades()` hyper would send the `101` and then drop the connection instead of
//! handing it over: the layer's `on_failed_upgrade` hook and its error log say so.
//!
//! A hand-written accept loop needs what `tower_websocket::server::serve` does for you: a timer
//! so that hyper's header read timeout runs (slowloris clients are dropped), and accept errors
//! that do not end the server (EMFILE when out of file descriptors). This loop has both, and no
//! connection cap: prefer `server::serve` unless you need hyper's builders directly.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::{Layer, service_fn};
use tower_websocket::{Conn, WebSocketUpgradeLayer};

/// Echoes every data message back.
async fn echo(mut conn: Conn) {
    while let Some(Ok(message)) = conn.recv().await {
        if message.is_data() && conn.send(message).await.is_err() {
            break;
        }
    }
}

async fn hello<B>(_request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"hello from hyper; WebSockets on /ws\n",
    ))))
}

/// Serves every connection `listener` accepts with hyper's HTTP/1.1 connection builder.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let service = WebSocketUpgradeLayer::new(echo)
        .path("/ws")
        .on_failed_upgrade(|failure| eprintln!("{failure}"))
        .layer(service_fn(hello));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of descriptors (EMFILE) or a connection reset before accept: wait a
                // little and go on; the open connections are still being served.
                eprintln!("accept: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                // A client gets 10 s to send its request head (needs the timer).
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                // Required: lets the layer take the connection over after the 101.
                .with_upgrades();
            // An error here is the peer's doing (a reset, a malformed request): ignored.
            let _ = connection.await;
        });
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    println!("hyper http1 example: ws://{}/ws", listener.local_addr()?);
    serve(listener).await
}

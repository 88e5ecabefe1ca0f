//! What the layer logs, and at which level, over a real server: a handler's error with its
//! whole chain of causes, at debug; an accept hook too slow to decide, at debug and never at
//! error (a client can make it happen once per connection).

mod support;

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

use futures_util::SinkExt;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tower_websocket::{Conn, Handler, WebSocketUpgradeLayer};

use support::{handshake_request, http_exchange, logs, spawn_server, within, ws_url};

/// An error with a message of its own and an optional cause.
#[derive(Debug)]
struct Layered(&'static str, Option<Box<dyn StdError + Send + Sync>>);

impl fmt::Display for Layered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl StdError for Layered {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

/// Ends with a three-level error once the first message arrives.
async fn fails_with_a_chain(mut conn: Conn) -> Result<(), Layered> {
    let _ = conn.recv().await;
    let root = io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused");
    let cause = Layered("token service unreachable", Some(Box::new(root)));
    Err(Layered("session refresh failed", Some(Box::new(cause))))
}

#[tokio::test]
async fn a_handlers_error_is_logged_at_debug_with_its_causes() {
    logs::capture();
    let addr = spawn_server(WebSocketUpgradeLayer::new(fails_with_a_chain)).await;
    let (mut ws, _) = within("handshake", connect_async(ws_url(addr, "/ws")))
        .await
        .unwrap();
    within("send", ws.send(WsMessage::text("hi")))
        .await
        .unwrap();
    let line = logs::wait_for("WebSocket handler returned an error").await;
    assert!(line.starts_with("DEBUG "), "{line}");
    assert!(
        line.contains(
            "error=session refresh failed: token service unreachable: connection refused"
        ),
        "{line}"
    );
}

#[test]
fn handlers_may_return_strings_and_any_error() {
    fn handler<H: Handler>(_: H) {}
    handler(|_conn: Conn| async { Ok::<(), String>(()) });
    handler(|_conn: Conn| async { Err::<(), _>("static reason") });
    handler(|_conn: Conn| async { Err::<(), _>(io::Error::other("io")) });
    handler(|_conn: Conn| async { Ok::<(), tower_websocket::Error>(()) });
    handler(|_conn: Conn| async { Ok::<(), Box<dyn StdError + Send + Sync>>(()) });
    handler(|_conn: Conn| async {});
}

#[tokio::test]
async fn a_handshake_timeout_is_logged_at_debug_and_never_at_error() {
    logs::capture();
    let layer = WebSocketUpgradeLayer::new(support::echo)
        .path("/slow")
        .handshake_timeout(Duration::from_millis(20))
        .on_handshake_async(|_handshake| std::future::pending());
    let addr = spawn_server(layer).await;
    let (head, _) = http_exchange(addr, &handshake_request("/slow", &[])).await;
    assert_eq!(head.status, 503, "{head:?}");
    let line = logs::wait_for("WebSocket handshake timed out").await;
    assert!(line.starts_with("DEBUG "), "{line}");
    assert!(line.contains("path=\"/slow\""), "{line}");
    let errors = logs::errors();
    assert!(errors.is_empty(), "{errors:?}");
}

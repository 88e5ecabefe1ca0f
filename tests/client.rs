//! The client against this crate's server over plain TCP: messages both ways, the request and
//! answer kept on the `Conn`, subprotocols, permessage-deflate, the close handshake.

mod support;

use tower_websocket::client::{self, Builder};
use tower_websocket::{CloseCode, Conn, Message, WebSocketUpgradeLayer};

use support::{echo, spawn_server, within};

/// Echoes, and first sends the request's `x-hello` header back, to show what arrived.
async fn echo_with_header(mut conn: Conn) {
    let hello = conn
        .request()
        .headers
        .get_all("x-hello")
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("|");
    let _ = conn.send(Message::text(hello)).await;
    echo(conn).await;
}

#[tokio::test]
async fn messages_cross_both_ways_and_close_cleanly() {
    let addr = spawn_server(WebSocketUpgradeLayer::new(echo).path("/ws")).await;
    let mut conn = within("connect", client::connect(format!("ws://{addr}/ws")))
        .await
        .unwrap();
    assert_eq!(conn.response().unwrap().status, 101);
    assert_eq!(conn.request().uri.path(), "/ws");
    assert_eq!(conn.peer_addr(), Some(addr));
    for message in [
        Message::text("hello"),
        Message::binary(vec![7u8; 70_000]),
        Message::text(""),
    ] {
        conn.send(message.clone()).await.unwrap();
        assert_eq!(within("echo", conn.recv()).await.unwrap().unwrap(), message);
    }
    // close_with returns once the server's Close has answered ours.
    within("close", conn.close_with(CloseCode::NORMAL, "done"))
        .await
        .unwrap();
    assert!(within("end", conn.recv()).await.is_none());
}

#[tokio::test]
async fn added_headers_add_up_and_reach_the_server() {
    let addr = spawn_server(WebSocketUpgradeLayer::new(echo_with_header)).await;
    let mut conn = Builder::new(format!("ws://{addr}/"))
        .header("x-hello", "one")
        .header("x-hello", "two")
        .connect()
        .await
        .unwrap();
    assert_eq!(
        within("hello", conn.recv()).await.unwrap().unwrap(),
        Message::text("one|two")
    );
}

#[tokio::test]
async fn reserved_and_invalid_headers_are_refused_before_connecting() {
    // Nothing listens on this URL: the errors come before any connect.
    let url = "ws://127.0.0.1:9/";
    let error = Builder::new(url)
        .header("sec-websocket-key", "x")
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(error, client::Error::ReservedHeader(_)),
        "{error:?}"
    );
    let error = Builder::new(url)
        .header("bad name", "x")
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(error, client::Error::InvalidHeader), "{error:?}");
    let error = client::connect("http//nope").await.unwrap_err();
    assert!(matches!(error, client::Error::InvalidUrl(_)), "{error:?}");
}

#[tokio::test]
async fn the_server_picks_one_of_the_offered_subprotocols() {
    let layer = WebSocketUpgradeLayer::new(echo).protocols(["v2", "v1"]);
    let addr = spawn_server(layer).await;
    let conn = Builder::new(format!("ws://{addr}/"))
        .protocols(["v1", "v2"])
        .connect()
        .await
        .unwrap();
    assert_eq!(conn.protocol(), Some("v2"));
    let conn = Builder::new(format!("ws://{addr}/"))
        .connect()
        .await
        .unwrap();
    assert_eq!(conn.protocol(), None);
}

#[cfg(feature = "deflate")]
#[tokio::test]
async fn deflate_is_negotiated_and_messages_survive_it() {
    use tower_websocket::DeflateConfig;
    let layer = WebSocketUpgradeLayer::new(echo).deflate(DeflateConfig::default());
    let addr = spawn_server(layer).await;
    let config = DeflateConfig::new().threshold(0).client_max_window_bits(12);
    let mut conn = Builder::new(format!("ws://{addr}/"))
        .deflate(config)
        .connect()
        .await
        .unwrap();
    let answer = &conn.response().unwrap().headers["sec-websocket-extensions"];
    assert!(
        answer.to_str().unwrap().starts_with("permessage-deflate"),
        "{answer:?}"
    );
    let text = "compressible ".repeat(10_000);
    for _ in 0..3 {
        conn.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(
            within("echo", conn.recv()).await.unwrap().unwrap(),
            Message::text(text.clone())
        );
    }
}

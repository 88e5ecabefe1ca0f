//! The `chat` example's room, served as its `main` serves it, with tokio-tungstenite clients:
//! joins, messages and leaves reach everyone, names are cleaned, long messages are refused
//! without dropping the connection, and a connection that falls behind skips ahead and is told.
//! (`scripts/browser-chat.sh` runs the page itself in Chromium.)

mod support;

// The example itself: its room, handler and page (its `main` goes unused here).
#[path = "../examples/chat.rs"]
#[allow(dead_code)]
mod example;

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use example::{Event, MAX_MESSAGE_BYTES, MAX_NAME_CHARS, MAX_TEXT_CHARS, Room};
use support::{http_exchange, spawn_service, within, ws_url};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn serve(room: Room) -> SocketAddr {
    spawn_service(example::app(room)).await
}

async fn connect(addr: SocketAddr, path: &str) -> Ws {
    within("handshake", connect_async(ws_url(addr, path)))
        .await
        .expect("handshake")
        .0
}

/// The next event the server sent, as JSON.
async fn event(ws: &mut Ws) -> Value {
    loop {
        let message = within("an event", ws.next())
            .await
            .expect("connection open")
            .expect("no error");
        match message {
            WsMessage::Text(text) => return serde_json::from_str(&text).expect("JSON event"),
            WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
            other => panic!("expected an event, got {other:?}"),
        }
    }
}

async fn say(ws: &mut Ws, text: &str) {
    within("send", ws.send(WsMessage::text(text)))
        .await
        .expect("send");
}

/// Joins with `?name=` and reads the welcome and the own join.
async fn join(addr: SocketAddr, name: &str, online: usize) -> Ws {
    let mut ws = connect(addr, &format!("/ws?name={name}")).await;
    assert_eq!(
        event(&mut ws).await,
        json!({"type": "welcome", "name": name})
    );
    assert_eq!(
        event(&mut ws).await,
        json!({"type": "join", "name": name, "online": online})
    );
    ws
}

/// Reads until the server's Close frame and returns its code and reason.
async fn close_frame(ws: &mut Ws) -> (WsCloseCode, String) {
    loop {
        match within("close frame", ws.next()).await {
            Some(Ok(WsMessage::Close(Some(frame)))) => {
                return (frame.code, frame.reason.to_string());
            }
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

fn message(name: &str, text: &str) -> Value {
    json!({"type": "message", "name": name, "text": text})
}

#[tokio::test]
async fn page_renders_user_text_as_text_only() {
    let addr = serve(Room::new(16)).await;
    let get =
        |path: &str| format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");

    let (head, body) = http_exchange(addr, &get("/")).await;
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(
        head.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(body.contains(r#"id="messages""#) && body.contains("textContent"));
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
    ] {
        assert!(!body.contains(sink), "the page uses {sink}");
    }

    let (head, _) = http_exchange(addr, &get("/other")).await;
    assert_eq!(head.status, 404, "{head:?}");
}

#[tokio::test]
async fn everyone_sees_joins_messages_and_leaves() {
    let addr = serve(Room::new(16)).await;
    let mut alice = join(addr, "alice", 1).await;

    // Without `?name=`, the first message is the name.
    let mut bob = connect(addr, "/ws").await;
    say(&mut bob, "bob").await;
    assert_eq!(
        event(&mut bob).await,
        json!({"type": "welcome", "name": "bob"})
    );
    let bob_joined = json!({"type": "join", "name": "bob", "online": 2});
    assert_eq!(event(&mut bob).await, bob_joined);
    assert_eq!(event(&mut alice).await, bob_joined);

    // Every message reaches everyone, the sender included, in one order.
    say(&mut bob, "hello alice").await;
    say(&mut alice, "hi bob").await;
    for ws in [&mut alice, &mut bob] {
        assert_eq!(event(ws).await, message("bob", "hello alice"));
        assert_eq!(event(ws).await, message("alice", "hi bob"));
    }

    within("close", bob.close(None)).await.expect("close");
    assert_eq!(
        event(&mut alice).await,
        json!({"type": "leave", "name": "bob", "online": 1})
    );

    // A connection that just drops (no close handshake) leaves as well.
    let carol = join(addr, "carol", 2).await;
    assert_eq!(event(&mut alice).await["name"], "carol");
    drop(carol);
    assert_eq!(
        event(&mut alice).await,
        json!({"type": "leave", "name": "carol", "online": 1})
    );
}

#[tokio::test]
async fn names_are_cleaned_and_cut() {
    let addr = serve(Room::new(16)).await;
    let welcome = async |path: &str| {
        let mut ws = connect(addr, path).await;
        let event = event(&mut ws).await;
        assert_eq!(event["type"], "welcome", "{event}");
        event["name"].as_str().expect("a name").to_owned()
    };

    // Markup is kept as text (the page shows it with textContent); control characters,
    // whitespace runs and a right-to-left override are not.
    let name = welcome("/ws?name=%20%3Cb%3Eal%0Aice%E2%80%AE%20%20x+y%09").await;
    assert_eq!(name, "<b>al ice x y");
    let long = "é".repeat(100);
    let name = welcome(&format!("/ws?name={}", long.replace('é', "%C3%A9"))).await;
    assert_eq!(name, "é".repeat(MAX_NAME_CHARS));
    // An emoji with zero-width joiners stays whole.
    let name = welcome("/ws?name=%F0%9F%91%A9%E2%80%8D%F0%9F%92%BB").await;
    assert_eq!(name, "👩\u{200D}💻");

    // Names that are nothing visible, or not UTF-8, are refused with 1008.
    for path in [
        "/ws?name=",
        "/ws?name=%E2%80%8B%20%0A",
        "/ws?name=%FF",
        "/ws?name=%E",
    ] {
        let mut ws = connect(addr, path).await;
        let (code, reason) = close_frame(&mut ws).await;
        assert_eq!(code, WsCloseCode::Policy, "{path}: {reason}");
    }
    // So is a first message that is blank, or binary.
    let mut ws = connect(addr, "/ws").await;
    say(&mut ws, " \u{202E} ").await;
    assert_eq!(
        close_frame(&mut ws).await,
        (WsCloseCode::Policy, "a name is required".into())
    );
    let mut ws = connect(addr, "/ws").await;
    within("send", ws.send(WsMessage::binary(b"bob".to_vec())))
        .await
        .expect("send");
    assert_eq!(close_frame(&mut ws).await.0, WsCloseCode::Policy);
}

#[tokio::test]
async fn long_messages_are_refused_and_the_connection_stays() {
    let addr = serve(Room::new(16)).await;
    let mut alice = join(addr, "alice", 1).await;
    let mut bob = join(addr, "bob", 2).await;
    assert_eq!(event(&mut alice).await["name"], "bob");

    // Over the limit: an error to the sender alone.
    say(&mut bob, &"x".repeat(MAX_TEXT_CHARS + 1)).await;
    let error = event(&mut bob).await;
    assert_eq!(error["type"], "error", "{error}");
    assert!(
        error["text"].as_str().unwrap().contains("501 characters"),
        "{error}"
    );
    within("send", bob.send(WsMessage::binary(vec![1u8, 2, 3])))
        .await
        .expect("send");
    assert_eq!(event(&mut bob).await["type"], "error");
    // Blank lines are dropped quietly.
    say(&mut bob, " \t ").await;

    // At the limit (in characters, not bytes): passed on. It is the first thing alice gets
    // after bob's join, so nothing above reached her.
    let at_limit = "é".repeat(MAX_TEXT_CHARS);
    say(&mut bob, &at_limit).await;
    assert_eq!(event(&mut alice).await, message("bob", &at_limit));
    assert_eq!(event(&mut bob).await, message("bob", &at_limit));

    // Over the protocol limit: the connection is closed with 1009, and bob leaves.
    say(&mut bob, &"x".repeat(MAX_MESSAGE_BYTES + 1)).await;
    assert_eq!(close_frame(&mut bob).await.0, WsCloseCode::Size);
    assert_eq!(
        event(&mut alice).await,
        json!({"type": "leave", "name": "bob", "online": 1})
    );
}

#[tokio::test]
async fn a_lagging_connection_skips_ahead_and_is_told() {
    // The test and the server share this single-threaded runtime: while the test publishes,
    // alice's connection task cannot run, so it falls exactly 20 - 4 events behind.
    let room = Room::new(4);
    let addr = serve(room.clone()).await;
    let mut alice = join(addr, "alice", 1).await;

    let texts: Vec<String> = (0..20).map(|i| format!("event {i}")).collect();
    for text in &texts {
        room.publish(Event::Message { name: "bot", text });
    }
    assert_eq!(
        event(&mut alice).await,
        json!({"type": "lagged", "missed": 16})
    );
    for text in &texts[16..] {
        assert_eq!(event(&mut alice).await, message("bot", text));
    }

    // Still connected, and still in the room.
    say(&mut alice, "still here").await;
    assert_eq!(event(&mut alice).await, message("alice", "still here"));
}

#[tokio::test]
async fn a_burst_arrives_whole_and_in_order() {
    // More events than one write batch, all still kept by the room: none may be lost between
    // batches.
    let room = Room::new(256);
    let addr = serve(room.clone()).await;
    let mut alice = join(addr, "alice", 1).await;

    let texts: Vec<String> = (0..200).map(|i| format!("event {i}")).collect();
    for text in &texts {
        room.publish(Event::Message { name: "bot", text });
    }
    for text in &texts {
        assert_eq!(event(&mut alice).await, message("bot", text));
    }
}

//! End to end over real TCP: the layer served by hyper-util, a tokio-tungstenite client (or raw
//! frames where exact bytes matter).

mod support;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame as WsCloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async, connect_async_with_config,
};
use tower_websocket::{CloseCode, Conn, Error, WebSocketUpgradeLayer};

use support::{
    OpCode, echo, masked_frame, raw_handshake, read_frame, spawn_server, within, write_raw, ws_url,
};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn echo_server() -> std::net::SocketAddr {
    spawn_server(WebSocketUpgradeLayer::new(echo).path("/ws")).await
}

async fn client(addr: std::net::SocketAddr) -> Client {
    let (ws, response) = within("connect_async", connect_async(ws_url(addr, "/ws")))
        .await
        .expect("handshake");
    assert_eq!(response.status(), 101);
    ws
}

/// The next message, which must arrive in time.
async fn next(ws: &mut Client) -> WsMessage {
    within("next message", ws.next())
        .await
        .expect("stream ended")
        .expect("read error")
}

/// Sends `message`, which must go out in time.
async fn send(ws: &mut Client, message: WsMessage) {
    within("send", ws.send(message)).await.expect("send");
}

/// Asserts the server closed the connection: the stream ends (tungstenite reports a clean close
/// as the end of the stream once the TCP connection is gone).
async fn expect_end(ws: &mut Client) {
    match within("end of stream", ws.next()).await {
        None => {}
        Some(other) => panic!("expected the stream to end, got {other:?}"),
    }
}

#[tokio::test]
async fn text_is_echoed() {
    let mut ws = client(echo_server().await).await;
    send(&mut ws, WsMessage::text("héllo wörld")).await;
    assert_eq!(next(&mut ws).await, WsMessage::text("héllo wörld"));
    send(&mut ws, WsMessage::text("")).await;
    assert_eq!(next(&mut ws).await, WsMessage::text(""));
}

#[tokio::test]
async fn binary_is_echoed() {
    let mut ws = client(echo_server().await).await;
    let data: Vec<u8> = (0..=255).collect();
    send(&mut ws, WsMessage::binary(data.clone())).await;
    assert_eq!(next(&mut ws).await, WsMessage::binary(data));
}

#[tokio::test]
async fn sixteen_mib_binary_message_is_echoed_intact() {
    const LEN: usize = 16 << 20; // exactly the server's default message limit
    let addr = echo_server().await;
    let config = WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let (mut ws, _) = within(
        "connect_async_with_config",
        connect_async_with_config(ws_url(addr, "/ws"), Some(config), true),
    )
    .await
    .expect("handshake");
    let data: Bytes = (0..LEN)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    within(
        "send 16 MiB",
        send(&mut ws, WsMessage::Binary(data.clone())),
    )
    .await;
    match next(&mut ws).await {
        WsMessage::Binary(echoed) => {
            assert_eq!(echoed.len(), LEN);
            assert!(echoed == data, "echoed contents differ");
        }
        other => panic!("expected binary, got {:?}", other.len()),
    }
}

#[tokio::test]
async fn fragmented_text_with_interleaved_ping_is_echoed_as_one_message() {
    let addr = echo_server().await;
    let mut stream = raw_handshake(addr, "/ws").await;
    let text = "Hello, wörld";
    // Three fragments, the second holding only the first byte of "ö", so that the UTF-8
    // check has to carry a partial character across fragments.
    let bytes = text.as_bytes();
    let at = text.find('ö').unwrap();
    let (first, second, third) = (&bytes[..at], &bytes[at..at + 1], &bytes[at + 1..]);
    let mut wire = masked_frame(false, OpCode::Text, first);
    wire.extend(masked_frame(true, OpCode::Ping, b"mid-message"));
    wire.extend(masked_frame(false, OpCode::Continuation, second));
    wire.extend(masked_frame(true, OpCode::Continuation, third));
    write_raw(&mut stream, &wire).await;

    let pong = read_frame(&mut stream).await;
    assert_eq!((pong.fin, pong.opcode), (true, OpCode::Pong));
    assert_eq!(pong.payload, b"mid-message");
    let echoed = read_frame(&mut stream).await;
    assert_eq!((echoed.fin, echoed.opcode), (true, OpCode::Text));
    assert_eq!(echoed.payload, text.as_bytes());
}

#[tokio::test]
async fn ping_is_answered_with_a_pong_carrying_the_same_payload() {
    let mut ws = client(echo_server().await).await;
    send(&mut ws, WsMessage::Ping(Bytes::from_static(b"hi"))).await;
    assert_eq!(
        next(&mut ws).await,
        WsMessage::Pong(Bytes::from_static(b"hi"))
    );
    // The connection is still usable afterwards.
    send(&mut ws, WsMessage::text("after")).await;
    assert_eq!(next(&mut ws).await, WsMessage::text("after"));
}

#[tokio::test]
async fn client_close_is_answered_with_the_same_code_then_tcp_is_closed() {
    let mut ws = client(echo_server().await).await;
    send(
        &mut ws,
        WsMessage::Close(Some(WsCloseFrame {
            code: WsCloseCode::Normal,
            reason: "bye".into(),
        })),
    )
    .await;
    match next(&mut ws).await {
        WsMessage::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected Close(1000), got {other:?}"),
    }
    expect_end(&mut ws).await;
}

#[tokio::test]
async fn server_initiated_close_reaches_the_client_and_completes() {
    let (tx, mut rx) = mpsc::unbounded_channel::<Result<(), Error>>();
    let layer = WebSocketUpgradeLayer::new(move |mut conn: Conn| {
        let tx = tx.clone();
        async move {
            let first = conn.recv().await;
            assert!(matches!(first, Some(Ok(ref m)) if m.is_data()), "{first:?}");
            let _ = tx.send(conn.close_with(CloseCode::GOING_AWAY, "bye").await);
        }
    })
    .path("/ws");
    let mut ws = client(spawn_server(layer).await).await;
    send(&mut ws, WsMessage::text("first")).await;
    match next(&mut ws).await {
        WsMessage::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 1001);
            assert_eq!(frame.reason.as_str(), "bye");
        }
        other => panic!("expected Close(1001, \"bye\"), got {other:?}"),
    }
    // Reading on lets tungstenite send its reply; the server then closes TCP.
    expect_end(&mut ws).await;
    let result = within("handler's close()", rx.recv()).await.unwrap();
    assert!(result.is_ok(), "close() returned {result:?}");
}

#[tokio::test]
async fn abrupt_disconnect_mid_frame_ends_only_that_connection() {
    let (tx, mut rx) = mpsc::unbounded_channel::<Option<Result<(), Error>>>();
    let layer = WebSocketUpgradeLayer::new(move |mut conn: Conn| {
        let tx = tx.clone();
        async move {
            // Echo, then report how the connection ended.
            let end = loop {
                match conn.recv().await {
                    Some(Ok(message)) if message.is_data() => {
                        if let Err(e) = conn.send(message).await {
                            break Some(Err(e));
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break Some(Err(e)),
                    None => break None,
                }
            };
            let _ = tx.send(end);
        }
    })
    .path("/ws");
    let addr = spawn_server(layer).await;

    let mut stream = raw_handshake(addr, "/ws").await;
    let frame = masked_frame(true, OpCode::Binary, &[7u8; 100]);
    write_raw(&mut stream, &frame[..frame.len() / 2]).await;
    drop(stream);
    let end = within("the first handler to end", rx.recv()).await.unwrap();
    assert!(matches!(end, Some(Err(Error::UnexpectedEof))), "{end:?}");

    let mut ws = client(addr).await;
    send(&mut ws, WsMessage::text("still here")).await;
    assert_eq!(next(&mut ws).await, WsMessage::text("still here"));
}

#[tokio::test]
async fn a_panicking_handler_does_not_stop_the_server() {
    let layer = WebSocketUpgradeLayer::new(|mut conn: Conn| async move {
        while let Some(Ok(message)) = conn.recv().await {
            if message.as_text() == Some("panic") {
                panic!("handler panics on purpose (expected in this test)");
            }
            if message.is_data() && conn.send(message).await.is_err() {
                break;
            }
        }
    })
    .path("/ws");
    let addr = spawn_server(layer).await;

    let mut first = client(addr).await;
    send(&mut first, WsMessage::text("panic")).await;
    // The panicking handler's connection is dropped: the stream ends (cleanly or with a reset).
    if let Some(Ok(message)) = within("the dropped connection", first.next()).await {
        panic!("expected the connection to end, got {message:?}");
    }

    let mut second = client(addr).await;
    send(&mut second, WsMessage::text("hello")).await;
    assert_eq!(next(&mut second).await, WsMessage::text("hello"));
}

//! The connection API for applications: Stream/Sink, split halves, the cloneable `Sender`,
//! keepalive and idle timeout, deadlines, write-side limits, JSON, and graceful shutdown.
//! Time-based tests run on tokio's paused clock: deterministic and instant.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::DuplexStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;
use tower_websocket::{
    CloseCode, Config, Conn, Error, GracefulShutdown, Message, Role, TrySendError,
    WebSocketUpgradeLayer,
};

use support::{spawn_server, within, ws_url};

fn pair_with(server: Config) -> (Conn<DuplexStream>, Conn<DuplexStream>) {
    let (a, b) = tokio::io::duplex(64 * 1024);
    // The client never pings or times out on its own: only the server's behaviour is tested.
    let client = Config::new().ping_interval(None).idle_timeout(None);
    (
        Conn::from_raw(a, Role::Client, &client),
        Conn::from_raw(b, Role::Server, &server),
    )
}

fn pair() -> (Conn<DuplexStream>, Conn<DuplexStream>) {
    pair_with(Config::default())
}

#[tokio::test]
async fn conn_is_a_stream_and_a_sink() {
    let (mut client, mut server) = pair();
    let echo = tokio::spawn(async move {
        while let Some(Ok(message)) = server.next().await {
            if message.is_data() {
                SinkExt::send(&mut server, message).await.unwrap();
            }
        }
    });
    // `feed` through the Sink, one flush for all ten.
    for i in 0..10 {
        client.feed(Message::text(format!("m{i}"))).unwrap();
    }
    SinkExt::flush(&mut client).await.unwrap();
    for i in 0..10 {
        let got = within("echo", client.next()).await.unwrap().unwrap();
        assert_eq!(got, Message::text(format!("m{i}")));
    }
    // `SinkExt::close` by its plain name (no inherent `Conn::close` shadows it): it queues
    // Close 1000 and flushes, without waiting for the answer.
    client.close().await.unwrap();
    // The close handshake completes through the Stream: the server's Close, then the end.
    let reply = within("close reply", client.next()).await.unwrap().unwrap();
    assert!(matches!(reply, Message::Close(Some(f)) if f.code == CloseCode::NORMAL));
    assert!(client.next().await.is_none());
    within("echo task", echo).await.unwrap();
}

#[tokio::test]
async fn peer_addr_is_what_the_builder_recorded_and_get_mut_reaches_the_stream() {
    let (mut client, server) = pair();
    assert_eq!(server.peer_addr(), None);
    let addr: std::net::SocketAddr = "192.0.2.7:4321".parse().unwrap();
    let mut server = server.with_peer_addr(Some(addr));
    assert_eq!(server.peer_addr(), Some(addr));
    // Bytes written through `get_mut` reach the peer as they are: here, a whole frame.
    use tokio::io::AsyncWriteExt;
    server
        .get_mut()
        .write_all(&[0x81, 0x02, b'h', b'i'])
        .await
        .unwrap();
    assert_eq!(
        within("recv", client.recv()).await.unwrap().unwrap(),
        Message::text("hi")
    );
    let (reader, _sender) = server.split();
    assert_eq!(reader.peer_addr(), Some(addr));
}

#[test]
fn debug_shows_the_state_never_the_bytes_or_headers() {
    let (a, _b) = tokio::io::duplex(1024);
    let request = http::Request::get("/chat?room=1")
        .header("authorization", "Bearer hunter2")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let mut conn = Conn::from_raw(a, Role::Server, &Config::default())
        .with_request(request)
        .with_read_buf(bytes::Bytes::from_static(b"unread peer secret"));
    conn.feed(Message::text("queued secret")).unwrap();
    let debug = format!("{conn:?}");
    assert!(debug.starts_with("Conn {"), "{debug}");
    for shown in ["Server", "open", "/chat", "buffered: 15"] {
        assert!(debug.contains(shown), "{shown} missing from {debug}");
    }
    for hidden in ["secret", "hunter2", "room=1"] {
        assert!(!debug.contains(hidden), "{hidden} in {debug}");
    }
}

#[tokio::test]
async fn split_read_half_answers_pings_and_closes_while_the_writer_is_idle() {
    let (mut client, server) = pair();
    let (mut reader, _sender) = server.split();
    client
        .send(Message::Ping("are you there".into()))
        .await
        .unwrap();
    // Nobody polls the read half yet: the driver answers anyway.
    let pong = within("pong", client.recv()).await.unwrap().unwrap();
    assert_eq!(pong, Message::Pong("are you there".into()));
    client.send(Message::text("data")).await.unwrap();
    client
        .send(Message::Close(Some(tower_websocket::CloseFrame::new(
            CloseCode::NORMAL,
            "bye",
        ))))
        .await
        .unwrap();
    let close = within("close reply", client.recv()).await.unwrap().unwrap();
    assert!(matches!(close, Message::Close(Some(f)) if f.code == CloseCode::NORMAL));
    assert_eq!(
        reader.recv().await.unwrap().unwrap(),
        Message::Ping("are you there".into())
    );
    assert_eq!(reader.recv().await.unwrap().unwrap(), Message::text("data"));
    assert!(matches!(reader.recv().await, Some(Ok(Message::Close(_)))));
    assert!(reader.recv().await.is_none());
}

#[tokio::test]
async fn a_hundred_tasks_send_through_clones_of_one_sender() {
    const TASKS: usize = 100;
    const EACH: usize = 50;
    let (mut client, server) = pair();
    // A small queue, so senders do wait for room.
    let (_reader, sender) = server.split_with_capacity(4 * 1024);
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            for seq in 0..EACH {
                let text = format!("{task}:{seq}:{}", "x".repeat(task % 7 * 10));
                sender.send(Message::text(text)).await.unwrap();
            }
        }));
    }
    drop(sender);
    let mut next = HashMap::new();
    for _ in 0..TASKS * EACH {
        let message = within("broadcast", client.recv()).await.unwrap().unwrap();
        let text = message.as_text().unwrap().to_owned();
        let mut fields = text.split(':');
        let task: usize = fields.next().unwrap().parse().unwrap();
        let seq: usize = fields.next().unwrap().parse().unwrap();
        assert_eq!(fields.next().unwrap(), "x".repeat(task % 7 * 10), "intact");
        let expected = next.entry(task).or_insert(0);
        assert_eq!(seq, *expected, "per-task order of task {task}");
        *expected += 1;
    }
    assert_eq!(next.len(), TASKS);
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn try_send_reports_a_full_queue_and_buffered_counts_it() {
    let (_client, server) = pair();
    let (_reader, sender) = server.split_with_capacity(1000);
    // The driver has not run yet (current-thread runtime, no await): everything stays queued.
    sender.try_send(Message::binary(vec![0; 600])).unwrap();
    assert!(sender.buffered() >= 600);
    match sender.try_send(Message::binary(vec![0; 600])) {
        Err(TrySendError::Full(message)) => assert_eq!(message.into_data().len(), 600),
        other => panic!("expected Full, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_stops_reading_cannot_grow_the_buffer_and_the_sender_sees_why() {
    let server_config = Config::new().write_timeout(Some(Duration::from_secs(5)));
    let (client, server) = pair_with(server_config);
    let queue = 256 * 1024;
    let (_reader, sender) = server.split_with_capacity(queue);
    let message = Message::binary(vec![7; 16 * 1024]);
    let mut max_buffered = 0;
    let mut sent = 0usize;
    let error = loop {
        match sender.send(message.clone()).await {
            Ok(()) => sent += 1,
            Err(error) => break error,
        }
        max_buffered = max_buffered.max(sender.buffered());
        assert!(sent < 100_000, "sends never failed");
    };
    assert!(
        matches!(error.reason(), Some(Error::WriteTimeout)),
        "{error}"
    );
    // Queue + the connection's high-water mark + one message, and the 64 KiB pipe.
    let bound = queue + 64 * 1024 + 2 * 16 * 1024;
    assert!(max_buffered <= bound, "buffered {max_buffered} > {bound}");
    drop(client);
}

#[tokio::test(start_paused = true)]
async fn keepalive_pings_then_the_idle_timeout_closes_with_1001() {
    let config = Config::new()
        .ping_interval(Some(Duration::from_secs(10)))
        .idle_timeout(Some(Duration::from_secs(30)));
    let (mut client, mut server) = pair_with(config);
    let started = Instant::now();
    // The client is stuck (never polled): no pongs come back.
    let result = tokio::time::timeout(Duration::from_secs(60), server.recv())
        .await
        .expect("idle timeout within 60 s");
    assert!(
        matches!(result, Some(Err(Error::IdleTimeout))),
        "{result:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(30) && waited <= Duration::from_secs(31),
        "{waited:?}"
    );
    assert!(server.recv().await.is_none());
    // What the server sent meanwhile: two pings, then Close 1001.
    let mut pings = 0;
    loop {
        match client.recv().await {
            Some(Ok(Message::Ping(_))) => pings += 1,
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode::GOING_AWAY);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(pings, 2);
}

#[tokio::test(start_paused = true)]
async fn zero_timeouts_assigned_to_the_fields_are_off_as_with_the_builders() {
    let mut config = Config::new();
    config.ping_interval = Some(Duration::ZERO);
    config.idle_timeout = Some(Duration::ZERO);
    config.write_timeout = Some(Duration::ZERO);
    let (mut client, mut server) = pair_with(config);
    // An hour of silence: no ping (a zero interval would ping every millisecond), no idle
    // timeout (a zero one would fire at once).
    let waited = tokio::time::timeout(Duration::from_secs(3600), server.recv()).await;
    assert!(waited.is_err(), "server ended: {waited:?}");
    let nothing = tokio::time::timeout(Duration::from_secs(1), client.recv()).await;
    assert!(nothing.is_err(), "the client received {nothing:?}");
}

#[tokio::test(start_paused = true)]
async fn a_live_peer_answering_pings_is_never_idle() {
    let config = Config::new()
        .ping_interval(Some(Duration::from_secs(10)))
        .idle_timeout(Some(Duration::from_secs(25)));
    let (mut client, mut server) = pair_with(config);
    // The client's recv answers the pings.
    let client_task = tokio::spawn(async move {
        let mut pings = 0;
        while let Some(Ok(message)) = client.recv().await {
            if matches!(message, Message::Ping(_)) {
                pings += 1;
            }
        }
        pings
    });
    let read_all = async {
        loop {
            match server.recv().await {
                Some(Ok(Message::Pong(_))) => {}
                other => return other,
            }
        }
    };
    let outcome = tokio::time::timeout(Duration::from_secs(120), read_all).await;
    assert!(outcome.is_err(), "server ended: {outcome:?}");
    server.close_with(CloseCode::NORMAL, "").await.unwrap();
    let pings = within("client", client_task).await.unwrap();
    assert!(pings >= 10, "{pings} pings in 120 s");
}

#[tokio::test(start_paused = true)]
async fn read_deadline_times_out_without_breaking_the_connection() {
    let (mut client, mut server) = pair();
    server.set_read_deadline(Some(Instant::now() + Duration::from_secs(2)));
    assert!(matches!(server.recv().await, Some(Err(Error::ReadTimeout))));
    client.send(Message::text("late")).await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("late"));
}

#[tokio::test(start_paused = true)]
async fn write_deadline_fails_a_send_the_peer_does_not_read() {
    let (_client, mut server) = pair();
    server.set_write_deadline(Some(Instant::now() + Duration::from_secs(3)));
    let big = Message::binary(vec![1; 1 << 20]);
    let started = Instant::now();
    let result = within("send", server.send(big)).await;
    assert!(matches!(result, Err(Error::WriteTimeout)), "{result:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert!(matches!(
        server.send(Message::text("x")).await,
        Err(Error::Closed)
    ));
}

#[tokio::test]
async fn feeding_past_the_write_buffer_cap_drops_the_connection() {
    let (_client, mut server) = pair_with(Config::new().max_write_buffer(100 * 1024));
    let chunk = Message::binary(vec![0; 30 * 1024]);
    let mut fed = 0;
    let error = loop {
        match server.feed(chunk.clone()) {
            Ok(()) => fed += 1,
            Err(error) => break error,
        }
        assert!(fed < 100);
    };
    assert!(matches!(error, Error::WriteBufferFull), "{error:?}");
    assert_eq!(fed, 4, "accepted while under 100 KiB");
    assert!(!server.is_open());
}

#[tokio::test(start_paused = true)]
async fn our_close_unanswered_ends_recv_after_the_close_timeout() {
    let config = Config::new().close_timeout(Duration::from_secs(4));
    let (_client, mut server) = pair_with(config);
    server
        .send(Message::Close(Some(tower_websocket::CloseFrame::new(
            CloseCode::NORMAL,
            "",
        ))))
        .await
        .unwrap();
    let started = Instant::now();
    assert!(matches!(
        server.recv().await,
        Some(Err(Error::CloseTimeout))
    ));
    assert_eq!(started.elapsed(), Duration::from_secs(4));
    assert!(server.recv().await.is_none());
}

#[cfg(feature = "json")]
#[tokio::test]
async fn json_round_trip_and_a_typed_error_for_malformed_json() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Chat {
        name: String,
        text: String,
    }
    let (mut client, mut server) = pair();
    let sent = Chat {
        name: "ada".into(),
        text: "hi".into(),
    };
    client.send_json(&sent).await.unwrap();
    client.send(Message::text("{not json")).await.unwrap();
    client.send(Message::Ping("p".into())).await.unwrap();
    client.send_json(&sent).await.unwrap();
    let got: Chat = server.recv_json().await.unwrap().unwrap();
    assert_eq!(got, sent);
    let bad = server.recv_json::<Chat>().await.unwrap();
    assert!(matches!(bad, Err(Error::Json(_))), "{bad:?}");
    // Still open; the ping is skipped.
    let again: Chat = server.recv_json().await.unwrap().unwrap();
    assert_eq!(again, sent);
}

/// Holds the connection open, reading until the close handshake ends.
async fn hold(mut conn: Conn) {
    while let Some(Ok(_)) = conn.recv().await {}
}

#[tokio::test]
async fn graceful_shutdown_closes_every_live_connection_with_1001() {
    const CLIENTS: usize = 5;
    let shutdown = GracefulShutdown::new();
    let layer = WebSocketUpgradeLayer::new(hold)
        .path("/ws")
        .graceful_shutdown(&shutdown);
    let addr = spawn_server(layer).await;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (client, _) = within(
            "connect",
            tokio_tungstenite::connect_async(ws_url(addr, "/ws")),
        )
        .await
        .unwrap();
        clients.push(client);
    }
    within("all registered", async {
        while shutdown.live_connections() < CLIENTS {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // Each client answers the server's Close (tungstenite does so while reading).
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                let mut code = None;
                while let Some(Ok(message)) = client.next().await {
                    if let tungstenite::Message::Close(frame) = message {
                        code = frame.map(|f| u16::from(f.code));
                    }
                }
                code
            })
        })
        .collect();
    assert!(within("shutdown", shutdown.shutdown(Duration::from_secs(5))).await);
    assert_eq!(shutdown.live_connections(), 0);
    for reader in readers {
        assert_eq!(within("client", reader).await.unwrap(), Some(1001));
    }
    // New handshakes are refused while shutting down.
    let refused = tokio_tungstenite::connect_async(ws_url(addr, "/ws")).await;
    match refused {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("expected 503, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn graceful_shutdown_gives_up_after_its_timeout() {
    let shutdown = GracefulShutdown::new();
    // The client never answers the Close; the server waits its close timeout (10 s).
    let (_client, server) = pair();
    let server = server.with_shutdown(&shutdown);
    let task = tokio::spawn(hold_duplex(server));
    tokio::task::yield_now().await;
    assert_eq!(shutdown.live_connections(), 1);
    assert!(!shutdown.shutdown(Duration::from_secs(2)).await);
    assert_eq!(shutdown.live_connections(), 1);
    // The connection ends after its close timeout all the same.
    within("connection end", task).await.unwrap();
    assert_eq!(shutdown.live_connections(), 0);
}

async fn hold_duplex(mut conn: Conn<DuplexStream>) {
    while let Some(Ok(_)) = conn.recv().await {}
}

#[tokio::test]
async fn prepared_message_broadcast_over_tokio_broadcast_reaches_every_connection() {
    let (events, _) = tokio::sync::broadcast::channel::<tower_websocket::PreparedMessage>(16);
    let mut clients = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..3 {
        let (client, mut server) = pair();
        let mut rx = events.subscribe();
        servers.push(tokio::spawn(async move {
            // The documented pattern: select over the connection and the room.
            loop {
                tokio::select! {
                    incoming = server.recv() => if !matches!(incoming, Some(Ok(_))) { break },
                    event = rx.recv() => match event {
                        Ok(prepared) => {
                            if server.send_prepared(&prepared).await.is_err() { break }
                        }
                        Err(_) => break,
                    },
                }
            }
        }));
        clients.push(client);
    }
    let prepared = tower_websocket::PreparedMessage::new(Message::text("hello, room"));
    events.send(prepared).unwrap();
    events
        .send(tower_websocket::PreparedMessage::new(Message::binary(
            vec![9; 70_000],
        )))
        .unwrap();
    for client in &mut clients {
        let first = within("broadcast", client.recv()).await.unwrap().unwrap();
        assert_eq!(first, Message::text("hello, room"));
        let second = within("broadcast", client.recv()).await.unwrap().unwrap();
        assert_eq!(second, Message::binary(vec![9; 70_000]));
    }
    drop(events);
    for server in servers {
        within("server end", server).await.unwrap();
    }
}

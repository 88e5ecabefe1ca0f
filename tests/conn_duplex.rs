//! `Conn` without a network: a client and a server `Conn` (or a raw byte writer) over an
//! in-memory `tokio::io::duplex` pipe. Timeouts run on tokio's paused clock, so they are
//! deterministic and instant.

mod support;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::time::Instant;
use tower_websocket::{CloseCode, CloseFrame, Config, Conn, Error, Message, Role};

use support::{OpCode, close_payload, expect_eof, masked_frame, read_frame, within};

/// A connected client/server pair with the default config.
fn pair() -> (Conn<DuplexStream>, Conn<DuplexStream>) {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let config = Config::default();
    (
        Conn::from_raw(a, Role::Client, &config),
        Conn::from_raw(b, Role::Server, &config),
    )
}

/// The next message, which must be there.
async fn next<T>(conn: &mut Conn<T>) -> Message
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    within("next message", conn.recv())
        .await
        .expect("connection ended")
        .expect("recv failed")
}

/// Sends `message`, bounded by the test timeout.
async fn send<T>(conn: &mut Conn<T>, message: Message) -> Result<(), Error>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    within("send", conn.send(message)).await
}

#[tokio::test]
async fn messages_flow_both_ways() {
    let (mut client, mut server) = pair();
    send(&mut client, Message::text("from client"))
        .await
        .unwrap();
    assert_eq!(next(&mut server).await, Message::text("from client"));

    send(&mut server, Message::binary(Bytes::from_static(&[0, 1, 2])))
        .await
        .unwrap();
    assert_eq!(next(&mut client).await, Message::binary(vec![0u8, 1, 2]));

    // A large message both ways (extended length, masked by the client).
    let big: Bytes = (0..100_000u32).map(|i| i as u8).collect::<Vec<_>>().into();
    let (sent, received) = tokio::join!(
        send(&mut client, Message::Binary(big.clone())),
        next(&mut server)
    );
    sent.unwrap();
    assert_eq!(received, Message::Binary(big.clone()));
    let (sent, received) = tokio::join!(
        send(&mut server, Message::Binary(big.clone())),
        next(&mut client)
    );
    sent.unwrap();
    assert_eq!(received, Message::Binary(big));

    // A ping is returned to the receiver and answered with a pong while it waits for more.
    send(
        &mut client,
        Message::Ping(Bytes::from_static(b"are you there")),
    )
    .await
    .unwrap();
    assert_eq!(
        next(&mut server).await,
        Message::Ping(Bytes::from_static(b"are you there"))
    );
    let pong = within("the pong", async {
        tokio::select! {
            pong = client.recv() => pong,
            other = server.recv() => panic!("server received {other:?}"),
        }
    })
    .await;
    assert_eq!(
        pong.unwrap().unwrap(),
        Message::Pong(Bytes::from_static(b"are you there"))
    );
}

/// Counts the write calls that reach the underlying stream.
struct CountWrites<T> {
    inner: T,
    writes: Arc<AtomicUsize>,
}

impl<T: AsyncRead + Unpin> AsyncRead for CountWrites<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountWrites<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn send_frame_size_fragments_large_messages_for_the_peer_to_reassemble() {
    let (a, mut raw) = tokio::io::duplex(1 << 20);
    let config = Config::new().send_frame_size(Some(1000));
    let mut server = Conn::from_raw(a, Role::Server, &config);
    let payload: Vec<u8> = (0..2_500u32).map(|i| i as u8).collect();
    send(&mut server, Message::binary(payload.clone()))
        .await
        .unwrap();
    send(&mut server, Message::text("small")).await.unwrap();
    let mut got = Vec::new();
    let mut frames = Vec::new();
    for _ in 0..4 {
        let frame = within("frame", read_frame(&mut raw)).await;
        frames.push((frame.fin, frame.opcode, frame.payload.len()));
        got.push(frame.payload);
    }
    assert_eq!(
        frames,
        [
            (false, OpCode::Binary, 1000),
            (false, OpCode::Continuation, 1000),
            (true, OpCode::Continuation, 500),
            (true, OpCode::Text, 5),
        ]
    );
    assert_eq!(got[..3].concat(), payload);

    // A client's fragments (each masked with its own key) reassemble in our server.
    let (a, b) = tokio::io::duplex(1 << 20);
    let mut client = Conn::from_raw(a, Role::Client, &config);
    let mut server = Conn::from_raw(b, Role::Server, &Config::default());
    let big = Message::binary(vec![3u8; 64 * 1024 + 1]);
    send(&mut client, big.clone()).await.unwrap();
    assert_eq!(next(&mut server).await, big);
}

#[tokio::test(start_paused = true)]
async fn feed_queues_and_one_flush_writes_everything_at_once() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let writes = Arc::new(AtomicUsize::new(0));
    let counted = CountWrites {
        inner: a,
        writes: writes.clone(),
    };
    let mut client = Conn::from_raw(counted, Role::Client, &Config::default());
    let mut server = Conn::from_raw(b, Role::Server, &Config::default());

    let messages = [
        Message::text("one"),
        Message::binary(vec![2u8; 300]),
        Message::text("three"),
        Message::Ping(Bytes::from_static(b"four")),
    ];
    for message in messages.clone() {
        client.feed(message).unwrap();
    }
    // Nothing is written before the flush (the paused clock makes this wait instant).
    let early = tokio::time::timeout(Duration::from_millis(100), server.recv()).await;
    assert!(early.is_err(), "received before flush: {early:?}");
    assert_eq!(writes.load(Ordering::SeqCst), 0);

    within("flush", client.flush()).await.unwrap();
    assert_eq!(
        writes.load(Ordering::SeqCst),
        1,
        "one write for all queued frames"
    );
    for expected in messages {
        assert_eq!(next(&mut server).await, expected);
    }
}

#[tokio::test]
async fn close_from_one_side_ends_the_other_side_with_close_then_none() {
    let (mut client, mut server) = pair();
    let (closed, (first, second)) = tokio::join!(
        within("client close", client.close_with(CloseCode::NORMAL, "done")),
        async {
            let first = within("server recv", server.recv()).await;
            let second = within("server recv after close", server.recv()).await;
            (first, second)
        }
    );
    closed.unwrap();
    match first {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(frame.code, CloseCode::NORMAL);
            assert_eq!(frame.reason.as_str(), "done");
        }
        other => panic!("expected Close(1000, \"done\"), got {other:?}"),
    }
    assert!(second.is_none(), "{second:?}");
    // Both ends are finished.
    assert!(within("client recv", client.recv()).await.is_none());
    assert!(within("server recv", server.recv()).await.is_none());
}

#[tokio::test(start_paused = true)]
async fn close_times_out_against_a_silent_peer() {
    const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
    let (mut peer, io) = tokio::io::duplex(64 * 1024);
    let config = Config::new().close_timeout(CLOSE_TIMEOUT);
    let mut server = Conn::from_raw(io, Role::Server, &config);

    let start = Instant::now();
    let result = within(
        "close",
        server.close_with(CloseCode::GOING_AWAY, "shutting down"),
    )
    .await;
    assert!(matches!(result, Err(Error::CloseTimeout)), "{result:?}");
    let waited = start.elapsed();
    assert!(
        waited >= CLOSE_TIMEOUT && waited < CLOSE_TIMEOUT + Duration::from_secs(1),
        "waited {waited:?}"
    );

    // The peer got the Close frame, then the stream was shut down all the same.
    let close = read_frame(&mut peer).await;
    assert_eq!(close.close_code(), 1001);
    assert_eq!(close.close_reason(), "shutting down");
    expect_eof(&mut peer).await;
}

#[tokio::test]
async fn sending_after_close_is_an_error() {
    let (mut client, mut server) = pair();
    let (closed, _) = tokio::join!(
        within("client close", client.close_with(CloseCode::NORMAL, "")),
        within("server drain", async {
            while server.recv().await.is_some() {}
        })
    );
    closed.unwrap();
    let sent = send(&mut client, Message::text("too late")).await;
    assert!(matches!(sent, Err(Error::Closed)), "{sent:?}");
    let fed = client.feed(Message::text("too late"));
    assert!(matches!(fed, Err(Error::Closed)), "{fed:?}");
    // The side that received the Close cannot send either.
    let sent = send(&mut server, Message::text("too late")).await;
    assert!(matches!(sent, Err(Error::Closed)), "{sent:?}");
}

#[tokio::test]
async fn close_with_a_reserved_code_is_refused_and_sends_nothing() {
    let (mut client, mut server) = pair();
    let result = within("close", client.close_with(CloseCode::new(1005), "")).await;
    assert!(
        matches!(result, Err(Error::InvalidCloseCode(code)) if code.as_u16() == 1005),
        "{result:?}"
    );
    let fed = client.feed(Message::Close(Some(CloseFrame::new(
        CloseCode::new(1005),
        "",
    ))));
    assert!(matches!(fed, Err(Error::InvalidCloseCode(_))), "{fed:?}");
    // Nothing went out: the connection is still open both ways.
    send(&mut client, Message::text("still open"))
        .await
        .unwrap();
    assert_eq!(next(&mut server).await, Message::text("still open"));
}

/// `Error`'s questions answered against what the connection did: the code `close_code` names
/// is the one on the wire, `is_closed` agrees with whether the connection still works.
#[tokio::test(start_paused = true)]
async fn error_methods_match_what_the_connection_did() {
    // A protocol violation: closed with the error's code, as `close_code` says.
    let (mut peer, io) = tokio::io::duplex(64 * 1024);
    let mut server = Conn::from_raw(io, Role::Server, &Config::default());
    let unmasked = [0x81, 0x01, b'x'];
    peer.write_all(&unmasked).await.unwrap();
    let (error, close) = tokio::join!(within("recv", server.recv()), read_frame(&mut peer));
    let error = error.expect("an item").expect_err("a protocol error");
    assert!(error.is_protocol_violation() && error.is_closed() && !error.is_timeout());
    assert_eq!(
        error.close_code().map(CloseCode::as_u16),
        Some(close.close_code())
    );
    assert_eq!(close.close_code(), 1002);
    assert!(within("recv", server.recv()).await.is_none());

    // The idle timeout: a timeout that closed the connection with 1001.
    let config = Config::new()
        .ping_interval(None)
        .idle_timeout(Some(Duration::from_secs(5)));
    let (mut peer, io) = tokio::io::duplex(64 * 1024);
    let mut server = Conn::from_raw(io, Role::Server, &config);
    let (error, close) = tokio::join!(within("recv", server.recv()), read_frame(&mut peer));
    let error = error.expect("an item").expect_err("the idle timeout");
    assert!(matches!(error, Error::IdleTimeout), "{error:?}");
    assert!(error.is_timeout() && error.is_closed() && !error.is_protocol_violation());
    assert_eq!(
        error.close_code().map(CloseCode::as_u16),
        Some(close.close_code())
    );

    // The read deadline: a timeout that leaves the connection open.
    let (mut client, mut server) = pair();
    server.set_read_deadline(Some(Instant::now() + Duration::from_secs(1)));
    let error = within("recv", server.recv()).await.unwrap().unwrap_err();
    assert!(error.is_timeout() && !error.is_closed() && error.close_code().is_none());
    // A refused Close code: the call failed, the connection did not.
    let error = client
        .feed(Message::Close(Some(CloseFrame::new(
            CloseCode::new(1006),
            "",
        ))))
        .unwrap_err();
    assert!(!error.is_closed() && error.close_code().is_none());
    send(&mut client, Message::text("still open"))
        .await
        .unwrap();
    assert_eq!(next(&mut server).await, Message::text("still open"));

    // The peer vanished: closed, no code sent, neither a timeout nor a violation.
    drop(client);
    let error = within("recv", server.recv()).await.unwrap().unwrap_err();
    assert!(matches!(error, Error::UnexpectedEof), "{error:?}");
    assert!(error.is_closed() && !error.is_timeout() && !error.is_protocol_violation());
    assert!(error.close_code().is_none());
    // Sending now: `Closed`, which is closed too.
    let error = send(&mut server, Message::text("gone")).await.unwrap_err();
    assert!(error.is_closed(), "{error:?}");
}

#[tokio::test]
async fn peer_dropping_without_close_is_unexpected_eof_then_none() {
    let (client, mut server) = pair();
    drop(client);
    let first = within("recv", server.recv()).await;
    assert!(
        matches!(first, Some(Err(Error::UnexpectedEof))),
        "{first:?}"
    );
    assert!(within("recv", server.recv()).await.is_none());
}

#[tokio::test(start_paused = true)]
async fn recv_is_cancel_safe_in_select() {
    let (mut raw, io) = tokio::io::duplex(64);
    let mut server = Conn::from_raw(io, Role::Server, &Config::default());

    let binary: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let mut wire = masked_frame(true, OpCode::Binary, &binary);
    wire.extend(masked_frame(false, OpCode::Text, "κό".as_bytes()));
    wire.extend(masked_frame(true, OpCode::Continuation, "σμε".as_bytes()));
    wire.extend(masked_frame(
        true,
        OpCode::Close,
        &close_payload(1000, b"done"),
    ));
    let wire_len = wire.len();

    // One byte per write, with a pause after each: several timer ticks cancel `recv` while
    // every frame is only partly there.
    let writer = tokio::spawn(async move {
        for byte in wire {
            raw.write_all(&[byte]).await.unwrap();
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        let mut reply = Vec::new();
        raw.read_to_end(&mut reply).await.unwrap();
        reply
    });

    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    let mut received = Vec::new();
    let mut ticks = 0usize;
    within("all messages", async {
        loop {
            tokio::select! {
                item = server.recv() => match item {
                    Some(Ok(message)) => received.push(message),
                    Some(Err(e)) => panic!("recv failed: {e}"),
                    None => break,
                },
                _ = ticker.tick() => ticks += 1,
            }
        }
    })
    .await;

    assert!(ticks >= wire_len, "recv was cancelled only {ticks} times");
    assert_eq!(
        received,
        [
            Message::binary(binary),
            Message::text("κόσμε"),
            Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "done"))),
        ]
    );
    // The peer's Close was answered once, then the stream was shut down.
    let reply = within("writer", writer).await.unwrap();
    let mut reply = reply.as_slice();
    assert_eq!(read_frame(&mut reply).await.close_code(), 1000);
    assert!(reply.is_empty(), "more after the Close reply: {reply:?}");
}

//! Corking: the replies a handler `send`s while its task runs leave together when it yields,
//! and never later than that.

mod support;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tower::{Layer, service_fn};
use tower_websocket::{Conn, Handler, Message, WebSocketUpgradeLayer};

use support::{
    OpCode, echo, handshake_request, masked_frame, raw_handshake, read_frame, read_response_head,
    spawn_server, within, write_raw,
};

/// A transport that counts the writes made to it.
struct Counting {
    io: DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if polled.is_ready() {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Serves `layer` with hyper's http1 builder over an in-memory stream whose server side
/// counts writes, `pipe` bytes of buffer each way; the client's side and the counter.
fn serve_counted<H: Handler>(
    layer: WebSocketUpgradeLayer<H>,
    pipe: usize,
) -> (DuplexStream, Arc<AtomicUsize>) {
    let (client, server) = tokio::io::duplex(pipe);
    let writes = Arc::new(AtomicUsize::new(0));
    let io = Counting {
        io: server,
        writes: writes.clone(),
    };
    let service = layer.layer(service_fn(support::inner::<Incoming>));
    tokio::spawn(
        http1::Builder::new()
            .serve_connection(TokioIo::new(io), TowerToHyperService::new(service))
            .with_upgrades(),
    );
    (client, writes)
}

/// `count` masked text frames `0`, `1`, ... in one buffer.
fn frames(count: usize) -> Vec<u8> {
    (0..count)
        .flat_map(|i| masked_frame(true, OpCode::Text, i.to_string().as_bytes()))
        .collect()
}

#[tokio::test]
async fn replies_to_frames_that_arrived_together_leave_in_one_write() {
    let (mut client, writes) = serve_counted(WebSocketUpgradeLayer::new(echo), 1 << 20);
    write_raw(&mut client, handshake_request("/", &[]).as_bytes()).await;
    assert_eq!(read_response_head(&mut client).await.status, 101);
    // Whatever hyper needed for the 101, then our replies alone.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = writes.load(Ordering::SeqCst);

    write_raw(&mut client, &frames(16)).await;
    for i in 0..16 {
        let frame = within("echo", read_frame(&mut client)).await;
        assert_eq!(frame.payload, i.to_string().as_bytes());
    }
    let replies = writes.load(Ordering::SeqCst) - before;
    assert_eq!(replies, 1, "16 replies to one read took {replies} writes");
}

/// Echoes each message, then sleeps (not in `recv`): the echo must not wait for the sleep.
async fn echo_then_sleep(mut conn: Conn) {
    while let Some(Ok(message)) = conn.recv().await {
        if message.is_data() && conn.send(message).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

#[tokio::test]
async fn a_sent_message_is_on_the_wire_once_the_handler_yields_elsewhere() {
    let addr = spawn_server(WebSocketUpgradeLayer::new(echo_then_sleep)).await;
    let mut ws = raw_handshake(addr, "/").await;
    // Two frames in one write: the handler's `send` of the first echo happens while the second
    // is already read, so it is corked; the handler's sleep must uncork it.
    let started = Instant::now();
    write_raw(&mut ws, &frames(2)).await;
    let frame = tokio::time::timeout(Duration::from_secs(2), read_frame(&mut ws))
        .await
        .expect("the echo sent before the handler slept did not arrive");
    assert_eq!(frame.payload, b"0");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Sends one reply and returns, dropping the connection without a close.
async fn reply_and_return(mut conn: Conn) {
    if let Some(Ok(message)) = conn.recv().await {
        let _ = conn.send(message).await;
    }
}

#[tokio::test]
async fn a_reply_sent_right_before_the_handler_returns_is_delivered() {
    let addr = spawn_server(WebSocketUpgradeLayer::new(reply_and_return)).await;
    let mut ws = raw_handshake(addr, "/").await;
    write_raw(&mut ws, &frames(2)).await;
    let frame = within("the last reply", read_frame(&mut ws)).await;
    assert_eq!(frame.payload, b"0");
}

/// Echoes the first message, then hands the connection to another task that echoes the rest.
async fn echo_then_move(mut conn: Conn) {
    if let Some(Ok(message)) = conn.recv().await {
        let _ = conn.send(message).await;
    }
    let moved = tokio::spawn(echo(conn));
    let _ = moved.await;
}

#[tokio::test]
async fn replies_stay_in_order_when_the_connection_moves_to_another_task() {
    let addr = spawn_server(WebSocketUpgradeLayer::new(echo_then_move)).await;
    let mut ws = raw_handshake(addr, "/").await;
    write_raw(&mut ws, &frames(8)).await;
    for i in 0..8 {
        let frame = within("echo", read_frame(&mut ws)).await;
        assert_eq!(frame.payload, i.to_string().as_bytes(), "reply {i}");
    }
    write_raw(&mut ws, &frames(3)).await;
    for i in 0..3 {
        let frame = within("echo after the move", read_frame(&mut ws)).await;
        assert_eq!(frame.payload, i.to_string().as_bytes());
    }
}

/// How many messages [`burst`] sends.
const BURST: u32 = 2_000;

/// The `i`th message of [`burst`]: 100 bytes.
fn burst_payload(i: u32) -> String {
    format!("{i:0>100}")
}

/// Sends a burst far larger than the cork holds, with the peer not reading at first.
async fn burst(mut conn: Conn) {
    if let Some(Ok(_)) = conn.recv().await {
        for i in 0..BURST {
            if conn.send(Message::text(burst_payload(i))).await.is_err() {
                return;
            }
        }
    }
    let _ = conn.recv().await;
}

/// Reads the whole of [`burst`] in order, pausing 20 ms every `pause_every` messages.
async fn expect_burst<R: AsyncRead + Unpin>(stream: &mut R, pause_every: Option<u32>) {
    for i in 0..BURST {
        let frame = within("burst", read_frame(stream)).await;
        assert_eq!(frame.payload, burst_payload(i).as_bytes(), "message {i}");
        if pause_every.is_some_and(|n| i % n == 0) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_burst_larger_than_the_cork_arrives_whole_and_in_order() {
    let addr = spawn_server(WebSocketUpgradeLayer::new(burst)).await;
    let mut ws = raw_handshake(addr, "/").await;
    write_raw(&mut ws, &frames(2)).await;
    // Let the server fill the socket buffers before reading anything.
    tokio::time::sleep(Duration::from_millis(200)).await;
    expect_burst(&mut ws, None).await;
}

#[tokio::test]
async fn through_a_pipe_that_takes_little_at_a_time_a_burst_arrives_whole_and_in_order() {
    // 4 KiB of pipe: most of each corked batch is held back and written as the reader drains.
    let (mut client, writes) = serve_counted(WebSocketUpgradeLayer::new(burst), 4096);
    write_raw(&mut client, handshake_request("/", &[]).as_bytes()).await;
    assert_eq!(read_response_head(&mut client).await.status, 101);
    write_raw(&mut client, &frames(1)).await;
    expect_burst(&mut client, Some(500)).await;
    assert!(
        writes.load(Ordering::SeqCst) > 50,
        "the pipe took it in pieces"
    );
}

/// Sends a corked reply, splits the connection (its driver may run on another worker at once),
/// queues a second reply through the sender, and keeps the task from yielding for a while.
async fn send_then_split(mut conn: Conn) {
    if let Some(Ok(_)) = conn.recv().await {
        let _ = conn.send(Message::text("first")).await;
        let (_reader, sender) = conn.split();
        // A second spawn moves the driver out of this worker's LIFO slot, where no other
        // worker could steal it.
        tokio::spawn(async {});
        let _ = sender.try_send(Message::text("second"));
        // Blocking on purpose: the driver, on the other worker, writes before this task's
        // poll ends, which is when "first" leaves the cork.
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corked_reply_goes_before_what_a_split_driver_writes_on_another_thread() {
    let addr = spawn_server(WebSocketUpgradeLayer::new(send_then_split)).await;
    let mut ws = raw_handshake(addr, "/").await;
    // Two frames, so that the handler's `send` is corked (the second is already read).
    write_raw(&mut ws, &frames(2)).await;
    let first = within("first", read_frame(&mut ws)).await;
    let second = within("second", read_frame(&mut ws)).await;
    assert_eq!(
        (first.payload.as_slice(), second.payload.as_slice()),
        (&b"first"[..], &b"second"[..])
    );
    assert_eq!(
        within("close", read_frame(&mut ws)).await.opcode,
        OpCode::Close
    );
}

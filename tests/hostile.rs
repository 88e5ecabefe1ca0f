//! Hostile peers: a client that keeps sending after the server has closed, a client that
//! neither reads nor answers, a slow reader of a split connection, and the reasons a `Sender`
//! reports once the connection has ended.

mod support;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::Instant;
use tower_websocket::{
    CloseCode, CloseFrame, Config, Conn, Error, Message, ProtocolError, Role, Sender,
};

use support::{OpCode, masked_frame, within};

/// One empty, masked, non-final continuation frame: 6 bytes.
fn empty_fragment() -> Vec<u8> {
    masked_frame(false, OpCode::Continuation, b"")
}

/// Reads one server frame: (opcode, payload), or the IO error (e.g. ECONNRESET, or EOF).
async fn try_read_frame(stream: &mut (impl AsyncRead + Unpin)) -> io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await?;
    let len = match head[1] & 0x7F {
        126 => u64::from(stream.read_u16().await?),
        127 => stream.read_u64().await?,
        len => u64::from(len),
    };
    let mut payload = vec![0; usize::try_from(len).map_err(io::Error::other)?];
    stream.read_exact(&mut payload).await?;
    Ok((head[0] & 0x0F, payload))
}

/// What the server-side handler saw: every item `recv` returned but pings, in order.
type Seen = Vec<Result<Message, String>>;

/// Accepts one TCP connection on 127.0.0.1, runs `recv` until `None` and reports the items.
async fn one_connection_server(
    config: Config,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        let mut conn = Conn::from_raw(stream, Role::Server, &config);
        let mut seen = Vec::new();
        // Bounded: the flood is finite and every closing phase is bounded by the close timeout.
        while let Some(item) = conn.recv().await {
            if matches!(item, Ok(Message::Ping(_))) {
                continue;
            }
            seen.push(item.map_err(|e| format!("{e:?}")));
            assert!(seen.len() < 10, "too many items: {seen:?}");
        }
        seen
    });
    (addr, task)
}

/// A client floods the server with 300,000 empty fragments (over `max_fragments`) without
/// pausing to read; it must still read the server's Close 1009, not a connection reset.
/// The server task saw exactly one item: the protocol error for the fragment flood.
async fn expect_too_many_fragments(server: tokio::task::JoinHandle<Seen>) {
    let seen = within("server end", server).await.expect("server task");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0]
            .as_ref()
            .is_err_and(|e| e.contains("TooManyFragments")),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_client_reads_the_close_frame_not_a_reset() {
    const FRAGMENTS: usize = 300_000;
    let (addr, server) = one_connection_server(Config::default()).await;
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut read, mut write) = stream.into_split();
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    let writer = tokio::spawn(async move {
        let started = Instant::now();
        let mut first = masked_frame(false, OpCode::Binary, b"");
        first.extend(empty_fragment().repeat(999));
        if write.write_all(&first).await.is_err() {
            return;
        }
        let chunk = empty_fragment().repeat(1000);
        // Bounded in bytes (300,000 fragments) and in time.
        for _ in 1..FRAGMENTS / 1000 {
            if started.elapsed() > Duration::from_secs(5) || write.write_all(&chunk).await.is_err()
            {
                return;
            }
            counter.fetch_add(chunk.len(), Ordering::Relaxed);
        }
    });
    let mut frames = Vec::new();
    let close = within("the Close frame", async {
        loop {
            match try_read_frame(&mut read).await {
                Ok((0x8, payload)) => break payload,
                Ok(frame) => frames.push(frame),
                Err(e) => panic!(
                    "{e} ({:?}) before the Close frame, after {} bytes sent",
                    e.kind(),
                    written.load(Ordering::Relaxed)
                ),
            }
            assert!(frames.len() < 10, "unexpected frames {frames:?}");
        }
    })
    .await;
    assert!(close.len() >= 2, "Close without a code");
    assert_eq!(u16::from_be_bytes([close[0], close[1]]), 1009);
    expect_too_many_fragments(server).await;
    writer.abort();
}

/// A client that writes its whole flood (empty fragments with 125-byte pings among them)
/// before it reads anything, with a small receive buffer: the pongs and the Close back up in
/// the server's send queue. Closing the socket on the unread flood would reset the connection
/// and destroy them; the lingering close reads (and discards) the flood while the Close waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_reads_only_after_its_flood_still_gets_the_close() {
    // 250,000 fragments: what follows the 131,073rd (the error) stays under the 1 MiB linger.
    const FRAGMENTS: usize = 250_000;
    const PING_EVERY: usize = 1000;
    let (addr, server) = one_connection_server(Config::default()).await;
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = within("connect", socket.connect(addr))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut read, mut write) = stream.into_split();
    let ping = masked_frame(true, OpCode::Ping, &[b'p'; 125]);
    let mut chunk = empty_fragment().repeat(PING_EVERY - 1);
    chunk.extend(&ping);
    let mut first = masked_frame(false, OpCode::Binary, b"");
    first.extend(&chunk[6..]);
    let written = within("the flood", async {
        let mut written = 0;
        for n in 0..FRAGMENTS / PING_EVERY {
            let bytes = if n == 0 { &first } else { &chunk };
            if let Err(e) = write.write_all(bytes).await {
                panic!("{e} after {written} bytes");
            }
            written += bytes.len();
        }
        written
    })
    .await;
    assert!(written > 1_500_000);
    let mut pongs = 0;
    let close = within("the Close frame", async {
        loop {
            match try_read_frame(&mut read).await {
                Ok((0x8, payload)) => break payload,
                Ok((0xA, _)) => pongs += 1,
                Ok(frame) => panic!("unexpected frame {frame:?}"),
                Err(e) => panic!("{e} ({:?}) after {pongs} pongs, before the Close", e.kind()),
            }
        }
    })
    .await;
    assert_eq!(u16::from_be_bytes([close[0], close[1]]), 1009);
    assert_eq!(pongs, 131, "one pong per ping before the error");
    drop((read, write));
    expect_too_many_fragments(server).await;
}

/// A server config whose writes may block forever: only the close timeout can end a close.
fn no_write_timeout() -> Config {
    Config::new()
        .write_timeout(None)
        .ping_interval(None)
        .idle_timeout(None)
        .close_timeout(Duration::from_secs(4))
}

/// A server `Conn` over a small pipe whose peer (returned raw) never reads: 32 KiB queued by
/// the server fill the pipe, so whatever it writes next is stuck.
fn stuck_server(config: Config) -> (DuplexStream, Conn<DuplexStream>) {
    let (peer, server) = tokio::io::duplex(4096);
    let mut server = Conn::from_raw(server, Role::Server, &config);
    server
        .feed(Message::binary(vec![0; 32 * 1024]))
        .expect("feed");
    (peer, server)
}

/// Polls `recv` once more after `first` and asserts the end; returns the time taken by both.
async fn recv_twice(server: &mut Conn<DuplexStream>) -> (Option<Result<Message, Error>>, Duration) {
    let started = Instant::now();
    let first = tokio::time::timeout(Duration::from_secs(60), server.recv())
        .await
        .expect("recv ended within 60 s");
    assert!(server.recv().await.is_none());
    (first, started.elapsed())
}

#[tokio::test(start_paused = true)]
async fn protocol_error_towards_a_stuck_peer_ends_within_the_close_timeout() {
    let (mut peer, mut server) = stuck_server(no_write_timeout());
    peer.write_all(&[0x81, 0x01, b'a']).await.expect("write");
    let (first, waited) = recv_twice(&mut server).await;
    assert!(
        matches!(
            first,
            Some(Err(Error::Protocol(ProtocolError::UnmaskedFrame)))
        ),
        "{first:?}"
    );
    assert_eq!(waited, Duration::from_secs(4));
}

#[tokio::test(start_paused = true)]
async fn close_reply_to_a_stuck_peer_ends_within_the_close_timeout() {
    let (mut peer, mut server) = stuck_server(no_write_timeout());
    let close = masked_frame(true, OpCode::Close, &support::close_payload(1000, b""));
    peer.write_all(&close).await.expect("write");
    let (first, waited) = recv_twice(&mut server).await;
    assert!(
        matches!(first, Some(Ok(Message::Close(Some(_))))),
        "{first:?}"
    );
    assert_eq!(waited, Duration::from_secs(4));
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_towards_a_stuck_peer_ends_within_the_close_timeout() {
    let config = no_write_timeout().idle_timeout(Some(Duration::from_secs(10)));
    let (_peer, mut server) = stuck_server(config);
    let (first, waited) = recv_twice(&mut server).await;
    assert!(matches!(first, Some(Err(Error::IdleTimeout))), "{first:?}");
    // The idle timeout (checked every quarter of it when pings are off), then the close timeout.
    assert!(
        waited >= Duration::from_secs(14) && waited <= Duration::from_secs(17),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn close_and_send_close_to_a_stuck_peer_end_within_the_close_timeout() {
    let (_peer, mut server) = stuck_server(no_write_timeout());
    let started = Instant::now();
    let closed = tokio::time::timeout(
        Duration::from_secs(60),
        server.close_with(CloseCode::NORMAL, ""),
    )
    .await
    .expect("close ended within 60 s");
    assert!(matches!(closed, Err(Error::CloseTimeout)), "{closed:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(4));

    let (_peer, mut server) = stuck_server(no_write_timeout());
    let started = Instant::now();
    let close = Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "")));
    let sent = tokio::time::timeout(Duration::from_secs(60), server.send(close))
        .await
        .expect("send ended within 60 s");
    assert!(matches!(sent, Err(Error::CloseTimeout)), "{sent:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(4));
}

/// A slow reader of a split connection: the driver stops reading once the read half has the
/// default 1 MiB of payload waiting (plus one message), not 16 messages of any size.
#[tokio::test(start_paused = true)]
async fn split_read_half_queues_a_bounded_number_of_bytes() {
    const MESSAGE: usize = 512 * 1024;
    let (a, b) = tokio::io::duplex(64 * 1024);
    let quiet = Config::new().ping_interval(None).idle_timeout(None);
    let mut client = Conn::from_raw(a, Role::Client, &quiet);
    let server = Conn::from_raw(b, Role::Server, &quiet);
    let (mut reader, _sender) = server.split();
    let mut sent = 0;
    // Sends until one has made no progress for a (paused) second: the server stopped reading.
    while sent < 20 {
        let message = Message::binary(vec![1; MESSAGE]);
        match tokio::time::timeout(Duration::from_secs(1), client.send(message)).await {
            Ok(result) => result.expect("send"),
            Err(_) => break,
        }
        sent += 1;
    }
    // Queued: 1 MiB (two messages; one is always accepted); plus at most one message in the
    // server's read buffer and 64 KiB in the pipe. Without the byte budget: 16 messages.
    assert!(
        sent <= 4,
        "{sent} messages of 512 KiB sent to a reader that reads nothing"
    );
    for _ in 0..sent {
        let message = within("queued", reader.recv())
            .await
            .expect("message")
            .expect("ok");
        assert_eq!(message.into_data().len(), MESSAGE);
    }
}

/// Waits until the split connection behind `sender` has ended, then returns the reason a
/// send reports.
async fn reason_after_end(sender: &Sender) -> String {
    within("the connection to end", async {
        while !sender.is_closed() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let error = sender.send(Message::text("late")).await.expect_err("ended");
    assert_eq!(error.message, Message::text("late"));
    format!("{:?}", error.reason())
}

/// No keepalive; a close timeout shorter than the waits of [`within`].
fn quiet() -> Config {
    Config::new()
        .ping_interval(None)
        .idle_timeout(None)
        .close_timeout(Duration::from_secs(2))
}

#[tokio::test(start_paused = true)]
async fn sender_reports_a_protocol_error() {
    let (mut peer, server) = tokio::io::duplex(4096);
    let (mut reader, sender) = Conn::from_raw(server, Role::Server, &quiet()).split();
    peer.write_all(&[0x81, 0x01, b'a']).await.expect("write");
    let reason = reason_after_end(&sender).await;
    assert_eq!(reason, "Some(Protocol(UnmaskedFrame))");
    let first = reader.recv().await;
    assert!(matches!(first, Some(Err(Error::Protocol(_)))), "{first:?}");
    assert!(reader.recv().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn sender_reports_the_idle_timeout() {
    let (_peer, server) = tokio::io::duplex(4096);
    let config = quiet().idle_timeout(Some(Duration::from_secs(4)));
    let (_reader, sender) = Conn::from_raw(server, Role::Server, &config).split();
    assert_eq!(reason_after_end(&sender).await, "Some(IdleTimeout)");
}

#[tokio::test(start_paused = true)]
async fn sender_reports_an_unexpected_eof() {
    let (peer, server) = tokio::io::duplex(4096);
    let (_reader, sender) = Conn::from_raw(server, Role::Server, &quiet()).split();
    drop(peer);
    assert_eq!(reason_after_end(&sender).await, "Some(UnexpectedEof)");
}

/// A stream whose reads fail with a connection reset; writes are accepted and dropped.
struct ResetOnRead;

impl AsyncRead for ResetOnRead {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()))
    }
}

impl AsyncWrite for ResetOnRead {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test(start_paused = true)]
async fn sender_reports_a_read_error() {
    let (_reader, sender) = Conn::from_raw(ResetOnRead, Role::Server, &quiet()).split();
    within("the connection to end", async {
        while !sender.is_closed() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let error = sender.send(Message::text("late")).await.expect_err("ended");
    match error.reason() {
        Some(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
        other => panic!("expected an IO error, got {other:?}"),
    }
}

/// After a protocol error, a peer that stays silent (neither sends nor closes) holds `recv`
/// up for the linger quiet time only; after the peer's own Close nothing waits at all.
#[tokio::test(start_paused = true)]
async fn lingering_waits_for_a_quiet_peer_only_after_an_unanswered_close() {
    let config = quiet().linger_quiet(Duration::from_millis(300));
    let (mut peer, server) = tokio::io::duplex(64 * 1024);
    let mut server = Conn::from_raw(server, Role::Server, &config);
    peer.write_all(&[0x81, 0x01, b'a']).await.expect("write");
    let started = Instant::now();
    let first = server.recv().await;
    assert!(matches!(first, Some(Err(Error::Protocol(_)))), "{first:?}");
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    assert!(server.recv().await.is_none());

    let (mut peer, server) = tokio::io::duplex(64 * 1024);
    let mut server = Conn::from_raw(server, Role::Server, &config);
    let close = masked_frame(true, OpCode::Close, &support::close_payload(1000, b""));
    peer.write_all(&close).await.expect("write");
    let started = Instant::now();
    let first = server.recv().await;
    assert!(
        matches!(first, Some(Ok(Message::Close(Some(_))))),
        "{first:?}"
    );
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "waited for a peer that keeps the socket"
    );
    // The reply is there, and the write side is shut: the peer reads the Close, then EOF.
    let mut reply = Vec::new();
    within("reply", peer.read_to_end(&mut reply))
        .await
        .expect("read");
    assert_eq!(reply, [0x88, 0x02, 0x03, 0xE8]);
}

/// A split connection whose peer stops reading and then breaks the protocol: the closing
/// phase ends at the close timeout, and both halves learn the protocol error (not the close
/// timeout of a flush racing the close).
#[tokio::test(start_paused = true)]
async fn split_connection_closing_towards_a_stuck_peer_reports_the_protocol_error() {
    let (mut peer, server) = tokio::io::duplex(4096);
    let (mut reader, sender) = Conn::from_raw(server, Role::Server, &quiet()).split();
    sender
        .send(Message::binary(vec![0; 32 * 1024]))
        .await
        .expect("queued");
    tokio::time::sleep(Duration::from_millis(10)).await;
    peer.write_all(&[0x81, 0x01, b'a']).await.expect("write");
    let first = within("the error", reader.recv()).await;
    assert!(
        matches!(
            first,
            Some(Err(Error::Protocol(ProtocolError::UnmaskedFrame)))
        ),
        "{first:?}"
    );
    assert!(reader.recv().await.is_none());
    assert_eq!(
        reason_after_end(&sender).await,
        "Some(Protocol(UnmaskedFrame))"
    );
}

//! permessage-deflate (RFC 7692) end to end: a client `Conn` and a server `Conn` over an
//! in-memory `tokio::io::duplex` pipe, each set up from a real negotiation (the server's
//! `negotiate_deflate` on the client's offer, the client's `accept_deflate_response` on the
//! server's answer). The bytes on the wire are recorded and checked frame by frame.
//!
//! The decompression-bomb test measures allocations with a counting global allocator that
//! counts only on the thread that asked for it (the test's current-thread runtime), so tests
//! running in parallel on other threads do not disturb it.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress};
use http::{HeaderMap, HeaderValue, header::SEC_WEBSOCKET_EXTENSIONS};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tower_websocket::handshake::extensions::{accept_deflate_response, negotiate_deflate};
use tower_websocket::{
    CloseCode, Config, Conn, DeflateConfig, DeflateParams, Error, Message, ProtocolError, Role,
};

use support::{OpCode, expect_eof, masked_frame, read_frame, within};

// ------------------------------------------------------------------ counting allocator ---

/// Counts live heap bytes and their peak, on threads that turned counting on.
struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    // `try_with`: never panic inside the allocator, even while the thread is exiting.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let live = LIVE.get() + delta;
            LIVE.set(live);
            PEAK.set(PEAK.get().max(live));
        }
    });
}

// SAFETY: every call is passed to `System` unchanged; the counting only reads sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            note(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            note(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // Counted as if old and new were both live for a moment (a moving realloc).
            note(new_size as isize);
            note(-(layout.size() as isize));
        }
        new
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Runs `f` with counting on for this thread; returns its output and the peak of bytes
/// allocated (and not yet freed) while it ran.
async fn peak_allocated<F: Future>(f: F) -> (F::Output, usize) {
    LIVE.set(0);
    PEAK.set(0);
    COUNTING.set(true);
    let output = f.await;
    COUNTING.set(false);
    (output, usize::try_from(PEAK.get()).unwrap_or(0))
}

// ------------------------------------------------------------------- recording stream ---

/// Passes everything through and keeps a copy of every byte written.
struct Recording<T> {
    inner: T,
    written: Arc<Mutex<Vec<u8>>>,
}

impl<T> Recording<T> {
    fn new(inner: T) -> (Self, Arc<Mutex<Vec<u8>>>) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let recording = Self {
            inner,
            written: written.clone(),
        };
        (recording, written)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Recording<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Recording<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.written.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(mut n)) = poll {
            let mut written = self.written.lock().unwrap();
            for buf in bufs {
                let take = n.min(buf.len());
                written.extend_from_slice(&buf[..take]);
                n -= take;
            }
        }
        poll
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

/// One frame as recorded on the wire, payload unmasked.
#[derive(Debug)]
struct WireFrame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    masked: bool,
    payload: Vec<u8>,
}

/// Splits a recorded byte stream into frames; the stream must end on a frame boundary.
fn parse_frames(mut wire: &[u8]) -> Vec<WireFrame> {
    let mut frames = Vec::new();
    while !wire.is_empty() {
        assert!(wire.len() >= 2, "truncated frame header");
        let (b0, b1) = (wire[0], wire[1]);
        let mut at = 2;
        let len = match b1 & 0x7f {
            126 => {
                at += 2;
                u64::from(u16::from_be_bytes([wire[2], wire[3]]))
            }
            127 => {
                at += 8;
                u64::from_be_bytes(wire[2..10].try_into().unwrap())
            }
            n => u64::from(n),
        };
        let masked = b1 & 0x80 != 0;
        let key = if masked {
            let key: [u8; 4] = wire[at..at + 4].try_into().unwrap();
            at += 4;
            Some(key)
        } else {
            None
        };
        let len = usize::try_from(len).unwrap();
        let mut payload = wire[at..at + len].to_vec();
        if let Some(key) = key {
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= key[i % 4];
            }
        }
        frames.push(WireFrame {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x7,
            opcode: b0 & 0x0f,
            masked,
            payload,
        });
        wire = &wire[at + len..];
    }
    frames
}

// ---------------------------------------------------------------------- negotiation ---

const THRESHOLD: usize = 100;

/// What one round-trip run negotiates.
#[derive(Debug, Clone, Copy)]
struct Setup {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: u8,
    client_max_window_bits: u8,
}

/// Runs the real negotiation for `setup`: the client offers the windows (and
/// `server_no_context_takeover` if wanted), the server is configured to refuse client context
/// takeover if wanted. Returns the server's and the client's parameters and configs.
fn negotiate(setup: Setup) -> (DeflateParams, DeflateConfig, DeflateParams, DeflateConfig) {
    let mut offer = format!(
        "permessage-deflate; server_max_window_bits={}; client_max_window_bits={}",
        setup.server_max_window_bits, setup.client_max_window_bits
    );
    if setup.server_no_context_takeover {
        offer.push_str("; server_no_context_takeover");
    }
    let offer = HeaderValue::from_str(&offer).unwrap();
    let mut request = HeaderMap::new();
    request.insert(SEC_WEBSOCKET_EXTENSIONS, offer.clone());

    let server_config = DeflateConfig::new()
        .threshold(THRESHOLD)
        .client_context_takeover(!setup.client_no_context_takeover);
    let (server_params, answer) =
        negotiate_deflate(&request, &server_config).expect("the server accepts the offer");
    let mut response = HeaderMap::new();
    response.insert(SEC_WEBSOCKET_EXTENSIONS, answer.clone());
    let client_params = accept_deflate_response(&offer, &response)
        .unwrap_or_else(|e| panic!("client refuses {answer:?}: {e}"))
        .expect("the server accepted deflate");

    let expected = DeflateParams {
        server_no_context_takeover: setup.server_no_context_takeover,
        client_no_context_takeover: setup.client_no_context_takeover,
        server_max_window_bits: setup.server_max_window_bits,
        client_max_window_bits: setup.client_max_window_bits,
    };
    assert_eq!(server_params, expected, "server, answer {answer:?}");
    assert_eq!(client_params, expected, "client, answer {answer:?}");
    let client_config = DeflateConfig::new().threshold(THRESHOLD);
    (server_params, server_config, client_params, client_config)
}

/// A client and a server `Conn` with deflate negotiated, and what each wrote.
struct Pair {
    client: Conn<Recording<DuplexStream>>,
    client_wrote: Arc<Mutex<Vec<u8>>>,
    server: Conn<Recording<DuplexStream>>,
    server_wrote: Arc<Mutex<Vec<u8>>>,
}

fn deflate_pair(setup: Setup) -> Pair {
    let (server_params, server_config, client_params, client_config) = negotiate(setup);
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (a, client_wrote) = Recording::new(a);
    let (b, server_wrote) = Recording::new(b);
    let config = Config::default();
    Pair {
        client: Conn::from_raw(a, Role::Client, &config)
            .with_deflate(&client_params, &client_config),
        client_wrote,
        server: Conn::from_raw(b, Role::Server, &config)
            .with_deflate(&server_params, &server_config),
        server_wrote,
    }
}

// ----------------------------------------------------------------------- round trips ---

/// Deterministic JSON-like text of about `len` bytes, varied from record to record.
fn json(seed: u32, len: usize) -> String {
    let names = ["alice", "bob", "carol", "dave", "eve", "mallory", "trent"];
    let actions = ["move", "chat", "buy", "sell", "join", "leave"];
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut out = String::from("[");
    while out.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let r = x >> 8;
        out.push_str(&format!(
            r#"{{"id":{},"user":"{}","action":"{}","x":{},"y":{},"ok":{}}},"#,
            r % 100_000,
            names[(r % 7) as usize],
            actions[(r / 7 % 6) as usize],
            (r / 42 % 2000) as i32 - 1000,
            (r / 84_000 % 500) as i32 - 250,
            r % 2 == 0,
        ));
    }
    out.truncate(len.saturating_sub(1));
    out.push(']');
    out
}

/// Binary data with some structure and some noise.
fn binary(seed: u32, len: usize) -> Bytes {
    let mut x = seed | 1;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i % 4 == 0 { x as u8 } else { (i / 16) as u8 }
        })
        .collect::<Vec<_>>()
        .into()
}

/// The messages sent each way: below and above the threshold, text and binary, a short one
/// repeated three times (indices 1–3, so context takeover shows), an empty one, and 200 KiB of
/// text and of binary.
fn messages() -> Vec<Message> {
    let repeated = json(1, 200);
    vec![
        Message::text("short, below the threshold"),
        Message::text(repeated.clone()),
        Message::text(repeated.clone()),
        Message::text(repeated),
        Message::text(""),
        Message::binary(binary(2, 3000)),
        Message::text(json(3, 1500)),
        Message::binary(binary(4, 50)),
        Message::text(json(5, 200 * 1024)),
        Message::binary(binary(6, 200 * 1024)),
    ]
}

/// The next data message; pings and pongs (answered by `Conn`) are skipped.
async fn next_data<T>(conn: &mut Conn<T>) -> Message
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let message = within("next message", conn.recv())
            .await
            .expect("connection ended")
            .expect("recv failed");
        if message.is_data() {
            return message;
        }
    }
}

/// Checks one direction's recorded frames: RSV1 exactly on the data frames of messages at or
/// over the threshold (each message is one frame), never on control frames; RSV2/RSV3 never;
/// the repeated message shrinks with context takeover and does not without.
fn check_wire(wire: &[u8], sent: &[Message], masked: bool, no_context_takeover: bool, what: &str) {
    let frames = parse_frames(wire);
    let data: Vec<&WireFrame> = frames
        .iter()
        .filter(|f| f.opcode == OpCode::Text.as_u8() || f.opcode == OpCode::Binary.as_u8())
        .collect();
    assert_eq!(data.len(), sent.len(), "{what}: one frame per message");
    for frame in &frames {
        assert_eq!(frame.masked, masked, "{what}: masking");
        assert_eq!(frame.rsv & 0b011, 0, "{what}: RSV2/RSV3 set on {frame:?}");
        if frame.opcode == OpCode::Continuation.as_u8() || frame.opcode >= 0x8 {
            assert_eq!(frame.rsv, 0, "{what}: RSV1 on a non-first or control frame");
        }
    }
    assert!(
        frames.iter().any(|f| f.opcode == OpCode::Close.as_u8()),
        "{what}: no close frame recorded"
    );
    for (i, (frame, message)) in data.iter().zip(sent).enumerate() {
        let len = message.clone().into_data().len();
        assert!(frame.fin, "{what}: message {i} fragmented");
        let compressed = frame.rsv == 0b100;
        assert_eq!(
            compressed,
            len >= THRESHOLD,
            "{what}: RSV1 of message {i} ({len} bytes)"
        );
        if compressed && len > 1000 && matches!(message, Message::Text(_)) {
            assert!(
                frame.payload.len() < len / 2,
                "{what}: message {i} barely compressed"
            );
        }
    }
    let (first, second, third) = (
        data[1].payload.len(),
        data[2].payload.len(),
        data[3].payload.len(),
    );
    if no_context_takeover {
        assert_eq!(
            (second, third),
            (first, first),
            "{what}: repeats without takeover"
        );
    } else {
        assert!(
            second * 4 < first && third * 4 < first,
            "{what}: repeats with takeover: {first} then {second}, {third}"
        );
    }
}

/// Sends every message client → server and back (the server echoes), a ping in between,
/// checks what arrives and what went over the wire, then closes.
async fn round_trip(setup: Setup) {
    let Pair {
        mut client,
        client_wrote,
        mut server,
        server_wrote,
    } = deflate_pair(setup);
    let sent = messages();
    client
        .feed(Message::Ping(Bytes::from_static(b"ping")))
        .unwrap();
    for message in &sent {
        let (sent_ok, received) =
            tokio::join!(client.send(message.clone()), next_data(&mut server));
        sent_ok.unwrap();
        assert_eq!(&received, message, "{setup:?}: client to server");
        let (sent_ok, echoed) = tokio::join!(server.send(received), next_data(&mut client));
        sent_ok.unwrap();
        assert_eq!(&echoed, message, "{setup:?}: server to client");
    }
    let (closed, last) = tokio::join!(
        within("close", client.close_with(CloseCode::NORMAL, "done")),
        within("close reply", server.recv())
    );
    closed.unwrap();
    assert!(matches!(last, Some(Ok(Message::Close(_)))), "{last:?}");

    let what = format!("{setup:?} client->server");
    check_wire(
        &client_wrote.lock().unwrap(),
        &sent,
        true,
        setup.client_no_context_takeover,
        &what,
    );
    let what = format!("{setup:?} server->client");
    check_wire(
        &server_wrote.lock().unwrap(),
        &sent,
        false,
        setup.server_no_context_takeover,
        &what,
    );
}

fn setups() -> impl Iterator<Item = Setup> {
    [(false, false), (false, true), (true, false), (true, true)]
        .into_iter()
        .flat_map(|(snct, cnct)| {
            // Every window for each side, the two sides going opposite ways.
            (9..=15).map(move |bits| Setup {
                server_no_context_takeover: snct,
                client_no_context_takeover: cnct,
                server_max_window_bits: bits,
                client_max_window_bits: 24 - bits,
            })
        })
}

#[tokio::test]
async fn round_trips_for_every_takeover_combination_and_window() {
    for setup in setups() {
        round_trip(setup).await;
    }
}

// -------------------------------------------------------------------- protocol errors ---

/// A server `Conn` (deflate negotiated with the defaults unless `deflate` is false) with
/// `max_message_size` `limit`, and the raw client end of its stream.
fn raw_client_and_server(deflate: bool, limit: usize) -> (DuplexStream, Conn<DuplexStream>) {
    let (client, server) = tokio::io::duplex(1 << 20);
    let config = Config::default().max_message_size(limit);
    let mut conn = Conn::from_raw(server, Role::Server, &config);
    if deflate {
        let params = DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        };
        conn = conn.with_deflate(&params, &DeflateConfig::new());
    }
    (client, conn)
}

/// A masked client frame with RSV1 set.
fn compressed_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut frame = masked_frame(fin, opcode, payload);
    frame[0] |= 0x40;
    frame
}

/// Writes `wire` to the server, then expects `recv` to fail with `expected` and the server to
/// send one Close frame with `code` and close the stream.
async fn assert_fails(deflate: bool, wire: &[u8], expected: ProtocolError, code: u16) {
    let (mut client, mut server) = raw_client_and_server(deflate, 1 << 20);
    within("write", client.write_all(wire)).await.unwrap();
    match within("recv", server.recv()).await {
        Some(Err(Error::Protocol(error))) => assert_eq!(error, expected),
        other => panic!("expected {expected:?}, got {other:?}"),
    }
    let close = read_frame(&mut client).await;
    assert_eq!(
        close.close_code(),
        code,
        "reason {:?}",
        close.close_reason()
    );
    expect_eof(&mut client).await;
}

/// A client's compressor (15-bit window, context kept between messages), straight from
/// flate2 rather than the crate's own: what the server inflates was not produced by the code
/// under test.
struct Compressor(Compress);

impl Compressor {
    fn new(level: u32) -> Self {
        Self(Compress::new_with_window_bits(
            Compression::new(level),
            false,
            15,
        ))
    }

    /// One message payload (RFC 7692 §7.2.1): all of `data` as raw DEFLATE, sync-flushed,
    /// without the `00 00 ff ff` the flush ends with.
    fn message(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let start = self.0.total_in();
        loop {
            let done = (self.0.total_in() - start) as usize;
            let status = self
                .0
                .compress_vec(&data[done..], &mut out, FlushCompress::Sync);
            status.expect("deflate");
            let done = (self.0.total_in() - start) as usize;
            // Done once all input is in and the flush left room in the output.
            if done == data.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        let tail = out.len() - 4;
        assert_eq!(
            out[tail..],
            [0x00, 0x00, 0xff, 0xff],
            "a sync flush ends so"
        );
        out.truncate(tail);
        out
    }
}

/// `text` compressed as a client with default parameters sends it.
fn deflated(text: &[u8]) -> Vec<u8> {
    Compressor::new(1).message(text)
}

#[tokio::test]
async fn rsv1_on_a_continuation_frame_is_1002() {
    let payload = deflated(b"hello, hello, hello");
    let (a, b) = payload.split_at(payload.len() / 2);
    // RSV1 on the first frame (correct) and again on the continuation (not allowed).
    let mut wire = compressed_frame(false, OpCode::Text, a);
    wire.extend(compressed_frame(true, OpCode::Continuation, b));
    assert_fails(true, &wire, ProtocolError::ReservedBits, 1002).await;
    // RSV1 only on the continuation.
    let mut wire = masked_frame(false, OpCode::Text, b"plain ");
    wire.extend(compressed_frame(true, OpCode::Continuation, b"text"));
    assert_fails(true, &wire, ProtocolError::ReservedBits, 1002).await;
}

#[tokio::test]
async fn rsv1_on_a_control_frame_is_1002() {
    for opcode in [OpCode::Ping, OpCode::Pong, OpCode::Close] {
        let payload: &[u8] = if opcode == OpCode::Close {
            &[0x03, 0xe8]
        } else {
            b"x"
        };
        let wire = compressed_frame(true, opcode, payload);
        assert_fails(true, &wire, ProtocolError::ReservedBits, 1002).await;
    }
}

#[tokio::test]
async fn rsv1_without_deflate_negotiated_is_1002() {
    let wire = compressed_frame(true, OpCode::Text, &deflated(b"hello"));
    assert_fails(false, &wire, ProtocolError::ReservedBits, 1002).await;
}

#[tokio::test]
async fn a_fragmented_compressed_message_is_accepted() {
    // The control for the test above: RSV1 on the first frame only is how it is done.
    let text = json(7, 5000);
    let payload = deflated(text.as_bytes());
    let third = payload.len() / 3;
    let mut wire = compressed_frame(false, OpCode::Text, &payload[..third]);
    wire.extend(masked_frame(true, OpCode::Ping, b"in between"));
    wire.extend(masked_frame(
        false,
        OpCode::Continuation,
        &payload[third..2 * third],
    ));
    wire.extend(masked_frame(
        true,
        OpCode::Continuation,
        &payload[2 * third..],
    ));
    let (mut client, mut server) = raw_client_and_server(true, 1 << 20);
    within("write", client.write_all(&wire)).await.unwrap();
    let first = within("recv", server.recv()).await.unwrap().unwrap();
    assert!(matches!(first, Message::Ping(_)), "{first:?}");
    let second = within("recv", server.recv()).await.unwrap().unwrap();
    assert_eq!(second, Message::text(text));
}

#[tokio::test]
async fn invalid_compressed_data_is_1007() {
    let bad: &[&[u8]] = &[
        // BTYPE 11 (reserved).
        &[0xff, 0xff, 0xff, 0xff],
        // A stored block whose NLEN is not the complement of LEN.
        &[0x00, 0x05, 0x00, 0x05, 0x00, b'h', b'e', b'l', b'l', b'o'],
        // A fixed-Huffman block that starts with a back-reference: nothing to refer to.
        &[0x02, 0x02, 0x00],
    ];
    for payload in bad {
        for opcode in [OpCode::Text, OpCode::Binary] {
            let wire = compressed_frame(true, opcode, payload);
            assert_fails(true, &wire, ProtocolError::InvalidCompressedData, 1007).await;
        }
    }
    // Valid DEFLATE of invalid UTF-8 in a text message is 1007 too.
    let wire = compressed_frame(true, OpCode::Text, &deflated(b"caf\xc3"));
    assert_fails(true, &wire, ProtocolError::InvalidUtf8, 1007).await;
}

// ---------------------------------------------------------------- decompression bomb ---

const BOMB_LIMIT: usize = 128 * 1024;
const BOMB_INFLATED: usize = 100 << 20;

/// One compressed message payload that inflates to `chunks` MiB of zeros: the first MiB
/// compressed, then the second MiB (which refers only to zeros behind it) repeated. Sync
/// flush markers (empty stored blocks) separate the pieces; the last one is left off, as a
/// sender does.
fn zeros_bomb(chunks: usize) -> Vec<u8> {
    let mut compressor = Compressor::new(9);
    let mib = vec![0u8; 1 << 20];
    let first = compressor.message(&mib);
    let next = compressor.message(&mib);
    let mut bomb = first;
    for _ in 1..chunks {
        bomb.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
        bomb.extend_from_slice(&next);
    }
    bomb
}

#[tokio::test]
async fn decompression_bomb_is_1009_with_bounded_memory() {
    let bomb = zeros_bomb(BOMB_INFLATED >> 20);
    // Small enough that only inflating can exceed the limit (the frame itself is within it).
    assert!(bomb.len() < BOMB_LIMIT, "bomb is {} bytes", bomb.len());
    let wire = compressed_frame(true, OpCode::Binary, &bomb);
    let (mut client, mut server) = raw_client_and_server(true, BOMB_LIMIT);
    within("write", client.write_all(&wire)).await.unwrap();
    drop(wire);

    let (received, peak) = peak_allocated(within("recv", server.recv())).await;
    match received {
        Some(Err(Error::Protocol(ProtocolError::MessageTooLarge))) => {}
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    let bound = BOMB_LIMIT + (1 << 20);
    assert!(
        peak < bound,
        "peak {peak} bytes allocated while receiving a bomb of {} bytes (bound {bound})",
        bomb.len()
    );
    let close = read_frame(&mut client).await;
    assert_eq!(
        close.close_code(),
        1009,
        "reason {:?}",
        close.close_reason()
    );
    expect_eof(&mut client).await;
}

#[tokio::test]
async fn the_same_stream_within_the_limit_is_received() {
    // The control for the bomb test: the limit applies to the inflated size, and a message
    // that inflates to exactly the limit (zeros, as in the bomb) is fine.
    let payload = Compressor::new(9).message(&vec![0u8; BOMB_LIMIT]);
    let wire = compressed_frame(true, OpCode::Binary, &payload);
    let (mut client, mut server) = raw_client_and_server(true, BOMB_LIMIT);
    within("write", client.write_all(&wire)).await.unwrap();
    let message = within("recv", server.recv()).await.unwrap().unwrap();
    assert_eq!(message, Message::binary(vec![0u8; BOMB_LIMIT]));
    // One byte more is over.
    let (mut client, mut server) = raw_client_and_server(true, BOMB_LIMIT - 1);
    within("write", client.write_all(&wire)).await.unwrap();
    assert!(matches!(
        within("recv", server.recv()).await,
        Some(Err(Error::Protocol(ProtocolError::MessageTooLarge)))
    ));
}

//! Shared by the integration tests: a loopback server around the layer, an echo handler, a raw
//! HTTP/WebSocket client that writes exact bytes, and bounded waits.
//!
//! The raw client's frames come from a small frame writer of its own (RFC 6455 §5.2, §5.3),
//! not from the crate: the tests check the crate's decoder, so they do not borrow its
//! encoder, and they use only the public API.

// Each test crate compiles this module and uses a different part of it.
#![allow(dead_code)]

pub mod h2;
pub mod logs;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer, Service, service_fn};
use tower_websocket::{Conn, Handler, WebSocketUpgradeLayer};

/// The bound on every wait: generous, so that only a hang trips it.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The `Sec-WebSocket-Key` of RFC 6455 §1.3 and its `Sec-WebSocket-Accept`.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The masking key of RFC 6455 §5.7, used for every frame the raw client sends.
pub const MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Awaits `future`, failing the test if it takes longer than [`TIMEOUT`].
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(TIMEOUT, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {TIMEOUT:?}: {what}"),
    }
}

/// The inner service behind the layer: `200` with body `inner: <path>`.
pub async fn inner<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("inner: {}", request.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

/// Echoes every data message; control frames and the close handshake are left to `Conn`.
pub async fn echo(mut conn: Conn) {
    while let Some(Ok(message)) = conn.recv().await {
        if message.is_data() && conn.send(message).await.is_err() {
            break;
        }
    }
}

/// Serves `layer` around [`inner`] on a fresh loopback port; returns the address.
pub async fn spawn_server<H: Handler>(layer: WebSocketUpgradeLayer<H>) -> SocketAddr {
    spawn_service(layer.layer(service_fn(inner::<Incoming>))).await
}

/// Serves any tower service on a fresh loopback port with hyper-util's auto builder (HTTP/1.1
/// upgrades and HTTP/2 extended CONNECT enabled), as the examples do. The accept loop lives as
/// long as the test's runtime.
pub async fn spawn_service<S, B>(service: S) -> SocketAddr
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let _ = stream.set_nodelay(true);
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder.http2().enable_connect_protocol();
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// A `ws://` URL for `path` on `addr`.
pub fn ws_url(addr: SocketAddr, path: &str) -> String {
    format!("ws://{addr}{path}")
}

/// A valid handshake request for `path` with the RFC key, plus `extra` header lines.
pub fn handshake_request(path: &str, extra: &[(&str, &str)]) -> String {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
    );
    for (name, value) in extra {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request
}

/// A response's status line and headers.
#[derive(Debug)]
pub struct ResponseHead {
    pub status_line: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Content-Length`, or 0.
    pub fn content_length(&self) -> usize {
        self.header("content-length")
            .map_or(0, |v| v.parse().expect("numeric content-length"))
    }
}

/// Opens a TCP connection to `addr`.
pub async fn connect(addr: SocketAddr) -> TcpStream {
    let stream = within("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Reads a response head up to and including `\r\n\r\n`, one byte at a time so that nothing
/// behind it (frames, body) is consumed.
pub async fn read_response_head<R: AsyncRead + Unpin>(stream: &mut R) -> ResponseHead {
    let raw = within("response head", async {
        let mut raw = Vec::new();
        while !raw.ends_with(b"\r\n\r\n") {
            let byte = stream
                .read_u8()
                .await
                .expect("connection ended in the head");
            raw.push(byte);
            assert!(raw.len() < 16 * 1024, "response head too long");
        }
        raw
    })
    .await;
    let text = String::from_utf8(raw).expect("UTF-8 response head");
    let mut lines = text.trim_end().split("\r\n");
    let status_line = lines.next().expect("status line").to_owned();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("header line");
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    ResponseHead {
        status_line,
        status,
        headers,
    }
}

/// Reads the body announced by `head`'s `Content-Length`.
pub async fn read_body<R: AsyncRead + Unpin>(stream: &mut R, head: &ResponseHead) -> String {
    let mut body = vec![0; head.content_length()];
    within("response body", stream.read_exact(&mut body))
        .await
        .expect("read body");
    String::from_utf8(body).expect("UTF-8 body")
}

/// Writes all of `bytes`, bounded by [`TIMEOUT`].
pub async fn write_raw<W: AsyncWrite + Unpin>(stream: &mut W, bytes: &[u8]) {
    within("write", stream.write_all(bytes))
        .await
        .expect("write");
}

/// Sends `request` (raw bytes) on a new connection and returns the response head and body.
pub async fn http_exchange(addr: SocketAddr, request: &str) -> (ResponseHead, String) {
    let mut stream = connect(addr).await;
    write_raw(&mut stream, request.as_bytes()).await;
    let head = read_response_head(&mut stream).await;
    let body = read_body(&mut stream, &head).await;
    (head, body)
}

/// Connects and completes a handshake for `path`, asserting `101`; the stream is positioned at
/// the first frame.
pub async fn raw_handshake(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = connect(addr).await;
    write_raw(&mut stream, handshake_request(path, &[]).as_bytes()).await;
    let head = read_response_head(&mut stream).await;
    assert_eq!(head.status, 101, "{head:?}");
    stream
}

/// The frame opcodes of RFC 6455 §5.2, written down here rather than taken from the crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    /// The 4-bit value on the wire.
    pub fn as_u8(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// The opcode of a 4-bit wire value, `None` for the reserved ones.
    pub fn from_u8(value: u8) -> Option<Self> {
        [
            Self::Continuation,
            Self::Text,
            Self::Binary,
            Self::Close,
            Self::Ping,
            Self::Pong,
        ]
        .into_iter()
        .find(|opcode| opcode.as_u8() == value)
    }
}

/// A frame header (minimal length form, RSV bits clear), masked with [`MASK_KEY`] if `masked`.
pub fn frame_header(fin: bool, opcode: OpCode, payload_len: u64, masked: bool) -> Vec<u8> {
    let mut header = vec![u8::from(fin) << 7 | opcode.as_u8()];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload_len {
        0..=125 => header.push(mask_bit | payload_len as u8),
        126..=0xFFFF => {
            header.push(mask_bit | 126);
            header.extend_from_slice(&(payload_len as u16).to_be_bytes());
        }
        _ => {
            header.push(mask_bit | 127);
            header.extend_from_slice(&payload_len.to_be_bytes());
        }
    }
    if masked {
        header.extend_from_slice(&MASK_KEY);
    }
    header
}

/// A client frame: `payload` masked with [`MASK_KEY`], byte by byte.
pub fn masked_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut frame = frame_header(fin, opcode, payload.len() as u64, true);
    let masked = payload.iter().enumerate();
    frame.extend(masked.map(|(i, byte)| byte ^ MASK_KEY[i % 4]));
    frame
}

/// A frame without a mask (what a server sends; a protocol error from a client).
pub fn unmasked_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut frame = frame_header(fin, opcode, payload.len() as u64, false);
    frame.extend_from_slice(payload);
    frame
}

/// A Close payload: the code, big-endian, then the reason bytes.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

/// One frame as a server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFrame {
    pub fin: bool,
    pub opcode: OpCode,
    pub payload: Vec<u8>,
}

impl ServerFrame {
    /// The code of a Close frame (which must carry one).
    pub fn close_code(&self) -> u16 {
        assert_eq!(self.opcode, OpCode::Close, "{self:?}");
        assert!(self.payload.len() >= 2, "close frame without a code");
        u16::from_be_bytes([self.payload[0], self.payload[1]])
    }

    /// The reason of a Close frame.
    pub fn close_reason(&self) -> &str {
        assert_eq!(self.opcode, OpCode::Close, "{self:?}");
        std::str::from_utf8(&self.payload[2..]).expect("UTF-8 close reason")
    }
}

/// Reads one frame and checks what every server frame must be: no RSV bits, a known opcode,
/// no mask.
pub async fn read_frame<R: AsyncRead + Unpin>(stream: &mut R) -> ServerFrame {
    within("a frame", async {
        let mut head = [0u8; 2];
        stream.read_exact(&mut head).await.expect("frame header");
        assert_eq!(head[0] & 0x70, 0, "RSV bits set: {head:x?}");
        assert_eq!(head[1] & 0x80, 0, "server frame is masked");
        let opcode = OpCode::from_u8(head[0] & 0x0F).expect("known opcode");
        let len = match head[1] & 0x7F {
            126 => u64::from(stream.read_u16().await.expect("16-bit length")),
            127 => stream.read_u64().await.expect("64-bit length"),
            len => u64::from(len),
        };
        let mut payload = vec![0; usize::try_from(len).expect("length fits")];
        stream.read_exact(&mut payload).await.expect("payload");
        ServerFrame {
            fin: head[0] & 0x80 != 0,
            opcode,
            payload,
        }
    })
    .await
}

/// Asserts that the peer closed the stream: the next read returns end of file.
pub async fn expect_eof<R: AsyncRead + Unpin>(stream: &mut R) {
    let mut byte = [0u8; 1];
    let read = within("end of stream", stream.read(&mut byte))
        .await
        .expect("read at end of stream");
    assert_eq!(read, 0, "expected end of stream, got byte {:#x}", byte[0]);
}

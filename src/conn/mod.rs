//! [`Conn`]: a WebSocket connection over any async byte stream.
//!
//! `Conn` is the thin IO layer over the sans-IO [`proto`](crate::proto) core: it reads into one
//! buffer, lets the [`Decoder`] turn bytes into messages, answers pings and closes, and writes
//! queued frames with as few (vectored) writes as possible.

mod io;

use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::HeaderValue;
use http::request::Parts;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use crate::Config;
use crate::error::Error;
use crate::proto::frame::MAX_CONTROL_PAYLOAD;
use crate::proto::{CloseCode, CloseFrame, Decoder, Encoder, Message, Role, WriteBuffer};

pub use io::{BoxedIo, Io};

/// The smallest read: also the read buffer's first allocation.
const READ_CHUNK: usize = 4096;

/// How many queued chunks one vectored write takes at most.
const MAX_IO_SLICES: usize = 16;

/// A WebSocket connection: whole messages in and out.
///
/// Fragmentation, control frames, the close handshake, UTF-8 validation and size limits are
/// handled here: [`recv`](Self::recv) yields complete messages, answers pings with pongs and
/// replies to a Close frame; [`send`](Self::send) frames a message and writes it.
///
/// Handlers of the [`WebSocketUpgradeLayer`](crate::WebSocketUpgradeLayer) receive a
/// `Conn<BoxedIo>` (the default type), with the handshake request's parts attached:
///
/// ```no_run
/// use tower_websocket::{Conn, Message};
///
/// async fn echo(mut conn: Conn) {
///     println!("{} connected", conn.request().uri.path());
///     while let Some(Ok(message)) = conn.recv().await {
///         if message.is_data() && conn.send(message).await.is_err() {
///             break;
///         }
///     }
/// }
/// ```
///
/// Any other stream works too, for tests or a client:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tower_websocket::{Config, Conn, Message, Role};
///
/// let (a, b) = tokio::io::duplex(1024);
/// let mut client = Conn::from_raw(a, Role::Client, &Config::default());
/// let mut server = Conn::from_raw(b, Role::Server, &Config::default());
/// client.send(Message::text("hi")).await.unwrap();
/// assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("hi"));
/// # }
/// ```
#[derive(Debug)]
pub struct Conn<T = BoxedIo> {
    io: T,
    read_buf: BytesMut,
    write_buf: WriteBuffer,
    decoder: Decoder,
    encoder: Encoder,
    phase: Phase,
    close_sent: bool,
    close_timeout: Duration,
    request: Parts,
    protocol: Option<HeaderValue>,
}

/// Where the connection is in its life.
#[derive(Debug)]
enum Phase {
    /// Reading messages.
    Open,
    /// Done reading: flush what is queued, shut the write side, then yield the item.
    Finishing(Option<Result<Message, Error>>),
    /// Finished: `recv` yields `None`.
    Done,
}

impl<T> Conn<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    /// Wraps an established connection (the handshake is already done).
    pub fn from_raw(io: T, role: Role, config: &Config) -> Self {
        Self {
            io,
            read_buf: BytesMut::new(),
            write_buf: WriteBuffer::new(),
            decoder: Decoder::new(role, config.limits),
            encoder: Encoder::new(role),
            phase: Phase::Open,
            close_sent: false,
            close_timeout: config.close_timeout,
            request: http::Request::new(()).into_parts().0,
            protocol: None,
        }
    }

    /// Attaches the handshake request's parts (method, URI, headers, extensions).
    pub fn with_request(mut self, request: Parts) -> Self {
        self.request = request;
        self
    }

    /// Records the negotiated subprotocol.
    pub fn with_protocol(mut self, protocol: Option<HeaderValue>) -> Self {
        self.protocol = protocol;
        self
    }

    /// Bytes already read from `io` that belong to the connection (e.g. frames sent right behind
    /// the handshake), to be decoded before anything else is read.
    pub fn with_read_buf(mut self, bytes: Bytes) -> Self {
        self.read_buf.extend_from_slice(&bytes);
        self
    }

    /// The handshake request: method, URI, headers and extensions (e.g. what an authentication
    /// middleware inserted). Empty for connections built without one.
    pub fn request(&self) -> &Parts {
        &self.request
    }

    /// The subprotocol chosen in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_ref().and_then(|p| p.to_str().ok())
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// Receives the next message.
    ///
    /// Pings are answered automatically (and still returned). When the peer sends a Close
    /// frame, the reply is sent and the connection shut down before the `Close` message is
    /// returned; after that, and after any error, `recv` returns `None`. A protocol violation
    /// closes the connection with the matching code (1002, 1007 or 1009) and returns
    /// [`Error::Protocol`].
    ///
    /// Cancel safe: all progress is kept in the `Conn`, so `recv` can be used in
    /// `tokio::select!` without losing data.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Sends a message and flushes it (and anything queued before it).
    ///
    /// Sending a `Close` message starts the close handshake; after that only
    /// [`recv`](Self::recv) and [`close`](Self::close) are useful.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message)?;
        self.flush().await
    }

    /// Queues a message without writing it; [`flush`](Self::flush) writes everything queued in
    /// as few writes as possible.
    pub fn feed(&mut self, message: Message) -> Result<(), Error> {
        if self.close_sent || !matches!(self.phase, Phase::Open) {
            return Err(Error::Closed);
        }
        match &message {
            Message::Ping(data) | Message::Pong(data) if data.len() > MAX_CONTROL_PAYLOAD => {
                return Err(Error::ControlPayloadTooLong);
            }
            Message::Close(Some(frame)) if !frame.code.is_sendable() => {
                return Err(Error::InvalidCloseCode(frame.code));
            }
            Message::Close(_) => self.close_sent = true,
            _ => {}
        }
        self.encoder.encode(&mut self.write_buf, message);
        Ok(())
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_write_queued(cx))
            .await
            .map_err(Error::Io)
    }

    /// Closes the connection: sends a Close frame with `code` and `reason` (cut to 123 bytes),
    /// waits up to the close timeout for the peer's Close (discarding data that arrives first),
    /// then shuts the connection down.
    ///
    /// Returns [`Error::CloseTimeout`] if the peer did not answer in time (the connection is
    /// shut down all the same), [`Error::InvalidCloseCode`] for a code that may not be sent.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if !code.is_sendable() {
            return Err(Error::InvalidCloseCode(code));
        }
        if !self.close_sent && matches!(self.phase, Phase::Open) {
            self.feed(Message::Close(Some(CloseFrame::new(code, reason))))?;
        }
        let close_timeout = self.close_timeout;
        let drain = async {
            while let Some(item) = self.recv().await {
                if item.is_err() {
                    break;
                }
            }
        };
        let timed_out = tokio::time::timeout(close_timeout, drain).await.is_err();
        self.phase = Phase::Done;
        // The peer may be gone already: shutting down is best effort.
        let _ = poll_fn(|cx| Pin::new(&mut self.io).poll_shutdown(cx)).await;
        if timed_out {
            Err(Error::CloseTimeout)
        } else {
            Ok(())
        }
    }

    /// Polls for the next message; see [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        loop {
            match &self.phase {
                Phase::Open => {}
                Phase::Finishing(_) => {
                    // Best effort: the peer may have gone already.
                    let _ = ready!(self.poll_finish(cx));
                    let Phase::Finishing(item) = std::mem::replace(&mut self.phase, Phase::Done)
                    else {
                        return Poll::Ready(None);
                    };
                    return Poll::Ready(item);
                }
                Phase::Done => return Poll::Ready(None),
            }
            match self.decoder.decode(&mut self.read_buf) {
                Ok(Some(message)) => match message {
                    Message::Ping(ref payload) => {
                        if !self.close_sent {
                            let pong = Message::Pong(payload.clone());
                            self.encoder.encode(&mut self.write_buf, pong);
                        }
                        return Poll::Ready(Some(Ok(message)));
                    }
                    Message::Close(ref frame) => {
                        if !self.close_sent {
                            // Echo the peer's code (RFC 6455 §5.5.1); no code for no code.
                            let reply = frame.as_ref().map(|f| CloseFrame::new(f.code, ""));
                            self.encoder
                                .encode(&mut self.write_buf, Message::Close(reply));
                            self.close_sent = true;
                        }
                        self.phase = Phase::Finishing(Some(Ok(message)));
                        continue;
                    }
                    other => return Poll::Ready(Some(Ok(other))),
                },
                Ok(None) => {}
                Err(error) => {
                    if !self.close_sent {
                        let frame = CloseFrame::new(error.close_code(), error.reason());
                        self.encoder
                            .encode(&mut self.write_buf, Message::Close(Some(frame)));
                        self.close_sent = true;
                    }
                    self.phase = Phase::Finishing(Some(Err(Error::Protocol(error))));
                    continue;
                }
            }
            // Nothing complete is buffered: send what is queued (pongs) before waiting to read.
            if !self.write_buf.is_empty() {
                if let Poll::Ready(Err(e)) = self.poll_write_queued(cx) {
                    self.phase = Phase::Done;
                    return Poll::Ready(Some(Err(Error::Io(e))));
                }
            }
            match ready!(self.poll_read_more(cx)) {
                Ok(0) => {
                    self.phase = Phase::Done;
                    return Poll::Ready(if self.close_sent {
                        None
                    } else {
                        Some(Err(Error::UnexpectedEof))
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    self.phase = Phase::Done;
                    return Poll::Ready(Some(Err(Error::Io(e))));
                }
            }
        }
    }

    /// Reads once into the read buffer, sized for the frame in progress.
    fn poll_read_more(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        let wanted = self.decoder.bytes_wanted(self.read_buf.len());
        let spare = self.read_buf.capacity() - self.read_buf.len();
        if spare < wanted.min(READ_CHUNK) || spare == 0 {
            self.read_buf.reserve(wanted.max(READ_CHUNK));
        }
        let read = self.io.read_buf(&mut self.read_buf);
        pin!(read).poll(cx)
    }

    /// Writes all queued frames, many per syscall, then flushes the stream.
    fn poll_write_queued(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.write_buf.is_empty() {
            let io = Pin::new(&mut self.io);
            let written = if self.write_buf.is_contiguous() || !io.is_write_vectored() {
                ready!(io.poll_write(cx, self.write_buf.first_chunk()))?
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_IO_SLICES];
                let count = self.write_buf.io_slices(&mut slices);
                ready!(io.poll_write_vectored(cx, &slices[..count]))?
            };
            if written == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.write_buf.advance(written);
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Flushes what is queued and shuts down the write side (the server closes TCP first,
    /// RFC 6455 §7.1.1).
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.poll_write_queued(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

use std::future::Future as _;

//! [`Conn`]: a WebSocket connection over any async byte stream.
//!
//! `Conn` is the thin IO layer over the crate's sans-IO protocol core (`src/proto/`): it reads
//! into one buffer, lets the decoder turn bytes into messages, answers pings and closes, and
//! writes queued frames with as few (vectored) writes as possible.

mod closing;
mod config;
pub(crate) mod cork;
mod error;
mod futures;
mod io;
#[cfg(feature = "json")]
mod json;
mod read_pool;
mod send_error;
mod split;
mod state;
mod stream;
mod timers;
pub(crate) mod tracking;

use std::fmt;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::HeaderValue;
use http::request::Parts;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::proto::{
    CloseCode, CloseFrame, Decoder, Encoder, Message, PreparedMessage, Role, WriteBuffer,
};
#[cfg(feature = "deflate")]
use crate::proto::{DeflateConfig, DeflateParams};

pub use config::Config;
pub use error::Error;
pub use futures::{FlushFuture, RecvFuture, SendFuture};
pub use io::{BoxedIo, Io};
pub use send_error::{SendError, TrySendError};
pub use split::{ReadHalf, Sender, SplitOptions};
pub use tracking::GracefulShutdown;

use tracking::Registration;

use state::{Phase, State};
use timers::{TimerConfig, Timers};

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
///
/// A `Conn` is one pointer wide (its state lives behind a box), so handler futures stay small
/// even though `async fn` stores its arguments twice.
pub struct Conn<T = BoxedIo> {
    state: Box<State<T>>,
}

/// Where the connection is, who it talks to and how much waits to be written; never the
/// bytes read or queued (message contents are not for logs), nor the request's headers.
impl<T> fmt::Debug for Conn<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = &self.state;
        let phase = match (&state.phase, state.close_sent) {
            (Phase::Open, false) => "open",
            (Phase::Open, true) => "close sent",
            (Phase::Finishing(_), _) => "closing",
            (Phase::Done, _) => "closed",
        };
        f.debug_struct("Conn")
            .field("role", &state.decoder.role())
            .field("phase", &phase)
            .field("path", &state.request.uri.path())
            .field("protocol", &state.protocol)
            .field("peer_addr", &state.peer_addr)
            .field("buffered", &state.write_buf.len())
            .finish_non_exhaustive()
    }
}

impl<T> Conn<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    /// Wraps an established connection (the handshake is already done).
    pub fn from_raw(io: T, role: Role, config: &Config) -> Self {
        let mut encoder = Encoder::new(role);
        encoder.set_frame_size(config.send_frame_size);
        let state = State {
            io,
            read_buf: BytesMut::new(),
            read_chunk: read_pool::READ_CHUNK as u32,
            write_buf: WriteBuffer::new(),
            decoder: Decoder::new(role, config.limits),
            encoder,
            phase: Phase::Open,
            close_sent: false,
            shut: false,
            linger_left: config.linger_bytes,
            linger_wait: false,
            timers: Timers::new(TimerConfig {
                // The fields are public: a zero set there is off, as the builders make it.
                ping_interval: config::nonzero(config.ping_interval),
                idle_timeout: config::nonzero(config.idle_timeout),
                write_timeout: config::nonzero(config.write_timeout),
                close_timeout: config.close_timeout,
                linger_quiet: config.linger_quiet,
            }),
            max_write_buffer: config.max_write_buffer,
            shutdown: None,
            request: http::Request::new(()).into_parts().0,
            protocol: None,
            peer_addr: None,
            response: None,
        };
        Self {
            state: Box::new(state),
        }
    }

    /// Attaches the handshake request's parts (method, URI, headers, extensions).
    pub fn with_request(mut self, request: Parts) -> Self {
        self.state.request = request;
        self
    }

    /// Turns on permessage-deflate with the parameters agreed in the handshake: messages over
    /// the config's threshold are sent compressed, compressed messages are inflated on receipt.
    /// Feature `deflate`.
    #[cfg(feature = "deflate")]
    pub fn with_deflate(mut self, params: &DeflateParams, config: &DeflateConfig) -> Self {
        let role = self.state.decoder.role();
        self.state.decoder.set_inflater(params.inflater(role));
        self.state
            .encoder
            .set_deflater(params.deflater(role, config));
        self
    }

    /// Tracks the connection in `shutdown`: it counts as live until dropped, and closes with
    /// 1001 when the shutdown is triggered. The layer does this for every connection when
    /// given [`graceful_shutdown`](crate::WebSocketUpgradeLayer::graceful_shutdown). On a
    /// connection the layer made, `shutdown` replaces the layer's handle, and the connection
    /// keeps its place under the layer's
    /// [`max_connections`](crate::WebSocketUpgradeLayer::max_connections).
    pub fn with_shutdown(mut self, shutdown: &GracefulShutdown) -> Self {
        let slot = self.state.shutdown.take().and_then(Registration::into_slot);
        self.state.shutdown = Some(shutdown.register().with_slot(slot));
        self
    }

    pub(crate) fn with_registration(mut self, registration: Registration) -> Self {
        self.state.shutdown = Some(registration);
        self
    }

    /// Attaches the server's answer to the handshake (a client's connection).
    pub fn with_response(mut self, response: http::response::Parts) -> Self {
        self.state.response = Some(Box::new(response));
        self
    }

    /// Records the negotiated subprotocol.
    pub fn with_protocol(mut self, protocol: Option<HeaderValue>) -> Self {
        self.state.protocol = protocol;
        self
    }

    /// Records the peer's address, for [`peer_addr`](Self::peer_addr). The layer does this for
    /// every connection whose transport is TCP.
    pub fn with_peer_addr(mut self, addr: Option<SocketAddr>) -> Self {
        self.state.peer_addr = addr;
        self
    }

    /// Bytes already read from `io` that belong to the connection (e.g. frames sent right behind
    /// the handshake), to be decoded before anything else is read.
    pub fn with_read_buf(mut self, bytes: Bytes) -> Self {
        self.state.read_buf.extend_from_slice(&bytes);
        self
    }

    /// The handshake request: method, URI, headers and extensions (e.g. what an authentication
    /// middleware inserted). Empty for connections built without one.
    pub fn request(&self) -> &Parts {
        &self.state.request
    }

    /// The server's answer to the handshake, on a client's connection: status (`101`, or
    /// `200` over HTTP/2), headers (`Set-Cookie`, the server's `Sec-WebSocket-*`). `None` on
    /// the server side.
    pub fn response(&self) -> Option<&http::response::Parts> {
        self.state.response.as_deref()
    }

    /// The subprotocol chosen in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.state.protocol.as_ref().and_then(|p| p.to_str().ok())
    }

    /// The peer's address: set by the layer when the connection runs over plain TCP (under
    /// `server::serve`, hyper's `http1` builder, or hyper-util's auto builder with the
    /// `http2` feature, which recovers the auto builder's wrapped stream); `None` over
    /// other transports (TLS, an HTTP/2 stream) and for connections built without
    /// [`with_peer_addr`](Self::with_peer_addr). Behind a proxy this is the proxy's address;
    /// the client's is then in a header of [`request`](Self::request) (`Forwarded`,
    /// `X-Forwarded-For`).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.state.peer_addr
    }

    /// Whether the connection is still reading messages (no Close received, no error).
    pub fn is_open(&self) -> bool {
        matches!(self.state.phase, Phase::Open)
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &T {
        &self.state.io
    }

    /// The underlying stream, mutably: for settings that need `&mut` (a TLS stream's, say).
    /// Reading from it or writing to it directly corrupts the WebSocket stream: the `Conn`
    /// keeps bytes it has read but not decoded, and frames queued but not written.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.state.io
    }

    /// Receives the next message.
    ///
    /// Pings are answered automatically (and still returned). When the peer sends a Close
    /// frame, the reply is sent and the connection shut down before the `Close` message is
    /// returned; after that, and after any error, `recv` returns `None`. A protocol violation
    /// closes the connection with the matching code (1002, 1007 or 1009) and returns
    /// [`Error::Protocol`]; the idle timeout closes with 1001 and returns
    /// [`Error::IdleTimeout`].
    ///
    /// Before returning what ended the connection (the peer's `Close`, a protocol error, the
    /// idle timeout), `recv` writes our Close, shuts the write side down and lingers: it reads
    /// and discards input until the peer closes the connection, at most
    /// [`Config::linger_bytes`] (1 MiB) of it, so that a peer that keeps sending still reads
    /// our Close rather than a TCP reset. A peer that closes promptly costs one round trip; a
    /// peer that neither closes nor stops sending delays the return by up to
    /// [`Config::close_timeout`] (10 s) from when our Close was queued, whatever the
    /// write timeout.
    ///
    /// Cancel safe: all progress is kept in the `Conn`, so `recv` can be used in
    /// `tokio::select!` without losing data.
    pub fn recv(&mut self) -> RecvFuture<'_, T> {
        RecvFuture::new(self)
    }

    /// Sends a message and flushes it (and anything queued before it).
    ///
    /// On the connections the [layer](crate::WebSocketUpgradeLayer) hands to handlers, writes
    /// are corked: what the handler's task sends while it runs is held (up to 64 KiB) and
    /// leaves in one write as soon as the task yields, so the replies to sixteen messages
    /// that arrived in one read cost one write, not sixteen. A sent message never waits longer
    /// than that: once the handler awaits anything that is not ready (the next `recv`, a
    /// timer, a channel), it is on the wire. Errors of that write come back from the next
    /// `send`, `flush` or `recv`. Connections built with [`from_raw`](Self::from_raw) (and the
    /// client's) write on every `send`; [`feed`](Self::feed) then batches by hand.
    ///
    /// Sending a `Close` message starts the close handshake; after that only
    /// [`recv`](Self::recv) and [`close_with`](Self::close_with) are useful.
    pub fn send(&mut self, message: Message) -> SendFuture<'_, T> {
        SendFuture::new(self, message)
    }

    /// Queues a message without writing it; [`flush`](Self::flush) writes everything queued in
    /// as few writes as possible, and [`recv`](Self::recv) writes it before it waits for input.
    /// On the layer's (corked) connections [`send`](Self::send) batches as well as this.
    pub fn feed(&mut self, message: Message) -> Result<(), Error> {
        self.state.feed(message)
    }

    /// Queues a [`PreparedMessage`] (its shared, already encoded frame) without writing it.
    pub fn feed_prepared(&mut self, prepared: &PreparedMessage) -> Result<(), Error> {
        self.state.feed_prepared(prepared)
    }

    /// Sends a [`PreparedMessage`] and flushes: the broadcast counterpart of
    /// [`send`](Self::send), with no per-connection encoding (or compression).
    pub async fn send_prepared(&mut self, prepared: &PreparedMessage) -> Result<(), Error> {
        self.feed_prepared(prepared)?;
        self.flush().await
    }

    /// Writes everything queued.
    pub fn flush(&mut self) -> FlushFuture<'_, T> {
        FlushFuture::new(self)
    }

    /// Polls until everything queued is written and flushed; see [`flush`](Self::flush).
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.state.poll_flush(cx)
    }

    /// How many bytes are queued and not yet written (not counting what a corked connection
    /// holds until its task yields; see [`send`](Self::send)).
    pub fn buffered(&self) -> usize {
        self.state.write_buf.len()
    }

    /// A deadline for reading (gorilla's `SetReadDeadline`): once it passes, a waiting
    /// [`recv`](Self::recv) returns [`Error::ReadTimeout`] (once; the deadline is then cleared).
    /// Unlike in gorilla the connection stays usable, since nothing is lost (`recv` is cancel
    /// safe). `None` clears it. `tokio::time::timeout(d, conn.recv())` does the same per call.
    pub fn set_read_deadline(&mut self, deadline: Option<tokio::time::Instant>) {
        self.state.timers.set_read_deadline(deadline);
    }

    /// A deadline for writing (gorilla's `SetWriteDeadline`): a [`send`](Self::send) or
    /// [`flush`](Self::flush) still blocked when it passes fails with
    /// [`Error::WriteTimeout`], and the connection is dropped (a frame may be half written).
    /// `None` clears it; [`Config::write_timeout`] applies either way.
    pub fn set_write_deadline(&mut self, deadline: Option<tokio::time::Instant>) {
        self.state.timers.set_write_deadline(deadline);
    }

    /// Closes the connection: sends a Close frame with `code` and `reason` (cut to 123 bytes),
    /// waits up to the close timeout for the peer's Close (discarding data that arrives first),
    /// then shuts the connection down. The whole of it, lingering included (see
    /// [`recv`](Self::recv)), takes at most [`Config::close_timeout`].
    ///
    /// Returns [`Error::CloseTimeout`] if the peer did not answer in time (the connection is
    /// shut down all the same), [`Error::InvalidCloseCode`] for a code that may not be sent.
    ///
    /// Not to be confused with `futures::SinkExt::close` (`Conn` is a `Sink`), which only
    /// starts the close: its `poll_close` queues Close 1000 with no reason (unless a Close was
    /// sent already) and flushes it, then returns without waiting for the peer's answer or
    /// shutting the stream down; [`recv`](Self::recv) (or the `Stream`) until `None` completes
    /// the close handshake after it.
    pub async fn close_with(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if !code.is_sendable() {
            return Err(Error::InvalidCloseCode(code));
        }
        if !self.state.close_sent && matches!(self.state.phase, Phase::Open) {
            self.feed(Message::Close(Some(CloseFrame::new(code, reason))))?;
        }
        // `recv` gives up after the close timeout itself (Error::CloseTimeout).
        let mut timed_out = false;
        while let Some(item) = self.recv().await {
            match item {
                Err(Error::CloseTimeout) => timed_out = true,
                Err(_) => break,
                Ok(_) => {}
            }
        }
        self.state.phase = Phase::Done;
        // The peer may be gone already: shutting down is best effort.
        let _ = poll_fn(|cx| Pin::new(&mut self.state.io).poll_shutdown(cx)).await;
        if timed_out {
            Err(Error::CloseTimeout)
        } else {
            Ok(())
        }
    }

    /// Polls for the next message; see [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        self.state.poll_recv(cx)
    }
}

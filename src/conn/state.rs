//! The connection's state machine: drives the sans-IO [`Decoder`] and [`Encoder`] over the IO.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use http::HeaderValue;
use http::request::Parts;
use std::future::Future as _;
use std::ops::ControlFlow;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::Error;
use super::read_pool::{self, MIN_READ, READ_CHUNK};
use super::timers::{Due, Timers, Wait};
use super::tracking::Registration;
use crate::proto::frame::MAX_CONTROL_PAYLOAD;
use crate::proto::{CloseCode, Decoder, Encoder, Message, PreparedMessage, WriteBuffer};

/// How many queued chunks one vectored write takes at most.
const MAX_IO_SLICES: usize = 64;

/// A write buffer larger than this is dropped once flushed, so that a burst does not stay
/// allocated for the connection's lifetime.
const KEEP_WRITE_CAPACITY: usize = 2 * READ_CHUNK;

/// The largest read-buffer growth step while the peer streams.
const MAX_READ_CHUNK: u32 = 64 * 1024;

/// What `recv` yields: a message, an error, or `None` at the end.
type Item = Option<Result<Message, Error>>;

/// With this much queued and the peer not reading, reading stops until the queue drains.
pub(super) const WRITE_HIGH_WATER: usize = 64 * 1024;

/// Everything a [`Conn`](super::Conn) holds, behind one box.
#[derive(Debug)]
pub(super) struct State<T> {
    pub(super) io: T,
    pub(super) read_buf: BytesMut,
    /// How much room to make for the next read: [`READ_CHUNK`], doubled while reads fill the
    /// buffer (a streaming peer), halved back when they are small.
    pub(super) read_chunk: u32,
    pub(super) write_buf: WriteBuffer,
    pub(super) decoder: Decoder,
    pub(super) encoder: Encoder,
    pub(super) phase: Phase,
    pub(super) close_sent: bool,
    /// While finishing: the write side is shut down (now lingering).
    pub(super) shut: bool,
    /// While lingering: how much more input may be read and discarded.
    pub(super) linger_left: usize,
    /// While finishing: wait for the peer to go quiet or close (our Close is unanswered),
    /// rather than only drain what is readable now (the peer's Close has arrived).
    pub(super) linger_wait: bool,
    pub(super) timers: Timers,
    /// `feed` fails (and the connection is dropped) once this much is queued.
    pub(super) max_write_buffer: usize,
    pub(super) shutdown: Option<Registration>,
    pub(super) request: Parts,
    pub(super) protocol: Option<HeaderValue>,
    pub(super) peer_addr: Option<SocketAddr>,
    /// A client's: the server's answer to the handshake (boxed: servers have none).
    pub(super) response: Option<Box<http::response::Parts>>,
}

/// What a waiting read was woken for.
#[derive(Debug)]
enum Waited {
    Due(Due),
    Shutdown,
}

/// Where the connection is in its life.
#[derive(Debug)]
pub(super) enum Phase {
    /// Reading messages.
    Open,
    /// Done reading, our Close queued: flush, shut the write side, linger, then yield the
    /// item (see [`closing`](super::closing)).
    Finishing(Option<Result<Message, Error>>),
    /// Finished: `recv` yields `None`.
    Done,
}

impl<T> State<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    /// Queues a message; see [`Conn::feed`](super::Conn::feed).
    pub(super) fn feed(&mut self, message: Message) -> Result<(), Error> {
        self.ensure_open()?;
        match &message {
            Message::Ping(data) | Message::Pong(data) if data.len() > MAX_CONTROL_PAYLOAD => {
                return Err(Error::ControlPayloadTooLong);
            }
            Message::Close(Some(frame)) if !frame.code.is_sendable() => {
                return Err(Error::InvalidCloseCode(frame.code));
            }
            _ => {}
        }
        self.ensure_room()?;
        match message {
            Message::Close(frame) => self.queue_close(frame),
            message => self.encoder.encode(&mut self.write_buf, message),
        }
        Ok(())
    }

    /// Queues a prepared message; see [`Conn::feed_prepared`](super::Conn::feed_prepared).
    pub(super) fn feed_prepared(&mut self, prepared: &PreparedMessage) -> Result<(), Error> {
        if let Message::Close(_) | Message::Ping(_) | Message::Pong(_) = prepared.message() {
            // Control messages go through the checks of `feed`.
            return self.feed(prepared.message().clone());
        }
        self.ensure_open()?;
        self.ensure_room()?;
        self.encoder.encode_prepared(&mut self.write_buf, prepared);
        Ok(())
    }

    /// Nothing more may be sent once our Close is out or the connection is finishing.
    fn ensure_open(&self) -> Result<(), Error> {
        if self.close_sent || !matches!(self.phase, Phase::Open) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The write-buffer cap: with this much unwritten the peer is not reading, so give up
    /// rather than buffer without bound.
    fn ensure_room(&mut self) -> Result<(), Error> {
        if self.write_buf.len() >= self.max_write_buffer {
            tracing::debug!(
                queued = self.write_buf.len(),
                "WebSocket write buffer full; dropping the connection"
            );
            self.phase = Phase::Done;
            return Err(Error::WriteBufferFull);
        }
        Ok(())
    }

    /// What to do while a read waits: the next due timer event, or a shutdown request.
    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<Waited> {
        if let Some(shutdown) = &mut self.shutdown {
            shutdown.register_waker(cx.waker());
            // Checked after registering, so a trigger in between is not missed.
            if shutdown.is_triggered() && !self.close_sent {
                return Poll::Ready(Waited::Shutdown);
            }
        }
        let writing = !self.write_buf.is_empty();
        self.timers
            .poll_due(cx, Wait::Read { writing })
            .map(Waited::Due)
    }

    /// Acts on what [`poll_wait`](Self::poll_wait) returned; `Break` ends `recv` with the item.
    fn on_waited(&mut self, waited: Waited) -> ControlFlow<Item> {
        match waited {
            Waited::Shutdown => {
                tracing::debug!("WebSocket server shutting down: closing with 1001");
                self.start_close(CloseCode::GOING_AWAY, "server shutting down");
                ControlFlow::Continue(())
            }
            Waited::Due(Due::Ping) => {
                if !self.close_sent {
                    self.encoder
                        .encode(&mut self.write_buf, Message::Ping(bytes::Bytes::new()));
                }
                ControlFlow::Continue(())
            }
            Waited::Due(Due::Idle) => {
                tracing::debug!("WebSocket idle timeout: closing with 1001");
                self.start_close(CloseCode::GOING_AWAY, "idle timeout");
                self.finish_unanswered(Err(Error::IdleTimeout));
                ControlFlow::Continue(())
            }
            Waited::Due(Due::ReadDeadline) => ControlFlow::Break(Some(Err(Error::ReadTimeout))),
            Waited::Due(Due::Write) => {
                tracing::debug!("WebSocket write timed out: dropping the connection");
                self.phase = Phase::Done;
                ControlFlow::Break(Some(Err(Error::WriteTimeout)))
            }
            Waited::Due(Due::Close) => {
                tracing::debug!("WebSocket peer did not answer our Close in time");
                self.phase = Phase::Done;
                ControlFlow::Break(Some(Err(Error::CloseTimeout)))
            }
            // Only a closing wait counts the linger time.
            Waited::Due(Due::Linger) => ControlFlow::Continue(()),
        }
    }

    /// Polls for the next message; see [`Conn::recv`](super::Conn::recv).
    ///
    /// Each turn: a closing connection finishes; otherwise decode what is buffered, and
    /// yield it ([`on_message`](Self::on_message)), or do IO for more
    /// ([`poll_io`](Self::poll_io)), or fail the connection on a protocol error (the next
    /// turn then finishes it).
    pub(super) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Item> {
        loop {
            match &self.phase {
                Phase::Open => {}
                Phase::Finishing(_) => return self.poll_finishing(cx),
                Phase::Done => return Poll::Ready(None),
            }
            match self.decoder.decode(&mut self.read_buf) {
                Ok(Some(message)) => {
                    if let Some(message) = self.on_message(message) {
                        return Poll::Ready(Some(Ok(message)));
                    }
                }
                Ok(None) => {
                    if let ControlFlow::Break(item) = ready!(self.poll_io(cx)) {
                        return Poll::Ready(item);
                    }
                }
                Err(error) => self.fail(error),
            }
        }
    }

    /// A decoded message, answered if it is a Ping; a Close ends reading instead of being
    /// yielded here (it is yielded once the connection has finished). The message to yield.
    #[inline]
    fn on_message(&mut self, message: Message) -> Option<Message> {
        match message {
            Message::Ping(ref payload) => {
                if !self.close_sent {
                    let pong = Message::Pong(payload.clone());
                    self.encoder.encode(&mut self.write_buf, pong);
                }
                Some(message)
            }
            Message::Close(frame) => {
                self.on_close_received(frame);
                None
            }
            other => Some(other),
        }
    }

    /// Nothing complete is buffered: write what must be written, read more, or wait.
    ///
    /// Replies (to everything read so far, pongs) wait while more input is readable: the next
    /// read may complete more frames, and all replies then leave in one write. They are written
    /// when the read would block, or once the high-water mark is reached; if the peer is not
    /// reading by then, reading stops too: backpressure instead of unbounded buffering.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<ControlFlow<Item>> {
        if self.write_buf.len() >= WRITE_HIGH_WATER {
            match self.poll_write_queued(cx) {
                Poll::Ready(Err(e)) => return Poll::Ready(self.io_failed(e)),
                Poll::Pending if self.write_buf.len() >= WRITE_HIGH_WATER => {
                    let waited = ready!(self.poll_wait(cx));
                    return Poll::Ready(self.on_waited(waited));
                }
                _ => {}
            }
        }
        let read = match self.poll_read_more(cx) {
            Poll::Ready(read) => read,
            Poll::Pending => {
                if !self.write_buf.is_empty() {
                    if let Poll::Ready(Err(e)) = self.poll_write_queued(cx) {
                        return Poll::Ready(self.io_failed(e));
                    }
                }
                let waited = ready!(self.poll_wait(cx));
                return Poll::Ready(self.on_waited(waited));
            }
        };
        Poll::Ready(match read {
            Ok(0) => {
                self.phase = Phase::Done;
                let eof = (!self.close_sent).then_some(Err(Error::UnexpectedEof));
                ControlFlow::Break(eof)
            }
            Ok(_) => {
                self.timers.activity();
                ControlFlow::Continue(())
            }
            Err(e) => self.io_failed(e),
        })
    }

    fn io_failed(&mut self, error: std::io::Error) -> ControlFlow<Item> {
        self.phase = Phase::Done;
        ControlFlow::Break(Some(Err(Error::Io(error))))
    }

    /// Reads once into the read buffer, sized for the frame in progress.
    ///
    /// With nothing buffered, the buffer comes from the thread's [`read_pool`] and goes back
    /// there if the read would block, so an idle connection holds no read buffer.
    fn poll_read_more(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        let idle = self.read_buf.is_empty() && !self.decoder.is_mid_message();
        if idle && self.read_buf.capacity() == 0 {
            self.read_buf = read_pool::take();
        }
        // Room for the rest of the frame in progress, but never more than a step ahead of
        // what has arrived: a header announcing 16 MiB followed by a stall costs what was
        // sent, not 16 MiB. The step is the larger of the streaming read size and what is
        // buffered, so a large frame grows the buffer geometrically (O(log n) reallocations);
        // once an eighth of the rest has arrived the rest is reserved at once, which saves
        // the last, largest copies (at most 8 times what was sent, plus one read chunk).
        let buffered = self.read_buf.len();
        let rest = self.decoder.bytes_wanted(buffered);
        let step = buffered.max(self.read_chunk as usize);
        let wanted = if rest / 8 <= buffered {
            rest
        } else {
            rest.min(step)
        };
        let wanted = wanted.max(MIN_READ);
        let mut spare = self.read_buf.capacity() - self.read_buf.len();
        if spare < wanted {
            self.read_buf.reserve(wanted.max(self.read_chunk as usize));
            spare = self.read_buf.capacity() - self.read_buf.len();
        }
        let read = self.io.read_buf(&mut self.read_buf);
        let result = pin!(read).poll(cx);
        match &result {
            // A read that filled all the room: the peer is streaming (many messages in
            // flight), so read more at once next time, up to MAX_READ_CHUNK.
            Poll::Ready(Ok(n)) if *n == spare => {
                self.read_chunk = (self.read_chunk * 2).min(MAX_READ_CHUNK);
            }
            Poll::Ready(Ok(n)) if *n < self.read_chunk as usize / 4 => {
                self.read_chunk = (self.read_chunk / 2).max(READ_CHUNK as u32);
            }
            Poll::Pending if idle => {
                read_pool::give_back(std::mem::take(&mut self.read_buf));
            }
            _ => {}
        }
        result
    }

    /// Writes all queued frames, many per syscall, then flushes the stream.
    pub(super) fn poll_write_queued(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.write_buf.is_empty() {
            let io = Pin::new(&mut self.io);
            let polled = if self.write_buf.is_contiguous() || !io.is_write_vectored() {
                io.poll_write(cx, self.write_buf.first_chunk())
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_IO_SLICES];
                let count = self.write_buf.io_slices(&mut slices);
                io.poll_write_vectored(cx, &slices[..count])
            };
            let written = match polled {
                Poll::Ready(written) => written?,
                Poll::Pending => {
                    self.timers.write_stalled();
                    return Poll::Pending;
                }
            };
            if written == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.timers.write_done();
            self.write_buf.advance(written);
        }
        self.write_buf.shrink_to(KEEP_WRITE_CAPACITY);
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// [`poll_write_queued`](Self::poll_write_queued) for `send` and `flush`, bounded by the
    /// write timeout and deadline: past them the connection is dropped.
    pub(super) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if matches!(self.phase, Phase::Done) && !self.write_buf.is_empty() {
            return Poll::Ready(Err(Error::Closed));
        }
        match self.poll_write_queued(cx) {
            Poll::Ready(result) => Poll::Ready(result.map_err(|e| {
                self.phase = Phase::Done;
                Error::Io(e)
            })),
            Poll::Pending => {
                let due = ready!(self.timers.poll_due(cx, Wait::Write));
                self.phase = Phase::Done;
                if due == Due::Close {
                    tracing::debug!("WebSocket Close not written in time: dropping the connection");
                    return Poll::Ready(Err(Error::CloseTimeout));
                }
                tracing::debug!("WebSocket write timed out: dropping the connection");
                Poll::Ready(Err(Error::WriteTimeout))
            }
        }
    }
}

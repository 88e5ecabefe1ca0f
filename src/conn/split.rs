//! [`Conn::split`]: a read half and a cloneable [`Sender`], for reading and writing from
//! different tasks.
//!
//! The connection itself moves into a small driver task that reads (answering pings, running
//! the close handshake, keepalive and timeouts, exactly as `recv` does) and writes what the
//! senders queue. Reading stops when the read half has [`ReadHalf::CAPACITY`] messages, or
//! [`SplitOptions::read_queue`] bytes of payload, waiting (backpressure towards the peer);
//! senders wait when the send queue is full.

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use http::request::Parts;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Conn;
use super::Error;
use super::send_error::{SendError, TrySendError};
use super::state::WRITE_HIGH_WATER;
use crate::proto::{CloseCode, CloseFrame, Message, PreparedMessage};

const INCOMING_CAPACITY: usize = ReadHalf::CAPACITY;

/// The queue sizes of a [`split`](Conn::split) connection, for [`Conn::split_with`].
///
/// Plain settings: read the fields, set them with the builder methods of the same name (or
/// assign them). New fields may be added in minor releases, so build one from
/// [`SplitOptions::new`] or [`SplitOptions::default`].
///
/// ```
/// use tower_websocket::conn::SplitOptions;
///
/// let options = SplitOptions::new().send_queue(256 << 10).read_queue(4 << 20);
/// assert_eq!(options.send_queue, 256 << 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SplitOptions {
    /// The send queue holds up to this much payload, in bytes (default
    /// [`Sender::DEFAULT_QUEUE`], 1 MiB); one message is always accepted into an empty queue,
    /// whatever its size.
    pub send_queue: usize,
    /// Received messages wait for the read half up to this much payload, in bytes (default
    /// [`ReadHalf::DEFAULT_QUEUE`], 1 MiB) and at most [`ReadHalf::CAPACITY`] of them; past
    /// either the driver stops reading until the read half catches up. One message is always
    /// accepted, so the queue holds at most this much plus one message.
    pub read_queue: usize,
}

impl Default for SplitOptions {
    /// [`Sender::DEFAULT_QUEUE`] (1 MiB) to send, [`ReadHalf::DEFAULT_QUEUE`] (1 MiB) received.
    fn default() -> Self {
        Self {
            send_queue: Sender::DEFAULT_QUEUE,
            read_queue: ReadHalf::DEFAULT_QUEUE,
        }
    }
}

impl SplitOptions {
    /// The defaults; see [`Default`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`send_queue`](field@Self::send_queue).
    pub fn send_queue(mut self, bytes: usize) -> Self {
        self.send_queue = bytes;
        self
    }

    /// Sets [`read_queue`](field@Self::read_queue).
    pub fn read_queue(mut self, bytes: usize) -> Self {
        self.read_queue = bytes;
        self
    }
}

impl<T> Conn<T>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// Splits the connection into a read half and a [`Sender`], with a send queue of
    /// [`Sender::DEFAULT_QUEUE`] bytes. Spawns one tokio task that drives the connection until it
    /// closes; see [`split_with_capacity`](Self::split_with_capacity).
    pub fn split(self) -> (ReadHalf, Sender) {
        self.split_with_capacity(Sender::DEFAULT_QUEUE)
    }

    /// Splits the connection into a read half and a cloneable [`Sender`] whose queue holds up to
    /// `queue_bytes` of payload (one message is always accepted into an empty queue).
    ///
    /// The connection moves into a spawned driver task, so pings are answered, keepalive pings
    /// sent and the close handshake completed while only the read half is polled, or while
    /// neither is. If the read half lets [`ReadHalf::CAPACITY`] messages or
    /// [`ReadHalf::DEFAULT_QUEUE`] bytes of payload pile up (see
    /// [`SplitOptions::read_queue`](field@SplitOptions::read_queue)),
    /// the driver stops reading (and so stops answering pings) until it catches up; a dropped
    /// read half discards incoming data. When the read half and every sender are dropped, the
    /// connection is closed with 1000.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use tower_websocket::{Config, Conn, Message, Role};
    ///
    /// let (a, b) = tokio::io::duplex(1 << 16);
    /// let mut client = Conn::from_raw(a, Role::Client, &Config::default());
    /// let server = Conn::from_raw(b, Role::Server, &Config::default());
    ///
    /// let (mut reader, sender) = server.split();
    /// for task in 0..4 {
    ///     let sender = sender.clone();
    ///     tokio::spawn(async move { sender.send(Message::text(format!("hi from {task}"))).await });
    /// }
    /// for _ in 0..4 {
    ///     assert!(client.recv().await.unwrap().unwrap().as_text().unwrap().starts_with("hi"));
    /// }
    /// client.send(Message::text("hello")).await.unwrap();
    /// assert_eq!(reader.recv().await.unwrap().unwrap(), Message::text("hello"));
    /// # }
    /// ```
    pub fn split_with_capacity(self, queue_bytes: usize) -> (ReadHalf, Sender) {
        self.split_with(SplitOptions::new().send_queue(queue_bytes))
    }

    /// Splits the connection with the given queue sizes: see
    /// [`split_with_capacity`](Self::split_with_capacity) and [`SplitOptions`].
    pub fn split_with(mut self, options: SplitOptions) -> (ReadHalf, Sender) {
        let request = std::mem::replace(
            &mut self.state.request,
            http::Request::new(()).into_parts().0,
        );
        let protocol = self.protocol().map(str::to_owned);
        let peer_addr = self.peer_addr();
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                incoming: VecDeque::new(),
                incoming_bytes: 0,
                incoming_limit: options.read_queue,
                reader_alive: true,
                reader_waker: None,
                outgoing: VecDeque::new(),
                outgoing_bytes: 0,
                conn_buffered: 0,
                queue_limit: options.send_queue,
                space_waiters: Vec::new(),
                driver_waker: None,
                senders: 1,
                ended: None,
            }),
        });
        tokio::spawn(Driver {
            conn: self,
            shared: shared.clone(),
            closing: false,
            last_error: None,
        });
        let reader = ReadHalf {
            shared: shared.clone(),
            request,
            protocol,
            peer_addr,
        };
        (reader, Sender { shared })
    }
}

struct Shared {
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock; if it ever did, the queues are still sound.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Inner {
    incoming: VecDeque<Result<Message, Error>>,
    /// Payload bytes in `incoming`.
    incoming_bytes: usize,
    /// The driver stops reading once `incoming_bytes` reaches this.
    incoming_limit: usize,
    reader_alive: bool,
    reader_waker: Option<Waker>,
    outgoing: VecDeque<Outgoing>,
    /// Payload bytes in `outgoing`.
    outgoing_bytes: usize,
    /// Bytes the connection has queued and not written (as of the driver's last poll).
    conn_buffered: usize,
    queue_limit: usize,
    space_waiters: Vec<Waker>,
    driver_waker: Option<Waker>,
    senders: usize,
    /// Set when the connection has ended: why, if it was an error.
    ended: Option<Option<Arc<Error>>>,
}

impl Inner {
    /// Whether the driver may read another message for the read half.
    fn incoming_room(&self) -> bool {
        !self.reader_alive
            || self.incoming.is_empty()
            || (self.incoming.len() < INCOMING_CAPACITY
                && self.incoming_bytes < self.incoming_limit)
    }

    fn push_incoming(&mut self, item: Result<Message, Error>) {
        self.incoming_bytes += incoming_len(&item);
        self.incoming.push_back(item);
        self.wake_reader();
    }

    fn pop_incoming(&mut self) -> Option<Result<Message, Error>> {
        let item = self.incoming.pop_front()?;
        self.incoming_bytes -= incoming_len(&item);
        Some(item)
    }

    fn wake_driver(&mut self) {
        if let Some(waker) = self.driver_waker.take() {
            waker.wake();
        }
    }

    fn wake_senders(&mut self) {
        for waker in self.space_waiters.drain(..) {
            waker.wake();
        }
    }

    fn wake_reader(&mut self) {
        if let Some(waker) = self.reader_waker.take() {
            waker.wake();
        }
    }

    /// Queues `message` for the driver if the connection is alive and the queue has room.
    fn enqueue(&mut self, message: Outgoing) -> Result<(), Refused> {
        if let Some(reason) = &self.ended {
            return Err(Refused::Ended(SendError {
                message: message.into_message(),
                reason: reason.clone(),
            }));
        }
        let len = message.len();
        // One message is always accepted into an empty queue, whatever its size.
        if !self.outgoing.is_empty() && self.outgoing_bytes + len > self.queue_limit {
            return Err(Refused::Full(message));
        }
        self.outgoing_bytes += len;
        self.outgoing.push_back(message);
        self.wake_driver();
        Ok(())
    }
}

fn incoming_len(item: &Result<Message, Error>) -> usize {
    item.as_ref().map_or(0, Message::payload_len)
}

/// Why [`Inner::enqueue`] did not take a message.
enum Refused {
    Full(Outgoing),
    Ended(SendError),
}

/// What a sender queued.
enum Outgoing {
    Message(Message),
    Prepared(PreparedMessage),
}

impl Outgoing {
    fn len(&self) -> usize {
        match self {
            Self::Message(message) => message.payload_len(),
            Self::Prepared(prepared) => prepared.payload_len(),
        }
    }

    fn into_message(self) -> Message {
        match self {
            Self::Message(message) => message,
            Self::Prepared(prepared) => prepared.message().clone(),
        }
    }
}

/// The task that owns the connection after a split.
struct Driver<T> {
    conn: Conn<T>,
    shared: Arc<Shared>,
    /// We queued a Close because nobody can use the connection any more.
    closing: bool,
    /// The last error `recv` returned: why the connection ended, once `recv` returns `None`.
    last_error: Option<Error>,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Driver<T> {
    /// Records the end and wakes everyone.
    fn end(&mut self, error: Option<Error>) {
        let mut inner = self.shared.lock();
        inner.ended = Some(error.map(Arc::new));
        inner.wake_reader();
        inner.wake_senders();
    }

    /// Moves queued messages into the connection while its write buffer is below the
    /// high-water mark.
    fn take_outgoing(&mut self, cx: &Context<'_>) -> Result<(), Error> {
        let mut inner = self.shared.lock();
        if !inner
            .driver_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            inner.driver_waker = Some(cx.waker().clone());
        }
        let mut moved = false;
        while self.conn.buffered() < WRITE_HIGH_WATER {
            let Some(message) = inner.outgoing.pop_front() else {
                break;
            };
            inner.outgoing_bytes -= message.len();
            moved = true;
            let fed = match message {
                Outgoing::Message(message) => self.conn.feed(message),
                Outgoing::Prepared(prepared) => self.conn.feed_prepared(&prepared),
            };
            match fed {
                Ok(()) | Err(Error::Closed) => {}
                Err(error) => return Err(error),
            }
        }
        if moved {
            inner.wake_senders();
        }
        if !inner.reader_alive && inner.senders == 0 && !self.closing {
            self.closing = true;
            drop(inner);
            let close = Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "")));
            let _ = self.conn.feed(close);
        }
        Ok(())
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Future for Driver<T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            if let Err(error) = this.take_outgoing(cx) {
                this.end(Some(error));
                return Poll::Ready(());
            }
            // Once the connection is closing, `poll_recv` writes (bounded by the close
            // timeout) and yields what ended it; a flush here would end it first, with the
            // close timeout, and the read half would never see why.
            let open = this.conn.is_open();
            if open && this.conn.buffered() > 0 {
                if let Poll::Ready(Err(error)) = this.conn.poll_flush(cx) {
                    this.end(Some(error));
                    return Poll::Ready(());
                }
            }
            let room = {
                let mut inner = this.shared.lock();
                inner.conn_buffered = this.conn.buffered();
                // Closing yields one last item: let it through whatever the queue holds.
                inner.incoming_room() || !open
            };
            if !room {
                return Poll::Pending;
            }
            match this.conn.poll_recv(cx) {
                Poll::Ready(Some(item)) => {
                    if let Err(error) = &item {
                        // The reader gets the error; the senders get a copy as the reason.
                        this.last_error = Some(error.duplicate());
                    }
                    let mut inner = this.shared.lock();
                    if inner.reader_alive {
                        inner.push_incoming(item);
                    }
                }
                Poll::Ready(None) => {
                    let reason = this.last_error.take();
                    this.end(reason);
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The receiving half of a [`split`](Conn::split) connection: [`recv`](Self::recv) or
/// `Stream`, with the same messages and errors as [`Conn::recv`]. Cancel safe.
pub struct ReadHalf {
    shared: Arc<Shared>,
    request: Parts,
    protocol: Option<String>,
    peer_addr: Option<SocketAddr>,
}

impl ReadHalf {
    /// Messages received and not yet taken by the read half before the driver stops reading.
    pub const CAPACITY: usize = 16;

    /// Default payload bytes received and not yet taken by the read half before the driver
    /// stops reading (plus one message): see [`SplitOptions::read_queue`].
    pub const DEFAULT_QUEUE: usize = 1 << 20;

    /// Receives the next message; `None` once the connection has closed.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next message; see [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        let mut inner = self.shared.lock();
        if let Some(item) = inner.pop_incoming() {
            inner.wake_driver();
            return Poll::Ready(Some(item));
        }
        if inner.ended.is_some() {
            return Poll::Ready(None);
        }
        inner.reader_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The handshake request (moved here from the `Conn`).
    pub fn request(&self) -> &Parts {
        &self.request
    }

    /// The subprotocol chosen in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The peer's address, as [`Conn::peer_addr`] had it.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }
}

impl Stream for ReadHalf {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl Drop for ReadHalf {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.reader_alive = false;
        inner.incoming.clear();
        inner.incoming_bytes = 0;
        inner.wake_driver();
    }
}

impl fmt::Debug for ReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf")
            .field("path", &self.request.uri.path())
            .field("protocol", &self.protocol)
            .field("peer_addr", &self.peer_addr)
            .finish_non_exhaustive()
    }
}

/// A cloneable handle that queues messages on a [`split`](Conn::split) connection: any number
/// of tasks can send, in order per task.
///
/// The queue is bounded in bytes: [`send`](Self::send) waits for room (backpressure),
/// [`try_send`](Self::try_send) returns [`TrySendError::Full`]. Queued messages are written by
/// the connection's driver task; [`buffered`](Self::buffered) says how much is waiting.
pub struct Sender {
    shared: Arc<Shared>,
}

impl Sender {
    /// Default size of the send queue, in payload bytes: see [`Conn::split_with_capacity`].
    pub const DEFAULT_QUEUE: usize = 1 << 20;

    /// Queues a message, waiting while the queue is full. Fails with the message back once the
    /// connection has ended, with the reason if it ended on an error. Messages queued after
    /// a Close are dropped.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        self.send_outgoing(Outgoing::Message(message)).await
    }

    /// Queues a [`PreparedMessage`] (broadcast: the frame is encoded once and shared), waiting
    /// while the queue is full; see [`send`](Self::send).
    pub async fn send_prepared(&self, prepared: &PreparedMessage) -> Result<(), SendError> {
        self.send_outgoing(Outgoing::Prepared(prepared.clone()))
            .await
    }

    async fn send_outgoing(&self, message: Outgoing) -> Result<(), SendError> {
        let mut message = Some(message);
        poll_fn(|cx| {
            let mut inner = self.shared.lock();
            let Some(msg) = message.take() else {
                return Poll::Ready(Ok(()));
            };
            match inner.enqueue(msg) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(Refused::Ended(error)) => Poll::Ready(Err(error)),
                Err(Refused::Full(msg)) => {
                    if !inner.space_waiters.iter().any(|w| w.will_wake(cx.waker())) {
                        inner.space_waiters.push(cx.waker().clone());
                    }
                    message = Some(msg);
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Queues a message if there is room now.
    pub fn try_send(&self, message: Message) -> Result<(), TrySendError> {
        match self.shared.lock().enqueue(Outgoing::Message(message)) {
            Ok(()) => Ok(()),
            Err(Refused::Ended(error)) => Err(TrySendError::Closed(error)),
            Err(Refused::Full(message)) => Err(TrySendError::Full(message.into_message())),
        }
    }

    /// Starts the close handshake with `code` and `reason` (after everything queued before);
    /// the driver completes it. Named like [`Conn::close_with`].
    pub async fn close_with(&self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.send(Message::Close(Some(CloseFrame::new(code, reason))))
            .await
    }

    /// Bytes waiting: payload in the send queue plus frames the connection has not written.
    pub fn buffered(&self) -> usize {
        let inner = self.shared.lock();
        inner.outgoing_bytes + inner.conn_buffered
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().ended.is_some()
    }
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.senders -= 1;
        if inner.senders == 0 {
            inner.wake_driver();
        }
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("buffered", &self.buffered())
            .finish_non_exhaustive()
    }
}

//! The connection's state machine: drives the sans-IO [`Decoder`] and [`Encoder`] over the IO.

use std::io::IoSlice;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::BytesMut;
use http::HeaderValue;
use http::request::Parts;
use std::future::Future as _;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::read_pool::{self, MIN_READ, READ_CHUNK};
use crate::error::Error;
use crate::proto::frame::MAX_CONTROL_PAYLOAD;
use crate::proto::{CloseFrame, Decoder, Encoder, Message, WriteBuffer};

/// How many queued chunks one vectored write takes at most.
const MAX_IO_SLICES: usize = 16;

/// A write buffer larger than this is dropped once flushed, so that a burst does not stay
/// allocated for the connection's lifetime.
const KEEP_WRITE_CAPACITY: usize = 2 * READ_CHUNK;

/// With this much queued and the peer not reading, reading stops until the queue drains.
const WRITE_HIGH_WATER: usize = 64 * 1024;

/// Everything a [`Conn`](super::Conn) holds, behind one box.
#[derive(Debug)]
pub(super) struct State<T> {
    pub(super) io: T,
    pub(super) read_buf: BytesMut,
    pub(super) write_buf: WriteBuffer,
    pub(super) decoder: Decoder,
    pub(super) encoder: Encoder,
    pub(super) phase: Phase,
    pub(super) close_sent: bool,
    pub(super) close_timeout: Duration,
    pub(super) request: Parts,
    pub(super) protocol: Option<HeaderValue>,
}

/// Where the connection is in its life.
#[derive(Debug)]
pub(super) enum Phase {
    /// Reading messages.
    Open,
    /// Done reading: flush what is queued, shut the write side, then yield the item.
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

    pub(super) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
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
            // Nothing complete is buffered: send what is queued (replies to everything this
            // read brought, pongs) before waiting to read. If the peer is not reading and too
            // much is queued, stop reading too: backpressure instead of unbounded buffering.
            if !self.write_buf.is_empty() {
                match self.poll_write_queued(cx) {
                    Poll::Ready(Err(e)) => {
                        self.phase = Phase::Done;
                        return Poll::Ready(Some(Err(Error::Io(e))));
                    }
                    Poll::Pending if self.write_buf.len() >= WRITE_HIGH_WATER => {
                        return Poll::Pending;
                    }
                    _ => {}
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
    ///
    /// With nothing buffered, the buffer comes from the thread's [`read_pool`] and goes back
    /// there if the read would block, so an idle connection holds no read buffer.
    fn poll_read_more(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        let idle = self.read_buf.is_empty() && !self.decoder.is_mid_message();
        if idle && self.read_buf.capacity() == 0 {
            self.read_buf = read_pool::take();
        }
        // Room for the rest of the frame in progress (one allocation for a large frame), and
        // never less than MIN_READ.
        let wanted = self.decoder.bytes_wanted(self.read_buf.len()).max(MIN_READ);
        let spare = self.read_buf.capacity() - self.read_buf.len();
        if spare < wanted {
            self.read_buf.reserve(wanted.max(READ_CHUNK));
        }
        let read = self.io.read_buf(&mut self.read_buf);
        let result = pin!(read).poll(cx);
        if idle && result.is_pending() {
            read_pool::give_back(std::mem::take(&mut self.read_buf));
        }
        result
    }

    /// Writes all queued frames, many per syscall, then flushes the stream.
    pub(super) fn poll_write_queued(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
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
        self.write_buf.shrink_to(KEEP_WRITE_CAPACITY);
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Flushes what is queued and shuts down the write side (the server closes TCP first,
    /// RFC 6455 §7.1.1).
    pub(super) fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.poll_write_queued(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

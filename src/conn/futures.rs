//! The futures returned by [`Conn::recv`], [`Conn::send`] and [`Conn::flush`].
//!
//! Named futures rather than `async fn`s: each is a reference to the connection (plus the
//! message, for [`SendFuture`]), so a handler's own future stays small, which matters with
//! thousands of idle connections. Each name ends in `Future`, so none shadows a trait of the
//! prelude (`Send`) or a combinator's name in `futures`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite};

use super::Conn;
use super::Error;
use crate::proto::Message;

/// Future of [`Conn::recv`]: the next message, or `None` once the connection is closed.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<'a, T> {
    conn: &'a mut Conn<T>,
}

impl<'a, T> RecvFuture<'a, T> {
    pub(super) fn new(conn: &'a mut Conn<T>) -> Self {
        Self { conn }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Future for RecvFuture<'_, T> {
    type Output = Option<Result<Message, Error>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.conn.poll_recv(cx)
    }
}

/// Future of [`Conn::send`]: queues the message on first poll, then flushes.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T> {
    conn: &'a mut Conn<T>,
    message: Option<Message>,
}

impl<'a, T> SendFuture<'a, T> {
    pub(super) fn new(conn: &'a mut Conn<T>, message: Message) -> Self {
        Self {
            conn,
            message: Some(message),
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Future for SendFuture<'_, T> {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(message) = this.message.take() {
            this.conn.feed(message)?;
        }
        this.conn.poll_flush(cx)
    }
}

/// Future of [`Conn::flush`]: writes everything queued.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct FlushFuture<'a, T> {
    conn: &'a mut Conn<T>,
}

impl<'a, T> FlushFuture<'a, T> {
    pub(super) fn new(conn: &'a mut Conn<T>) -> Self {
        Self { conn }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Future for FlushFuture<'_, T> {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.conn.poll_flush(cx)
    }
}

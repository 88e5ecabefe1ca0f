//! `Stream` and `Sink` for [`Conn`], so the `futures` combinators (`forward`, `split`,
//! `StreamExt::next`, `SinkExt::send`) work on it.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Conn;
use super::Error;
use super::state::WRITE_HIGH_WATER;
use crate::proto::{CloseCode, CloseFrame, Message};

/// The messages of the connection, as [`Conn::recv`] yields them; ends after the close
/// handshake or an error.
impl<T: AsyncRead + AsyncWrite + Unpin> Stream for Conn<T> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

/// Sends messages: `start_send` queues ([`Conn::feed`]), `poll_ready` writes what is queued
/// once 64 KiB have piled up, `poll_flush` writes everything, and `poll_close`
/// (`SinkExt::close`) queues Close 1000 with no reason (unless a Close was sent already) and
/// flushes it. It does not wait for the peer's Close or shut the stream down: keep reading
/// until `None` to complete the close handshake, or use [`Conn::close_with`], which does all
/// of it (with the code and reason given).
impl<T: AsyncRead + AsyncWrite + Unpin> Sink<Message> for Conn<T> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.buffered() >= WRITE_HIGH_WATER {
            this.poll_flush(cx)
        } else {
            Poll::Ready(Ok(()))
        }
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().feed(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if !this.state.close_sent && this.is_open() {
            this.feed(Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, ""))))?;
        }
        this.poll_flush(cx)
    }
}

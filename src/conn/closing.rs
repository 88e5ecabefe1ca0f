//! The closing half of the state machine: the one way a Close frame is queued, and the
//! lingering close that follows it.
//!
//! Every Close we send (a reply, ours after a protocol error, the idle timeout, a shutdown,
//! [`Conn::close_with`](super::Conn::close_with), or a `Message::Close` fed by the
//! application) goes through [`State::queue_close`], which arms the close timer. From then on
//! every wait of the connection is bounded by the close timeout, whatever the write timeout.
//!
//! Once the connection is done reading messages ([`Phase::Finishing`]) it flushes and shuts
//! the write side down (the server closes TCP first, RFC 6455 §7.1.1). If the peer has not
//! answered our Close (a protocol error, the idle timeout), it then *lingers*: it reads and
//! discards input while the peer keeps sending, until end of stream, at most
//! [`Config::linger_bytes`], until the peer has been quiet for [`Config::linger_quiet`], and no
//! longer than the close timeout. Closing a socket with unread input makes the kernel answer
//! with a reset, and a reset can destroy our Close frame (still in our send queue, or unread
//! by the peer) before the peer has read it; lingering gives the peer the time to read it
//! (Apache's "lingering close" does the same for HTTP). After the peer's Close, which must be
//! its last frame, only what is readable at once is discarded: nothing waits for a peer that
//! keeps the socket open after the handshake. Input is read (and discarded) while our Close is
//! still being written too, so that a peer that writes everything before it reads does not
//! deadlock with us.
//!
//! [`Config::linger_bytes`]: crate::Config::linger_bytes
//! [`Config::linger_quiet`]: crate::Config::linger_quiet

use std::future::Future as _;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::Error;
use super::read_pool::{MIN_READ, READ_CHUNK};
use super::state::{Phase, State};
use super::timers::Wait;
use crate::proto::{CloseCode, CloseFrame, Message, ProtocolError};

impl<T> State<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    /// Queues a Close frame unless one was sent, and arms the close timer: every Close the
    /// connection sends goes through here.
    pub(super) fn queue_close(&mut self, frame: Option<CloseFrame>) {
        if self.close_sent {
            return;
        }
        self.encoder
            .encode(&mut self.write_buf, Message::Close(frame));
        self.close_sent = true;
        self.timers.close_sent();
    }

    /// Queues a Close frame of ours with `code` and `reason` (unless one was sent).
    pub(super) fn start_close(&mut self, code: CloseCode, reason: &str) {
        self.queue_close(Some(CloseFrame::new(code, reason)));
    }

    /// The peer's Close arrived: reply (echoing its code, RFC 6455 §5.5.1; no code for no
    /// code) unless our Close is out already, then finish with the Close message.
    pub(super) fn on_close_received(&mut self, frame: Option<CloseFrame>) {
        tracing::debug!(code = ?frame.as_ref().map(|f| f.code), "WebSocket Close received");
        let reply = frame.as_ref().map(|f| CloseFrame::new(f.code, ""));
        self.queue_close(reply);
        self.linger_wait = false;
        self.phase = Phase::Finishing(Some(Ok(Message::Close(frame))));
    }

    /// Finishes with `item` after a Close of ours the peer has not answered: linger.
    pub(super) fn finish_unanswered(&mut self, item: Result<Message, Error>) {
        self.linger_wait = true;
        self.phase = Phase::Finishing(Some(item));
    }

    /// The peer broke the protocol: close with the matching code, finish with the error.
    pub(super) fn fail(&mut self, error: ProtocolError) {
        tracing::debug!(%error, code = %error.close_code(), "WebSocket protocol error");
        self.start_close(error.close_code(), error.reason());
        self.finish_unanswered(Err(Error::Protocol(error)));
    }

    /// [`Phase::Finishing`]: flush, shut down, linger, then yield the item that ended reading.
    /// Bounded by the close timer (armed when our Close was queued) and the write timeout.
    pub(super) fn poll_finishing(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        if self.poll_close_io(cx).is_pending() {
            // Whatever comes due (the linger quiet time, the close timeout, or the write timeout
            // while our Close is stuck) ends the wait: the connection is dropped all the same.
            let due = ready!(self.timers.poll_due(cx, Wait::Closing));
            tracing::debug!(?due, "WebSocket closing ended by a timer");
        }
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Finishing(item) => Poll::Ready(item),
            _ => Poll::Ready(None),
        }
    }

    /// Writes what is queued and shuts the write side down, reading and discarding input
    /// meanwhile, then lingers (see the [module docs](self)). Ready when done, or when the IO
    /// failed (then there is nothing left to wait for either).
    fn poll_close_io(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if !self.shut {
                match self.poll_shut(cx) {
                    Poll::Ready(Ok(())) => {
                        self.shut = true;
                        if self.linger_wait {
                            self.timers.linger_input();
                        }
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Pending if self.linger_left == 0 => return Poll::Pending,
                    Poll::Pending => {}
                }
            }
            if self.linger_left == 0 {
                self.read_buf.clear();
                return Poll::Ready(());
            }
            // Whatever was buffered and not decoded is discarded as well.
            self.read_buf.clear();
            if self.read_buf.capacity() < MIN_READ {
                self.read_buf.reserve(READ_CHUNK);
            }
            let read = self.io.read_buf(&mut self.read_buf);
            match pin!(read).poll(cx) {
                // Drained what was readable, and nothing to wait for.
                Poll::Pending if self.shut && !self.linger_wait => self.linger_left = 0,
                Poll::Pending => return Poll::Pending,
                // The peer is done sending (or gone): only our side may be left to finish.
                Poll::Ready(Ok(0) | Err(_)) => self.linger_left = 0,
                Poll::Ready(Ok(n)) => {
                    self.linger_left = self.linger_left.saturating_sub(n);
                    if self.shut && self.linger_wait {
                        self.timers.linger_input();
                    }
                }
            }
        }
    }

    /// Writes what is queued, then shuts the write side down.
    fn poll_shut(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.poll_write_queued(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

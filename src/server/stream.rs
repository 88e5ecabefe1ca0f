//! The TCP stream `serve` hands to hyper: the socket plus its place under the connection cap.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

/// An accepted connection. Its permit is the connection's place under
/// [`Serve::max_connections`](super::Serve::max_connections), released when the socket is
/// closed, so a WebSocket that leaves hyper (upgraded, in its own task) still counts until it
/// ends. The layer recovers the `TcpStream` from it after the upgrade, as from a bare one.
#[derive(Debug)]
pub(crate) struct ServedStream {
    pub(crate) io: TcpStream,
    pub(crate) peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
}

impl ServedStream {
    pub(super) fn new(io: TcpStream, peer: SocketAddr, permit: OwnedSemaphorePermit) -> Self {
        Self {
            io,
            peer,
            _permit: permit,
        }
    }
}

impl AsyncRead for ServedStream {
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for ServedStream {
    #[inline]
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    #[inline]
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

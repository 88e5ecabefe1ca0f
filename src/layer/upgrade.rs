//! Taking the connection over from hyper and running the handler on it.

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderValue;
use http::request::Parts;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
#[cfg(feature = "http2")]
use hyper_util::server::conn::auto;
use pin_project_lite::pin_project;
use tokio::net::TcpStream;

use super::detach::detach;
use super::handler::sealed::Output as _;
use super::handler::{Chain, Handler};
use super::hooks::FailedUpgrade;
use super::policy::Policy;
use crate::conn::cork::{Cork, corked};
use crate::conn::tracking::Registration;
use crate::conn::{BoxedIo, Config, Conn};
use crate::proto::{DeflateParams, Role};
#[cfg(feature = "server")]
use crate::server::stream::ServedStream;

/// What the handshake agreed, for the connection task.
pub(crate) struct Accepted {
    pub(crate) protocol: Option<HeaderValue>,
    pub(crate) deflate: Option<DeflateParams>,
    /// Counted as live from the handshake on, so a shutdown also waits for connections
    /// mid-upgrade, and the connection cap counts them.
    pub(crate) registration: Registration,
}

/// Spawns the connection task: wait for hyper to hand over the connection (after the 101 has
/// been written), then run the handler on it. Bytes hyper read past the request headers are
/// decoded before the socket is read again. A panicking handler ends only its own connection.
pub(crate) fn spawn_connection<H: Handler>(
    on_upgrade: OnUpgrade,
    mut request: Parts,
    accepted: Accepted,
    handler: H,
    config: Arc<Config>,
    policy: Arc<Policy>,
) {
    detach(&mut request);
    let Accepted {
        protocol,
        deflate,
        mut registration,
    } = accepted;
    let span = tracing::debug_span!(
        "websocket",
        path = request.uri.path(),
        protocol = protocol.as_ref().and_then(|p| p.to_str().ok()),
        peer = tracing::field::Empty,
    );
    let task_span = span.clone();
    let task = async move {
        // Boxed: the wait (a timer, the shutdown watch) is over once the connection is handed
        // over, and would otherwise stay part of the task's allocation for the connection's
        // whole life.
        let wait = Box::pin(await_upgrade(on_upgrade, &mut registration, &policy));
        let upgraded = match wait.await {
            Ok(upgraded) => upgraded,
            Err(Some(error)) => return report_failed_upgrade(request, error, &policy),
            Err(None) => return,
        };
        let (io, cork, read_buf, peer) = into_io(upgraded);
        if let Some(peer) = peer {
            task_span.record("peer", tracing::field::display(peer));
        }
        tracing::debug!("WebSocket connection open");
        let conn = Conn::from_raw(io, Role::Server, &config)
            .with_read_buf(read_buf)
            .with_request(request)
            .with_protocol(protocol)
            .with_peer_addr(peer)
            .with_registration(registration);
        let conn = compressed(conn, deflate, &policy);
        // Replies leave together when the handler yields; see `conn::cork`.
        cork.run(run_handler(handler, conn)).await;
        cork.drain(config.write_timeout.unwrap_or(config.close_timeout))
            .await;
        tracing::debug!("WebSocket connection ended");
    };
    // Entering a span on every poll costs ~100 instructions per message even when nothing
    // listens (with tracing's `log` feature on, as axum turns it on); skip it then.
    if span.is_disabled() {
        tokio::spawn(task);
    } else {
        tokio::spawn(tracing::Instrument::instrument(task, span));
    }
}

/// `conn` with permessage-deflate on, if the handshake agreed it.
fn compressed(conn: Conn, agreed: Option<DeflateParams>, policy: &Policy) -> Conn {
    #[cfg(feature = "deflate")]
    if let (Some(params), Some(config)) = (&agreed, &policy.deflate) {
        return conn.with_deflate(params, config);
    }
    #[cfg(not(feature = "deflate"))]
    let _ = (agreed, policy);
    conn
}

/// Waits for hyper to hand the connection over, at most the upgrade timeout, and not past the
/// start of a graceful shutdown: `Err(Some(..))` if hyper failed to, `Err(None)` if the wait
/// was given up.
async fn await_upgrade(
    on_upgrade: OnUpgrade,
    registration: &mut Registration,
    policy: &Policy,
) -> Result<Upgraded, Option<hyper::Error>> {
    let timeout = policy.upgrade_timeout;
    let mut upgrade = std::pin::pin!(tokio::time::timeout(timeout, on_upgrade));
    let mut shutdown = std::pin::pin!(registration.triggered());
    std::future::poll_fn(|cx| {
        if let Poll::Ready(upgraded) = upgrade.as_mut().poll(cx) {
            return Poll::Ready(match upgraded {
                Ok(upgraded) => upgraded.map_err(Some),
                Err(_elapsed) => {
                    tracing::debug!(
                        ?timeout,
                        "the connection was not handed over within the upgrade timeout; dropping it"
                    );
                    Err(None)
                }
            });
        }
        if shutdown.as_mut().poll(cx).is_ready() {
            tracing::debug!("shutting down before the connection was handed over; dropping it");
            return Poll::Ready(Err(None));
        }
        Poll::Pending
    })
    .await
}

/// hyper answered the upgrade with an error: logged as it deserves, and passed to the hook.
fn report_failed_upgrade(request: Parts, error: hyper::Error, policy: &Policy) {
    // hyper's "user" errors are the server's: here, connections served without upgrades.
    // Anything else (the peer left, the write of the 101 failed) is the peer's.
    let misconfigured = error.is_user();
    let failure = FailedUpgrade::after_response(request, error);
    let path = failure.request().uri.path();
    if misconfigured {
        // The server was built without upgrades: an operator's mistake, not a peer's.
        tracing::error!(path, "{failure}");
    } else {
        // Typically the peer left right after the 101: not worth more than debug.
        tracing::debug!(path, "{failure}");
    }
    policy.failed_upgrade(failure);
}

/// Runs the handler, reporting its error (debug, with its sources) or panic (error: a bug in
/// the handler).
async fn run_handler<H: Handler>(handler: H, conn: Conn) {
    match (CatchUnwind {
        future: handler.call(conn),
    })
    .await
    {
        Ok(output) => {
            if let Some(error) = output.into_error() {
                let error = Chain(&*error);
                tracing::debug!(%error, "WebSocket handler returned an error");
            }
        }
        Err(panic) => {
            tracing::error!(
                panic = panic_message(&*panic),
                "WebSocket handler panicked; its connection was dropped"
            );
        }
    }
}

/// The upgraded connection as a (corked) stream for [`Conn`] and its [`Cork`], plus bytes
/// hyper read past the request, and the peer's address where the stream is TCP.
///
/// Over plain TCP (hyper-util's auto builder or hyper's http1 builder) this recovers the
/// `TcpStream` itself, so reads and writes skip hyper's wrappers; any other transport (TLS,
/// HTTP/2 streams) is used through `Upgraded`, which replays its buffered bytes itself.
fn into_io(upgraded: Upgraded) -> (BoxedIo, Cork, Bytes, Option<SocketAddr>) {
    let tcp = |stream: TcpStream, read_buf: Bytes| {
        let peer = stream.peer_addr().ok();
        let (io, cork) = corked(stream);
        (io, cork, read_buf, peer)
    };
    #[cfg(feature = "server")]
    let upgraded = match downcast::<TokioIo<ServedStream>>(upgraded) {
        Ok((io, read_buf)) => {
            let stream = io.into_inner();
            let peer = Some(stream.peer);
            let (io, cork) = corked(stream);
            return (io, cork, read_buf, peer);
        }
        Err(upgraded) => upgraded,
    };
    match downcast::<TokioIo<TcpStream>>(upgraded) {
        Ok((io, read_buf)) => tcp(io.into_inner(), read_buf),
        Err(upgraded) => {
            let (io, cork) = corked(TokioIo::new(upgraded));
            (io, cork, Bytes::new(), None)
        }
    }
}

/// The upgraded IO as a `T`, with the bytes read past the request: hyper-util's auto builder
/// wraps the IO in its own type (hence its `downcast`), hyper's builders do not.
fn downcast<T>(upgraded: Upgraded) -> Result<(T, Bytes), Upgraded>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    #[cfg(feature = "http2")]
    let upgraded = match auto::upgrade::downcast::<T>(upgraded) {
        Ok(parts) => return Ok((parts.io, parts.read_buf)),
        Err(upgraded) => upgraded,
    };
    upgraded
        .downcast::<T>()
        .map(|parts| (parts.io, parts.read_buf))
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}

pin_project! {
    /// Turns a panic while polling `future` into an `Err` with the panic payload.
    struct CatchUnwind<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

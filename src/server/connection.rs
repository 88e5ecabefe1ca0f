//! Serving one accepted connection: hyper-util's auto builder (HTTP/1.1 with upgrades, HTTP/2
//! with extended CONNECT), or hyper's HTTP/1.1 builder without the `http2` feature; a deadline
//! for the first request, and graceful shutdown.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
#[cfg(feature = "http2")]
use hyper_util::rt::TokioExecutor;
use hyper_util::rt::{TokioIo, TokioTimer};
#[cfg(feature = "http2")]
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tower_service::Service;

use super::Settings;
use super::stream::ServedStream;
use crate::conn::GracefulShutdown;

/// Serves `stream` until the client is done, it sends no request within the header read
/// timeout, or a graceful shutdown finishes it.
pub(super) async fn serve_connection<S, B>(
    stream: ServedStream,
    service: S,
    settings: Arc<Settings>,
    websockets: GracefulShutdown,
    stop: watch::Receiver<bool>,
) where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let peer = stream.peer;
    let seen = Arc::new(AtomicBool::new(false));
    let service = TowerToHyperService::new(PerConnection {
        inner: service,
        websockets,
        seen: seen.clone(),
    });
    let io = TokioIo::new(stream);
    let builder = builder(&settings);
    #[cfg(feature = "http2")]
    let connection = builder.serve_connection_with_upgrades(io, service);
    #[cfg(not(feature = "http2"))]
    let connection = builder.serve_connection(io, service).with_upgrades();
    let connection = std::pin::pin!(connection);
    drive(
        connection,
        |connection| connection.graceful_shutdown(),
        &settings,
        &seen,
        stop,
        peer,
    )
    .await;
}

/// hyper-util's auto builder with serve's settings: HTTP/1.1 with a header read timeout,
/// HTTP/2 with extended CONNECT and keepalive pings.
#[cfg(feature = "http2")]
fn builder(settings: &Settings) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        // RFC 8441: WebSockets over HTTP/2 streams.
        .enable_connect_protocol()
        .keep_alive_interval(settings.http2_keep_alive_interval);
    builder
}

/// Without the `http2` feature, hyper's HTTP/1.1 builder with serve's header read timeout.
#[cfg(not(feature = "http2"))]
fn builder(settings: &Settings) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout);
    builder
}

/// Runs `connection` to its end, or until the first request misses its deadline; starts its
/// graceful shutdown (`graceful`) when `stop` says so. The connection comes pinned by the
/// caller: a future taken by value would be stored twice in this one (as the argument and
/// as the pinned local), and hyper's connection is the bulk of a connection task.
async fn drive<C, E>(
    mut connection: Pin<&mut C>,
    graceful: impl Fn(Pin<&mut C>),
    settings: &Settings,
    seen: &AtomicBool,
    mut stop: watch::Receiver<bool>,
    peer: SocketAddr,
) where
    C: Future<Output = Result<(), E>>,
    E: fmt::Display,
{
    // hyper's header read timeout starts once hyper-util has sniffed the HTTP version, and
    // that sniff waits for bytes without a deadline; so the first request has its own.
    let first_request = async {
        match settings.header_read_timeout {
            Some(timeout) => tokio::time::sleep(timeout).await,
            None => std::future::pending().await,
        }
    };
    let mut first_request = std::pin::pin!(first_request);
    let mut waiting_for_first = true;
    let mut stopping = *stop.borrow();
    if stopping {
        graceful(connection.as_mut());
    }
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    // The peer's doing (a reset, a malformed request): not worth more than debug.
                    tracing::debug!(%peer, %error, "HTTP connection ended with an error");
                }
                return;
            }
            () = &mut first_request, if waiting_for_first => {
                if !seen.load(Ordering::Acquire) {
                    tracing::debug!(%peer, "no complete request within the header read timeout; closing");
                    return;
                }
                waiting_for_first = false;
            }
            changed = stop.changed(), if !stopping => {
                // `Err`: the `Serve` future was dropped; its connections carry on.
                stopping = true;
                if changed.is_ok() && *stop.borrow() {
                    graceful(connection.as_mut());
                } else if changed.is_ok() {
                    stopping = false;
                }
            }
        }
    }
}

/// The user's service, as seen by one connection: notes that a request arrived, and puts
/// the server's [`GracefulShutdown`] in the request extensions, where the layer finds it.
#[derive(Clone)]
struct PerConnection<S> {
    inner: S,
    websockets: GracefulShutdown,
    seen: Arc<AtomicBool>,
}

impl<S, B> Service<Request<B>> for PerConnection<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        self.seen.store(true, Ordering::Release);
        request.extensions_mut().insert(self.websockets.clone());
        self.inner.call(request)
    }
}

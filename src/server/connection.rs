//! Serving one accepted connection: hyper-util's auto builder (HTTP/1.1 with upgrades, HTTP/2
//! with extended CONNECT), a deadline for the first request, and graceful shutdown.

use std::error::Error as StdError;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
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
    mut stop: watch::Receiver<bool>,
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
    let builder = builder(&settings);
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
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
        connection.as_mut().graceful_shutdown();
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
                    connection.as_mut().graceful_shutdown();
                } else if changed.is_ok() {
                    stopping = false;
                }
            }
        }
    }
}

/// hyper-util's auto builder with `serve`'s settings: timers, the header read timeout, extended
/// CONNECT and keepalive pings for HTTP/2.
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

//! [`serve`]: a server for plain hyper users that is safe by default (feature `server`, on by
//! default).
//!
//! It accepts on a [`TcpListener`] and serves each connection with hyper-util's auto builder
//! (HTTP/1.1 with upgrades, HTTP/2 with extended CONNECT, so WebSockets work over both;
//! without the `http2` feature, hyper's HTTP/1.1 builder with upgrades), and
//! adds what a server facing the internet needs and hyper leaves to its user:
//!
//! | setting | default | why |
//! |---|---|---|
//! | [`header_read_timeout`](Serve::header_read_timeout) | 10 s | a client that sends half a request (slowloris) or nothing is dropped; covers hyper-util's HTTP version sniff too, which has no timeout of its own |
//! | [`max_connections`](Serve::max_connections) | 16,384 | past it, accepting pauses (connections wait in the listen backlog) until one closes; upgraded WebSockets count until they close |
//! | accept errors | back off | out of file descriptors (EMFILE, ENFILE) or memory: wait 5 ms, doubling to 500 ms, and keep serving; a connection reset before `accept` is skipped; logged once per burst, not per connection |
//! | `TCP_NODELAY` | on | WebSocket messages are small writes that should not wait for Nagle |
//! | `http2_keep_alive_interval` | 30 s | HTTP/2 pings find dead peers (feature `http2`) |
//! | [`shutdown_timeout`](Serve::shutdown_timeout) | 15 s | after the signal of [`with_graceful_shutdown`](Serve::with_graceful_shutdown), how long to wait for connections to end |
//!
//! Graceful shutdown stops accepting, lets every HTTP connection finish its requests (HTTP/2
//! gets a GOAWAY), and closes every WebSocket with 1001: `serve` puts its own
//! [`GracefulShutdown`] in every request's extensions, and a
//! [`WebSocketUpgradeLayer`](crate::WebSocketUpgradeLayer) without one of its own
//! ([`graceful_shutdown`](crate::WebSocketUpgradeLayer::graceful_shutdown)) tracks its
//! connections there (a layer given a handle of its own keeps it: trigger that one yourself
//! when the signal comes). Nothing a remote peer does is logged above `debug`, except the two
//! once-per-burst lines above (connection limit reached, accept failing for lack of
//! resources).
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{Layer, service_fn};
//! use tower_websocket::{Conn, WebSocketUpgradeLayer, server};
//!
//! async fn echo(mut conn: Conn) {
//!     while let Some(Ok(message)) = conn.recv().await {
//!         if message.is_data() && conn.send(message).await.is_err() {
//!             break;
//!         }
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = service_fn(|_request| async {
//!     Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("hello"))))
//! });
//! let service = WebSocketUpgradeLayer::new(echo).path("/ws").layer(app);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! server::serve(listener, service)
//!     .with_graceful_shutdown(async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await
//! # }
//! ```
//!
//! # Next to `axum::serve`
//!
//! `axum::serve` enables upgrades and extended CONNECT, backs off 1 s after an accept error
//! (logging each one at error level) and shuts HTTP connections down gracefully. It sets no
//! header read timeout, no connection cap and no `TCP_NODELAY` (its listener's `tap_io` can),
//! and does not wait for, or close, upgraded WebSockets. In an axum app, give the layer
//! [`max_connections`](crate::WebSocketUpgradeLayer::max_connections) and a
//! [`GracefulShutdown`] of its own (see `examples/axum.rs`), or serve the `Router` with this
//! `serve`, which takes any tower service.

mod accept;
mod connection;
pub(crate) mod stream;

use std::error::Error as StdError;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower_service::Service;

use crate::conn::GracefulShutdown;
use accept::Acceptor;

/// Serves `service` on every connection `listener` accepts; see the [module docs](self) for
/// what it sets up and the defaults. Await it (it runs until the listener fails), or add
/// [`with_graceful_shutdown`](Serve::with_graceful_shutdown).
pub fn serve<S, B>(listener: TcpListener, service: S) -> Serve<S>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    Serve {
        listener,
        service,
        settings: Settings::default(),
    }
}

/// The settings of one [`serve`].
#[derive(Debug, Clone)]
struct Settings {
    header_read_timeout: Option<Duration>,
    max_connections: usize,
    shutdown_timeout: Duration,
    #[cfg(feature = "http2")]
    http2_keep_alive_interval: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            header_read_timeout: Some(DEFAULT_HEADER_READ_TIMEOUT),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            #[cfg(feature = "http2")]
            http2_keep_alive_interval: Some(DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL),
        }
    }
}

/// Default [`Serve::header_read_timeout`]: 10 seconds (as Python's `websockets`).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Default [`Serve::max_connections`]: 16,384.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;

/// Default [`Serve::shutdown_timeout`]: 15 seconds, the default close timeout of a WebSocket
/// (10 s) and some.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);

/// Default [`Serve::http2_keep_alive_interval`]: 30 seconds.
#[cfg(feature = "http2")]
pub const DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// A server being set up by [`serve`]; await it to run it.
#[must_use = "a server does nothing until awaited"]
pub struct Serve<S> {
    listener: TcpListener,
    service: S,
    settings: Settings,
}

impl<S> Serve<S> {
    /// How long a client has to send a complete request head, from the moment it connects
    /// for its first request (the HTTP version sniff included) and for each later HTTP/1.1
    /// request; a client that takes longer is disconnected. Default 10 s; `None` waits
    /// forever (not advisable on a public port).
    pub fn header_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.header_read_timeout = timeout.filter(|t| !t.is_zero());
        self
    }

    /// The most connections served at once (HTTP and WebSocket alike; an HTTP/2 connection
    /// counts once, whatever it carries). At the limit, accepting pauses until a connection
    /// closes: new clients wait in the listen backlog, then get refused by the kernel when it is
    /// full. Default 16,384; keep it under the process's file-descriptor limit (`ulimit -n`).
    /// For a `503` answer to WebSocket handshakes instead, also set
    /// [`WebSocketUpgradeLayer::max_connections`](crate::WebSocketUpgradeLayer::max_connections)
    /// a little lower.
    pub fn max_connections(mut self, max: usize) -> Self {
        // At least one; at most what a semaphore (and `acquire_many`) can count.
        let most = Semaphore::MAX_PERMITS.min(u32::MAX as usize);
        self.settings.max_connections = max.clamp(1, most);
        self
    }

    /// After the shutdown signal, how long to wait for connections to finish before
    /// returning (default 15 s). Connections still open then are left to the runtime.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.settings.shutdown_timeout = timeout;
        self
    }

    /// How often to ping an HTTP/2 connection to check that the peer is alive (default 30 s;
    /// `None` turns pings off). Feature `http2`.
    #[cfg(feature = "http2")]
    pub fn http2_keep_alive_interval(mut self, interval: Option<Duration>) -> Self {
        self.settings.http2_keep_alive_interval = interval.filter(|t| !t.is_zero());
        self
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Runs until `signal` completes, then shuts down gracefully: stops accepting, finishes
    /// HTTP connections (HTTP/2 gets a GOAWAY), closes every WebSocket with 1001 (see the
    /// [module docs](self)), and waits for all of them, at most the
    /// [`shutdown_timeout`](Self::shutdown_timeout).
    pub fn with_graceful_shutdown<F>(self, signal: F) -> WithGracefulShutdown<S, F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        WithGracefulShutdown {
            serve: self,
            signal,
        }
    }
}

impl<S> fmt::Debug for Serve<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A [`Serve`] that shuts down gracefully when its signal completes; await it to run it.
#[must_use = "a server does nothing until awaited"]
pub struct WithGracefulShutdown<S, F> {
    serve: Serve<S>,
    signal: F,
}

impl<S, F> fmt::Debug for WithGracefulShutdown<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithGracefulShutdown")
            .field("serve", &self.serve)
            .finish_non_exhaustive()
    }
}

/// The future of an awaited [`Serve`] or [`WithGracefulShutdown`]: `Ok(())` after a graceful
/// shutdown, `Err` if the listener itself fails.
#[must_use = "futures do nothing unless polled"]
pub struct ServeFuture(Pin<Box<dyn Future<Output = io::Result<()>> + Send>>);

impl Future for ServeFuture {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for ServeFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServeFuture")
    }
}

impl<S, B> IntoFuture for Serve<S>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Output = io::Result<()>;
    type IntoFuture = ServeFuture;

    fn into_future(self) -> ServeFuture {
        ServeFuture(Box::pin(run(self, std::future::pending())))
    }
}

impl<S, B, F> IntoFuture for WithGracefulShutdown<S, F>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    F: Future<Output = ()> + Send + 'static,
{
    type Output = io::Result<()>;
    type IntoFuture = ServeFuture;

    fn into_future(self) -> ServeFuture {
        ServeFuture(Box::pin(run(self.serve, self.signal)))
    }
}

/// The accept loop, then the graceful shutdown once `signal` completes.
async fn run<S, B>(serve: Serve<S>, signal: impl Future<Output = ()>) -> io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let Serve {
        listener,
        service,
        settings,
    } = serve;
    let settings = Arc::new(settings);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let websockets = GracefulShutdown::new();
    let (stop, stopped) = watch::channel(false);
    let mut signal = std::pin::pin!(signal);
    let mut acceptor = Acceptor::new(listener, slots.clone(), settings.max_connections);
    while let Some(stream) = acceptor.next(&mut signal).await? {
        tokio::spawn(connection::serve_connection(
            stream,
            service.clone(),
            settings.clone(),
            websockets.clone(),
            stopped.clone(),
        ));
    }
    drop(acceptor);
    tracing::debug!("shutting down: no longer accepting; closing connections");
    let _ = stop.send(true);
    websockets.trigger();
    drain(&slots, &settings).await;
    Ok(())
}

/// Waits until every connection has given its place under the cap back, at most the shutdown
/// timeout.
async fn drain(slots: &Semaphore, settings: &Settings) {
    let max = settings.max_connections;
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    match tokio::time::timeout(settings.shutdown_timeout, slots.acquire_many(all)).await {
        Ok(_) => tracing::debug!("shutdown complete: every connection closed"),
        Err(_) => tracing::debug!(
            open = max - slots.available_permits(),
            "shutdown timeout passed with connections still open"
        ),
    }
}

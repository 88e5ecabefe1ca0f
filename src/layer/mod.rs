//! The tower layer: [`WebSocketUpgradeLayer`] makes a [`WebSocketUpgrade`] service around the
//! inner one, which answers handshakes ([`ResponseFuture`], [`UpgradeBody`]) and runs the
//! handler on each connection hyper hands over. The only floor that knows hyper.

mod body;
mod detach;
mod filter;
mod future;
mod handler;
mod hooks;
mod pending;
mod policy;
mod rejection;
mod service;
mod upgrade;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Response};
use tower_layer::Layer;

pub use body::UpgradeBody;
pub use future::ResponseFuture;
pub use handler::{Handler, HandlerOutput};
pub use hooks::{FailedUpgrade, Handshake, OwnedHandshake, ProtocolNotOffered, Refusal};
pub use rejection::Rejection;
pub use service::WebSocketUpgrade;

use crate::conn::tracking::{ConnectionLimit, GracefulShutdown};
use crate::conn::{Config, Conn};
use crate::handshake::OriginPolicy;
#[cfg(feature = "deflate")]
use crate::proto::DeflateConfig;
use filter::Filter;
use policy::{AcceptHook, AsyncAcceptOutput, Policy};

/// Answers WebSocket handshakes and runs `handler` on each accepted connection; every other
/// request goes to the wrapped service untouched.
///
/// ```no_run
/// use tower_websocket::{Conn, WebSocketUpgradeLayer};
///
/// async fn echo(mut conn: Conn) {
///     while let Some(Ok(message)) = conn.recv().await {
///         if message.is_data() && conn.send(message).await.is_err() {
///             break;
///         }
///     }
/// }
///
/// let layer = WebSocketUpgradeLayer::new(echo).path("/ws");
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct WebSocketUpgradeLayer<H> {
    handler: H,
    filter: Filter,
    config: Arc<Config>,
    policy: Arc<Policy>,
}

impl<H> WebSocketUpgradeLayer<H> {
    /// A layer that runs `handler` for every accepted WebSocket connection.
    pub fn new<Fut>(handler: H) -> Self
    where
        H: Fn(Conn) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutput,
    {
        Self {
            handler,
            filter: Filter::default(),
            config: Arc::new(Config::default()),
            policy: Arc::new(Policy::default()),
        }
    }

    /// Only answer handshakes whose path is exactly `path`; upgrade requests for other paths go
    /// to the inner service.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.filter.path = Some(Arc::from(path.into()));
        self
    }

    /// Only answer handshakes for which `predicate` returns true (combined with
    /// [`path`](Self::path) if both are set).
    pub fn matching<P>(mut self, predicate: P) -> Self
    where
        P: Fn(&Parts) -> bool + Send + Sync + 'static,
    {
        self.filter.predicate = Some(Arc::new(predicate));
        self
    }

    /// The settings of every accepted connection: size limits, timeouts, keepalive, the write
    /// cap (see [`Config`]).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Arc::new(config);
        self
    }

    /// The subprotocols the server speaks, most preferred first. The first of them (in this,
    /// the server's, order) that the client offers in `Sec-WebSocket-Protocol` is chosen and
    /// readable from [`Conn::protocol`]; if the client offers none of them, the handshake succeeds without a
    /// subprotocol (the accept hook may still choose another offered one, see
    /// [`Handshake::set_protocol`]). Names that are not valid header values are ignored.
    ///
    /// ```
    /// use tower_websocket::{Conn, WebSocketUpgradeLayer};
    ///
    /// # async fn chat(_: Conn) {}
    /// let layer = WebSocketUpgradeLayer::new(chat).protocols(["chat.v2", "chat.v1"]);
    /// # let _ = layer;
    /// ```
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Arc::make_mut(&mut self.policy).protocols = protocols
            .into_iter()
            .filter_map(|p| HeaderValue::from_str(p.as_ref()).ok())
            .collect();
        self
    }

    /// Offers permessage-deflate (RFC 7692), off by default (as in gorilla and Node's `ws`):
    /// clients that offer it get compressed messages (those at or over the threshold) and may
    /// send compressed ones. See [`DeflateConfig`] for the level, threshold, windows, context
    /// takeover and what each costs in memory per connection.
    ///
    /// ```
    /// use tower_websocket::{Conn, DeflateConfig, WebSocketUpgradeLayer};
    ///
    /// # async fn chat(_: Conn) {}
    /// let layer = WebSocketUpgradeLayer::new(chat)
    ///     .deflate(DeflateConfig::new().level(6).threshold(256));
    /// # let _ = layer;
    /// ```
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, deflate: DeflateConfig) -> Self {
        Arc::make_mut(&mut self.policy).deflate = Some(deflate);
        self
    }

    /// Which web pages may connect, by their `Origin` (default:
    /// [`OriginPolicy::same_host`]). Handshakes from other origins are answered `403`.
    pub fn origin(mut self, policy: OriginPolicy) -> Self {
        Arc::make_mut(&mut self.policy).origin = policy;
        self
    }

    /// The accept hook: runs for every handshake that passed the RFC checks and the origin
    /// policy, before the `101` (or HTTP/2 `200`) is sent. It sees the request (with whatever
    /// earlier middleware put in its extensions) and the client's subprotocol offer, may choose
    /// the subprotocol and add response headers (e.g. `Set-Cookie`), and accepts with `Ok(())`
    /// or refuses with any response ([`Refusal`], e.g. from [`Handshake::reject`]). See
    /// [`Handshake`]. A hook that has to wait (for a database, a token service) is
    /// [`on_handshake_async`](Self::on_handshake_async); the layer has one accept hook, the
    /// last one set.
    ///
    /// ```
    /// use http::StatusCode;
    /// use http::header::{HeaderValue, SET_COOKIE};
    /// use tower_websocket::{Conn, WebSocketUpgradeLayer};
    ///
    /// # async fn chat(_: Conn) {}
    /// let layer = WebSocketUpgradeLayer::new(chat).on_handshake(|handshake| {
    ///     if !handshake.request().headers.contains_key("authorization") {
    ///         return Err(handshake.reject(StatusCode::UNAUTHORIZED, "log in first"));
    ///     }
    ///     // The client's order decides here, among the versions this server speaks.
    ///     let choice = handshake.offered_protocols().find(|p| p.starts_with("chat.v"));
    ///     if let Some(protocol) = choice {
    ///         handshake.set_protocol(protocol).ok();
    ///     }
    ///     handshake
    ///         .headers_mut()
    ///         .insert(SET_COOKIE, HeaderValue::from_static("seen=1; HttpOnly"));
    ///     Ok(())
    /// });
    /// # let _ = layer;
    /// ```
    pub fn on_handshake<F>(mut self, hook: F) -> Self
    where
        F: Fn(&mut Handshake<'_>) -> Result<(), Refusal> + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.policy).accept = Some(AcceptHook::Sync(Arc::new(hook)));
        self
    }

    /// The accept hook, for a decision that has to wait (a database, a token service): `hook`
    /// returns a future, which the layer awaits before it answers `101` (or `200`). It can do
    /// what [`on_handshake`](Self::on_handshake) does (read the request and its extensions,
    /// see the client's subprotocol offer, choose the subprotocol, add response headers,
    /// refuse with any [`Refusal`]) through an [`OwnedHandshake`], and gives the handshake back
    /// to accept: `Ok(handshake)`. It replaces any `on_handshake` hook (and vice versa).
    ///
    /// The future must be `'static`, so it cannot borrow the request as [`Handshake`] does:
    /// the hook gets the handshake by value and returns it. The request is shared with the
    /// layer behind an `Arc`, not copied, and handed on to the connection once the handshake
    /// comes back; choices are checked as they are made ([`OwnedHandshake::set_protocol`]
    /// refuses a subprotocol the client did not offer at once), and no separate decision type
    /// has to be kept in step with the request it answers. What it costs, only with this
    /// hook: the `Arc` and two boxed futures per handshake. A handshake without a hook, or with
    /// `on_handshake`, is answered at once as before.
    ///
    /// While the future runs, the handshake holds its place under
    /// [`max_connections`](Self::max_connections) and counts as live for a
    /// [`GracefulShutdown`]. It is bounded by the [`handshake_timeout`](Self::handshake_timeout)
    /// (default 10 s): past it the future is dropped and the client gets `503`
    /// ([`Rejection::HandshakeTimeout`]); a shutdown that starts meanwhile drops it too and
    /// answers `503` ([`Rejection::ShuttingDown`]); a client that disconnects just drops it.
    /// Both rejections go through [`on_rejection`](Self::on_rejection) and are logged at debug
    /// level only.
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// use http::StatusCode;
    /// use http::header::{HeaderValue, SET_COOKIE};
    /// use tower_websocket::{Conn, WebSocketUpgradeLayer};
    ///
    /// /// Stands in for a token service or a database.
    /// #[derive(Clone)]
    /// struct Sessions;
    ///
    /// impl Sessions {
    ///     async fn is_valid(&self, token: &[u8]) -> bool {
    ///         tokio::time::sleep(Duration::from_millis(5)).await;
    ///         token == b"Bearer let-me-in"
    ///     }
    /// }
    ///
    /// # async fn chat(_: Conn) {}
    /// let sessions = Sessions;
    /// let layer = WebSocketUpgradeLayer::new(chat)
    ///     .handshake_timeout(Duration::from_secs(5))
    ///     .on_handshake_async(move |mut handshake| {
    ///         let sessions = sessions.clone();
    ///         async move {
    ///             let token = handshake.request().headers.get("authorization");
    ///             let token = token.map_or(&b""[..], HeaderValue::as_bytes);
    ///             if !sessions.is_valid(token).await {
    ///                 return Err(handshake.reject(StatusCode::UNAUTHORIZED, "log in first"));
    ///             }
    ///             // The client's order decides, among the versions this server speaks; the
    ///             // offer borrows the handshake, so copy the choice out first.
    ///             let choice = handshake.offered_protocols().find(|p| p.starts_with("chat.v"));
    ///             if let Some(protocol) = choice.map(str::to_owned) {
    ///                 handshake.set_protocol(&protocol).ok();
    ///             }
    ///             handshake
    ///                 .headers_mut()
    ///                 .insert(SET_COOKIE, HeaderValue::from_static("seen=1; HttpOnly"));
    ///             Ok(handshake)
    ///         }
    ///     });
    /// # let _ = layer;
    /// ```
    pub fn on_handshake_async<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(OwnedHandshake) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = AsyncAcceptOutput> + Send + 'static,
    {
        let hook = move |handshake| Box::pin(hook(handshake)) as _;
        Arc::make_mut(&mut self.policy).accept = Some(AcceptHook::Async(Arc::new(hook)));
        self
    }

    /// How long the [`on_handshake_async`](Self::on_handshake_async) hook may take to decide
    /// (default 10 s, as the server's header read timeout): past it, the client is answered
    /// `503` ([`Rejection::HandshakeTimeout`]) and the hook's future is dropped. It bounds how
    /// long a slow token service or database holds a handshake's connection and its place
    /// under the cap. `Duration::ZERO` turns the limit off (as a zero timeout does in
    /// [`Config`]; not advisable).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.policy).handshake_timeout = unbounded_if_zero(timeout);
        self
    }

    /// Replaces the layer's own rejection responses (`400`, `403`, `405`, `426`, `505`, the
    /// `503`s of a shutdown, the connection cap or the handshake timeout, and the `500` of a
    /// server without upgrades):
    /// `hook` gets the [`Rejection`] and the request and returns the response to send;
    /// [`Rejection::response_for`] is the default. The rejection is also put in the response
    /// extensions, hook or not.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::{Response, header};
    /// use tower_websocket::{Conn, WebSocketUpgradeLayer};
    ///
    /// # async fn chat(_: Conn) {}
    /// let layer = WebSocketUpgradeLayer::new(chat).on_rejection(|rejection, request| {
    ///     let mut response = rejection.response_for(request.version);
    ///     let json = format!(r#"{{"error":{:?}}}"#, rejection.reason());
    ///     *response.body_mut() = Bytes::from(json);
    ///     response.headers_mut().insert(
    ///         header::CONTENT_TYPE,
    ///         header::HeaderValue::from_static("application/json"),
    ///     );
    ///     response
    /// });
    /// # let _ = layer;
    /// ```
    pub fn on_rejection<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Rejection, &Parts) -> Response<Bytes> + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.policy).rejection = Some(Arc::new(hook));
        self
    }

    /// Tracks every connection in `shutdown` (a clone of the handle is kept): once it is
    /// triggered, live connections close with 1001 and new handshakes get `503`; see
    /// [`GracefulShutdown`]. Without one, the layer uses the `GracefulShutdown` it finds in
    /// the request extensions, which [`server::serve`](crate::server::serve) puts there.
    pub fn graceful_shutdown(mut self, shutdown: &GracefulShutdown) -> Self {
        Arc::make_mut(&mut self.policy).shutdown = Some(shutdown.clone());
        self
    }

    /// Caps the live WebSocket connections of this layer (those of every service it made,
    /// counted until each `Conn` is dropped): a handshake over the cap is answered `503` with
    /// `Retry-After: 1` ([`Rejection::TooManyConnections`]). No cap by default; the
    /// socket count of the whole server is [`server::Serve::max_connections`](crate::server::Serve::max_connections)'s
    /// business.
    ///
    /// The place is taken when the handshake passes the layer's checks, before the accept hook
    /// runs, and the count is exact: handshakes waiting for an
    /// [`on_handshake_async`](Self::on_handshake_async) hook (and those it will refuse)
    /// count while they wait.
    pub fn max_connections(mut self, max: usize) -> Self {
        Arc::make_mut(&mut self.policy).limit = Some(ConnectionLimit::new(max));
        self
    }

    /// How long to wait, after answering `101` (or `200`), for the HTTP server to hand the
    /// connection over (default 10 s). Past it, or when a graceful shutdown starts meanwhile,
    /// the connection is dropped without running the handler. `Duration::ZERO` turns the
    /// limit off (a shutdown still ends the wait).
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.policy).upgrade_timeout = unbounded_if_zero(timeout);
        self
    }

    /// Called when an accepted handshake cannot take the connection over, typically because
    /// the server does not enable upgrades (see [`FailedUpgrade`]); the handler does not run.
    /// The failure is logged at error level either way.
    pub fn on_failed_upgrade<F>(mut self, hook: F) -> Self
    where
        F: Fn(FailedUpgrade) + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.policy).failed_upgrade = Some(Arc::new(hook));
        self
    }
}

impl<S, H: Handler> Layer<S> for WebSocketUpgradeLayer<H> {
    type Service = WebSocketUpgrade<S, H>;

    fn layer(&self, inner: S) -> Self::Service {
        WebSocketUpgrade::new(
            inner,
            self.handler.clone(),
            self.filter.clone(),
            self.config.clone(),
            self.policy.clone(),
        )
    }
}

/// A zero timeout turns the limit off (tokio's timeout treats `Duration::MAX` as never).
fn unbounded_if_zero(timeout: Duration) -> Duration {
    if timeout.is_zero() {
        Duration::MAX
    } else {
        timeout
    }
}

impl<H> fmt::Debug for WebSocketUpgradeLayer<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgradeLayer")
            .field("filter", &self.filter)
            .field("config", &self.config)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

//! [`WebSocketUpgradeLayer`]: the `tower::Layer` users add to their stack.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use http::request::Parts;
use tower_layer::Layer;

use crate::handler::{Handler, HandlerOutput};
use crate::service::WebSocketUpgrade;
use crate::{Config, Conn};

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

    /// Sets the handshake and connection settings.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Arc::new(config);
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
        )
    }
}

impl<H> fmt::Debug for WebSocketUpgradeLayer<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgradeLayer")
            .field("filter", &self.filter)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

type Predicate = Arc<dyn Fn(&Parts) -> bool + Send + Sync>;

/// Which requests the layer considers.
#[derive(Clone, Default)]
pub(crate) struct Filter {
    path: Option<Arc<str>>,
    predicate: Option<Predicate>,
}

impl Filter {
    pub(crate) fn matches(&self, parts: &Parts) -> bool {
        self.path
            .as_deref()
            .is_none_or(|path| parts.uri.path() == path)
            && self
                .predicate
                .as_ref()
                .is_none_or(|predicate| predicate(parts))
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("path", &self.path)
            .field("predicate", &self.predicate.is_some())
            .finish()
    }
}

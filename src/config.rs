//! Connection and handshake settings, with documented defaults.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use crate::proto::{DeflateConfig, Limits};

/// Settings for the handshake and for every connection the layer accepts.
///
/// ```
/// use std::time::Duration;
/// use tower_websocket::Config;
///
/// let config = Config::new()
///     .max_message_size(1 << 20)
///     .close_timeout(Duration::from_secs(5))
///     .protocols(["chat.v2", "chat.v1"]);
/// assert_eq!(config.limits().get_max_message_size(), 1 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) limits: Limits,
    pub(crate) close_timeout: Duration,
    pub(crate) protocols: Arc<[HeaderValue]>,
    pub(crate) deflate: Option<DeflateConfig>,
}

impl Config {
    /// Default [`close_timeout`](Self::close_timeout): 10 seconds.
    pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

    /// The defaults: [`Limits::default`], a 10 s close timeout, no subprotocols.
    pub fn new() -> Self {
        Self::default()
    }

    /// The size limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Sets every size limit.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// See [`Limits::max_frame_size`] (default 16 MiB).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.limits = self.limits.max_frame_size(bytes);
        self
    }

    /// See [`Limits::max_message_size`] (default 16 MiB).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.limits = self.limits.max_message_size(bytes);
        self
    }

    /// See [`Limits::max_fragments`] (default 131,072).
    pub fn max_fragments(mut self, count: usize) -> Self {
        self.limits = self.limits.max_fragments(count);
        self
    }

    /// How long [`Conn::close`](crate::Conn::close) waits for the peer's Close frame before
    /// dropping the connection anyway (default 10 s).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Enables permessage-deflate (RFC 7692), off by default (as in gorilla and Node's `ws`):
    /// clients that offer it get compressed messages (those at or over the threshold) and may
    /// send compressed ones. See [`DeflateConfig`] for the level, threshold, windows, context
    /// takeover and what each costs in memory per connection.
    ///
    /// ```
    /// use tower_websocket::{Config, DeflateConfig};
    ///
    /// let config = Config::new().deflate(DeflateConfig::new().level(6).threshold(256));
    /// # let _ = config;
    /// ```
    pub fn deflate(mut self, deflate: DeflateConfig) -> Self {
        self.deflate = Some(deflate);
        self
    }

    /// The subprotocols the server speaks, most preferred first. The first one the client
    /// offers in `Sec-WebSocket-Protocol` is chosen and readable from
    /// [`Conn::protocol`](crate::Conn::protocol); if the client offers none of them, the
    /// handshake succeeds without a subprotocol. Names that are not valid header values are
    /// ignored.
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.protocols = protocols
            .into_iter()
            .filter_map(|p| HeaderValue::from_str(p.as_ref()).ok())
            .collect();
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            close_timeout: Self::DEFAULT_CLOSE_TIMEOUT,
            protocols: Arc::new([]),
            deflate: None,
        }
    }
}

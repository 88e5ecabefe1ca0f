//! [`Builder`]: everything about how a client connects, set once, used for any number of
//! connections.

use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::Error;
use super::proxy::Proxy;
use crate::conn::Config;
#[cfg(feature = "deflate")]
use crate::proto::DeflateConfig;

/// The default [`connect_timeout`](Builder::connect_timeout): 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`handshake_timeout`](Builder::handshake_timeout): 10 s.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How a client connects: the URL, headers added to the handshake, subprotocols,
/// compression, the connection's [`Config`], timeouts, TLS, a proxy, redirects and HTTP/2.
///
/// ```no_run
/// # async fn run() -> Result<(), tower_websocket::client::Error> {
/// use std::time::Duration;
/// use tower_websocket::client::Builder;
///
/// let mut conn = Builder::new("wss://example.com/chat")
///     .header("authorization", "Bearer secret")
///     .protocols(["chat.v2", "chat.v1"])
///     .handshake_timeout(Duration::from_secs(5))
///     .connect()
///     .await?;
/// println!("speaking {:?}", conn.protocol());
/// # Ok(()) }
/// ```
///
/// The defaults, and why:
///
/// | setting | default | |
/// |---|---|---|
/// | [`connect_timeout`](Self::connect_timeout) | 10 s | DNS, TCP, the proxy's tunnel and TLS |
/// | [`handshake_timeout`](Self::handshake_timeout) | 10 s | the request until the `101` |
/// | [`max_redirects`](Self::max_redirects) | 0 | as browsers: a 3xx is a [`Refused`](Error::Refused) |
/// | [`proxy`](Self::proxy) | none | [`proxy_from_env`](Self::proxy_from_env) opts in |
/// | TLS roots | webpki-roots | Mozilla's list, compiled in: the same on every machine |
/// | [`http2`](Self::http2) | off | HTTP/1.1, which every WebSocket server speaks |
///
/// gorilla's dialer allows 45 s for all of it; a server that answers at all answers in well
/// under a second, and an unreachable one is better reported in 10 s than in 45 (a connect
/// that fails outright, a refused port say, is reported at once either way).
#[derive(Debug, Clone)]
pub struct Builder {
    pub(crate) url: String,
    pub(crate) headers: HeaderMap,
    pub(crate) invalid_header: bool,
    pub(crate) protocols: Vec<HeaderValue>,
    #[cfg(feature = "deflate")]
    pub(crate) deflate: Option<DeflateConfig>,
    pub(crate) config: Config,
    pub(crate) connect_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_redirects: usize,
    pub(crate) proxy: ProxyChoice,
    #[cfg(feature = "rustls")]
    pub(crate) tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    #[cfg(feature = "http2")]
    pub(crate) http2: bool,
}

/// Where the proxy setting comes from.
#[derive(Debug, Clone)]
pub(crate) enum ProxyChoice {
    None,
    Explicit(Proxy),
    FromEnv,
}

impl Builder {
    /// A client for `url` (`ws://` or `wss://`), with the defaults above. The URL is checked
    /// when connecting.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            headers: HeaderMap::new(),
            invalid_header: false,
            protocols: Vec::new(),
            #[cfg(feature = "deflate")]
            deflate: None,
            config: Config::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_redirects: 0,
            proxy: ProxyChoice::None,
            #[cfg(feature = "rustls")]
            tls: None,
            #[cfg(feature = "http2")]
            http2: false,
        }
    }

    /// Adds a header to the handshake request (`Authorization`, `Cookie`, `Origin`,
    /// `User-Agent`, ...). Headers add up: the same name twice sends two lines. `Host` replaces
    /// the one made from the URL. The headers the handshake writes itself (`Upgrade`,
    /// `Connection`, `Sec-WebSocket-*`) cannot be added: [`connect`](Self::connect) returns
    /// [`Error::ReservedHeader`]; use [`protocols`](Self::protocols) and `deflate` instead.
    /// A name or value that is not valid HTTP is reported by `connect` as
    /// [`Error::InvalidHeader`].
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
            }
            _ => {
                self.invalid_header = true;
            }
        }
        self
    }

    /// Offers these subprotocols, in order of preference (`Sec-WebSocket-Protocol`). The
    /// server's choice, if it makes one, must be one of them; it is
    /// [`Conn::protocol`](crate::Conn::protocol).
    pub fn protocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: TryInto<HeaderValue>,
    {
        for protocol in protocols {
            match protocol.try_into() {
                Ok(value) => self.protocols.push(value),
                Err(_) => {
                    self.invalid_header = true;
                }
            }
        }
        self
    }

    /// Offers permessage-deflate (RFC 7692) with all four of `config`'s parameters: the
    /// client's window and context takeover (`client_max_window_bits`,
    /// `client_no_context_takeover`) and what it asks of the server's. Messages of at least
    /// `config.threshold` bytes are then sent compressed, with `config.level`. Feature
    /// `deflate`.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, config: DeflateConfig) -> Self {
        self.deflate = Some(config);
        self
    }

    /// The connection's limits, timeouts and keepalive, as on the server side.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// How long DNS, the TCP connect, a proxy's tunnel and the TLS handshake may take in all
    /// (default 10 s), and with [`http2`](Self::http2) the wait for the server's HTTP/2
    /// SETTINGS too: what is left of it when TLS is done. Zero turns the bound off.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long the server may take to answer the handshake, from the request's first byte to
    /// the `101` (default 10 s). Zero turns the bound off.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Follows up to `n` redirects (`301`, `302`, `303`, `307`, `308` with a `Location`).
    /// Default 0: as browsers do, a redirect is an error ([`Error::Refused`], with the
    /// `Location` in its headers). Headers added with [`header`](Self::header) that carry
    /// credentials (`Authorization`, `Cookie`) are not sent to another origin.
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }

    /// Connects through this HTTP proxy, with `CONNECT` (for `ws://` too, so the proxy never
    /// reads the WebSocket).
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = ProxyChoice::Explicit(proxy);
        self
    }

    /// Takes the proxy from the environment, as curl does: `HTTPS_PROXY` for `wss://`,
    /// `HTTP_PROXY` for `ws://` (either also lower case; `ALL_PROXY` for both), except for
    /// hosts in `NO_PROXY`. Off unless called: a library should not route traffic by
    /// environment on its own.
    pub fn proxy_from_env(mut self) -> Self {
        self.proxy = ProxyChoice::FromEnv;
        self
    }

    /// The TLS configuration for `wss://`: roots, client certificates, protocol versions.
    /// Its ALPN list is used as given; if it is empty, `http/1.1` is offered (and `h2` first
    /// with [`http2`](Self::http2)). Default: rustls with the `ring` provider and the
    /// webpki-roots trust anchors. Feature `rustls`.
    #[cfg(feature = "rustls")]
    pub fn tls_config(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Opens the WebSocket over HTTP/2 (RFC 8441) when the server speaks it: over TLS, `h2`
    /// is offered by ALPN next to `http/1.1` and whichever the server picks is used; over
    /// `ws://`, HTTP/2 is spoken with prior knowledge (h2c), so the server must accept it. An
    /// HTTP/2 server that does not enable extended CONNECT gives
    /// [`Error::ExtendedConnectUnavailable`]. Feature `http2`.
    #[cfg(feature = "http2")]
    pub fn http2(mut self, enable: bool) -> Self {
        self.http2 = enable;
        self
    }

    /// The headers the user added, checked: none of those the handshake writes.
    pub(crate) fn checked_headers(&self) -> Result<HeaderMap, Error> {
        if self.invalid_header {
            return Err(Error::InvalidHeader);
        }
        const RESERVED: [HeaderName; 7] = [
            header::UPGRADE,
            header::CONNECTION,
            header::SEC_WEBSOCKET_KEY,
            header::SEC_WEBSOCKET_VERSION,
            header::SEC_WEBSOCKET_PROTOCOL,
            header::SEC_WEBSOCKET_EXTENSIONS,
            header::SEC_WEBSOCKET_ACCEPT,
        ];
        if let Some(name) = RESERVED.iter().find(|n| self.headers.contains_key(*n)) {
            return Err(Error::ReservedHeader(name.clone()));
        }
        Ok(self.headers.clone())
    }
}

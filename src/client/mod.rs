//! The WebSocket client: `ws://` and `wss://`, over the same protocol core and the same
//! [`Conn`] as the server side. Feature `client` (on by default); TLS with feature `rustls`
//! (on by default); RFC 8441 over HTTP/2 with feature `http2`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_websocket::{Message, client};
//!
//! let mut conn = client::connect("ws://127.0.0.1:3000/ws").await?;
//! conn.send(Message::text("hello")).await?;
//! if let Some(Ok(reply)) = conn.recv().await {
//!     println!("{reply:?}");
//! }
//! conn.close_with(tower_websocket::CloseCode::NORMAL, "bye").await?;
//! # Ok(()) }
//! ```
//!
//! A [`Builder`] sets the rest: headers added to the request, subprotocols, permessage-deflate,
//! the connection's [`Config`](crate::Config), timeouts, TLS, a proxy, redirects, HTTP/2.
//! [`Builder::connect_on`] runs the handshake over a stream you already have (a Unix socket,
//! your own TLS, a test duplex).
//!
//! The server's answer is checked strictly (RFC 6455 §4.1): a `101` with `Upgrade: websocket`,
//! `Connection: upgrade` and the `Sec-WebSocket-Accept` of the key sent, a subprotocol only
//! from those offered, extensions only as offered. Anything else fails the connection with an
//! [`Error`] that keeps the status and headers: [`Error::Refused`] for an answer other than
//! `101` (with its body), [`Error::BadAnswer`] for a `101` that breaks the rules.
//!
//! Every frame the client sends is masked with a fresh key from a CSPRNG (rand's ChaCha12,
//! seeded from the OS), as RFC 6455 §10.3 asks.

mod builder;
mod deadline;
mod dial;
mod error;
#[cfg(feature = "http2")]
mod h2;
mod handshake;
mod http1;
mod proxy;
mod target;
#[cfg(feature = "rustls")]
mod tls;

pub use builder::{Builder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT};
pub use error::Error;
pub use proxy::Proxy;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::conn::Conn;

/// Connects to `url` (`ws://` or `wss://`) with the default [`Builder`].
pub async fn connect(url: impl Into<String>) -> Result<Conn, Error> {
    Builder::new(url).connect().await
}

impl Builder {
    /// Connects: DNS and TCP (through the proxy, if one is set), TLS for `wss://`, then the
    /// handshake, following redirects if allowed. The `Conn` has the request sent as its
    /// [`request`](Conn::request) and the server's answer as its
    /// [`response`](Conn::response).
    pub async fn connect(&self) -> Result<Conn, Error> {
        dial::connect(self).await
    }

    /// Runs the HTTP/1.1 handshake over `io`, a stream already connected to the URL's server
    /// (and already secured, for `wss://`: the URL gives the `Host` header and path only).
    /// The handshake timeout applies; redirects are not followed (there is no way to dial
    /// their target): a redirect is [`Error::Refused`].
    pub async fn connect_on<T>(&self, io: T) -> Result<Conn<T>, Error>
    where
        T: AsyncRead + AsyncWrite + Unpin,
    {
        let target = target::Target::parse(&self.url)?;
        let headers = self.checked_headers()?;
        handshake::http1(self, &target, &headers, io).await
    }
}

//! Why a client could not open a WebSocket.

use std::fmt;
use std::io;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};

use crate::handshake::client::AnswerError;

/// Why [`connect`](super::connect) or a [`Builder`](super::Builder) could not open a WebSocket.
///
/// `Display` says what failed in one line; the cause (an IO or TLS error, say) is the
/// [`source`](std::error::Error::source), not repeated in the message, so a report that walks
/// the chain (anyhow's `{:#}`, tracing) shows each part once.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not a `ws://` or `wss://` URL this client can use.
    InvalidUrl(&'static str),
    /// A header the user added is one the handshake itself writes (`Upgrade`, `Connection`,
    /// `Sec-WebSocket-*`): use the builder's methods for subprotocols and compression.
    ReservedHeader(http::HeaderName),
    /// A header name, header value or subprotocol given to the builder is not valid HTTP.
    InvalidHeader,
    /// Resolving the host or opening the TCP connection failed.
    Connect(io::Error),
    /// The TCP connection, the proxy tunnel and TLS were not done within the connect timeout.
    ConnectTimeout,
    /// The server did not answer the handshake within the handshake timeout.
    HandshakeTimeout,
    /// The TLS handshake failed (an untrusted certificate, a name mismatch, no common
    /// protocol version); the source is rustls's error.
    Tls(io::Error),
    /// The proxy refused the tunnel (its answer to `CONNECT` was not 2xx).
    ProxyRefused(StatusCode),
    /// The server answered the handshake with a status other than `101` (`200` over HTTP/2):
    /// the whole answer is here, its body cut at 64 KiB. Redirects end here too unless
    /// [`max_redirects`](super::Builder::max_redirects) allows following them.
    Refused(Box<Response<Bytes>>),
    /// The server switched protocols but its answer breaks RFC 6455: the connection was
    /// failed. The answer's status and headers are kept.
    BadAnswer {
        /// What is wrong with it.
        error: AnswerError,
        /// The answer's status and headers.
        response: Box<Response<()>>,
    },
    /// More redirects than [`max_redirects`](super::Builder::max_redirects) allows.
    TooManyRedirects,
    /// The HTTP exchange itself failed: the server closed the connection before answering,
    /// sent something that is not HTTP, or a head over 64 KiB.
    Http(io::Error),
    /// The server speaks HTTP/2 but did not enable extended CONNECT (RFC 8441), so it
    /// cannot carry a WebSocket over HTTP/2.
    ExtendedConnectUnavailable,
}

impl Error {
    /// The HTTP status of the server's answer, when there was one (a refusal, a bad answer)
    /// or the proxy's.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Refused(response) => Some(response.status()),
            Self::BadAnswer { response, .. } => Some(response.status()),
            Self::ProxyRefused(status) => Some(*status),
            _ => None,
        }
    }

    /// The headers of the server's answer, when there was one.
    pub fn headers(&self) -> Option<&HeaderMap> {
        match self {
            Self::Refused(response) => Some(response.headers()),
            Self::BadAnswer { response, .. } => Some(response.headers()),
            _ => None,
        }
    }

    /// Whether a timeout ended the attempt.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::ConnectTimeout | Self::HandshakeTimeout)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl(why) => write!(f, "invalid WebSocket URL: {why}"),
            Self::ReservedHeader(name) => {
                write!(
                    f,
                    "the handshake writes `{name}` itself; it cannot be added"
                )
            }
            Self::InvalidHeader => f.write_str("a header or subprotocol is not valid HTTP"),
            Self::Connect(_) => f.write_str("could not connect"),
            Self::ConnectTimeout => f.write_str("connect timed out"),
            Self::HandshakeTimeout => {
                f.write_str("the server did not answer the handshake in time")
            }
            Self::Tls(_) => f.write_str("TLS handshake failed"),
            Self::ProxyRefused(status) => write!(f, "the proxy refused the tunnel: {status}"),
            Self::Refused(response) => {
                write!(f, "the server refused the WebSocket: {}", response.status())
            }
            Self::BadAnswer { response, .. } => write!(
                f,
                "the server's handshake answer ({}) breaks RFC 6455",
                response.status()
            ),
            Self::TooManyRedirects => f.write_str("too many redirects"),
            Self::Http(_) => f.write_str("the HTTP exchange failed"),
            Self::ExtendedConnectUnavailable => {
                f.write_str("the HTTP/2 server does not support WebSockets (no extended CONNECT)")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Connect(e) | Self::Tls(e) | Self::Http(e) => Some(e),
            Self::BadAnswer { error, .. } => Some(error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn display_does_not_repeat_the_source() {
        let error = Error::Connect(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
        assert_eq!(error.to_string(), "could not connect");
        assert_eq!(error.source().unwrap().to_string(), "refused");
    }

    #[test]
    fn refusals_carry_status_and_headers() {
        let response = Response::builder()
            .status(403)
            .header("x-why", "origin")
            .body(Bytes::from_static(b"no"))
            .unwrap();
        let error = Error::Refused(Box::new(response));
        assert_eq!(error.status(), Some(StatusCode::FORBIDDEN));
        assert_eq!(error.headers().unwrap()["x-why"], "origin");
        assert_eq!(
            error.to_string(),
            "the server refused the WebSocket: 403 Forbidden"
        );
        assert!(!error.is_timeout());
        assert!(Error::HandshakeTimeout.is_timeout());
    }
}

use std::fmt;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode, Version};

/// Why a handshake was refused; [`response`](Self::response) is what the client is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeRejection {
    /// Not `GET`: 405 with `Allow: GET`.
    MethodNotAllowed,
    /// HTTP/1.0 or older: 505 (WebSocket needs HTTP/1.1's Upgrade).
    HttpVersionTooOld,
    /// No `websocket` token in `Upgrade`: 400.
    MissingUpgradeWebSocket,
    /// No `Upgrade` token in `Connection`: 400.
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Version` missing or not 13: 426 with `Sec-WebSocket-Version: 13`.
    UnsupportedVersion,
    /// No `Sec-WebSocket-Key`: 400.
    MissingKey,
    /// A `Sec-WebSocket-Key` that is not base64 of 16 bytes, or more than one: 400.
    InvalidKey,
    /// The `Origin` is not allowed by the [`OriginPolicy`](super::OriginPolicy): 403.
    OriginNotAllowed,
    /// Not an RFC 8441 extended CONNECT (`CONNECT` with `:protocol: websocket`): 400.
    NotExtendedConnect,
    /// The HTTP server gives no way to take over the connection (hyper's `OnUpgrade` is
    /// missing): 500, naming the fix.
    UpgradeUnavailable,
    /// The server is shutting down ([`GracefulShutdown`](crate::GracefulShutdown) was
    /// triggered): 503.
    ShuttingDown,
    /// The layer's [`max_connections`](crate::WebSocketUpgradeLayer::max_connections) are
    /// live: 503 with `Retry-After: 1`.
    TooManyConnections,
}

impl HandshakeRejection {
    /// The response status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::HttpVersionTooOld => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            Self::UnsupportedVersion => StatusCode::UPGRADE_REQUIRED,
            Self::UpgradeUnavailable => StatusCode::INTERNAL_SERVER_ERROR,
            Self::OriginNotAllowed => StatusCode::FORBIDDEN,
            Self::ShuttingDown | Self::TooManyConnections => StatusCode::SERVICE_UNAVAILABLE,
            Self::MissingUpgradeWebSocket
            | Self::MissingConnectionUpgrade
            | Self::MissingKey
            | Self::InvalidKey
            | Self::NotExtendedConnect => StatusCode::BAD_REQUEST,
        }
    }

    /// The plain-text reason sent as the body.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "WebSocket handshake must use GET",
            Self::HttpVersionTooOld => "WebSocket requires HTTP/1.1 or later",
            Self::MissingUpgradeWebSocket => {
                "WebSocket handshake needs an `Upgrade: websocket` header"
            }
            Self::MissingConnectionUpgrade => {
                "WebSocket handshake needs an `Upgrade` token in the `Connection` header"
            }
            Self::UnsupportedVersion => "unsupported Sec-WebSocket-Version: only 13 is supported",
            Self::MissingKey => "WebSocket handshake needs a `Sec-WebSocket-Key` header",
            Self::InvalidKey => "`Sec-WebSocket-Key` must be one base64-encoded 16-byte value",
            Self::OriginNotAllowed => "WebSocket connections from this Origin are not allowed",
            Self::NotExtendedConnect => {
                "an HTTP/2 WebSocket handshake is a CONNECT with `:protocol: websocket` (RFC 8441)"
            }
            Self::ShuttingDown => "server shutting down: no new WebSocket connections",
            Self::TooManyConnections => "too many WebSocket connections: try again later",
            Self::UpgradeUnavailable => {
                "WebSocket upgrade unavailable: this HTTP server does not support connection upgrades; \
                 serve connections with hyper-util's `auto::Builder::serve_connection_with_upgrades` \
                 or hyper's `http1::Builder::serve_connection(..).with_upgrades()`"
            }
        }
    }

    /// The full response: status, the headers the RFCs require, and the reason as the body.
    pub fn response(&self) -> Response<Bytes> {
        self.response_for(Version::HTTP_11)
    }

    /// [`response`](Self::response) for a request of this HTTP `version`: over HTTP/2 and later
    /// the `426` carries no `Upgrade` header, which those versions forbid.
    pub fn response_for(&self, version: Version) -> Response<Bytes> {
        let mut body = String::with_capacity(self.reason().len() + 1);
        body.push_str(self.reason());
        body.push('\n');
        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        match self {
            Self::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static("GET"));
            }
            Self::UnsupportedVersion => {
                headers.insert(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                );
                if version < Version::HTTP_2 {
                    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                }
            }
            Self::TooManyConnections => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

impl fmt::Display for HandshakeRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for HandshakeRejection {}

//! [`Rejection`]: why the layer refused a handshake, and the response that says so.

use std::fmt;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode, Version};

use crate::handshake::{self, HandshakeRejection};

/// Why the layer answered a handshake with an error instead of `101` (or `200`): the request
/// is not a valid handshake or its origin is not allowed ([`HandshakeRejection`], from the
/// pure [`handshake`](crate::handshake) checks), or the layer cannot take one more connection
/// or could not decide in time.
///
/// The [`on_rejection`](crate::WebSocketUpgradeLayer::on_rejection) hook receives it, and it is
/// in the extensions of every rejection response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The request is not a valid WebSocket handshake, or its `Origin` is not allowed: `4xx`.
    Handshake(HandshakeRejection),
    /// The HTTP server gives no way to take the connection over (hyper's `OnUpgrade` is
    /// missing): `500`, naming the fix.
    UpgradeUnavailable,
    /// The server is shutting down ([`GracefulShutdown`](crate::GracefulShutdown) was
    /// triggered): `503`.
    ShuttingDown,
    /// The layer's [`max_connections`](crate::WebSocketUpgradeLayer::max_connections) are
    /// live: `503` with `Retry-After: 1`.
    TooManyConnections,
    /// An HTTP/2 WebSocket handshake (RFC 8441 extended CONNECT) reached a layer built without
    /// the `http2` feature (the server's HTTP/2 came from another crate's features): `501`,
    /// naming the feature.
    ExtendedConnectUnavailable,
    /// The [`on_handshake_async`](crate::WebSocketUpgradeLayer::on_handshake_async) hook did
    /// not decide within the
    /// [`handshake_timeout`](crate::WebSocketUpgradeLayer::handshake_timeout) (its future was
    /// dropped): `503`.
    HandshakeTimeout,
}

impl Rejection {
    /// The response status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Handshake(rejection) => rejection.status(),
            Self::UpgradeUnavailable => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ShuttingDown | Self::TooManyConnections | Self::HandshakeTimeout => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::ExtendedConnectUnavailable => StatusCode::NOT_IMPLEMENTED,
        }
    }

    /// The plain-text reason sent as the body.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Handshake(rejection) => rejection.reason(),
            Self::UpgradeUnavailable => {
                "WebSocket upgrade unavailable: this HTTP server does not support connection upgrades; \
                 serve connections with hyper-util's `auto::Builder::serve_connection_with_upgrades` \
                 or hyper's `http1::Builder::serve_connection(..).with_upgrades()`"
            }
            Self::ShuttingDown => "server shutting down: no new WebSocket connections",
            Self::TooManyConnections => "too many WebSocket connections: try again later",
            Self::ExtendedConnectUnavailable => {
                "WebSockets over HTTP/2 (RFC 8441) are not compiled in: enable the `http2` \
                 feature of tower-websocket"
            }
            Self::HandshakeTimeout => {
                "WebSocket handshake timed out: the server did not decide in time whether to \
                 accept it; try again later"
            }
        }
    }

    /// The handshake rejection, if the request itself was at fault.
    pub fn handshake(&self) -> Option<HandshakeRejection> {
        match self {
            Self::Handshake(rejection) => Some(*rejection),
            _ => None,
        }
    }

    /// The full response, for an HTTP/1.1 request; see [`response_for`](Self::response_for).
    pub fn response(&self) -> Response<Bytes> {
        self.response_for(Version::HTTP_11)
    }

    /// The full response for a request of this HTTP `version`: status, the headers the RFCs
    /// require (`Allow`, `Sec-WebSocket-Version`, `Retry-After`), the reason as the body.
    pub fn response_for(&self, version: Version) -> Response<Bytes> {
        let mut response = match self {
            Self::Handshake(rejection) => return rejection.response_for(version),
            _ => handshake::plain_text(self.status(), self.reason()),
        };
        if let Self::TooManyConnections = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<HandshakeRejection> for Rejection {
    fn from(rejection: HandshakeRejection) -> Self {
        Self::Handshake(rejection)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Handshake(rejection) => Some(rejection),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_rejections_carry_their_status_headers_and_reason() {
        let busy = Rejection::TooManyConnections.response_for(Version::HTTP_11);
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
        let down = Rejection::ShuttingDown.response_for(Version::HTTP_2);
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(down.headers().get(header::RETRY_AFTER).is_none());
        let missing = Rejection::UpgradeUnavailable;
        assert_eq!(missing.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(missing.to_string().contains("with_upgrades"));
        let wrapped = Rejection::from(HandshakeRejection::MethodNotAllowed);
        assert_eq!(
            wrapped.handshake(),
            Some(HandshakeRejection::MethodNotAllowed)
        );
        assert_eq!(
            wrapped.response_for(Version::HTTP_11).headers()["allow"],
            "GET"
        );
        assert_eq!(Rejection::ShuttingDown.handshake(), None);
        let slow = Rejection::HandshakeTimeout.response_for(Version::HTTP_11);
        assert_eq!(slow.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(slow.body().starts_with(b"WebSocket handshake timed out"));
    }
}

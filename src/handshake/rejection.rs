use std::fmt;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode, Version};

/// Why a request is not a valid WebSocket handshake (RFC 6455 §4.2.1, RFC 8441) or is refused by
/// the [`OriginPolicy`](super::OriginPolicy); [`response`](Self::response) is what the client
/// is told. (What the layer itself refuses, such as handshakes during a shutdown, is its
/// [`Rejection`](crate::Rejection).)
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
}

impl HandshakeRejection {
    /// The response status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::HttpVersionTooOld => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            Self::UnsupportedVersion => StatusCode::UPGRADE_REQUIRED,
            Self::OriginNotAllowed => StatusCode::FORBIDDEN,
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
        }
    }

    /// The full response: status, the headers the RFCs require, and the reason as the body.
    pub fn response(&self) -> Response<Bytes> {
        self.response_for(Version::HTTP_11)
    }

    /// [`response`](Self::response) for a request of this HTTP `version`: over HTTP/2 and later
    /// the `426` carries no `Upgrade` header, which those versions forbid.
    pub fn response_for(&self, version: Version) -> Response<Bytes> {
        let mut response = plain_text(self.status(), self.reason());
        let headers = response.headers_mut();
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

/// A response with `status` and `reason` (and a line feed) as a plain-text body.
pub(crate) fn plain_text(status: StatusCode, reason: &str) -> Response<Bytes> {
    let mut body = String::with_capacity(reason.len() + 1);
    body.push_str(reason);
    body.push('\n');
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

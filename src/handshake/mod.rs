//! The opening handshake (RFC 6455 §4.2), as pure functions over request parts.
//!
//! [`is_upgrade_attempt`] decides whether a request is meant as a WebSocket handshake at all
//! (anything else is passed to the inner service). [`validate`] judges it and returns either an
//! [`Accept`] (which builds the `101 Switching Protocols` response) or a [`HandshakeRejection`]
//! (which builds the 4xx response). Nothing here touches a socket.
//!
//! Over HTTP/2 (RFC 8441) the handshake is an extended CONNECT instead:
//! [`is_extended_connect`] and [`validate_connect`]. [`OriginPolicy`] decides which web pages
//! may connect.

mod accept_key;
pub mod client;
mod connect;
pub mod extensions;
mod headers;
mod origin;
mod rejection;

use http::header::{self, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, Response, StatusCode, Version};

pub use accept_key::accept_key;
pub use connect::{is_extended_connect, validate_connect};
pub use origin::{InvalidOrigin, OriginPolicy};
pub use rejection::HandshakeRejection;
pub(crate) use rejection::plain_text;

use headers::{has_token, tokens};

const SEC_WEBSOCKET_KEY: HeaderName = header::SEC_WEBSOCKET_KEY;
const SEC_WEBSOCKET_VERSION: HeaderName = header::SEC_WEBSOCKET_VERSION;
const SEC_WEBSOCKET_PROTOCOL: HeaderName = header::SEC_WEBSOCKET_PROTOCOL;

/// Whether the request is an attempt at a WebSocket handshake: it asks to upgrade to
/// `websocket`, or carries a `Sec-WebSocket-Key` or `Sec-WebSocket-Version`. Such requests are
/// answered by the layer (with 101 or a 4xx); all others go to the inner service.
pub fn is_upgrade_attempt(parts: &Parts) -> bool {
    has_token(&parts.headers, &header::UPGRADE, "websocket")
        || parts.headers.contains_key(SEC_WEBSOCKET_KEY)
        || parts.headers.contains_key(SEC_WEBSOCKET_VERSION)
}

/// A handshake that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accept {
    /// `None` for an RFC 8441 extended CONNECT, which has no `Sec-WebSocket-Accept`.
    accept: Option<HeaderValue>,
    protocol: Option<HeaderValue>,
}

impl Accept {
    /// The `Sec-WebSocket-Accept` value; `None` for an HTTP/2 extended CONNECT (RFC 8441),
    /// which has no key and no accept value.
    pub fn accept_value(&self) -> Option<&HeaderValue> {
        self.accept.as_ref()
    }

    /// The chosen subprotocol, if any.
    pub fn protocol(&self) -> Option<&HeaderValue> {
        self.protocol.as_ref()
    }

    /// Replaces the chosen subprotocol (the accept hook's choice, already checked against the
    /// client's offer).
    pub(crate) fn set_protocol(&mut self, protocol: Option<HeaderValue>) {
        self.protocol = protocol;
    }

    /// The accepting response, without a body: `101 Switching Protocols` with `Upgrade`,
    /// `Connection` and `Sec-WebSocket-Accept` for HTTP/1.1, or a bare `200 OK` for an HTTP/2
    /// extended CONNECT (RFC 8441 §5); both with the chosen subprotocol, if any.
    pub fn response(&self) -> Response<()> {
        let mut response = Response::new(());
        if let Some(accept) = &self.accept {
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let headers = response.headers_mut();
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept.clone());
        }
        let headers = response.headers_mut();
        if let Some(protocol) = &self.protocol {
            headers.insert(SEC_WEBSOCKET_PROTOCOL, protocol.clone());
        }
        response
    }
}

/// Validates an HTTP/1.1 WebSocket handshake (RFC 6455 §4.2.1) in this order: method (`GET`),
/// HTTP version (1.1 or later), `Upgrade: websocket`, the `Upgrade` token in `Connection`,
/// `Sec-WebSocket-Version: 13`, and a `Sec-WebSocket-Key` that decodes to 16 bytes. Header token
/// lists are read across every header line, case-insensitively.
///
/// `protocols` is the server's subprotocol preference list: the first one the client offered is
/// chosen; if none matches, no subprotocol is answered.
pub fn validate(parts: &Parts, protocols: &[HeaderValue]) -> Result<Accept, HandshakeRejection> {
    if parts.method != Method::GET {
        return Err(HandshakeRejection::MethodNotAllowed);
    }
    if parts.version < Version::HTTP_11 {
        return Err(HandshakeRejection::HttpVersionTooOld);
    }
    if !has_token(&parts.headers, &header::UPGRADE, "websocket") {
        return Err(HandshakeRejection::MissingUpgradeWebSocket);
    }
    if !has_token(&parts.headers, &header::CONNECTION, "upgrade") {
        return Err(HandshakeRejection::MissingConnectionUpgrade);
    }
    if !headers::is_version_13(&parts.headers) {
        return Err(HandshakeRejection::UnsupportedVersion);
    }
    let mut keys = parts.headers.get_all(SEC_WEBSOCKET_KEY).iter();
    let key = match (keys.next(), keys.next()) {
        (None, _) => return Err(HandshakeRejection::MissingKey),
        (Some(key), None) if accept_key::is_valid_key(key.as_bytes()) => key,
        _ => return Err(HandshakeRejection::InvalidKey),
    };
    Ok(Accept {
        accept: Some(accept_key(key.as_bytes())),
        protocol: select_protocol(parts, protocols),
    })
}

/// The first of the server's `protocols` that the client offered, if any.
pub fn select_protocol(parts: &Parts, protocols: &[HeaderValue]) -> Option<HeaderValue> {
    if protocols.is_empty() {
        return None;
    }
    let offered: Vec<&str> = tokens(&parts.headers, &SEC_WEBSOCKET_PROTOCOL).collect();
    protocols
        .iter()
        .find(|p| offered.iter().any(|o| o.as_bytes() == p.as_bytes()))
        .cloned()
}

/// The subprotocols the client offered in `Sec-WebSocket-Protocol`, in its order of
/// preference, across all header lines.
pub fn offered_protocols(parts: &Parts) -> impl Iterator<Item = &str> {
    tokens(&parts.headers, &SEC_WEBSOCKET_PROTOCOL)
}

#[cfg(test)]
mod tests {
    use http::Request;

    use super::*;

    fn request() -> http::request::Builder {
        Request::get("/ws")
            .header("Host", "example.com")
            .header("Upgrade", "websocket")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("Sec-WebSocket-Version", "13")
    }

    fn parts(builder: http::request::Builder) -> Parts {
        builder.body(()).unwrap().into_parts().0
    }

    fn without(name: &str) -> Parts {
        let mut p = parts(request());
        p.headers.remove(name);
        p
    }

    #[test]
    fn accepts_the_rfc_example_with_the_rfc_accept_value() {
        let accept = validate(&parts(request()), &[]).unwrap();
        let response = accept.response();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(
            response.headers()["sec-websocket-accept"],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(response.headers()["upgrade"], "websocket");
        assert_eq!(response.headers()["connection"], "Upgrade");
        assert!(response.headers().get("sec-websocket-protocol").is_none());
    }

    #[test]
    fn token_lists_any_case_across_header_lines() {
        let mut p = without("connection");
        p.headers
            .append("connection", HeaderValue::from_static("keep-alive"));
        p.headers
            .append("connection", HeaderValue::from_static("foo, UPGRADE"));
        p.headers
            .insert("upgrade", HeaderValue::from_static("h2c, WebSocket"));
        assert!(validate(&p, &[]).is_ok());
        let p = parts(request().header("connection", "keep-alive, Upgrade"));
        assert!(validate(&p, &[]).is_ok());
        // A substring is not a token.
        let mut p = without("connection");
        p.headers
            .insert("connection", HeaderValue::from_static("upgraded"));
        assert_eq!(
            validate(&p, &[]),
            Err(HandshakeRejection::MissingConnectionUpgrade)
        );
    }

    fn rejection(p: Parts) -> (HandshakeRejection, Response<bytes::Bytes>) {
        let r = validate(&p, &[]).unwrap_err();
        (r, r.response())
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        let mut p = parts(request());
        p.method = Method::POST;
        let (r, resp) = rejection(p);
        assert_eq!(r, HandshakeRejection::MethodNotAllowed);
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(resp.headers()["allow"], "GET");
    }

    #[test]
    fn http_10_is_rejected() {
        let mut p = parts(request());
        p.version = Version::HTTP_10;
        let (r, resp) = rejection(p);
        assert_eq!(r, HandshakeRejection::HttpVersionTooOld);
        assert_eq!(resp.status(), StatusCode::HTTP_VERSION_NOT_SUPPORTED);
    }

    #[test]
    fn missing_upgrade_or_connection_is_400_with_reason() {
        for (name, expected) in [
            ("upgrade", HandshakeRejection::MissingUpgradeWebSocket),
            ("connection", HandshakeRejection::MissingConnectionUpgrade),
        ] {
            let (r, resp) = rejection(without(name));
            assert_eq!(r, expected);
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
            assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
            assert!(!resp.body().is_empty());
        }
    }

    #[test]
    fn other_versions_are_426_with_version_and_upgrade() {
        for version in [None, Some("8"), Some("14"), Some("13, 8")] {
            let mut p = without("sec-websocket-version");
            if let Some(v) = version {
                p.headers
                    .insert("sec-websocket-version", HeaderValue::from_static(v));
            }
            let (r, resp) = rejection(p);
            assert_eq!(r, HandshakeRejection::UnsupportedVersion, "{version:?}");
            assert_eq!(resp.status(), StatusCode::UPGRADE_REQUIRED);
            assert_eq!(resp.headers()["sec-websocket-version"], "13");
            assert_eq!(resp.headers()["upgrade"], "websocket");
        }
    }

    #[test]
    fn missing_or_malformed_key_is_400() {
        assert_eq!(
            rejection(without("sec-websocket-key")).0,
            HandshakeRejection::MissingKey
        );
        for bad in [
            "",
            "short",
            "dGhlIHNhbXBsZSBub25jZQ",   // no padding
            "dGhlIHNhbXBsZSBub25jZXg=", // 17 bytes
            "dGhlIHNhbXBsZSBub25j",     // 15 bytes
            "!!!!!!!!!!!!!!!!!!!!!!==", // not base64
        ] {
            let mut p = without("sec-websocket-key");
            p.headers
                .insert("sec-websocket-key", HeaderValue::from_static(bad));
            let (r, resp) = rejection(p);
            assert_eq!(r, HandshakeRejection::InvalidKey, "{bad}");
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        }
        let mut p = parts(request());
        p.headers.append(
            "sec-websocket-key",
            HeaderValue::from_static("AAAAAAAAAAAAAAAAAAAAAA=="),
        );
        assert_eq!(rejection(p).0, HandshakeRejection::InvalidKey);
    }

    #[test]
    fn detects_upgrade_attempts() {
        assert!(is_upgrade_attempt(&parts(request())));
        assert!(is_upgrade_attempt(&without("upgrade")));
        assert!(!is_upgrade_attempt(&parts(Request::get("/ws"))));
        assert!(!is_upgrade_attempt(&parts(
            Request::get("/").header("upgrade", "h2c")
        )));
    }

    #[test]
    fn picks_the_first_server_protocol_the_client_offered() {
        let p = parts(
            request()
                .header("sec-websocket-protocol", "chat, superchat")
                .header("sec-websocket-protocol", "v2"),
        );
        let server = [
            HeaderValue::from_static("v2"),
            HeaderValue::from_static("chat"),
        ];
        let accept = validate(&p, &server).unwrap();
        assert_eq!(accept.protocol().unwrap(), "v2");
        assert_eq!(accept.response().headers()["sec-websocket-protocol"], "v2");
        let none = validate(&p, &[HeaderValue::from_static("mqtt")]).unwrap();
        assert!(none.protocol().is_none());
        // Never answer a protocol the client did not offer.
        assert!(
            validate(&parts(request()), &server)
                .unwrap()
                .protocol()
                .is_none()
        );
    }
}

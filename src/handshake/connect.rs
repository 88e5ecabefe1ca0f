//! WebSockets over HTTP/2 (RFC 8441): the extended CONNECT handshake.
//!
//! Over HTTP/2 a WebSocket is one stream, opened with `CONNECT` and the `:protocol`
//! pseudo-header `websocket`, which a client may send only after the server advertised
//! `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`. There is no `Sec-WebSocket-Key` or `-Accept` and no
//! `Upgrade`/`Connection`; `Sec-WebSocket-Version`, `Origin`, `Sec-WebSocket-Protocol` and
//! `Sec-WebSocket-Extensions` keep their RFC 6455 meaning. The server accepts with `200` and an
//! empty body, after which the stream carries WebSocket frames.
//!
//! The `:protocol` value comes from the caller (hyper puts it in the request extensions as
//! `hyper::ext::Protocol`), so these checks stay independent of any HTTP implementation.

use http::Method;
use http::header::HeaderValue;
use http::request::Parts;

use super::headers::is_version_13;
use super::{Accept, HandshakeRejection, select_protocol};

/// Whether the request is an RFC 8441 WebSocket handshake: `CONNECT` with `:protocol`
/// `websocket` (`extended_protocol` is the `:protocol` pseudo-header, if any). A `CONNECT`
/// without `:protocol`, or with another one, is a tunnel for someone else.
pub fn is_extended_connect(parts: &Parts, extended_protocol: Option<&str>) -> bool {
    parts.method == Method::CONNECT
        && extended_protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket"))
}

/// Validates an RFC 8441 extended CONNECT: it must be one (see [`is_extended_connect`]), with
/// `Sec-WebSocket-Version: 13` as over HTTP/1.1 (else `426` with `Sec-WebSocket-Version: 13`).
/// [`Accept::response`] is then `200` with no body.
///
/// `protocols` is the server's subprotocol preference list, as for
/// [`validate`](super::validate).
pub fn validate_connect(
    parts: &Parts,
    extended_protocol: Option<&str>,
    protocols: &[HeaderValue],
) -> Result<Accept, HandshakeRejection> {
    if !is_extended_connect(parts, extended_protocol) {
        return Err(HandshakeRejection::NotExtendedConnect);
    }
    if !is_version_13(&parts.headers) {
        return Err(HandshakeRejection::UnsupportedVersion);
    }
    Ok(Accept {
        accept: None,
        protocol: select_protocol(parts, protocols),
    })
}

#[cfg(test)]
mod tests {
    use http::{Request, StatusCode, Version};

    use super::*;

    fn connect() -> http::request::Builder {
        Request::connect("https://example.com/ws")
            .version(Version::HTTP_2)
            .header("sec-websocket-version", "13")
    }

    fn parts(builder: http::request::Builder) -> Parts {
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn accepts_with_a_bare_200() {
        let accept = validate_connect(&parts(connect()), Some("websocket"), &[]).unwrap();
        assert_eq!(accept.accept_value(), None);
        let response = accept.response();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().is_empty(), "{:?}", response.headers());
    }

    #[test]
    fn protocol_token_any_case_and_subprotocols_as_over_http1() {
        let p = parts(connect().header("sec-websocket-protocol", "v1, v2"));
        let server = [HeaderValue::from_static("v2")];
        let accept = validate_connect(&p, Some("WebSocket"), &server).unwrap();
        assert_eq!(accept.protocol().unwrap(), "v2");
        assert_eq!(accept.response().headers()["sec-websocket-protocol"], "v2");
    }

    #[test]
    fn plain_connect_or_another_protocol_is_not_a_websocket() {
        let p = parts(connect());
        assert!(!is_extended_connect(&p, None));
        assert!(!is_extended_connect(&p, Some("connect-udp")));
        assert_eq!(
            validate_connect(&p, None, &[]),
            Err(HandshakeRejection::NotExtendedConnect)
        );
        let mut get = parts(connect());
        get.method = Method::GET;
        assert!(!is_extended_connect(&get, Some("websocket")));
    }

    #[test]
    fn version_is_checked_as_over_http1() {
        for version in [None, Some("8"), Some("13, 8")] {
            let mut p = parts(connect());
            p.headers.remove("sec-websocket-version");
            if let Some(v) = version {
                p.headers
                    .insert("sec-websocket-version", HeaderValue::from_static(v));
            }
            let rejection = validate_connect(&p, Some("websocket"), &[]).unwrap_err();
            assert_eq!(rejection, HandshakeRejection::UnsupportedVersion);
            // No `Upgrade` over HTTP/2: hyper would strip it with a warning.
            let response = rejection.response_for(Version::HTTP_2);
            assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
            assert_eq!(response.headers()["sec-websocket-version"], "13");
            assert!(response.headers().get("upgrade").is_none());
        }
    }
}

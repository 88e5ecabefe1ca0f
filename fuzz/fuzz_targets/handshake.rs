//! The opening handshake (RFC 6455 §4.2.1, RFC 8441 §4, the Origin check of §10.2) over
//! requests built from the input: method, version, URI, and header lines (repeated, in any
//! order, with values of arbitrary bytes). `validate`, `validate_connect`,
//! `is_upgrade_attempt`, `offered_protocols` and `OriginPolicy` must agree with an independent
//! reading of the RFCs, and what they accept must yield a correct response. An odd first byte
//! makes the rest a request head in HTTP/1.1 text instead (the form of the seed corpus).
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fuzz_support::bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, Request, StatusCode, Uri, Version};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sha1::{Digest, Sha1};
use tower_websocket::handshake::{
    HandshakeRejection, OriginPolicy, accept_key, is_extended_connect, is_upgrade_attempt,
    offered_protocols, select_protocol, validate, validate_connect,
};

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});

const NAMES: &[HeaderName] = &[
    header::UPGRADE,
    header::CONNECTION,
    header::SEC_WEBSOCKET_KEY,
    header::SEC_WEBSOCKET_VERSION,
    header::SEC_WEBSOCKET_PROTOCOL,
    header::SEC_WEBSOCKET_EXTENSIONS,
    header::ORIGIN,
    header::HOST,
];

const VALUES: &[&str] = &[
    "websocket",
    "WebSocket",
    "h2c, websocket",
    "Upgrade",
    "keep-alive, Upgrade",
    "upgraded",
    "dGhlIHNhbXBsZSBub25jZQ==",
    "AAAAAAAAAAAAAAAAAAAAAA==",
    "dGhlIHNhbXBsZSBub25jZR==",
    "13",
    "8",
    "13, 8",
    "chat, superchat",
    "v2",
    " ,chat ,",
    "https://example.com",
    "http://example.com:8080",
    "https://EXAMPLE.com:443",
    "http://[::1]:80",
    "null",
    "example.com",
    "example.com:8080",
    "[::1]",
    "permessage-deflate; client_max_window_bits",
    "",
];

const URIS: &[&str] = &[
    "/ws",
    "https://example.com/ws",
    "http://example.com:8080/",
    "ws://[::1]/",
    "*",
];

const PROTOCOLS: &[&str] = &["chat", "superchat", "v2", "Chat"];

fn value(u: &mut Unstructured<'_>) -> Result<Option<HeaderValue>> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => HeaderValue::from_bytes(bytes(u, 40)?).ok(),
        1 => {
            // A well-formed key: 16 arbitrary bytes in base64.
            let key: [u8; 16] = u.arbitrary()?;
            HeaderValue::from_str(&STANDARD.encode(key)).ok()
        }
        _ => Some(HeaderValue::from_static(u.choose(VALUES)?)),
    })
}

fn request(u: &mut Unstructured<'_>) -> Result<Parts> {
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.method = match u.int_in_range(0..=7u8)? {
        0 => Method::POST,
        1 => Method::HEAD,
        2 => Method::from_bytes(bytes(u, 8)?).unwrap_or(Method::GET),
        3 | 4 => Method::CONNECT,
        _ => Method::GET,
    };
    parts.version = *u.choose(&[
        Version::HTTP_09,
        Version::HTTP_10,
        Version::HTTP_11,
        Version::HTTP_11,
        Version::HTTP_2,
        Version::HTTP_3,
    ])?;
    parts.uri = if u.ratio(1, 8)? {
        Uri::try_from(bytes(u, 40)?).unwrap_or_default()
    } else {
        Uri::from_static(u.choose(URIS)?)
    };
    let lines = u.int_in_range(0..=12)?;
    for _ in 0..lines {
        let name = if u.ratio(1, 16)? {
            match HeaderName::from_bytes(bytes(u, 20)?) {
                Ok(name) => name,
                Err(_) => continue,
            }
        } else {
            u.choose(NAMES)?.clone()
        };
        if let Some(value) = value(u)? {
            parts.headers.append(name, value);
        }
    }
    Ok(parts)
}

/// RFC 7230 list elements of every line of `name` that is visible ASCII.
fn list<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim_matches([' ', '\t']))
        .filter(|t| !t.is_empty())
        .collect()
}

fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    list(headers, name)
        .iter()
        .any(|t| t.eq_ignore_ascii_case(token))
}

/// Exactly one `Sec-WebSocket-Version` line, and it is `13` (§4.2.1 item 6).
fn version_13(headers: &HeaderMap) -> bool {
    let lines: Vec<_> = headers
        .get_all(header::SEC_WEBSOCKET_VERSION)
        .iter()
        .collect();
    matches!(lines.as_slice(), [v] if v.as_bytes() == b"13")
}

/// What `validate` must answer, in the order the checks are documented.
fn expected_rejection(parts: &Parts) -> Option<HandshakeRejection> {
    let keys: Vec<_> = parts
        .headers
        .get_all(header::SEC_WEBSOCKET_KEY)
        .iter()
        .collect();
    Some(if parts.method != Method::GET {
        HandshakeRejection::MethodNotAllowed
    } else if parts.version < Version::HTTP_11 {
        HandshakeRejection::HttpVersionTooOld
    } else if !has_token(&parts.headers, &header::UPGRADE, "websocket") {
        HandshakeRejection::MissingUpgradeWebSocket
    } else if !has_token(&parts.headers, &header::CONNECTION, "upgrade") {
        HandshakeRejection::MissingConnectionUpgrade
    } else if !version_13(&parts.headers) {
        HandshakeRejection::UnsupportedVersion
    } else {
        match keys.as_slice() {
            [] => HandshakeRejection::MissingKey,
            // §4.2.1 item 5: a base64-encoded value that decodes to 16 bytes.
            [key] if STANDARD.decode(key.as_bytes()).is_ok_and(|k| k.len() == 16) => return None,
            _ => HandshakeRejection::InvalidKey,
        }
    })
}

fn check_rejection(rejection: &HandshakeRejection, version: Version) {
    let response = rejection.response_for(version);
    assert_eq!(response.status(), rejection.status());
    // A refusal, never a success or a redirect (505 for HTTP/1.0 is the one server error).
    let status = rejection.status();
    assert!(
        status.is_client_error() || status == StatusCode::HTTP_VERSION_NOT_SUPPORTED,
        "{rejection:?}"
    );
    assert!(!rejection.reason().is_empty());
    assert!(!response.body().is_empty());
    if version >= Version::HTTP_2 {
        assert!(response.headers().get(header::UPGRADE).is_none());
    }
}

/// A request head as text, `METHOD URI VERSION` and `name: value` lines (the form of the seed
/// corpus); returns it and what follows the blank line.
fn parse_head(text: &[u8]) -> (Parts, &[u8]) {
    let (head, rest) = match text.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => (&text[..at], &text[at + 4..]),
        None => (text, &[][..]),
    };
    let (mut parts, ()) = Request::new(()).into_parts();
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let mut request_line = lines.next().unwrap_or_default().split(|&b| b == b' ');
    parts.method = Method::from_bytes(request_line.next().unwrap_or_default()).unwrap_or_default();
    parts.uri = Uri::try_from(request_line.next().unwrap_or_default()).unwrap_or_default();
    parts.version = match request_line.next().unwrap_or_default() {
        b"HTTP/0.9" => Version::HTTP_09,
        b"HTTP/1.0" => Version::HTTP_10,
        b"HTTP/2" => Version::HTTP_2,
        b"HTTP/3" => Version::HTTP_3,
        _ => Version::HTTP_11,
    };
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            parts.headers.append(name, value);
        }
    }
    (parts, rest)
}

fn run(data: &[u8]) -> Result<()> {
    let (mode, data) = data.split_first().unwrap_or((&0, &[]));
    let (parts, mut u) = if mode & 1 == 1 {
        let (parts, rest) = parse_head(data);
        (parts, Unstructured::new(rest))
    } else {
        let mut u = Unstructured::new(data);
        (request(&mut u)?, u)
    };
    let mut protocols = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        if u.ratio(1, 4)? {
            if let Ok(p) = HeaderValue::from_bytes(bytes(&mut u, 12)?) {
                protocols.push(p);
            }
        } else {
            protocols.push(HeaderValue::from_static(u.choose(PROTOCOLS)?));
        }
    }
    let offered = list(&parts.headers, &header::SEC_WEBSOCKET_PROTOCOL);
    assert_eq!(offered_protocols(&parts).collect::<Vec<_>>(), offered);
    // The server's first protocol that the client offered (§4.2.2 item 5.4).
    let chosen = protocols
        .iter()
        .find(|p| offered.iter().any(|o| o.as_bytes() == p.as_bytes()))
        .cloned();
    assert_eq!(select_protocol(&parts, &protocols), chosen);

    let upgrade_attempt = has_token(&parts.headers, &header::UPGRADE, "websocket")
        || parts.headers.contains_key(header::SEC_WEBSOCKET_KEY)
        || parts.headers.contains_key(header::SEC_WEBSOCKET_VERSION);
    assert_eq!(is_upgrade_attempt(&parts), upgrade_attempt);

    match (validate(&parts, &protocols), expected_rejection(&parts)) {
        (Ok(accept), None) => {
            assert!(upgrade_attempt);
            let key = &parts.headers[header::SEC_WEBSOCKET_KEY];
            let mut sha1 = Sha1::new();
            sha1.update(key.as_bytes());
            sha1.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
            let want = STANDARD.encode(sha1.finalize());
            let value = accept
                .accept_value()
                .expect("an HTTP/1.1 accept has a value");
            assert_eq!(value.len(), 28);
            assert_eq!(value.as_bytes(), want.as_bytes());
            assert_eq!(value, &accept_key(key.as_bytes()));
            assert_eq!(accept.protocol(), chosen.as_ref());
            let response = accept.response();
            assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
            let headers = response.headers();
            assert_eq!(headers[header::SEC_WEBSOCKET_ACCEPT], want.as_str());
            assert!(has_token(headers, &header::UPGRADE, "websocket"));
            assert!(has_token(headers, &header::CONNECTION, "upgrade"));
            assert_eq!(headers.get(header::SEC_WEBSOCKET_PROTOCOL), chosen.as_ref());
        }
        (Err(got), Some(want)) => {
            assert_eq!(got, want);
            check_rejection(&got, parts.version);
        }
        (got, want) => panic!("validate gave {got:?}, expected rejection {want:?}"),
    }

    // RFC 8441: a CONNECT with `:protocol: websocket` (any case) and version 13.
    let extended_protocol = match u.int_in_range(0..=3u8)? {
        0 => None,
        1 => Some("websocket".to_owned()),
        2 => Some("WebSocket".to_owned()),
        _ => Some(String::from_utf8_lossy(bytes(&mut u, 12)?).into_owned()),
    };
    let protocol = extended_protocol.as_deref();
    let extended = parts.method == Method::CONNECT
        && protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket"));
    assert_eq!(is_extended_connect(&parts, protocol), extended);
    match validate_connect(&parts, protocol, &protocols) {
        Ok(accept) => {
            assert!(extended && version_13(&parts.headers));
            assert_eq!(accept.accept_value(), None);
            assert_eq!(accept.protocol(), chosen.as_ref());
            let response = accept.response();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.headers().get(header::SEC_WEBSOCKET_PROTOCOL),
                chosen.as_ref()
            );
        }
        Err(got) => {
            let want = if extended {
                HandshakeRejection::UnsupportedVersion
            } else {
                HandshakeRejection::NotExtendedConnect
            };
            assert_eq!(got, want);
            check_rejection(&got, Version::HTTP_2);
        }
    }

    check_origin(&mut u, &parts)
}

/// §10.2: requests without `Origin` (not from a browser) pass every policy; several `Origin`
/// lines, or one that is not visible ASCII, pass only `allow_any_origin`.
fn check_origin(u: &mut Unstructured<'_>, parts: &Parts) -> Result<()> {
    assert_eq!(OriginPolicy::allow_any_origin().check(parts), Ok(()));
    let origins: Vec<_> = parts.headers.get_all(header::ORIGIN).iter().collect();
    let origin = match origins.as_slice() {
        [] => None,
        [one] => Some(one.to_str().ok()),
        _ => Some(None),
    };
    let verdict = |allowed: bool| {
        if allowed {
            Ok(())
        } else {
            Err(HandshakeRejection::OriginNotAllowed)
        }
    };
    let same_host = match origin {
        None => true,
        Some(None) => false,
        Some(Some(o)) => OriginPolicy::is_same_host(o, parts),
    };
    assert_eq!(OriginPolicy::same_host().check(parts), verdict(same_host));
    if let Some(Some(o)) = origin {
        // Schemes and hosts compare without regard to case.
        let upper = o.to_ascii_uppercase();
        assert_eq!(
            OriginPolicy::is_same_host(&upper, parts),
            same_host,
            "{upper}"
        );
    }

    let answer: bool = u.arbitrary()?;
    let custom = OriginPolicy::custom(move |_, _| answer);
    let want = match origin {
        None => true,
        Some(None) => false,
        Some(Some(_)) => answer,
    };
    assert_eq!(custom.check(parts), verdict(want));

    // An allow-list that names the request's own origin lets it in.
    let candidate = match origin {
        Some(Some(o)) if u.ratio(1, 2)? => o.to_owned(),
        _ => String::from_utf8_lossy(bytes(u, 30)?).into_owned(),
    };
    let listed = OriginPolicy::custom(|_, _| false).allow_origins([candidate.as_str()]);
    if let Ok(policy) = listed {
        let allowed = policy.check(parts).is_ok();
        match origin {
            None => assert!(allowed),
            Some(None) => assert!(!allowed),
            Some(Some(o)) if o == candidate => assert!(allowed, "{o} is on the list"),
            Some(Some(o)) if o.eq_ignore_ascii_case(&candidate) => {
                assert!(allowed, "{o} is on the list as {candidate}")
            }
            Some(Some(_)) => {}
        }
    }
    Ok(())
}

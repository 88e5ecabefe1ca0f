use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};

use super::*;

/// The key of RFC 6455 §1.3 and its accept value.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn offer(protocols: &[&'static str], extensions: Option<&'static str>) -> ClientOffer {
    ClientOffer {
        key: Some(HeaderValue::from_static(KEY)),
        protocols: protocols
            .iter()
            .map(|p| HeaderValue::from_static(p))
            .collect(),
        extensions: extensions.map(HeaderValue::from_static),
    }
}

fn answer(lines: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in lines {
        headers.append(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    headers
}

const GOOD: &[(&str, &str)] = &[
    ("upgrade", "websocket"),
    ("connection", "Upgrade"),
    ("sec-websocket-accept", ACCEPT),
];

fn with(extra: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut lines = GOOD.to_vec();
    lines.extend_from_slice(extra);
    answer(&lines)
}

fn check(headers: &HeaderMap, offer: &ClientOffer) -> Result<Agreed, AnswerError> {
    check_answer(
        Version::HTTP_11,
        StatusCode::SWITCHING_PROTOCOLS,
        headers,
        offer,
    )
}

#[test]
fn key_is_24_base64_characters_of_16_bytes() {
    let key = key_from_bytes(*b"the sample nonce");
    assert_eq!(key, KEY);
    assert!(super::super::accept_key::is_valid_key(key.as_bytes()));
}

#[test]
fn a_correct_answer_is_accepted() {
    let agreed = check(&with(&[]), &offer(&[], None)).unwrap();
    assert_eq!(agreed, Agreed::default());
    // Token lists and case do not matter for Upgrade and Connection.
    let headers = answer(&[
        ("upgrade", "WebSocket"),
        ("connection", "keep-alive, upgrade"),
        ("sec-websocket-accept", ACCEPT),
    ]);
    assert!(check(&headers, &offer(&[], None)).is_ok());
}

#[test]
fn every_http1_rule_is_enforced() {
    let none = offer(&[], None);
    let status = check_answer(Version::HTTP_11, StatusCode::OK, &with(&[]), &none);
    assert_eq!(status, Err(AnswerError::Status(StatusCode::OK)));
    let cases: &[(&[(&str, &str)], AnswerError)] = &[
        (
            &[("connection", "upgrade"), ("sec-websocket-accept", ACCEPT)],
            AnswerError::MissingUpgrade,
        ),
        (
            &[
                ("upgrade", "h2c"),
                ("connection", "upgrade"),
                ("sec-websocket-accept", ACCEPT),
            ],
            AnswerError::MissingUpgrade,
        ),
        (
            &[("upgrade", "websocket"), ("sec-websocket-accept", ACCEPT)],
            AnswerError::MissingConnection,
        ),
        (
            &[("upgrade", "websocket"), ("connection", "upgrade")],
            AnswerError::BadAccept,
        ),
        (
            &[
                ("upgrade", "websocket"),
                ("connection", "upgrade"),
                ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOp="),
            ],
            AnswerError::BadAccept,
        ),
        (
            &[
                ("upgrade", "websocket"),
                ("connection", "upgrade"),
                ("sec-websocket-accept", ACCEPT),
                ("sec-websocket-accept", ACCEPT),
            ],
            AnswerError::BadAccept,
        ),
    ];
    for (lines, expected) in cases {
        assert_eq!(
            check(&answer(lines), &none).as_ref(),
            Err(expected),
            "{lines:?}"
        );
    }
}

#[test]
fn http2_needs_a_2xx_and_no_accept() {
    let none = ClientOffer::default();
    let empty = HeaderMap::new();
    assert!(check_answer(Version::HTTP_2, StatusCode::OK, &empty, &none).is_ok());
    assert_eq!(
        check_answer(Version::HTTP_2, StatusCode::FORBIDDEN, &empty, &none),
        Err(AnswerError::Status(StatusCode::FORBIDDEN))
    );
}

#[test]
fn the_subprotocol_must_be_one_offered() {
    let two = offer(&["chat", "superchat"], None);
    let agreed = check(&with(&[("sec-websocket-protocol", "superchat")]), &two).unwrap();
    assert_eq!(agreed.protocol.unwrap(), "superchat");
    // None chosen is allowed.
    assert_eq!(check(&with(&[]), &two).unwrap().protocol, None);
    for bad in ["other", "Chat", "chat, superchat", ""] {
        let headers = with(&[("sec-websocket-protocol", bad)]);
        assert_eq!(
            check(&headers, &two),
            Err(AnswerError::UnofferedProtocol),
            "{bad:?}"
        );
    }
    let headers = with(&[("sec-websocket-protocol", "chat")]);
    assert_eq!(
        check(&headers, &offer(&[], None)),
        Err(AnswerError::UnofferedProtocol)
    );
}

#[test]
fn extensions_must_answer_the_offer() {
    let deflate = offer(&[], Some("permessage-deflate; client_max_window_bits"));
    let headers = with(&[(
        "sec-websocket-extensions",
        "permessage-deflate; client_max_window_bits=10",
    )]);
    let params = check(&headers, &deflate).unwrap().deflate.unwrap();
    assert_eq!(params.client_max_window_bits, 10);
    // Declining is fine.
    assert_eq!(check(&with(&[]), &deflate).unwrap().deflate, None);
    // Extensions when none were offered.
    let unoffered = with(&[("sec-websocket-extensions", "permessage-deflate")]);
    assert_eq!(
        check(&unoffered, &offer(&[], None)),
        Err(AnswerError::Extensions(DeflateResponseError::NotOffered))
    );
    // An extension other than the one offered.
    let other = with(&[("sec-websocket-extensions", "x-webkit-deflate-frame")]);
    assert_eq!(
        check(&other, &deflate),
        Err(AnswerError::Extensions(DeflateResponseError::NotOffered))
    );
}

#[test]
fn the_deflate_offer_carries_all_four_parameters() {
    let default = deflate_offer(&DeflateConfig::default());
    assert_eq!(default, "permessage-deflate; client_max_window_bits");
    let config = DeflateConfig::new()
        .server_context_takeover(false)
        .client_context_takeover(false)
        .server_max_window_bits(10)
        .client_max_window_bits(12);
    assert_eq!(
        deflate_offer(&config),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=12"
    );
    // What a server answers to the full offer is accepted by the same offer.
    let offer = ClientOffer {
        extensions: Some(deflate_offer(&config)),
        ..offer(&[], None)
    };
    let headers = with(&[(
        "sec-websocket-extensions",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=12",
    )]);
    let params = check(&headers, &offer).unwrap().deflate.unwrap();
    assert_eq!(
        (params.server_max_window_bits, params.client_max_window_bits),
        (10, 12)
    );
    assert!(params.server_no_context_takeover && params.client_no_context_takeover);
}

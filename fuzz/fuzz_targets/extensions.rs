//! permessage-deflate negotiation (RFC 7692 §7.1) over `Sec-WebSocket-Extensions` lines built
//! from the input (grammar pieces and arbitrary bytes) and an arbitrary `DeflateConfig`.
//!
//! Whatever the server answers must be accepted by the client side against the same offer, and
//! the two sides must agree as in the unit test `client_and_server_agree_on_every_offer_and_config`
//! of `src/handshake/extensions.rs`: each compressor fits the window and reset rule of the
//! decompressor at the other end. The client side also meets arbitrary responses. An odd first
//! byte makes the rest five config bytes and text lines instead (the form of the seed corpus).
#![no_main]

use fuzz_support::bytes;
use http::header::{HeaderMap, HeaderValue, SEC_WEBSOCKET_EXTENSIONS};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use tower_websocket::DeflateConfig;
use tower_websocket::handshake::extensions::{
    accept_deflate_response, negotiate_deflate, parse_offers,
};

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});

const PIECES: &[&str] = &[
    "permessage-deflate",
    "PerMessage-Deflate",
    "x-webkit-deflate-frame",
    "foo",
    "; ",
    ";",
    ", ",
    ",",
    " ",
    "\t",
    "=",
    "\"",
    "\\",
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
    "8",
    "9",
    "10",
    "15",
    "16",
    "08",
    "\"12\"",
    "\"1\\5\"",
];

/// A header line: grammar pieces, or arbitrary bytes.
fn line(u: &mut Unstructured<'_>) -> Result<Option<HeaderValue>> {
    if u.ratio(1, 8)? {
        return Ok(HeaderValue::from_bytes(bytes(u, 40)?).ok());
    }
    let mut text = String::new();
    for _ in 0..u.int_in_range(0..=16)? {
        text.push_str(u.choose(PIECES)?);
    }
    Ok(HeaderValue::from_str(&text).ok())
}

fn config(u: &mut Unstructured<'_>) -> Result<DeflateConfig> {
    Ok(DeflateConfig::default()
        .level(u.arbitrary()?)
        .threshold(u.arbitrary()?)
        .server_context_takeover(u.arbitrary()?)
        .client_context_takeover(u.arbitrary()?)
        .server_max_window_bits(u.arbitrary()?)
        .client_max_window_bits(u.arbitrary()?))
}

fn headers(lines: &[HeaderValue]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in lines {
        map.append(SEC_WEBSOCKET_EXTENSIONS, line.clone());
    }
    map
}

/// Header lines separated by `\n`.
fn text_lines(text: &[u8]) -> Vec<HeaderValue> {
    text.split(|&b| b == b'\n')
        .filter_map(|l| HeaderValue::from_bytes(l).ok())
        .collect()
}

fn run(data: &[u8]) -> Result<()> {
    let (mode, data) = data.split_first().unwrap_or((&0, &[]));
    let mut u = Unstructured::new(data);
    let mut text_response = None;
    let (config, lines) = if mode & 1 == 1 {
        // Five bytes of config, then offer lines, a blank line and response lines (the form
        // of the seed corpus).
        let b: [u8; 5] = u.arbitrary()?;
        let config = DeflateConfig::default()
            .level(u32::from(b[0] % 10))
            .threshold(usize::from(b[1]))
            .server_context_takeover(b[2] & 1 == 0)
            .client_context_takeover(b[2] & 2 == 0)
            .server_max_window_bits(b[3])
            .client_max_window_bits(b[4]);
        let text = u.bytes(u.len())?;
        let (offer, response) = match text.windows(2).position(|w| w == b"\n\n") {
            Some(at) => (&text[..at], &text[at + 2..]),
            None => (text, &[][..]),
        };
        text_response = Some(text_lines(response));
        (config, text_lines(offer))
    } else {
        let config = config(&mut u)?;
        let mut lines = Vec::new();
        for _ in 0..u.int_in_range(0..=3)? {
            if let Some(line) = line(&mut u)? {
                lines.push(line);
            }
        }
        (config, lines)
    };
    let request = headers(&lines);
    let parsed = parse_offers(&request);
    let negotiated = negotiate_deflate(&request, &config);
    if parsed.is_none() {
        // A malformed header declines every extension.
        assert_eq!(negotiated, None);
    }

    // The offer as the client sent it: several lines are one comma-separated list (RFC 7230
    // §3.2.2), so join them.
    let joined: Option<Vec<&str>> = lines.iter().map(|l| l.to_str().ok()).collect();
    let offer = joined.and_then(|parts| HeaderValue::from_str(&parts.join(", ")).ok());

    if let Some((server, value)) = &negotiated {
        let context = format!("offer {lines:?}, config {config:?}, response {value:?}");
        assert!(
            (9..=15).contains(&server.server_max_window_bits),
            "{context}"
        );
        assert!(
            (8..=15).contains(&server.client_max_window_bits),
            "{context}"
        );
        let mut response = HeaderMap::new();
        response.insert(SEC_WEBSOCKET_EXTENSIONS, value.clone());
        // The answer is one well-formed permessage-deflate extension.
        let answered = parse_offers(&response).expect("the response parses");
        assert_eq!(answered.len(), 1, "{context}");
        assert!(answered[0].name.eq_ignore_ascii_case("permessage-deflate"));
        let offer = offer.as_ref().expect("an accepted offer is visible ASCII");
        let client = accept_deflate_response(offer, &response)
            .unwrap_or_else(|e| panic!("{e}: {context}"))
            .unwrap_or_else(|| panic!("client saw no agreement: {context}"));
        // The server's compressor fits the window and reset rule the client inflates with.
        assert!(
            server.server_max_window_bits <= client.server_max_window_bits,
            "{context}"
        );
        assert!(
            !client.server_no_context_takeover || server.server_no_context_takeover,
            "{context}"
        );
        // The client's compressor fits what the server inflates with, and resets when the
        // server's decompressor does.
        assert!(
            client.client_max_window_bits <= server.client_max_window_bits,
            "{context}"
        );
        assert!(
            !server.client_no_context_takeover || client.client_no_context_takeover,
            "{context}"
        );
    }

    // The client side against an arbitrary response to the same offer.
    if let Some(offer) = &offer {
        let response = match text_response {
            Some(lines) => lines,
            None => {
                let mut response = Vec::new();
                for _ in 0..u.int_in_range(0..=2)? {
                    if let Some(line) = line(&mut u)? {
                        response.push(line);
                    }
                }
                response
            }
        };
        if let Ok(Some(params)) = accept_deflate_response(offer, &headers(&response)) {
            assert!((8..=15).contains(&params.server_max_window_bits));
            assert!((8..=15).contains(&params.client_max_window_bits));
            // An agreement means the server accepted a permessage-deflate that was offered.
            let offered = parse_offers(&headers(std::slice::from_ref(offer))).unwrap();
            assert!(
                offered
                    .iter()
                    .any(|o| o.name.eq_ignore_ascii_case("permessage-deflate"))
            );
        }
    }
    Ok(())
}

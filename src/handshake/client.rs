//! The client's side of the opening handshake, as pure functions: the offer it sends, and the
//! strict check of the server's answer (RFC 6455 §4.1, RFC 7692 §7.1, RFC 8441 §5).

use http::header::{self, HeaderMap, HeaderValue};
use http::{StatusCode, Version};

use super::accept_key::accept_key;
use super::extensions::{DeflateResponseError, accept_deflate_response};
use super::headers::{has_token, tokens};
use crate::proto::{DeflateConfig, DeflateParams};

/// What the client offered, to judge the answer against.
#[derive(Debug, Clone, Default)]
pub struct ClientOffer {
    /// The `Sec-WebSocket-Key` sent (HTTP/1.1 only; RFC 8441 has none).
    pub key: Option<HeaderValue>,
    /// The subprotocols offered, in order of preference.
    pub protocols: Vec<HeaderValue>,
    /// The exact `Sec-WebSocket-Extensions` value sent, if any.
    pub extensions: Option<HeaderValue>,
}

/// What the server agreed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Agreed {
    /// The subprotocol the server chose (always one that was offered).
    pub protocol: Option<HeaderValue>,
    /// permessage-deflate, with the parameters in force, if the server accepted it.
    pub deflate: Option<DeflateParams>,
}

/// Why a client refuses a server's answer to its handshake and fails the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnswerError {
    /// The answer's status is not the one that accepts a WebSocket: `101 Switching Protocols`
    /// over HTTP/1.1, a 2xx over HTTP/2.
    Status(StatusCode),
    /// No `Upgrade: websocket` in a `101`.
    MissingUpgrade,
    /// No `Connection: upgrade` in a `101`.
    MissingConnection,
    /// No `Sec-WebSocket-Accept`, several, or one that does not match the key sent.
    BadAccept,
    /// A `Sec-WebSocket-Protocol` that names no offered subprotocol, names several, or
    /// answers a client that offered none.
    UnofferedProtocol,
    /// The `Sec-WebSocket-Extensions` answer is not acceptable (an extension not offered, a
    /// parameter the offer did not allow, a malformed header).
    Extensions(DeflateResponseError),
}

impl std::fmt::Display for AnswerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status(status) => write!(f, "the server answered {status}"),
            Self::MissingUpgrade => f.write_str("the 101 answer has no `Upgrade: websocket`"),
            Self::MissingConnection => f.write_str("the 101 answer has no `Connection: upgrade`"),
            Self::BadAccept => {
                f.write_str("Sec-WebSocket-Accept is missing or does not match the key sent")
            }
            Self::UnofferedProtocol => {
                f.write_str("the server chose a subprotocol that was not offered")
            }
            Self::Extensions(_) => f.write_str("the server's Sec-WebSocket-Extensions is invalid"),
        }
    }
}

impl std::error::Error for AnswerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Extensions(error) => Some(error),
            _ => None,
        }
    }
}

/// A fresh `Sec-WebSocket-Key` from 16 random bytes (RFC 6455 §4.1 item 7): base64, 24
/// characters.
pub fn key_from_bytes(bytes: [u8; 16]) -> HeaderValue {
    use base64::Engine;
    let mut out = [0u8; 24];
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out)
        .unwrap_or_default();
    HeaderValue::from_bytes(&out[..written]).unwrap_or(HeaderValue::from_static(""))
}

/// The `Sec-WebSocket-Extensions` offer for `config`, with all four parameters of RFC 7692
/// §7.1: the client always allows the server to limit its window (`client_max_window_bits`,
/// with a value when the config asks for less than 15), asks for a smaller server window when
/// the config does, and for no context takeover either way when the config turns it off.
pub fn deflate_offer(config: &DeflateConfig) -> HeaderValue {
    let mut offer = String::from("permessage-deflate");
    if !config.server_context_takeover {
        offer.push_str("; server_no_context_takeover");
    }
    if !config.client_context_takeover {
        offer.push_str("; client_no_context_takeover");
    }
    let server_bits = config.server_window_bits();
    if server_bits < 15 {
        offer.push_str(&format!("; server_max_window_bits={server_bits}"));
    }
    match config.client_window_bits() {
        15 => offer.push_str("; client_max_window_bits"),
        bits => offer.push_str(&format!("; client_max_window_bits={bits}")),
    }
    HeaderValue::from_str(&offer).unwrap_or(HeaderValue::from_static("permessage-deflate"))
}

/// Judges the server's answer to the client's handshake: the status (`101` over HTTP/1.1, 2xx
/// over HTTP/2), then for HTTP/1.1 `Upgrade: websocket`, `Connection: upgrade` and the
/// `Sec-WebSocket-Accept` for the key sent; for both versions, a subprotocol only from the
/// offer and extensions only as offered (RFC 6455 §4.1 items 1–6 of the client's checks).
pub fn check_answer(
    version: Version,
    status: StatusCode,
    headers: &HeaderMap,
    offer: &ClientOffer,
) -> Result<Agreed, AnswerError> {
    if version == Version::HTTP_2 {
        if !status.is_success() {
            return Err(AnswerError::Status(status));
        }
    } else {
        if status != StatusCode::SWITCHING_PROTOCOLS {
            return Err(AnswerError::Status(status));
        }
        if !has_token(headers, &header::UPGRADE, "websocket") {
            return Err(AnswerError::MissingUpgrade);
        }
        if !has_token(headers, &header::CONNECTION, "upgrade") {
            return Err(AnswerError::MissingConnection);
        }
        let mut accepts = headers.get_all(header::SEC_WEBSOCKET_ACCEPT).iter();
        let expected = offer.key.as_ref().map(|key| accept_key(key.as_bytes()));
        match (accepts.next(), accepts.next(), expected) {
            (Some(got), None, Some(expected)) if got.as_bytes() == expected.as_bytes() => {}
            _ => return Err(AnswerError::BadAccept),
        }
    }
    let protocol = chosen_protocol(headers, &offer.protocols)?;
    let deflate = match (
        &offer.extensions,
        headers.contains_key(header::SEC_WEBSOCKET_EXTENSIONS),
    ) {
        (_, false) => None,
        (None, true) => return Err(AnswerError::Extensions(DeflateResponseError::NotOffered)),
        (Some(offer), true) => {
            accept_deflate_response(offer, headers).map_err(AnswerError::Extensions)?
        }
    };
    Ok(Agreed { protocol, deflate })
}

/// The one subprotocol the server chose, which must be one of `offered` (the server may also
/// choose none).
fn chosen_protocol(
    headers: &HeaderMap,
    offered: &[HeaderValue],
) -> Result<Option<HeaderValue>, AnswerError> {
    if !headers.contains_key(header::SEC_WEBSOCKET_PROTOCOL) {
        return Ok(None);
    }
    let mut chosen = tokens(headers, &header::SEC_WEBSOCKET_PROTOCOL);
    let (Some(first), None) = (chosen.next(), chosen.next()) else {
        return Err(AnswerError::UnofferedProtocol);
    };
    offered
        .iter()
        .find(|p| p.as_bytes() == first.as_bytes())
        .cloned()
        .map(Some)
        .ok_or(AnswerError::UnofferedProtocol)
}

#[cfg(test)]
#[path = "client/tests.rs"]
mod tests;

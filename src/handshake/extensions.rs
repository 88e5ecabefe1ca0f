//! `Sec-WebSocket-Extensions` (RFC 6455 §9.1) and permessage-deflate negotiation (RFC 7692 §7.1).

use http::HeaderMap;
use http::header::{HeaderValue, SEC_WEBSOCKET_EXTENSIONS};

use crate::proto::{DeflateConfig, DeflateParams};

/// The extension token of RFC 7692.
const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// One extension offered by the client: its name and parameters (quoted values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// `(name, value)` pairs in the order offered.
    pub params: Vec<(String, Option<String>)>,
}

/// Parses every `Sec-WebSocket-Extensions` line into offers, in order.
///
/// Returns `None` if any line does not follow the RFC 6455 §9.1 grammar (tokens, `;`
/// parameters, token or quoted-string values): a malformed header declines every extension.
pub fn parse_offers(headers: &HeaderMap) -> Option<Vec<ExtensionOffer>> {
    let mut offers = Vec::new();
    for value in headers.get_all(SEC_WEBSOCKET_EXTENSIONS) {
        let text = value.to_str().ok()?;
        Parser { rest: text }.list(&mut offers)?;
    }
    Some(offers)
}

/// Accepts the first permessage-deflate offer the server can honour and returns the agreed
/// parameters with the `Sec-WebSocket-Extensions` response value, or `None` to decline (the
/// handshake then succeeds without compression).
///
/// An offer is declined for an unknown parameter, a repeated one, a value where none is
/// allowed or a missing one where it is required, a window outside 8–15 (or written with a
/// leading zero), and `server_max_window_bits=8` (zlib cannot compress with an 8-bit window).
/// The response never contains a parameter the RFC forbids for that offer: it echoes
/// `server_no_context_takeover` if offered, answers `server_max_window_bits` only if offered,
/// `client_max_window_bits` only if offered, and adds `client_no_context_takeover` when the
/// server is configured not to allow client context takeover.
pub fn negotiate_deflate(
    headers: &HeaderMap,
    config: &DeflateConfig,
) -> Option<(DeflateParams, HeaderValue)> {
    parse_offers(headers)?
        .iter()
        .filter(|offer| offer.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .find_map(|offer| accept(offer, config))
}

/// What one permessage-deflate offer asks for.
#[derive(Default)]
struct DeflateOffer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: offered without a value.
    client_max_window_bits: Option<Option<u8>>,
}

/// The permessage-deflate parameters of one offer or response, or `None` for an unknown
/// parameter, a repeated one, a value where none is allowed or a missing one where it is
/// required, or a window outside 8–15.
fn deflate_params(extension: &ExtensionOffer) -> Option<DeflateOffer> {
    let mut wanted = DeflateOffer::default();
    let mut seen = Vec::with_capacity(extension.params.len());
    for (name, value) in &extension.params {
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            return None;
        }
        match (name.as_str(), value.as_deref()) {
            ("server_no_context_takeover", None) => wanted.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => wanted.client_no_context_takeover = true,
            ("server_max_window_bits", Some(v)) => {
                wanted.server_max_window_bits = Some(window_bits(v)?)
            }
            ("client_max_window_bits", None) => wanted.client_max_window_bits = Some(None),
            ("client_max_window_bits", Some(v)) => {
                wanted.client_max_window_bits = Some(Some(window_bits(v)?));
            }
            _ => return None,
        }
        seen.push(name);
    }
    Some(wanted)
}

fn accept(offer: &ExtensionOffer, config: &DeflateConfig) -> Option<(DeflateParams, HeaderValue)> {
    let wanted = deflate_params(offer)?;
    let server_bits = match wanted.server_max_window_bits {
        Some(8) => return None,
        Some(limit) => limit.min(config.server_window_bits()),
        None => config.server_window_bits(),
    };
    // The client lets us pick: ask for our preference if it is below its maximum.
    let client_limit = wanted
        .client_max_window_bits
        .map(|offered| config.client_window_bits().min(offered.unwrap_or(15)));
    let client_no_context_takeover = !config.client_context_takeover;
    let params = DeflateParams {
        server_no_context_takeover: wanted.server_no_context_takeover
            || !config.server_context_takeover,
        client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_limit.unwrap_or(15),
    };

    let mut response = String::from("permessage-deflate");
    if wanted.server_no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    if client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    if wanted.server_max_window_bits.is_some() {
        response.push_str(&format!("; server_max_window_bits={server_bits}"));
    }
    if let Some(bits) = client_limit
        .filter(|&bits| bits < 15 || matches!(wanted.client_max_window_bits, Some(Some(_))))
    {
        response.push_str(&format!("; client_max_window_bits={bits}"));
    }
    let value = HeaderValue::from_str(&response).ok()?;
    Some((params, value))
}

/// Why a client must refuse a server's `Sec-WebSocket-Extensions` answer (and fail the
/// connection, RFC 6455 §4.1, RFC 7692 §7.1); see [`accept_deflate_response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeflateResponseError {
    /// The offer or the response does not follow the RFC 6455 §9.1 grammar.
    Malformed,
    /// The response names an extension the offer did not.
    NotOffered,
    /// The response accepts permessage-deflate more than once.
    Repeated,
    /// An unknown or repeated parameter, a missing or bad value, or a window outside 8–15.
    InvalidParameter,
    /// The response fits none of the offers: it leaves out `server_no_context_takeover` or
    /// `server_max_window_bits` that an offer asked for, answers a larger server window than
    /// offered, or limits the client's window when the offer did not allow it (or to more than
    /// the offered value).
    DoesNotMatchOffer,
}

impl std::fmt::Display for DeflateResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Malformed => "malformed Sec-WebSocket-Extensions",
            Self::NotOffered => "the server accepted an extension that was not offered",
            Self::Repeated => "the server accepted permessage-deflate more than once",
            Self::InvalidParameter => "invalid permessage-deflate parameter in the response",
            Self::DoesNotMatchOffer => "the permessage-deflate response matches no offer",
        })
    }
}

impl std::error::Error for DeflateResponseError {}

/// The client's half of the negotiation: checks the server's `Sec-WebSocket-Extensions`
/// (the `response` headers) against the `offer` the client sent, and returns the agreed
/// parameters, `Ok(None)` if the server declined permessage-deflate, or an error, after which
/// the client must fail the connection.
///
/// `offer` is the exact `Sec-WebSocket-Extensions` value the client sent; it may hold several
/// permessage-deflate offers (and other extensions, which the response may name and which are
/// left to the caller). The response must accept at most one permessage-deflate offer, with
/// valid parameters: `server_no_context_takeover` and `server_max_window_bits` (at most the
/// offered value) when that offer asked for them, and `client_max_window_bits` (with a value,
/// at most the offered one) only when it was offered (RFC 7692 §7.1.1–§7.1.2).
///
/// The client's own hints count too: an offered `client_no_context_takeover`, or an offered
/// `client_max_window_bits` value, bind the client even if the server did not echo them. Pass
/// the result to [`Conn::with_deflate`](crate::Conn::with_deflate) on a
/// [`Role::Client`](crate::Role::Client) connection; of the [`DeflateConfig`] only the level and
/// threshold apply to a client.
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use tower_websocket::handshake::extensions::accept_deflate_response;
///
/// let offer = HeaderValue::from_static("permessage-deflate; client_max_window_bits");
/// let mut response = HeaderMap::new();
/// response.insert(
///     "sec-websocket-extensions",
///     HeaderValue::from_static("permessage-deflate; client_max_window_bits=10"),
/// );
/// let params = accept_deflate_response(&offer, &response).unwrap().unwrap();
/// assert_eq!(params.client_max_window_bits, 10);
/// assert_eq!(params.server_max_window_bits, 15);
/// ```
pub fn accept_deflate_response(
    offer: &HeaderValue,
    response: &HeaderMap,
) -> Result<Option<DeflateParams>, DeflateResponseError> {
    let mut offered = Vec::new();
    let offer_text = offer
        .to_str()
        .map_err(|_| DeflateResponseError::Malformed)?;
    Parser { rest: offer_text }
        .list(&mut offered)
        .ok_or(DeflateResponseError::Malformed)?;
    let answered = parse_offers(response).ok_or(DeflateResponseError::Malformed)?;

    let mut accepted = None;
    for extension in &answered {
        if !offered
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&extension.name))
        {
            return Err(DeflateResponseError::NotOffered);
        }
        if extension.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
            if accepted.is_some() {
                return Err(DeflateResponseError::Repeated);
            }
            accepted = Some(extension);
        }
    }
    let Some(accepted) = accepted else {
        return Ok(None);
    };
    let answer = deflate_params(accepted).ok_or(DeflateResponseError::InvalidParameter)?;
    // A response gives the client's window a value, or leaves it out (§7.1.2.2).
    let client_bits_answer = match answer.client_max_window_bits {
        Some(None) => return Err(DeflateResponseError::InvalidParameter),
        Some(Some(bits)) => Some(bits),
        None => None,
    };

    offered
        .iter()
        .filter(|o| o.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .filter_map(deflate_params)
        .find_map(|offer| {
            if offer.server_no_context_takeover && !answer.server_no_context_takeover {
                return None;
            }
            if let Some(offered) = offer.server_max_window_bits {
                if answer.server_max_window_bits? > offered {
                    return None;
                }
            }
            let client_limit = offer.client_max_window_bits.map(|v| v.unwrap_or(15));
            if let Some(bits) = client_bits_answer {
                if bits > client_limit? {
                    return None;
                }
            }
            Some(DeflateParams {
                server_no_context_takeover: answer.server_no_context_takeover,
                client_no_context_takeover: answer.client_no_context_takeover
                    || offer.client_no_context_takeover,
                server_max_window_bits: answer.server_max_window_bits.unwrap_or(15),
                client_max_window_bits: client_bits_answer
                    .unwrap_or(15)
                    .min(client_limit.unwrap_or(15)),
            })
        })
        .map(Some)
        .ok_or(DeflateResponseError::DoesNotMatchOffer)
}

/// A window size: `8`–`15`, no leading zero (RFC 7692 §7.1.2).
fn window_bits(value: &str) -> Option<u8> {
    if value.len() > 2 || value.starts_with('0') {
        return None;
    }
    value.parse().ok().filter(|bits| (8..=15).contains(bits))
}

/// A recursive-descent parser for one header line of the §9.1 grammar.
struct Parser<'a> {
    rest: &'a str,
}

impl Parser<'_> {
    /// `extension-list = 1#extension` (empty list elements are allowed and skipped).
    fn list(&mut self, out: &mut Vec<ExtensionOffer>) -> Option<()> {
        loop {
            self.skip_ws();
            if self.eat(',') {
                continue;
            }
            if self.rest.is_empty() {
                return Some(());
            }
            out.push(self.extension()?);
            self.skip_ws();
            if !self.rest.is_empty() && !self.eat(',') {
                return None;
            }
        }
    }

    /// `extension = extension-token *( ";" extension-param )`
    fn extension(&mut self) -> Option<ExtensionOffer> {
        let name = self.token()?.to_owned();
        let mut params = Vec::new();
        loop {
            self.skip_ws();
            if !self.eat(';') {
                return Some(ExtensionOffer { name, params });
            }
            self.skip_ws();
            let param = self.token()?.to_owned();
            self.skip_ws();
            let value = if self.eat('=') {
                self.skip_ws();
                Some(self.value()?)
            } else {
                None
            };
            params.push((param, value));
        }
    }

    /// `token | quoted-string`; a quoted value must itself be a token once unquoted.
    fn value(&mut self) -> Option<String> {
        if !self.eat('"') {
            return self.token().map(str::to_owned);
        }
        let mut value = String::new();
        let mut chars = self.rest.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[at + 1..];
                    let is_token = !value.is_empty() && value.chars().all(is_tchar);
                    return is_token.then_some(value);
                }
                '\\' => value.push(chars.next()?.1),
                c => value.push(c),
            }
        }
        None
    }

    fn token(&mut self) -> Option<&str> {
        let end = self.rest.find(|c| !is_tchar(c)).unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let (token, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(token)
    }

    fn eat(&mut self, c: char) -> bool {
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn skip_ws(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }
}

/// RFC 7230 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests;

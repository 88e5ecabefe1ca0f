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
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(
                SEC_WEBSOCKET_EXTENSIONS,
                HeaderValue::from_str(line).unwrap(),
            );
        }
        map
    }

    fn respond(lines: &[&str], config: DeflateConfig) -> Option<String> {
        negotiate_deflate(&headers(lines), &config).map(|(_, v)| v.to_str().unwrap().to_owned())
    }

    fn default(lines: &[&str]) -> Option<String> {
        respond(lines, DeflateConfig::default())
    }

    #[test]
    fn negotiation_table() {
        let table: &[(&[&str], Option<&str>)] = &[
            // Browsers.
            (
                &["permessage-deflate; client_max_window_bits"],
                Some("permessage-deflate"),
            ),
            (&["permessage-deflate"], Some("permessage-deflate")),
            // Every parameter, alone.
            (
                &["permessage-deflate; server_no_context_takeover"],
                Some("permessage-deflate; server_no_context_takeover"),
            ),
            (
                &["permessage-deflate; client_no_context_takeover"],
                Some("permessage-deflate"),
            ),
            (
                &["permessage-deflate; server_max_window_bits=10"],
                Some("permessage-deflate; server_max_window_bits=10"),
            ),
            (
                &["permessage-deflate; server_max_window_bits=15"],
                Some("permessage-deflate; server_max_window_bits=15"),
            ),
            (
                &["permessage-deflate; client_max_window_bits=12"],
                Some("permessage-deflate; client_max_window_bits=12"),
            ),
            // Autobahn 13.x offers.
            (
                &[
                    "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9",
                ],
                Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=9"),
            ),
            // Quoted values, any case, spacing.
            (
                &["permessage-deflate;server_max_window_bits=\"11\""],
                Some("permessage-deflate; server_max_window_bits=11"),
            ),
            (
                &["Permessage-Deflate ; Server_No_Context_Takeover"],
                Some("permessage-deflate; server_no_context_takeover"),
            ),
            // Declined: unknown, duplicate, bad values, value where none allowed, missing value.
            (&["permessage-deflate; foo"], None),
            (
                &["permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
                None,
            ),
            (&["permessage-deflate; server_max_window_bits=16"], None),
            (&["permessage-deflate; server_max_window_bits=7"], None),
            (&["permessage-deflate; server_max_window_bits=010"], None),
            (&["permessage-deflate; server_max_window_bits=a"], None),
            (&["permessage-deflate; server_max_window_bits"], None),
            (&["permessage-deflate; client_no_context_takeover=1"], None),
            (&["permessage-deflate; client_max_window_bits=\"\""], None),
            // 8 bits cannot be honoured by zlib.
            (&["permessage-deflate; server_max_window_bits=8"], None),
            // Other extensions are ignored.
            (&["x-webkit-deflate-frame"], None),
            // Malformed header: decline everything.
            (&["permessage-deflate; =1"], None),
            (&["permessage-deflate; server_max_window_bits=\"10"], None),
            (&["permessage-deflate,, ; x"], None),
        ];
        for (offer, expected) in table {
            assert_eq!(default(offer).as_deref(), *expected, "offer {offer:?}");
        }
    }

    #[test]
    fn first_acceptable_offer_wins_across_lines() {
        let offers = [
            "permessage-deflate; server_max_window_bits=8, permessage-deflate; unknown_param",
            "x-foo, permessage-deflate; server_max_window_bits=12",
            "permessage-deflate",
        ];
        assert_eq!(
            default(&offers).as_deref(),
            Some("permessage-deflate; server_max_window_bits=12")
        );
    }

    #[test]
    fn server_preferences() {
        let small = DeflateConfig::default().server_max_window_bits(10);
        // The smaller of the client's limit and ours; a client without a limit is not told.
        assert_eq!(
            respond(&["permessage-deflate; server_max_window_bits=12"], small).as_deref(),
            Some("permessage-deflate; server_max_window_bits=10")
        );
        let (params, value) = negotiate_deflate(&headers(&["permessage-deflate"]), &small).unwrap();
        assert_eq!(value, "permessage-deflate");
        assert_eq!(params.server_max_window_bits, 10);

        // Not allowing client context takeover answers client_no_context_takeover.
        let no_client_ctx = DeflateConfig::default().client_context_takeover(false);
        let (params, value) =
            negotiate_deflate(&headers(&["permessage-deflate"]), &no_client_ctx).unwrap();
        assert_eq!(value, "permessage-deflate; client_no_context_takeover");
        assert!(params.client_no_context_takeover);

        // Limiting the client's window needs the client's consent (client_max_window_bits).
        let client_small = DeflateConfig::default().client_max_window_bits(9);
        assert_eq!(
            respond(&["permessage-deflate"], client_small).as_deref(),
            Some("permessage-deflate")
        );
        assert_eq!(
            respond(
                &["permessage-deflate; client_max_window_bits"],
                client_small
            )
            .as_deref(),
            Some("permessage-deflate; client_max_window_bits=9")
        );
        assert_eq!(
            respond(
                &["permessage-deflate; client_max_window_bits=8"],
                client_small
            )
            .as_deref(),
            Some("permessage-deflate; client_max_window_bits=8")
        );

        // Server without context takeover: a silent choice unless the client asked for it.
        let no_server_ctx = DeflateConfig::default().server_context_takeover(false);
        let (params, value) =
            negotiate_deflate(&headers(&["permessage-deflate"]), &no_server_ctx).unwrap();
        assert_eq!(value, "permessage-deflate");
        assert!(params.server_no_context_takeover);
    }

    #[test]
    fn out_of_range_fields_are_clamped_where_they_are_used() {
        // The fields are public: values no builder would store still negotiate validly.
        let mut config = DeflateConfig {
            server_max_window_bits: 3,
            client_max_window_bits: 200,
            ..DeflateConfig::default()
        };
        assert_eq!(
            respond(
                &["permessage-deflate; server_max_window_bits=12; client_max_window_bits"],
                config
            )
            .as_deref(),
            Some("permessage-deflate; server_max_window_bits=9")
        );
        config.server_max_window_bits = 99;
        config.client_max_window_bits = 0;
        assert_eq!(
            respond(
                &["permessage-deflate; server_max_window_bits=12; client_max_window_bits"],
                config
            )
            .as_deref(),
            Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=8")
        );
    }

    type Outcome = Result<Option<DeflateParams>, DeflateResponseError>;

    fn client(offer: &str, response: &[&str]) -> Outcome {
        accept_deflate_response(&HeaderValue::from_str(offer).unwrap(), &headers(response))
    }

    fn agreed(snct: bool, cnct: bool, sbits: u8, cbits: u8) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            server_max_window_bits: sbits,
            client_max_window_bits: cbits,
        }
    }

    #[test]
    fn client_accepts_valid_responses() {
        use DeflateResponseError::*;
        let pmd = "permessage-deflate";
        let table: &[(&str, &[&str], Outcome)] = &[
            // Declined: no header, or an empty one.
            (pmd, &[], Ok(None)),
            (pmd, &[""], Ok(None)),
            (pmd, &[pmd], Ok(Some(agreed(false, false, 15, 15)))),
            // The server may always add these two, and limit its own window.
            (
                pmd,
                &["permessage-deflate; server_no_context_takeover; client_no_context_takeover"],
                Ok(Some(agreed(true, true, 15, 15))),
            ),
            (
                pmd,
                &["permessage-deflate; server_max_window_bits=10"],
                Ok(Some(agreed(false, false, 10, 15))),
            ),
            (
                "permessage-deflate; server_max_window_bits=12",
                &["permessage-deflate; server_max_window_bits=12"],
                Ok(Some(agreed(false, false, 12, 15))),
            ),
            (
                "permessage-deflate; server_max_window_bits=12",
                &["permessage-deflate; server_max_window_bits=9"],
                Ok(Some(agreed(false, false, 9, 15))),
            ),
            // The client's window: limited only if offered, to at most the offered value.
            (
                "permessage-deflate; client_max_window_bits",
                &["permessage-deflate; client_max_window_bits=9"],
                Ok(Some(agreed(false, false, 15, 9))),
            ),
            (
                "permessage-deflate; client_max_window_bits=11",
                &[pmd],
                Ok(Some(agreed(false, false, 15, 11))),
            ),
            (
                "permessage-deflate; client_max_window_bits=11",
                &["permessage-deflate; client_max_window_bits=10"],
                Ok(Some(agreed(false, false, 15, 10))),
            ),
            // The client's own no-context-takeover hint binds it.
            (
                "permessage-deflate; client_no_context_takeover",
                &[pmd],
                Ok(Some(agreed(false, true, 15, 15))),
            ),
            // Several offers: the response may answer any of them.
            (
                "permessage-deflate; server_no_context_takeover, permessage-deflate",
                &[pmd],
                Ok(Some(agreed(false, false, 15, 15))),
            ),
            // Another offered extension may be accepted alongside.
            (
                "x-foo, permessage-deflate",
                &["x-foo", "permessage-deflate"],
                Ok(Some(agreed(false, false, 15, 15))),
            ),
            ("x-foo, permessage-deflate", &["x-foo"], Ok(None)),
            // Failures.
            (pmd, &["x-foo"], Err(NotOffered)),
            (
                pmd,
                &["permessage-deflate, permessage-deflate"],
                Err(Repeated),
            ),
            (pmd, &["permessage-deflate; foo"], Err(InvalidParameter)),
            (
                pmd,
                &["permessage-deflate; server_max_window_bits=16"],
                Err(InvalidParameter),
            ),
            (
                pmd,
                &["permessage-deflate; server_max_window_bits"],
                Err(InvalidParameter),
            ),
            (
                "permessage-deflate; client_max_window_bits",
                &["permessage-deflate; client_max_window_bits"],
                Err(InvalidParameter),
            ),
            (
                pmd,
                &["permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
                Err(InvalidParameter),
            ),
            (pmd, &["permessage-deflate; =1"], Err(Malformed)),
            ("permessage-deflate;", &[pmd], Err(Malformed)),
            (
                pmd,
                &["permessage-deflate; client_max_window_bits=10"],
                Err(DoesNotMatchOffer),
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                &["permessage-deflate; client_max_window_bits=11"],
                Err(DoesNotMatchOffer),
            ),
            (
                "permessage-deflate; server_no_context_takeover",
                &[pmd],
                Err(DoesNotMatchOffer),
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                &[pmd],
                Err(DoesNotMatchOffer),
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                &["permessage-deflate; server_max_window_bits=11"],
                Err(DoesNotMatchOffer),
            ),
        ];
        for (offer, response, expected) in table {
            assert_eq!(
                client(offer, response),
                *expected,
                "offer {offer:?} response {response:?}"
            );
        }
    }

    #[test]
    fn client_and_server_agree_on_every_offer_and_config() {
        let mut offers = vec!["permessage-deflate".to_owned()];
        for snct in ["", "; server_no_context_takeover"] {
            for cnct in ["", "; client_no_context_takeover"] {
                for sbits in [
                    String::new(),
                    "; server_max_window_bits=9".into(),
                    "; server_max_window_bits=13".into(),
                ] {
                    for cbits in [
                        "",
                        "; client_max_window_bits",
                        "; client_max_window_bits=8",
                        "; client_max_window_bits=12",
                    ] {
                        offers.push(format!("permessage-deflate{snct}{cnct}{sbits}{cbits}"));
                    }
                }
            }
        }
        let mut configs = Vec::new();
        for server_ctx in [true, false] {
            for client_ctx in [true, false] {
                for (sbits, cbits) in [(15, 15), (9, 8), (11, 13)] {
                    configs.push(
                        DeflateConfig::default()
                            .server_context_takeover(server_ctx)
                            .client_context_takeover(client_ctx)
                            .server_max_window_bits(sbits)
                            .client_max_window_bits(cbits),
                    );
                }
            }
        }
        let mut checked = 0;
        for offer in &offers {
            for config in &configs {
                let Some((server, value)) = negotiate_deflate(&headers(&[offer]), config) else {
                    continue;
                };
                let mut response = HeaderMap::new();
                response.insert(SEC_WEBSOCKET_EXTENSIONS, value.clone());
                let client =
                    accept_deflate_response(&HeaderValue::from_str(offer).unwrap(), &response)
                        .unwrap_or_else(|e| panic!("{e}: offer {offer:?}, response {value:?}"))
                        .unwrap();
                let context = format!("offer {offer:?}, config {config:?}, response {value:?}");
                // The server's compressor fits the window and reset rule the client inflates with.
                assert!(
                    server.server_max_window_bits <= client.server_max_window_bits,
                    "{context}"
                );
                // A client that resets its decompressor needs a server that resets its compressor (a
                // server may reset without saying so; the client's window still decodes that).
                assert!(
                    !client.server_no_context_takeover || server.server_no_context_takeover,
                    "{context}"
                );
                // The client's compressor fits what the server inflates with, and resets when
                // the server's decompressor does.
                assert!(
                    client.client_max_window_bits <= server.client_max_window_bits,
                    "{context}"
                );
                assert!(
                    !server.client_no_context_takeover || client.client_no_context_takeover,
                    "{context}"
                );
                checked += 1;
            }
        }
        // Nothing here asks for an 8-bit server window, so every offer is accepted.
        assert_eq!(checked, offers.len() * configs.len());
    }

    #[test]
    fn parses_quoted_strings_and_lists() {
        let offers = parse_offers(&headers(&["a; b=\"c\\d\", e ; f = g", "h"])).unwrap();
        let names: Vec<_> = offers.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["a", "e", "h"]);
        assert_eq!(
            offers[0].params,
            vec![("b".to_owned(), Some("cd".to_owned()))]
        );
        assert_eq!(
            offers[1].params,
            vec![("f".to_owned(), Some("g".to_owned()))]
        );
        assert!(
            parse_offers(&headers(&["a; b=\"c d\""])).is_none(),
            "quoted value must be a token"
        );
    }
}

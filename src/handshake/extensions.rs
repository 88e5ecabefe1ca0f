//! `Sec-WebSocket-Extensions` (RFC 6455 §9.1) and permessage-deflate negotiation (RFC 7692 §7.1).

use http::HeaderMap;
use http::header::{HeaderValue, SEC_WEBSOCKET_EXTENSIONS};

use crate::proto::{DeflateConfig, DeflateParams};

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
        .filter(|offer| offer.name.eq_ignore_ascii_case("permessage-deflate"))
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

fn accept(offer: &ExtensionOffer, config: &DeflateConfig) -> Option<(DeflateParams, HeaderValue)> {
    let mut wanted = DeflateOffer::default();
    let mut seen = Vec::with_capacity(offer.params.len());
    for (name, value) in &offer.params {
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

    let server_bits = match wanted.server_max_window_bits {
        Some(8) => return None,
        Some(limit) => limit.min(config.server_max_window_bits),
        None => config.server_max_window_bits,
    };
    // The client lets us pick: ask for our preference if it is below its maximum.
    let client_limit = wanted
        .client_max_window_bits
        .map(|offered| config.client_max_window_bits.min(offered.unwrap_or(15)));
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

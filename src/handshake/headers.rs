use http::HeaderMap;
use http::header::HeaderName;

/// The comma-separated tokens of every `name` header line, trimmed.
pub(super) fn tokens<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

/// Whether any `name` header line lists `token` (ASCII case-insensitive).
pub(super) fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    tokens(headers, name).any(|t| t.eq_ignore_ascii_case(token))
}

/// Whether there is exactly one `Sec-WebSocket-Version` line and it is `13` (RFC 6455 §4.2.1
/// item 6; RFC 8441 §5 keeps the same rule for HTTP/2).
pub(super) fn is_version_13(headers: &HeaderMap) -> bool {
    let mut versions = headers.get_all(http::header::SEC_WEBSOCKET_VERSION).iter();
    matches!((versions.next(), versions.next()), (Some(v), None) if v.as_bytes() == b"13")
}

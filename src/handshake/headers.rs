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
///
/// The same answer as searching [`tokens`], on bytes: lines are split and trimmed without
/// first validating them as strings, and only a line where `token` is found is checked to be
/// visible ASCII (which `tokens` requires of every line it reads). It runs on every request.
pub(super) fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
            && value.to_str().is_ok()
    })
}

/// Whether there is exactly one `Sec-WebSocket-Version` line and it is `13` (RFC 6455 §4.2.1
/// item 6; RFC 8441 §5 keeps the same rule for HTTP/2).
pub(super) fn is_version_13(headers: &HeaderMap) -> bool {
    let mut versions = headers.get_all(http::header::SEC_WEBSOCKET_VERSION).iter();
    matches!((versions.next(), versions.next()), (Some(v), None) if v.as_bytes() == b"13")
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use http::header::CONNECTION;

    use super::*;

    #[test]
    fn has_token_agrees_with_searching_tokens() {
        let lines: &[&[u8]] = &[
            b"Upgrade",
            b"upgrade",
            b"keep-alive, Upgrade",
            b" \tUPGRADE\t ,x",
            b"upgraded",
            b"up grade",
            b",,",
            b"",
            b"keep-alive",
            b"Upgrade, \xff",
            b"\xffUpgrade",
            b"x,\tupgrade",
        ];
        for first in lines {
            for second in lines.iter().map(Some).chain([None]) {
                let mut headers = HeaderMap::new();
                headers.append(CONNECTION, HeaderValue::from_bytes(first).unwrap());
                if let Some(second) = second {
                    headers.append(CONNECTION, HeaderValue::from_bytes(second).unwrap());
                }
                let expected =
                    tokens(&headers, &CONNECTION).any(|t| t.eq_ignore_ascii_case("upgrade"));
                assert_eq!(
                    has_token(&headers, &CONNECTION, "upgrade"),
                    expected,
                    "{first:?} {second:?}"
                );
            }
        }
    }
}

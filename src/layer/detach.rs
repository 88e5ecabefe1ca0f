//! Copies the handshake request out of hyper's read buffer.
//!
//! hyper parses a request without copying: the URI and every header value are slices of the
//! connection's read buffer (8–16 KiB). A [`Conn`](crate::Conn) keeps the request for its whole
//! life, so those slices would keep that buffer alive for every idle WebSocket. [`detach`] copies
//! the URI and the values into one exact-size allocation instead.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use http::Uri;
use http::header::HeaderValue;
use http::request::Parts;

/// Rebuilds `parts.uri` and the header values over one freshly allocated buffer. The values are
/// replaced in place, so names, order, repeated headers and the map itself are kept (no
/// rehashing, no second map); sensitivity flags are carried over; method, version and extensions
/// are untouched (an empty extension map is freed).
pub(crate) fn detach(parts: &mut Parts) {
    // hyper's `OnUpgrade` and serve's shutdown handle were taken out: an emptied map is
    // freed rather than kept by every idle connection.
    if parts.extensions.is_empty() {
        parts.extensions = http::Extensions::new();
    }
    let values: usize = parts.headers.values().map(|v| v.len()).sum();
    let mut buf = BytesMut::with_capacity(values + parts.uri.path().len() + 64);
    let uri_start = buf.len();
    if parts.uri.scheme().is_none() && parts.uri.authority().is_none() {
        // Origin form (HTTP/1.1): what `Display` would write, without the formatting machinery.
        buf.put_slice(parts.uri.path().as_bytes());
        if let Some(query) = parts.uri.query() {
            buf.put_u8(b'?');
            buf.put_slice(query.as_bytes());
        }
    } else {
        // Writing into a BytesMut cannot fail.
        let _ = write!(buf, "{}", parts.uri);
    }
    let uri_end = buf.len();
    for value in parts.headers.values() {
        buf.put_slice(value.as_bytes());
    }
    let shared = buf.freeze();

    if let Ok(uri) = Uri::from_maybe_shared(shared.slice(uri_start..uri_end)) {
        parts.uri = uri;
    }
    // `values_mut` visits the values in the order `values` did above.
    let mut at = uri_end;
    for value in parts.headers.values_mut() {
        let end = at + value.len();
        if let Ok(mut copy) = HeaderValue::from_maybe_shared(shared.slice(at..end)) {
            copy.set_sensitive(value.is_sensitive());
            *value = copy;
        }
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::Request;

    use super::*;

    #[test]
    fn keeps_everything_and_shares_nothing_with_the_original() {
        let original = Bytes::from_static(b"/chat?room=1 token-abc keep-alive upgrade");
        let mut request = Request::get(Uri::from_maybe_shared(original.slice(0..12)).unwrap())
            .body(())
            .unwrap();
        let headers = request.headers_mut();
        let mut auth = HeaderValue::from_maybe_shared(original.slice(13..22)).unwrap();
        auth.set_sensitive(true);
        headers.insert("authorization", auth);
        headers.append(
            "connection",
            HeaderValue::from_maybe_shared(original.slice(23..33)).unwrap(),
        );
        headers.append(
            "connection",
            HeaderValue::from_maybe_shared(original.slice(34..41)).unwrap(),
        );
        headers.insert("x-custom", HeaderValue::from_static("v"));
        let (mut parts, ()) = request.into_parts();
        let before = parts.clone();
        detach(&mut parts);

        assert_eq!(parts.uri, before.uri);
        assert_eq!(parts.uri.query(), Some("room=1"));
        assert_eq!(parts.headers, before.headers);
        let connection: Vec<_> = parts.headers.get_all("connection").iter().collect();
        assert_eq!(connection, ["keep-alive", "upgrade"]);
        assert!(parts.headers["authorization"].is_sensitive());
        let range = original.as_ptr() as usize..original.as_ptr() as usize + original.len();
        for value in parts.headers.values() {
            assert!(!range.contains(&(value.as_bytes().as_ptr() as usize)));
        }
        assert!(!range.contains(&(parts.uri.path().as_ptr() as usize)));
    }

    #[test]
    fn absolute_uri_and_repeated_values_survive() {
        let original = Bytes::from_static(b"https://example.com:8443/ws?x=1 a b");
        let uri = Uri::from_maybe_shared(original.slice(0..31)).unwrap();
        let mut request = Request::get(uri).body(()).unwrap();
        let headers = request.headers_mut();
        for range in [32..33, 34..35] {
            let value = HeaderValue::from_maybe_shared(original.slice(range)).unwrap();
            headers.append("x-repeated", value);
        }
        let (mut parts, ()) = request.into_parts();
        let before = parts.clone();
        detach(&mut parts);

        assert_eq!(parts.uri, before.uri);
        assert_eq!(parts.uri.to_string(), "https://example.com:8443/ws?x=1");
        let values: Vec<_> = parts.headers.get_all("x-repeated").iter().collect();
        assert_eq!(values, ["a", "b"]);
        let range = original.as_ptr() as usize..original.as_ptr() as usize + original.len();
        for value in parts.headers.values() {
            assert!(!range.contains(&(value.as_bytes().as_ptr() as usize)));
        }
        assert!(!range.contains(&(parts.uri.path().as_ptr() as usize)));
    }
}

//! Where to connect: a `ws://` or `wss://` URL taken apart, and a redirect's `Location`
//! resolved against it.

use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};

use super::Error;

/// A WebSocket URL, checked: scheme, host, port and the path (with query) to request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// `wss://` (or `https://`): TLS.
    pub(crate) secure: bool,
    /// The host as written, without brackets for IPv6 (what TLS's SNI and DNS want).
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The `Host` header value: the authority without userinfo, the port only when it is not
    /// the scheme's default.
    pub(crate) authority: Authority,
    pub(crate) path: PathAndQuery,
}

impl Target {
    /// Parses a `ws://`, `wss://` (or `http://`, `https://`, which mean the same) URL.
    pub(crate) fn parse(url: &str) -> Result<Self, Error> {
        let uri: Uri = url.parse().map_err(|_| Error::InvalidUrl("not a URL"))?;
        Self::from_uri(&uri)
    }

    pub(crate) fn from_uri(uri: &Uri) -> Result<Self, Error> {
        let secure = match uri.scheme().map(Scheme::as_str) {
            Some(s) if s.eq_ignore_ascii_case("wss") || s.eq_ignore_ascii_case("https") => true,
            Some(s) if s.eq_ignore_ascii_case("ws") || s.eq_ignore_ascii_case("http") => false,
            Some(_) => return Err(Error::InvalidUrl("the scheme is not ws or wss")),
            None => return Err(Error::InvalidUrl("no scheme (ws:// or wss://)")),
        };
        let authority = uri.authority().ok_or(Error::InvalidUrl("no host"))?;
        if authority.as_str().contains('@') {
            return Err(Error::InvalidUrl(
                "credentials in the URL are not sent; add an Authorization header",
            ));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(Error::InvalidUrl("no host"));
        }
        let default_port = if secure { 443 } else { 80 };
        let port = authority.port_u16().unwrap_or(default_port);
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let authority = if port == default_port {
            authority_of(&host, None)?
        } else {
            authority_of(&host, Some(port))?
        };
        let path = uri
            .path_and_query()
            .cloned()
            .filter(|p| !p.as_str().is_empty())
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        Ok(Self {
            secure,
            host,
            port,
            authority,
            path,
        })
    }

    /// The URL a redirect's `Location` points to, relative references resolved against this
    /// target (RFC 9110 §10.2.2, RFC 3986 §5.2).
    pub(crate) fn redirect(&self, location: &str) -> Result<Self, Error> {
        let location = location.trim();
        if location.contains("://") {
            return Self::parse(location);
        }
        let scheme = if self.secure { "wss" } else { "ws" };
        if let Some(rest) = location.strip_prefix("//") {
            return Self::parse(&format!("{scheme}://{rest}"));
        }
        let path = if location.starts_with('/') {
            location.to_owned()
        } else {
            // Relative to the directory of the current path (queries dropped).
            let current = self.path.path();
            let dir = &current[..current.rfind('/').map_or(0, |i| i + 1)];
            format!("{}{location}", if dir.is_empty() { "/" } else { dir })
        };
        Self::parse(&format!("{scheme}://{}{path}", self.authority))
    }

    /// Whether `other` is the same origin (scheme, host, port): credentials the user added
    /// are only sent again to the same origin after a redirect.
    pub(crate) fn same_origin(&self, other: &Self) -> bool {
        self.secure == other.secure
            && self.host.eq_ignore_ascii_case(&other.host)
            && self.port == other.port
    }

    /// `host:port` for a CONNECT request and for DNS, IPv6 in brackets.
    pub(crate) fn host_port(&self) -> String {
        authority_of(&self.host, Some(self.port))
            .map(|a| a.to_string())
            .unwrap_or_default()
    }

    /// The URI of an HTTP/2 extended CONNECT for this target: `https://authority/path` or
    /// `http://authority/path` (RFC 8441 §4: `:scheme`, `:authority`, `:path`).
    #[cfg(feature = "http2")]
    pub(crate) fn h2_uri(&self) -> Result<Uri, Error> {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.path)
            .parse()
            .map_err(|_| Error::InvalidUrl("not a URL"))
    }
}

fn authority_of(host: &str, port: Option<u16>) -> Result<Authority, Error> {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let text = match port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    text.parse().map_err(|_| Error::InvalidUrl("invalid host"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_apart() {
        let t = Target::parse("ws://example.com/chat?room=1").unwrap();
        assert_eq!(
            (t.secure, t.host.as_str(), t.port),
            (false, "example.com", 80)
        );
        assert_eq!(
            (t.authority.as_str(), t.path.as_str()),
            ("example.com", "/chat?room=1")
        );
        let t = Target::parse("wss://example.com").unwrap();
        assert_eq!((t.secure, t.port, t.path.as_str()), (true, 443, "/"));
        let t = Target::parse("WSS://Example.com:8443/x").unwrap();
        assert_eq!((t.port, t.authority.as_str()), (8443, "Example.com:8443"));
        let t = Target::parse("ws://[::1]:9001/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.host_port()),
            ("::1", "[::1]:9001".to_owned())
        );
        assert_eq!(t.authority.as_str(), "[::1]:9001");
        let t = Target::parse("https://example.com:443/").unwrap();
        assert!(t.secure);
        assert_eq!(t.authority.as_str(), "example.com");
    }

    #[test]
    fn bad_urls_are_refused() {
        for bad in [
            "example.com/ws",
            "ftp://example.com/",
            "ws:///path",
            "ws://user:pw@example.com/",
            "not a url",
        ] {
            assert!(
                matches!(Target::parse(bad), Err(Error::InvalidUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn redirects_resolve_against_the_current_url() {
        let t = Target::parse("ws://a.example:8080/rooms/lobby?x=1").unwrap();
        let r = |loc| t.redirect(loc).unwrap();
        assert_eq!(r("/other").path.as_str(), "/other");
        assert_eq!(r("/other").authority.as_str(), "a.example:8080");
        assert_eq!(r("kitchen").path.as_str(), "/rooms/kitchen");
        assert_eq!(r("//b.example/y").host, "b.example");
        assert!(r("wss://c.example/").secure);
        assert!(r("https://c.example/").secure);
        assert!(t.same_origin(&r("/x")));
        assert!(!t.same_origin(&r("//b.example/")));
        assert!(!t.same_origin(&r("wss://a.example:8080/")));
    }
}

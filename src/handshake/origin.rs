//! Which web pages may open a WebSocket: the `Origin` check (RFC 6455 §4.2.1 item 7, §10.2).
//!
//! Browsers send the page's origin with every WebSocket handshake and, unlike `fetch`, apply no
//! CORS check to the answer: without an origin check any page on the web can open a WebSocket to
//! the server with the user's cookies (cross-site WebSocket hijacking). Clients that are not
//! browsers send no `Origin`; they could forge any value anyway, so the check does not apply to
//! them.

use std::fmt;
use std::sync::Arc;

use http::header;
use http::request::Parts;

use super::HandshakeRejection;

type Predicate = Arc<dyn Fn(&str, &Parts) -> bool + Send + Sync>;

/// Which `Origin`s may open a WebSocket; a handshake from any other origin is answered
/// `403 Forbidden` ([`HandshakeRejection::OriginNotAllowed`]).
///
/// The default is [`same_host`](Self::same_host), gorilla/websocket's secure default: a request
/// with an `Origin` is accepted only if the origin's host and port equal the request's own
/// (`Host`, or `:authority` over HTTP/2). A request without `Origin` (a client that is not a
/// browser) is always accepted, whatever the policy. A request with more than one `Origin`
/// line, or one that is not text, is refused by every policy except
/// [`allow_any_origin`](Self::allow_any_origin).
///
/// ```
/// use tower_websocket::handshake::OriginPolicy;
///
/// // The page's own host, plus the app served from another one.
/// let policy = OriginPolicy::same_host().allow_origins(["https://app.example.com"])?;
///
/// // Full control: any subdomain of example.com over HTTPS.
/// let custom = OriginPolicy::custom(|origin, _request| {
///     origin
///         .strip_prefix("https://")
///         .is_some_and(|host| host == "example.com" || host.ends_with(".example.com"))
/// });
/// # let _ = (policy, custom);
/// # Ok::<(), tower_websocket::handshake::InvalidOrigin>(())
/// ```
#[derive(Clone)]
pub struct OriginPolicy {
    any: bool,
    same_host: bool,
    /// Normalized `scheme://host[:port]` values.
    allowed: Vec<String>,
    predicate: Option<Predicate>,
}

impl OriginPolicy {
    /// The default: an `Origin`, if present, must name the host (and port) the request was sent
    /// to. Default ports are implied: `https://example.com` matches `Host: example.com:443`.
    pub fn same_host() -> Self {
        Self {
            any: false,
            same_host: true,
            allowed: Vec::new(),
            predicate: None,
        }
    }

    /// Decides with `predicate(origin, request)` instead of the same-host rule; origins listed
    /// with [`allow_origins`](Self::allow_origins) are accepted without asking it. Requests
    /// without `Origin` never reach it. [`is_same_host`](Self::is_same_host) is there to build
    /// on.
    pub fn custom<F>(predicate: F) -> Self
    where
        F: Fn(&str, &Parts) -> bool + Send + Sync + 'static,
    {
        Self {
            any: false,
            same_host: false,
            allowed: Vec::new(),
            predicate: Some(Arc::new(predicate)),
        }
    }

    /// Turns the origin check off: pages on **any** site may open a WebSocket to this server,
    /// with the user's cookies. Only for servers that authenticate every WebSocket by other
    /// means than cookies (a token in the first message, for example), or serve public data.
    pub fn allow_any_origin() -> Self {
        Self {
            any: true,
            same_host: false,
            allowed: Vec::new(),
            predicate: None,
        }
    }

    /// Also accepts these origins, each written as browsers send it: `scheme://host` or
    /// `scheme://host:port`, no path (`https://app.example.com`, `http://localhost:5173`).
    /// Scheme and host compare case-insensitively and a default port may be left out or given.
    ///
    /// Fails on the first value that is not an origin (including `null`, the opaque origin of
    /// sandboxed pages and local files, which any such page can send).
    pub fn allow_origins<I>(mut self, origins: I) -> Result<Self, InvalidOrigin>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for origin in origins {
            let origin = origin.as_ref();
            let parsed = Origin::parse(origin).ok_or_else(|| InvalidOrigin(origin.to_owned()))?;
            self.allowed.push(parsed.normalized());
        }
        Ok(self)
    }

    /// Whether `origin` (an `Origin` header value) names the host and port `request` was sent
    /// to: its `:authority` or absolute-form URI authority, else its `Host` header.
    pub fn is_same_host(origin: &str, request: &Parts) -> bool {
        let Some(origin) = Origin::parse(origin) else {
            return false;
        };
        let authority = match request.uri.authority() {
            Some(authority) => authority.as_str(),
            None => {
                let mut hosts = request.headers.get_all(header::HOST).iter();
                match (hosts.next(), hosts.next()) {
                    (Some(host), None) => match host.to_str() {
                        Ok(host) => host,
                        Err(_) => return false,
                    },
                    _ => return false,
                }
            }
        };
        let Some((host, port)) = split_authority(authority) else {
            return false;
        };
        let default = default_port(&origin.scheme);
        host.eq_ignore_ascii_case(&origin.host) && port.or(default) == origin.port.or(default)
    }

    /// Applies the policy to a handshake request.
    pub fn check(&self, request: &Parts) -> Result<(), HandshakeRejection> {
        if self.allows(request) {
            Ok(())
        } else {
            Err(HandshakeRejection::OriginNotAllowed)
        }
    }

    fn allows(&self, request: &Parts) -> bool {
        if self.any {
            return true;
        }
        let mut values = request.headers.get_all(header::ORIGIN).iter();
        let origin = match (values.next(), values.next()) {
            (None, _) => return true,
            (Some(origin), None) => match origin.to_str() {
                Ok(origin) => origin,
                Err(_) => return false,
            },
            (Some(_), Some(_)) => return false,
        };
        if !self.allowed.is_empty()
            && Origin::parse(origin).is_some_and(|o| self.allowed.contains(&o.normalized()))
        {
            return true;
        }
        (self.same_host && Self::is_same_host(origin, request))
            || self
                .predicate
                .as_ref()
                .is_some_and(|predicate| predicate(origin, request))
    }
}

impl Default for OriginPolicy {
    /// [`OriginPolicy::same_host`].
    fn default() -> Self {
        Self::same_host()
    }
}

impl fmt::Debug for OriginPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.any {
            return f.write_str("OriginPolicy::AllowAnyOrigin");
        }
        f.debug_struct("OriginPolicy")
            .field("same_host", &self.same_host)
            .field("allowed", &self.allowed)
            .field("custom", &self.predicate.is_some())
            .finish()
    }
}

/// A value given to [`OriginPolicy::allow_origins`] that is not an origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidOrigin(String);

impl fmt::Display for InvalidOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid origin {:?}: expected scheme://host or scheme://host:port, without a path \
             (e.g. https://app.example.com)",
            self.0
        )
    }
}

impl std::error::Error for InvalidOrigin {}

/// An origin (RFC 6454 serialization): scheme and host lowercased, port if given.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    fn parse(value: &str) -> Option<Self> {
        let (scheme, authority) = value.split_once("://")?;
        let mut chars = scheme.chars();
        let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !scheme_ok || authority.contains(['/', '?', '#', '@']) {
            return None;
        }
        let (host, port) = split_authority(authority)?;
        Some(Self {
            scheme: scheme.to_ascii_lowercase(),
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// `scheme://host[:port]`, without the scheme's default port.
    fn normalized(&self) -> String {
        match self.port.filter(|&p| Some(p) != default_port(&self.scheme)) {
            Some(port) => format!("{}://{}:{port}", self.scheme, self.host),
            None => format!("{}://{}", self.scheme, self.host),
        }
    }
}

/// `host[:port]` (host may be a bracketed IPv6 literal) into host and port; `None` if the host
/// is empty, contains characters no host has, or the port is not a number.
fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')? + 1;
        let (host, rest) = authority.split_at(end);
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~[]:%".contains(&b));
    if !host_ok || (!host.starts_with('[') && host.contains([':', '[', ']'])) {
        return None;
    }
    let port = match port {
        None => None,
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            Some(port.parse().ok()?)
        }
        Some(_) => return None,
    };
    Some((host, port))
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use http::{Request, Version};

    use super::*;

    fn request(host: &str, origins: &[&str]) -> Parts {
        let mut builder = Request::get("/ws").header("host", host);
        for origin in origins {
            builder = builder.header("origin", *origin);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn same_host(host: &str, origin: &str) -> bool {
        OriginPolicy::same_host()
            .check(&request(host, &[origin]))
            .is_ok()
    }

    #[test]
    fn no_origin_is_a_non_browser_client_and_always_allowed() {
        assert!(
            OriginPolicy::same_host()
                .check(&request("a.com", &[]))
                .is_ok()
        );
        let deny_all = OriginPolicy::custom(|_, _| false);
        assert!(deny_all.check(&request("a.com", &[])).is_ok());
    }

    #[test]
    fn same_host_compares_host_and_port_with_default_ports_implied() {
        assert!(same_host("example.com", "https://example.com"));
        assert!(same_host("EXAMPLE.com", "https://example.COM"));
        assert!(same_host("example.com:443", "https://example.com"));
        assert!(same_host("example.com", "https://example.com:443"));
        assert!(same_host("example.com", "http://example.com"));
        assert!(same_host("127.0.0.1:3000", "http://127.0.0.1:3000"));
        assert!(same_host("[::1]:3000", "http://[::1]:3000"));

        assert!(!same_host("example.com", "https://evil.com"));
        assert!(!same_host("example.com", "https://example.com.evil.com"));
        assert!(!same_host("example.com:8080", "https://example.com"));
        assert!(!same_host("127.0.0.1:3000", "http://127.0.0.1:3001"));
        assert!(!same_host("127.0.0.1:3000", "http://localhost:3000"));
        assert!(!same_host("example.com", "null"));
        assert!(!same_host("example.com", "example.com"));
        assert!(!same_host("example.com", "https://example.com/path"));
        assert!(!same_host("example.com", "https://user@example.com"));
        assert!(!same_host("example.com", "https://example.com:port"));
    }

    #[test]
    fn same_host_uses_the_http2_authority() {
        let mut parts = Request::connect("https://chat.example.com/ws")
            .header("origin", "https://chat.example.com")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        parts.version = Version::HTTP_2;
        assert!(OriginPolicy::same_host().check(&parts).is_ok());
        parts
            .headers
            .insert("origin", "https://evil.com".parse().unwrap());
        assert_eq!(
            OriginPolicy::same_host().check(&parts),
            Err(HandshakeRejection::OriginNotAllowed)
        );
    }

    #[test]
    fn no_host_or_repeated_origins_are_refused() {
        let mut parts = request("a.com", &["https://a.com"]);
        parts.headers.remove("host");
        assert!(OriginPolicy::same_host().check(&parts).is_err());
        let parts = request("a.com", &["https://a.com", "https://a.com"]);
        assert!(OriginPolicy::same_host().check(&parts).is_err());
        assert!(OriginPolicy::allow_any_origin().check(&parts).is_ok());
    }

    #[test]
    fn allowlist_adds_origins_normalized() {
        let policy = OriginPolicy::same_host()
            .allow_origins(["HTTPS://App.Example.com:443", "http://localhost:5173"])
            .unwrap();
        let allowed = |origin| policy.check(&request("api.example.com", &[origin])).is_ok();
        assert!(allowed("https://app.example.com"));
        assert!(allowed("http://localhost:5173"));
        assert!(
            allowed("https://api.example.com"),
            "same host still allowed"
        );
        assert!(!allowed("http://app.example.com"), "scheme matters");
        assert!(!allowed("http://localhost:5174"));
        for bad in ["null", "app.example.com", "https://a.com/", "https://", "*"] {
            let error = OriginPolicy::same_host().allow_origins([bad]).unwrap_err();
            assert!(error.to_string().contains(bad), "{error}");
        }
    }

    #[test]
    fn custom_predicate_sees_the_origin_and_the_request() {
        let policy = OriginPolicy::custom(|origin, request| {
            origin.ends_with(".example.com") && request.uri.path() == "/ws"
        })
        .allow_origins(["https://partner.org"])
        .unwrap();
        assert!(
            policy
                .check(&request("x", &["https://a.example.com"]))
                .is_ok()
        );
        assert!(
            policy
                .check(&request("x", &["https://partner.org"]))
                .is_ok()
        );
        assert!(policy.check(&request("x", &["https://x"])).is_err());
    }

    #[test]
    fn opt_out_allows_anything() {
        let policy = OriginPolicy::allow_any_origin();
        assert!(
            policy
                .check(&request("a.com", &["https://evil.com"]))
                .is_ok()
        );
        assert!(policy.check(&request("a.com", &["null"])).is_ok());
        assert!(format!("{policy:?}").contains("AllowAnyOrigin"));
    }
}

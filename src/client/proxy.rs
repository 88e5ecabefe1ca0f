//! HTTP proxies: a `CONNECT` tunnel through a proxy given explicitly or found in the
//! environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`).

use std::io;

use base64::Engine;
use http::header::{self, HeaderMap, HeaderValue};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::target::Target;
use super::{Error, http1};

/// An HTTP proxy that tunnels with `CONNECT` (an `http://` proxy URL; credentials in it are
/// sent as `Proxy-Authorization: Basic`).
///
/// ```
/// use tower_websocket::client::Proxy;
///
/// let proxy = Proxy::http("http://user:secret@proxy.internal:3128").unwrap();
/// assert_eq!(proxy.host_port(), "proxy.internal:3128");
/// ```
#[derive(Clone)]
pub struct Proxy {
    host: String,
    port: u16,
    authorization: Option<HeaderValue>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Proxy {
    /// A proxy at `url`: `http://host:port` (port 80 if left out), or `host:port`, with
    /// optional `user:password@` (percent-encoded as in any URL).
    pub fn http(url: &str) -> Result<Self, Error> {
        let rest = url.trim();
        let rest = match rest.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some(_) => return Err(Error::InvalidUrl("only http:// proxies are supported")),
            None => rest,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let parsed: http::uri::Authority = hostport
            .parse()
            .map_err(|_| Error::InvalidUrl("invalid proxy address"))?;
        let host = parsed.host().trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(Error::InvalidUrl("invalid proxy address"));
        }
        let authorization = userinfo
            .map(|userinfo| {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let credentials = format!("{}:{}", percent_decode(user), percent_decode(password));
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                HeaderValue::from_str(&format!("Basic {encoded}"))
                    .map_err(|_| Error::InvalidUrl("invalid proxy credentials"))
            })
            .transpose()?;
        Ok(Self {
            host: host.to_owned(),
            port: parsed.port_u16().unwrap_or(80),
            authorization,
        })
    }

    /// `host:port` of the proxy (IPv6 in brackets), where the TCP connection goes.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The proxy the environment names for `target`, if any.
    pub(crate) fn from_env(target: &Target) -> Option<Self> {
        from_vars(|name| std::env::var(name).ok(), target)
    }

    /// Opens a tunnel to `target` over `io`, a connection to the proxy.
    pub(crate) async fn tunnel<T>(&self, io: &mut T, target: &Target) -> Result<(), Error>
    where
        T: AsyncRead + AsyncWrite + Unpin,
    {
        let host_port = target.host_port();
        let mut head = format!("CONNECT {host_port} HTTP/1.1\r\n").into_bytes();
        let mut headers = HeaderMap::new();
        let host =
            HeaderValue::from_str(&host_port).map_err(|_| Error::InvalidUrl("invalid host"))?;
        headers.insert(header::HOST, host);
        if let Some(authorization) = &self.authorization {
            headers.insert(header::PROXY_AUTHORIZATION, authorization.clone());
        }
        http1::write_headers(&mut head, &headers);
        io.write_all(&head).await.map_err(Error::Connect)?;
        io.flush().await.map_err(Error::Connect)?;
        let (response, rest) = http1::read_head(io).await?;
        if !response.status().is_success() {
            return Err(Error::ProxyRefused(response.status()));
        }
        // The target speaks only after the client has (a TLS hello, the handshake request):
        // bytes behind the proxy's answer are a broken proxy.
        if !rest.is_empty() {
            return Err(Error::Http(io::Error::new(
                io::ErrorKind::InvalidData,
                "the proxy sent data behind its answer to CONNECT",
            )));
        }
        Ok(())
    }
}

/// The proxy for `target` by the variables `var` reads (curl's rules): `https_proxy` /
/// `HTTPS_PROXY` for secure targets, `http_proxy` / `HTTP_PROXY` for plain ones (the lower
/// case wins; the upper case `HTTP_PROXY` is still read, as Go does), then `all_proxy` /
/// `ALL_PROXY`; none for a host `no_proxy` / `NO_PROXY` matches.
pub(crate) fn from_vars(var: impl Fn(&str) -> Option<String>, target: &Target) -> Option<Proxy> {
    let read = |name: &str| {
        var(&name.to_ascii_lowercase())
            .or_else(|| var(name))
            .filter(|v| !v.trim().is_empty())
    };
    let no_proxy = read("NO_PROXY").unwrap_or_default();
    if bypasses(&no_proxy, &target.host, target.port) {
        return None;
    }
    let scheme_var = if target.secure {
        "HTTPS_PROXY"
    } else {
        "HTTP_PROXY"
    };
    let url = read(scheme_var).or_else(|| read("ALL_PROXY"))?;
    Proxy::http(&url).ok()
}

/// Whether `NO_PROXY` (comma- or space-separated) exempts `host`: `*` exempts every host; an
/// entry matches the host itself and, as a domain, every host under it (`example.com` and
/// `.example.com` both match `api.example.com`); an entry with a port matches that port only.
fn bypasses(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    no_proxy
        .split([',', ' '])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry.to_ascii_lowercase();
            let (name, entry_port) = match entry.rsplit_once(':') {
                Some((name, p)) if !name.contains(':') || name.ends_with(']') => {
                    (name, p.parse::<u16>().ok())
                }
                _ => (entry.as_str(), None),
            };
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            let name = name.trim_start_matches('[').trim_end_matches(']');
            let name = name.trim_start_matches("*.").trim_start_matches('.');
            host == name || host.ends_with(&format!(".{name}"))
        })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn proxy_urls_parse() {
        let p = Proxy::http("http://proxy:3128").unwrap();
        assert_eq!(p.host_port(), "proxy:3128");
        assert!(p.authorization.is_none());
        let p = Proxy::http("proxy.internal").unwrap();
        assert_eq!(p.host_port(), "proxy.internal:80");
        let p = Proxy::http("http://al%40ice:p%3Ass@[::1]:8080/").unwrap();
        assert_eq!(p.host_port(), "[::1]:8080");
        // base64("al@ice:p:ss")
        assert_eq!(p.authorization.unwrap(), "Basic YWxAaWNlOnA6c3M=");
        assert!(Proxy::http("socks5://proxy:1080").is_err());
        assert!(Proxy::http("http://:3128").is_err());
        assert!(!format!("{:?}", Proxy::http("http://u:secret@p:1").unwrap()).contains("secret"));
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn proxy_for(vars: &[(&str, &str)], url: &str) -> Option<String> {
        from_vars(env(vars), &Target::parse(url).unwrap()).map(|p| p.host_port())
    }

    #[test]
    fn the_environment_picks_by_scheme() {
        let vars = [
            ("HTTPS_PROXY", "http://secure:1"),
            ("http_proxy", "http://plain:2"),
        ];
        assert_eq!(
            proxy_for(&vars, "wss://a.example/").as_deref(),
            Some("secure:1")
        );
        assert_eq!(
            proxy_for(&vars, "ws://a.example/").as_deref(),
            Some("plain:2")
        );
        let all = [("ALL_PROXY", "http://all:3")];
        assert_eq!(
            proxy_for(&all, "wss://a.example/").as_deref(),
            Some("all:3")
        );
        assert_eq!(proxy_for(&[], "wss://a.example/"), None);
        let lower_wins = [
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
        ];
        assert_eq!(
            proxy_for(&lower_wins, "wss://x/").as_deref(),
            Some("lower:1")
        );
    }

    #[test]
    fn no_proxy_exempts_hosts_and_domains() {
        let with = |no: &str, url: &str| {
            proxy_for(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", no)], url).is_none()
        };
        assert!(with("*", "wss://anything/"));
        assert!(with("example.com", "wss://example.com/"));
        assert!(with("example.com", "wss://api.example.com/"));
        assert!(with(".example.com", "wss://api.example.com/"));
        assert!(with("localhost, 127.0.0.1", "wss://127.0.0.1:9000/"));
        assert!(with("[::1]", "wss://[::1]:9000/"));
        assert!(with("internal:8443", "wss://internal:8443/"));
        assert!(!with("internal:8443", "wss://internal/"));
        assert!(!with("example.com", "wss://notexample.com/"));
        assert!(!with("", "wss://example.com/"));
    }
}

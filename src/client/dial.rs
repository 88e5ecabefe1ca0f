//! From a URL to a connected, handshaken [`Conn`]: TCP (through a proxy, if one is set), TLS,
//! the handshake over HTTP/1.1 or HTTP/2, redirects, each phase under its timeout.

use http::header::{self, HeaderMap};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::builder::ProxyChoice;
use super::proxy::Proxy;
use super::target::Target;
use super::{Builder, Error, deadline, handshake};
use crate::conn::{BoxedIo, Conn};

/// A connected transport, before the WebSocket handshake.
struct Transport {
    io: BoxedIo,
    peer_addr: Option<std::net::SocketAddr>,
    /// TLS picked `h2` by ALPN, or HTTP/2 with prior knowledge was asked for over `ws://`.
    h2: bool,
}

/// Connects to the builder's URL, following redirects as far as the builder allows.
pub(crate) async fn connect(builder: &Builder) -> Result<Conn, Error> {
    let mut target = Target::parse(&builder.url)?;
    let mut headers = builder.checked_headers()?;
    let mut redirects = 0;
    loop {
        match connect_once(builder, &target, &headers).await {
            Err(Error::Refused(response)) if is_redirect(response.status()) => {
                let Some(location) = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                else {
                    return Err(Error::Refused(response));
                };
                if builder.max_redirects == 0 {
                    return Err(Error::Refused(response));
                }
                if redirects == builder.max_redirects {
                    return Err(Error::TooManyRedirects);
                }
                redirects += 1;
                let next = target.redirect(location)?;
                if !target.same_origin(&next) {
                    headers.remove(header::AUTHORIZATION);
                    headers.remove(header::COOKIE);
                    headers.remove(header::HOST);
                }
                target = next;
            }
            result => return result,
        }
    }
}

fn is_redirect(status: http::StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

async fn connect_once(
    builder: &Builder,
    target: &Target,
    headers: &HeaderMap,
) -> Result<Conn, Error> {
    // One deadline for all of the connect phase: the wait for HTTP/2 SETTINGS gets what the
    // TCP connect and TLS left of it, not a second connect timeout.
    let deadline = deadline::after(builder.connect_timeout);
    let transport = deadline::by(deadline, Error::ConnectTimeout, open(builder, target)).await?;
    let peer_addr = transport.peer_addr;
    let conn = if transport.h2 {
        h2(builder, target, headers, transport.io, deadline).await?
    } else {
        handshake::http1(builder, target, headers, transport.io).await?
    };
    Ok(conn.with_peer_addr(peer_addr))
}

/// The HTTP/2 connection (by the connect phase's `deadline`), then the extended CONNECT.
/// Each handshake applies the handshake timeout itself, so that a refusal whose head came
/// in time is reported as one, whatever its body does.
#[cfg(feature = "http2")]
async fn h2(
    builder: &Builder,
    target: &Target,
    headers: &HeaderMap,
    io: BoxedIo,
    deadline: Option<Instant>,
) -> Result<Conn, Error> {
    let send = super::h2::open(io, deadline).await?;
    super::h2::handshake(builder, target, headers, send).await
}

#[cfg(not(feature = "http2"))]
async fn h2(
    _: &Builder,
    _: &Target,
    _: &HeaderMap,
    _: BoxedIo,
    _: Option<Instant>,
) -> Result<Conn, Error> {
    Err(Error::ExtendedConnectUnavailable)
}

/// TCP to the target or its proxy, the tunnel, then TLS for `wss://`.
async fn open(builder: &Builder, target: &Target) -> Result<Transport, Error> {
    let proxy = match &builder.proxy {
        ProxyChoice::None => None,
        ProxyChoice::Explicit(proxy) => Some(proxy.clone()),
        ProxyChoice::FromEnv => Proxy::from_env(target),
    };
    let (mut tcp, peer_addr) = match &proxy {
        Some(proxy) => (tcp(&proxy.host_port()).await?, None),
        None => {
            let tcp = tcp(&target.host_port()).await?;
            let peer = tcp.peer_addr().ok();
            (tcp, peer)
        }
    };
    if let Some(proxy) = &proxy {
        proxy.tunnel(&mut tcp, target).await?;
    }
    #[cfg(feature = "http2")]
    let http2 = builder.http2;
    #[cfg(not(feature = "http2"))]
    let http2 = false;
    if !target.secure {
        return Ok(Transport {
            io: BoxedIo::new(tcp),
            peer_addr,
            h2: http2,
        });
    }
    tls(builder, target, tcp, http2)
        .await
        .map(|(io, h2)| Transport { io, peer_addr, h2 })
}

#[cfg(feature = "rustls")]
async fn tls(
    builder: &Builder,
    target: &Target,
    tcp: TcpStream,
    http2: bool,
) -> Result<(BoxedIo, bool), Error> {
    let (stream, h2) = super::tls::connect(tcp, &target.host, builder.tls.as_ref(), http2).await?;
    Ok((BoxedIo::new(stream), h2))
}

#[cfg(not(feature = "rustls"))]
async fn tls(_: &Builder, _: &Target, _: TcpStream, _: bool) -> Result<(BoxedIo, bool), Error> {
    Err(Error::InvalidUrl(
        "wss:// needs the `rustls` feature (or connect_on over your own TLS stream)",
    ))
}

/// A TCP connection to `host:port`, with `TCP_NODELAY` (WebSocket messages are written whole;
/// Nagle would only delay small ones).
async fn tcp(host_port: &str) -> Result<TcpStream, Error> {
    let stream = TcpStream::connect(host_port)
        .await
        .map_err(Error::Connect)?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

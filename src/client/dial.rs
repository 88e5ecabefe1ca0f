//! From a URL to a connected, handshaken [`Conn`]: TCP (through a proxy, if one is set), TLS,
//! the handshake over HTTP/1.1 or HTTP/2, redirects, each phase under its timeout.

use http::header::{self, HeaderMap};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::builder::ProxyChoice;
use super::proxy::Proxy;
use super::target::Target;
use super::{Builder, Error, handshake};
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
    // TCP connect and TLS left of it, not a second connect timeout. A timeout too large for
    // an `Instant` is no bound.
    let deadline = if builder.connect_timeout.is_zero() {
        None
    } else {
        Instant::now().checked_add(builder.connect_timeout)
    };
    let open = open(builder, target);
    let transport = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, open)
            .await
            .unwrap_or(Err(Error::ConnectTimeout))?,
        None => open.await?,
    };
    let peer_addr = transport.peer_addr;
    let conn = if transport.h2 {
        h2(builder, target, headers, transport.io, deadline).await?
    } else {
        // Under the handshake timeout, which it applies itself.
        handshake::http1(builder, target, headers, transport.io).await?
    };
    Ok(conn.with_peer_addr(peer_addr))
}

/// The HTTP/2 connection (by the connect phase's `deadline`), then the extended CONNECT
/// (under the handshake timeout).
#[cfg(feature = "http2")]
async fn h2(
    builder: &Builder,
    target: &Target,
    headers: &HeaderMap,
    io: BoxedIo,
    deadline: Option<Instant>,
) -> Result<Conn, Error> {
    let send = super::h2::open(io, deadline).await?;
    let handshake = super::h2::handshake(builder, target, headers, send);
    bounded(
        builder.handshake_timeout,
        Error::HandshakeTimeout,
        handshake,
    )
    .await
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

/// `future` within `timeout` (zero: no bound), else `error`.
#[cfg(feature = "http2")]
pub(crate) async fn bounded<T>(
    timeout: std::time::Duration,
    error: Error,
    future: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    if timeout.is_zero() {
        return future.await;
    }
    tokio::time::timeout(timeout, future)
        .await
        .unwrap_or(Err(error))
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

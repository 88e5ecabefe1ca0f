//! The client over TLS (`wss://`) and over HTTP/2 (RFC 8441, after ALPN `h2` and on h2c),
//! against this crate's own server: certificates from rcgen, trust from the user's
//! `ClientConfig`, what the server saw of the ClientHello (SNI, the ALPN offer), the fallback
//! to HTTP/1.1, a server without extended CONNECT, negotiation and refusals over HTTP/2 (also
//! refusals whose body stalls or floods), and the HTTP/2 connection ending once the `Conn` is
//! gone.

mod support;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use rustls::{CertificateError, ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::LazyConfigAcceptor;
use tower::{Layer, Service, service_fn};
use tower_websocket::client::{self, Builder};
use tower_websocket::{CloseCode, DeflateConfig, Handler, Message, WebSocketUpgradeLayer};

use support::{echo, inner, within};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A self-signed certificate for `name` and its key.
fn certificate(name: &str) -> (CertificateDer<'static>, PrivatePkcs8KeyDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    (certified.cert.der().clone(), key)
}

/// A client configuration (ring) trusting only `cert`, with no ALPN of its own: the client
/// sets it.
fn trusting(cert: CertificateDer<'static>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// What the server saw of one ClientHello, and what ALPN settled on.
#[derive(Debug, Clone, Default)]
struct Hello {
    sni: Option<String>,
    offered: Vec<Vec<u8>>,
    chosen: Option<Vec<u8>>,
}

/// A server under test: its address, the ClientHellos it saw, how many of its connections
/// have ended, and how many bytes it read from clients in all.
struct Server {
    addr: SocketAddr,
    cert: Option<CertificateDer<'static>>,
    hellos: Arc<Mutex<Vec<Hello>>>,
    ended: watch::Receiver<usize>,
    read: Arc<AtomicUsize>,
}

impl Server {
    fn wss(&self, path: &str) -> String {
        format!("wss://localhost:{}{path}", self.addr.port())
    }

    fn ws(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    fn hellos(&self) -> Vec<Hello> {
        self.hellos.lock().unwrap().clone()
    }

    /// Waits until `n` of the server's connections have ended.
    async fn ended(&mut self, n: usize) {
        within(
            "the server's connection to end",
            self.ended.wait_for(|e| *e >= n),
        )
        .await
        .unwrap();
    }
}

/// How a test server speaks.
#[derive(Clone, Copy)]
enum Mode {
    /// TLS offering these ALPN protocols, then hyper-util's auto builder with extended
    /// CONNECT enabled.
    Tls(&'static [&'static [u8]]),
    /// h2c or HTTP/1.1 by hyper-util's auto builder, extended CONNECT enabled.
    Plain,
    /// HTTP/2 only, by hyper's builder, extended CONNECT not enabled.
    H2WithoutExtendedConnect,
}

/// Serves `layer` around the inner service on a loopback port; TLS with a certificate for
/// `name` in [`Mode::Tls`].
async fn spawn<H: Handler>(layer: WebSocketUpgradeLayer<H>, mode: Mode, name: &str) -> Server {
    serve(layer.layer(service_fn(inner::<Incoming>)), mode, name).await
}

async fn serve<S, B>(service: S, mode: Mode, name: &str) -> Server
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (cert, tls) = match mode {
        Mode::Tls(alpn) => {
            let (cert, key) = certificate(name);
            let mut config = ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert.clone()], key.into())
                .unwrap();
            config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            (Some(cert), Some(Arc::new(config)))
        }
        _ => (None, None),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hellos = Arc::new(Mutex::new(Vec::new()));
    let (ended_tx, ended) = watch::channel(0);
    let ended_tx = Arc::new(ended_tx);
    let read = Arc::new(AtomicUsize::new(0));
    let server = Server {
        addr,
        cert,
        hellos: hellos.clone(),
        ended,
        read: read.clone(),
    };
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let stream = Counting {
                io: stream,
                read: read.clone(),
            };
            let service = TowerToHyperService::new(service.clone());
            let (tls, hellos, ended_tx) = (tls.clone(), hellos.clone(), ended_tx.clone());
            tokio::spawn(async move {
                match tls {
                    Some(config) => {
                        let acceptor = rustls::server::Acceptor::default();
                        if let Ok(start) = LazyConfigAcceptor::new(acceptor, stream).await {
                            let hello = start.client_hello();
                            let seen = Hello {
                                sni: hello.server_name().map(str::to_owned),
                                offered: hello
                                    .alpn()
                                    .map(|alpn| alpn.map(<[u8]>::to_vec).collect())
                                    .unwrap_or_default(),
                                chosen: None,
                            };
                            // Recorded before the handshake goes on, so that a client that
                            // gives up finds it there.
                            let index = {
                                let mut hellos = hellos.lock().unwrap();
                                hellos.push(seen);
                                hellos.len() - 1
                            };
                            let accepted = start.into_stream(config).await;
                            if let Ok(tls) = &accepted {
                                hellos.lock().unwrap()[index].chosen =
                                    tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                            }
                            if let Ok(tls) = accepted {
                                let _ = auto_builder()
                                    .serve_connection_with_upgrades(TokioIo::new(tls), service)
                                    .await;
                            }
                        }
                    }
                    None if matches!(mode, Mode::H2WithoutExtendedConnect) => {
                        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                    None => {
                        let _ = auto_builder()
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .await;
                    }
                }
                ended_tx.send_modify(|n| *n += 1);
            });
        }
    });
    server
}

fn auto_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http2().enable_connect_protocol();
    builder
}

/// A stream that counts the bytes read from it.
struct Counting<T> {
    io: T,
    read: Arc<AtomicUsize>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counting<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.io).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        self.read.fetch_add(read, Ordering::Relaxed);
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counting<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Text, a large binary message (several HTTP/2 DATA frames, several TLS records) and an empty
/// text message come back as sent.
async fn echoes(conn: &mut tower_websocket::Conn) {
    for message in [
        Message::text("hello"),
        Message::binary(vec![7u8; 70_000]),
        Message::text(""),
    ] {
        within("send", conn.send(message.clone())).await.unwrap();
        let echoed = within("echo", conn.recv()).await.unwrap().unwrap();
        assert_eq!(echoed, message);
    }
}

/// The close handshake: `close_with` returns once the server's Close answered, then the
/// connection has ended.
async fn closes(conn: &mut tower_websocket::Conn) {
    within("close", conn.close_with(CloseCode::NORMAL, "done"))
        .await
        .unwrap();
    assert!(within("end", conn.recv()).await.is_none());
}

/// The rustls error inside a client `Error::Tls`.
fn rustls_error(error: &client::Error) -> &rustls::Error {
    assert!(matches!(error, client::Error::Tls(_)), "{error:?}");
    assert_eq!(error.to_string(), "TLS handshake failed");
    let source = std::error::Error::source(error).expect("a source");
    let io = source.downcast_ref::<io::Error>().expect("an io::Error");
    io.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a rustls error: {io:?}"))
}

const BOTH: &[&[u8]] = &[b"h2", b"http/1.1"];
const HTTP11: &[&[u8]] = &[b"http/1.1"];

#[tokio::test]
async fn wss_echoes_and_closes_with_sni_and_alpn_http11() {
    let layer = WebSocketUpgradeLayer::new(echo).path("/ws");
    let mut server = spawn(layer, Mode::Tls(BOTH), "localhost").await;
    let builder =
        Builder::new(server.wss("/ws")).tls_config(trusting(server.cert.clone().unwrap()));
    let mut conn = within("connect", builder.connect()).await.unwrap();
    let response = conn.response().unwrap();
    assert_eq!(response.status, StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(response.version, Version::HTTP_11);
    assert_eq!(conn.request().uri.path(), "/ws");
    assert_eq!(conn.peer_addr(), Some(server.addr));
    echoes(&mut conn).await;
    closes(&mut conn).await;

    let hellos = server.hellos();
    assert_eq!(hellos.len(), 1, "{hellos:?}");
    assert_eq!(hellos[0].sni.as_deref(), Some("localhost"));
    // HTTP/2 is off: only HTTP/1.1 is offered, though the server would take `h2`.
    assert_eq!(hellos[0].offered, [b"http/1.1".to_vec()]);
    assert_eq!(hellos[0].chosen.as_deref(), Some(&b"http/1.1"[..]));
    drop(conn);
    server.ended(1).await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error() {
    let layer = WebSocketUpgradeLayer::new(echo);
    let server = spawn(layer, Mode::Tls(BOTH), "localhost").await;
    // The default roots (webpki-roots) do not include a self-signed certificate.
    let error = within("connect", client::connect(server.wss("/")))
        .await
        .unwrap_err();
    assert_eq!(
        rustls_error(&error),
        &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    );
    assert_eq!(error.status(), None);
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_tls_error() {
    let layer = WebSocketUpgradeLayer::new(echo);
    let server = spawn(layer, Mode::Tls(BOTH), "other.example").await;
    let config = trusting(server.cert.clone().unwrap());
    let error = within(
        "connect",
        Builder::new(server.wss("/"))
            .tls_config(config.clone())
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            rustls_error(&error),
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            )
        ),
        "{error:?}"
    );
    // The name was the URL's host, sent as SNI.
    assert_eq!(server.hellos()[0].sni.as_deref(), Some("localhost"));

    // An IP address is checked against the certificate's IP addresses (it has none), and is
    // not sent as SNI.
    let url = format!("wss://{}/", server.addr);
    let error = within("connect", Builder::new(url).tls_config(config).connect())
        .await
        .unwrap_err();
    assert!(
        matches!(
            rustls_error(&error),
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            )
        ),
        "{error:?}"
    );
    assert_eq!(server.hellos()[1].sni, None);
}

#[tokio::test]
async fn http2_over_tls_runs_the_websocket_on_one_stream() {
    let layer = WebSocketUpgradeLayer::new(echo).path("/ws");
    let mut server = spawn(layer, Mode::Tls(BOTH), "localhost").await;
    let builder = Builder::new(server.wss("/ws"))
        .tls_config(trusting(server.cert.clone().unwrap()))
        .http2(true);
    let mut conn = within("connect", builder.connect()).await.unwrap();
    let response = conn.response().unwrap();
    assert_eq!(response.version, Version::HTTP_2);
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.headers.get("sec-websocket-accept").is_none());
    assert_eq!(conn.request().method, http::Method::CONNECT);
    assert_eq!(conn.request().version, Version::HTTP_2);
    assert_eq!(conn.peer_addr(), Some(server.addr));
    echoes(&mut conn).await;
    closes(&mut conn).await;

    let hellos = server.hellos();
    assert_eq!(hellos.len(), 1, "one connection: {hellos:?}");
    assert_eq!(hellos[0].sni.as_deref(), Some("localhost"));
    assert_eq!(hellos[0].offered, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    assert_eq!(hellos[0].chosen.as_deref(), Some(&b"h2"[..]));
    // With the stream closed and the `Conn` gone, the HTTP/2 connection ends too.
    drop(conn);
    server.ended(1).await;
}

#[tokio::test]
async fn http2_falls_back_to_http11_when_the_server_offers_only_that() {
    let layer = WebSocketUpgradeLayer::new(echo).path("/ws");
    let server = spawn(layer, Mode::Tls(HTTP11), "localhost").await;
    let builder = Builder::new(server.wss("/ws"))
        .tls_config(trusting(server.cert.clone().unwrap()))
        .http2(true);
    let mut conn = within("connect", builder.connect()).await.unwrap();
    let response = conn.response().unwrap();
    assert_eq!(response.status, StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(response.version, Version::HTTP_11);
    echoes(&mut conn).await;
    closes(&mut conn).await;
    let hellos = server.hellos();
    assert_eq!(hellos[0].offered, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    assert_eq!(hellos[0].chosen.as_deref(), Some(&b"http/1.1"[..]));
}

#[tokio::test]
async fn h2c_with_extended_connect_echoes_and_closes() {
    let layer = WebSocketUpgradeLayer::new(echo).path("/ws");
    let mut server = spawn(layer, Mode::Plain, "").await;
    let builder = Builder::new(server.ws("/ws")).http2(true);
    let mut conn = within("connect", builder.connect()).await.unwrap();
    let response = conn.response().unwrap();
    assert_eq!(
        (response.version, response.status),
        (Version::HTTP_2, StatusCode::OK)
    );
    echoes(&mut conn).await;
    closes(&mut conn).await;
    drop(conn);
    server.ended(1).await;
}

#[tokio::test]
async fn h2c_against_server_serve() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = WebSocketUpgradeLayer::new(echo).layer(service_fn(inner::<Incoming>));
    tokio::spawn(async move { tower_websocket::server::serve(listener, service).await });
    let builder = Builder::new(format!("ws://{addr}/")).http2(true);
    let mut conn = within("connect", builder.connect()).await.unwrap();
    assert_eq!(conn.response().unwrap().version, Version::HTTP_2);
    echoes(&mut conn).await;
    closes(&mut conn).await;
}

#[tokio::test]
async fn an_http2_server_without_extended_connect_is_reported_within_the_connect_timeout() {
    let layer = WebSocketUpgradeLayer::new(echo);
    let mut server = spawn(layer, Mode::H2WithoutExtendedConnect, "").await;
    let builder = Builder::new(server.ws("/"))
        .http2(true)
        .connect_timeout(Duration::from_millis(500));
    let started = Instant::now();
    let error = within("connect", builder.connect()).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(error, client::Error::ExtendedConnectUnavailable),
        "{error:?}"
    );
    assert!(!error.is_timeout());
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    // The client let go of the connection.
    server.ended(1).await;
}

#[tokio::test]
async fn dropping_an_http2_conn_ends_its_connection() {
    let layer = WebSocketUpgradeLayer::new(echo);
    let mut server = spawn(layer, Mode::Plain, "").await;
    let builder = Builder::new(server.ws("/")).http2(true);
    // Dropped open, without a close handshake.
    let mut conn = within("connect", builder.connect()).await.unwrap();
    conn.send(Message::text("hi")).await.unwrap();
    assert_eq!(
        within("echo", conn.recv()).await.unwrap().unwrap(),
        Message::text("hi")
    );
    drop(conn);
    server.ended(1).await;
}

/// Over HTTP/2 the server picks a subprotocol and accepts permessage-deflate as over HTTP/1.1.
async fn negotiates(builder: Builder) -> tower_websocket::Conn {
    let config = DeflateConfig::new().threshold(0);
    let builder = builder.protocols(["v1", "v2"]).deflate(config).http2(true);
    let mut conn = within("connect", builder.connect()).await.unwrap();
    let response = conn.response().unwrap();
    assert_eq!(
        (response.version, response.status),
        (Version::HTTP_2, StatusCode::OK)
    );
    let extensions = response.headers["sec-websocket-extensions"]
        .to_str()
        .unwrap();
    assert!(
        extensions.starts_with("permessage-deflate"),
        "{extensions:?}"
    );
    assert_eq!(conn.protocol(), Some("v2"));
    let text = "compressible ".repeat(10_000);
    for _ in 0..3 {
        within("send", conn.send(Message::text(text.clone())))
            .await
            .unwrap();
        let echoed = within("echo", conn.recv()).await.unwrap().unwrap();
        assert_eq!(echoed, Message::text(text.clone()));
    }
    closes(&mut conn).await;
    conn
}

#[tokio::test]
async fn subprotocols_and_deflate_are_negotiated_over_http2() {
    let layer = || {
        WebSocketUpgradeLayer::new(echo)
            .protocols(["v2", "v1"])
            .deflate(DeflateConfig::default())
    };
    let server = spawn(layer(), Mode::Tls(BOTH), "localhost").await;
    let builder = Builder::new(server.wss("/")).tls_config(trusting(server.cert.clone().unwrap()));
    negotiates(builder).await;

    // On h2c the bytes are countable: 390 KB of text crossed in a few compressed kilobytes.
    let server = spawn(layer(), Mode::Plain, "").await;
    negotiates(Builder::new(server.ws("/"))).await;
    let read = server.read.load(Ordering::Relaxed);
    assert!(read < 50_000, "the server read {read} bytes");
}

#[tokio::test]
async fn a_refusal_over_http2_is_refused_with_its_status_and_body() {
    let layer = || {
        WebSocketUpgradeLayer::new(echo)
            .on_handshake(|handshake| Err(handshake.reject(StatusCode::FORBIDDEN, "not you")))
    };
    let mut tls = spawn(layer(), Mode::Tls(BOTH), "localhost").await;
    let mut h2c = spawn(layer(), Mode::Plain, "").await;
    for builder in [
        Builder::new(tls.wss("/")).tls_config(trusting(tls.cert.clone().unwrap())),
        Builder::new(h2c.ws("/")),
    ] {
        let error = within("connect", builder.http2(true).connect())
            .await
            .unwrap_err();
        let client::Error::Refused(response) = &error else {
            panic!("not refused: {error:?}");
        };
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(response.body(), "not you");
        assert_eq!(error.status(), Some(StatusCode::FORBIDDEN));
    }
    // Neither refusal keeps its connection open.
    tls.ended(1).await;
    h2c.ended(1).await;
}

/// A refusal over HTTP/2 whose body never ends, or never stops: the client still reports it,
/// with its status, within the handshake timeout (or the 2 s it waits for a body at most), and
/// keeps none of the body past 64 KiB.
#[tokio::test]
async fn a_refusal_over_http2_whose_body_stalls_or_floods_is_refused_in_bounded_time() {
    use futures_util::stream::{self, StreamExt as _};
    use http_body_util::{StreamBody, combinators::BoxBody};
    use hyper::body::Frame;

    type Body = BoxBody<Bytes, Infallible>;
    let refuse = |body: fn() -> Body| {
        service_fn(move |_request: Request<Incoming>| async move {
            let mut response = Response::new(body());
            *response.status_mut() = StatusCode::FORBIDDEN;
            Ok::<_, Infallible>(response)
        })
    };
    let stalls = || -> Body {
        let first = stream::once(async { Ok(Frame::data(Bytes::from_static(b"not y"))) });
        BoxBody::new(StreamBody::new(first.chain(stream::pending())))
    };
    let floods = || -> Body {
        let chunk = Bytes::from(vec![b'x'; 16 * 1024]);
        BoxBody::new(StreamBody::new(stream::repeat_with(move || {
            Ok(Frame::data(chunk.clone()))
        })))
    };
    let mut stalling = serve(refuse(stalls), Mode::Plain, "").await;
    let mut flooding = serve(refuse(floods), Mode::Plain, "").await;
    let cases = [
        // The handshake timeout ends the wait for the rest of the body.
        (
            stalling.ws("/"),
            Duration::from_millis(300),
            Duration::from_millis(1500),
        ),
        // Without a shorter handshake timeout, the client waits 2 s for a body at most.
        (
            stalling.ws("/"),
            Duration::from_secs(10),
            Duration::from_millis(3500),
        ),
        // A body past 64 KiB is dropped as soon as it is past.
        (
            flooding.ws("/"),
            Duration::from_secs(10),
            Duration::from_millis(1500),
        ),
    ];
    for (url, handshake_timeout, bound) in cases {
        let builder = Builder::new(url)
            .http2(true)
            .handshake_timeout(handshake_timeout);
        let started = Instant::now();
        let error = within("connect", builder.connect()).await.unwrap_err();
        let took = started.elapsed();
        let client::Error::Refused(response) = &error else {
            panic!("not refused: {error:?}");
        };
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.version(), Version::HTTP_2);
        // A body that did not end in time, or that was too long, is not kept.
        assert!(response.body().is_empty(), "{:?}", response.body());
        assert!(!error.is_timeout(), "{error:?}");
        assert!(took < bound, "took {took:?}, bound {bound:?}");
    }
    // The client let go of every connection.
    stalling.ended(2).await;
    flooding.ended(1).await;
}

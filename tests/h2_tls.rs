//! WebSockets over TLS with a generated self-signed certificate: HTTP/2 (RFC 8441) after ALPN
//! `h2`, and HTTP/1.1 after ALPN `http/1.1`, on one server. Over TLS the layer cannot recover a
//! `TcpStream`, so the `Conn` runs over hyper's `Upgraded`.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http::StatusCode;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::TcpListener;
use tokio_rustls::client::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_tungstenite::client_async;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tower::{Layer, service_fn};
use tower_websocket::WebSocketUpgradeLayer;

use support::h2::{connect_request, h2_client, h2_websocket};
use support::{connect, echo, inner, within};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS server for `localhost` offering ALPN `h2` and `http/1.1`, serving the echo layer with
/// hyper-util's auto builder (upgrades and extended CONNECT on). Returns its address and the
/// certificate a client must trust.
async fn spawn_tls_server() -> (SocketAddr, CertificateDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key.into())
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));

    let service = WebSocketUpgradeLayer::new(echo)
        .path("/ws")
        .layer(service_fn(inner::<Incoming>));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder.http2().enable_connect_protocol();
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, cert)
}

/// Connects to `addr` over TLS, trusting `cert`, offering `alpn`.
async fn tls_connect(
    addr: SocketAddr,
    cert: CertificateDer<'static>,
    alpn: &[u8],
) -> TlsStream<tokio::net::TcpStream> {
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let connector = TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from("localhost").unwrap();
    let tls = within(
        "TLS handshake",
        connector.connect(name, connect(addr).await),
    )
    .await
    .expect("TLS handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(alpn));
    tls
}

#[tokio::test]
async fn http2_websocket_over_tls_with_alpn_h2() {
    let (addr, cert) = spawn_tls_server().await;
    let tls = tls_connect(addr, cert, b"h2").await;
    let mut h2 = h2_client(tls).await;
    let request = connect_request(&format!("https://localhost:{}/ws", addr.port()))
        .body(Empty::new())
        .unwrap();
    let (head, mut ws) = h2_websocket(&mut h2, request).await.expect("200");
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.headers.get("sec-websocket-accept").is_none());
    for message in [
        WsMessage::text("over TLS and h2"),
        WsMessage::binary(vec![1u8; 70_000]),
    ] {
        within("send", ws.send(message.clone())).await.unwrap();
        let echoed = within("echo", ws.next()).await.unwrap().unwrap();
        assert_eq!(echoed, message);
    }
    within("close", ws.close(None)).await.unwrap();
}

#[tokio::test]
async fn http11_websocket_over_tls_with_alpn_http11() {
    let (addr, cert) = spawn_tls_server().await;
    let tls = tls_connect(addr, cert, b"http/1.1").await;
    let url = format!("wss://localhost:{}/ws", addr.port());
    let (mut ws, response) = within("handshake", client_async(url, tls))
        .await
        .expect("handshake");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    within("send", ws.send(WsMessage::text("over TLS and HTTP/1.1")))
        .await
        .unwrap();
    let echoed = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echoed, WsMessage::text("over TLS and HTTP/1.1"));
    within("close", ws.close(None)).await.unwrap();
}

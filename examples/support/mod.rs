//! Shared by the examples: accept TCP connections on a loopback address and serve each with
//! hyper-util's auto builder (HTTP/1.1 with upgrades, and HTTP/2 with extended CONNECT, so
//! WebSockets work over both: RFC 6455 and RFC 8441).

use std::convert::Infallible;
use std::net::SocketAddr;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::Service;

/// The address from the first command-line argument, or `default`.
pub fn addr_from_args(default: &str) -> SocketAddr {
    let arg = std::env::args()
        .nth(1)
        .unwrap_or_else(|| default.to_owned());
    arg.parse().unwrap_or_else(|e| {
        eprintln!("invalid address {arg:?}: {e} (expected e.g. 127.0.0.1:3000)");
        std::process::exit(2)
    })
}

/// Serves `service` on `addr` until the process is stopped.
pub async fn serve<S, B>(addr: SocketAddr, service: S, banner: &str) -> std::io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind(addr).await?;
    println!("{banner} {}", listener.local_addr()?);
    serve_on(listener, service).await
}

/// Serves `service` on every connection `listener` accepts.
pub async fn serve_on<S, B>(listener: TcpListener, service: S) -> std::io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // RFC 8441: let HTTP/2 clients open WebSockets with CONNECT + `:protocol`.
            builder.http2().enable_connect_protocol();
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection error: {e}");
            }
        });
    }
}

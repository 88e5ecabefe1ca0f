//! One echo server per implementation. Each `run` takes a bound listener and serves until the
//! process is stopped; each peer follows its library's own documented echo example.

pub mod axum;
pub mod fastwebsockets;
pub mod ours;
pub mod raw;
pub mod tokio_websockets;
pub mod tungstenite;

use std::io;

use tokio::net::TcpListener;

/// Runs the echo server `name` (one of [`crate::IMPLS`]) on `listener`.
pub async fn run(name: &str, listener: TcpListener) -> io::Result<()> {
    match name {
        "raw" => raw::run(listener).await,
        "ours" => ours::run(listener).await,
        "fastwebsockets" => fastwebsockets::run(listener).await,
        "tokio-websockets" => tokio_websockets::run(listener).await,
        "tungstenite" => tungstenite::run(listener).await,
        "axum" => axum::run(listener).await,
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown implementation {other:?}"),
        )),
    }
}

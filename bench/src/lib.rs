//! Echo servers for the side-by-side benchmarks, one module per implementation, and the small
//! accept loop they share. The `echo_server` binary dispatches to them; the `load` binary drives
//! them; `compare.py` runs the matrix.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

pub mod servers;

/// The implementations `echo_server` can run, in the order the tables list them.
pub const IMPLS: &[&str] = &[
    "raw",
    "ours",
    "fastwebsockets",
    "tokio-websockets",
    "tungstenite",
    "axum",
];

/// Parses `ADDR` and refuses anything that is not a loopback address.
pub fn loopback_addr(arg: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = arg
        .parse()
        .map_err(|e| format!("invalid address {arg:?}: {e} (expected e.g. 127.0.0.1:0)"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("{addr} is not a loopback address"));
    }
    Ok(addr)
}

/// Accepts connections forever, sets `TCP_NODELAY` on each and runs `serve` for it in its own
/// task. Transient accept errors (e.g. out of file descriptors) are waited out, not fatal.
pub async fn accept_loop<F, Fut>(listener: TcpListener, serve: F) -> io::Result<()>
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Every implementation gets the same socket options.
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream));
    }
}

//! Shared by the examples: the address to listen on, and the shutdown signal.

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// Binds the address from the first command-line argument (or `default`) and prints `banner`
/// followed by the bound address.
pub async fn listen(default: &str, banner: &str) -> std::io::Result<TcpListener> {
    let arg = std::env::args()
        .nth(1)
        .unwrap_or_else(|| default.to_owned());
    let addr: SocketAddr = arg.parse().unwrap_or_else(|e| {
        eprintln!("invalid address {arg:?}: {e} (expected e.g. 127.0.0.1:3000)");
        std::process::exit(2)
    });
    let listener = TcpListener::bind(addr).await?;
    println!("{banner}{}", listener.local_addr()?);
    Ok(listener)
}

/// Completes on Ctrl-C (or if the signal cannot be listened for).
pub async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}

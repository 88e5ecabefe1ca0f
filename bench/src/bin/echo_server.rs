//! `echo_server IMPL ADDR`: runs one echo server on a loopback address and prints
//! `listening on ADDR` once bound (pass port 0 for a free port; the printed address is the real
//! one). IMPL is one of `raw`, `ours`, `fastwebsockets`, `tokio-websockets`, `tungstenite`,
//! `axum`.

use tokio::net::TcpListener;
use tower_websocket_bench::{IMPLS, loopback_addr, servers};

fn usage() -> ! {
    eprintln!(
        "usage: echo_server IMPL ADDR\n  IMPL: {}\n  ADDR: a loopback address, e.g. 127.0.0.1:0",
        IMPLS.join(" | ")
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, addr] = args.as_slice() else {
        usage()
    };
    if !IMPLS.contains(&name.as_str()) {
        eprintln!("unknown implementation {name:?}");
        usage();
    }
    let addr = loopback_addr(addr).unwrap_or_else(|e| {
        eprintln!("{e}");
        usage()
    });
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    servers::run(name, listener).await
}

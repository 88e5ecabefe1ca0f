//! The baseline: a plain TCP echo. Whatever it reads it writes back, so the load generator's
//! `--raw` mode moves the same bytes as a WebSocket run with no framing work on the server.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Read buffer per connection: a 64 KiB message (65,550 bytes framed) fits in one read, and
/// large messages stream through in 256 KiB chunks (the load generator reads the same size).
const BUF: usize = 256 * 1024;

pub async fn run(listener: TcpListener) -> io::Result<()> {
    crate::accept_loop(listener, echo).await
}

async fn echo(mut stream: TcpStream) {
    let mut buf = vec![0u8; BUF];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

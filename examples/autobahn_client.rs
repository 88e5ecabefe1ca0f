//! The client the Autobahn|Testsuite's fuzzingserver runs against: `autobahn_client URL` runs
//! every case of the server at URL, echoing every text and binary message, with every feature
//! the client has: permessage-deflate offered with `client_max_window_bits`, so the server may
//! limit our window (the 13.x cases).
//!
//! ```sh
//! wstest -m fuzzingserver -s spec.json &   # or: scripts/autobahn-client.sh
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001
//! ```
//!
//! The reports are written under the agent `$AUTOBAHN_AGENT` (default `tower-websocket`). A
//! case that breaks the protocol (many do, on purpose) ends that case only; failing to reach
//! the server for the case count or the reports exits non-zero.

use tower_websocket::client::Builder;
use tower_websocket::{Conn, DeflateConfig, Message};

type Error = Box<dyn std::error::Error>;

async fn connect(url: &str) -> Result<Conn, tower_websocket::client::Error> {
    Builder::new(url)
        .deflate(DeflateConfig::new().threshold(0))
        .connect()
        .await
}

/// Echoes every text and binary message until the server closes.
async fn echo(mut conn: Conn) {
    while let Some(Ok(message)) = conn.recv().await {
        if message.is_data() && conn.send(message).await.is_err() {
            break;
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: autobahn_client URL")?;
    let agent = std::env::var("AUTOBAHN_AGENT").unwrap_or_else(|_| "tower-websocket".into());

    let mut conn = connect(&format!("{url}/getCaseCount")).await?;
    let count: u32 = match conn.recv().await {
        Some(Ok(Message::Text(text))) => text.as_str().trim().parse()?,
        other => return Err(format!("getCaseCount answered {other:?}").into()),
    };
    while conn.recv().await.is_some() {}

    for case in 1..=count {
        match connect(&format!("{url}/runCase?case={case}&agent={agent}")).await {
            Ok(conn) => echo(conn).await,
            Err(error) => eprintln!("case {case}: {error}"),
        }
    }

    let mut conn = connect(&format!("{url}/updateReports?agent={agent}")).await?;
    while conn.recv().await.is_some() {}
    println!("{count} cases run; reports updated for agent {agent}");
    Ok(())
}

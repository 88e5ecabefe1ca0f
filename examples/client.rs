//! A command-line WebSocket client, like a tiny `websocat`: every line of stdin is sent as one
//! text message, every text message received is printed as one line on stdout (a binary one as
//! `binary N bytes`). At the end of stdin it closes with 1000, waits for the server's Close and
//! exits 0; the server closing first ends it too.
//!
//! ```text
//! client [--ca FILE.pem] [-H 'Name: value']... [--protocol NAME]... [--deflate] [--timeout SECS] URL
//! ```
//!
//! ```sh
//! cargo build --release --example client
//! echo hello | target/release/examples/client ws://127.0.0.1:3000/ws
//! target/release/examples/client --deflate -H 'Authorization: Bearer x' wss://example.com/chat
//! target/release/examples/client --ca target/ca.pem --protocol chat.v1 wss://localhost:8443/
//! ```
//!
//! - `--ca FILE.pem`: trust the certificates in that PEM file too, besides webpki-roots.
//! - `-H 'Name: value'`: add a header to the handshake request (repeatable).
//! - `--protocol NAME`: offer a subprotocol (repeatable, in order of preference).
//! - `--deflate`: offer permessage-deflate with the default parameters.
//! - `--timeout SECS`: bound the connect (DNS, TCP, TLS) and the handshake, each phase by SECS
//!   (so at most twice SECS in all; default 10 s each, 0 turns the bounds off).
//!
//! Exit status: 0 after a clean close (1000, 1001 or no code, from either side), 1 when the
//! handshake fails (the reason and its causes on stderr, with the HTTP status if there was one),
//! the connection fails, or the server closes with another code; 2 for bad arguments.

use std::io::Write;
use std::process::exit;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncBufReadExt, BufReader};
use tower_websocket::{CloseCode, Message, client};

const USAGE: &str = "usage: client [--ca FILE.pem] [-H 'Name: value']... [--protocol NAME]... \
                     [--deflate] [--timeout SECS] URL";

fn usage(why: &str) -> ! {
    eprintln!("client: {why}\n{USAGE}");
    exit(2)
}

/// `error: ` and the error, then each of its causes after `: `, on one line.
fn fail(error: &dyn std::error::Error) -> ! {
    let mut line = format!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("{line}");
    exit(1)
}

/// The arguments, turned into a `Builder`.
fn parse_args(mut args: impl Iterator<Item = String>) -> client::Builder {
    let (mut ca, mut headers, mut protocols) = (None, Vec::new(), Vec::new());
    let (mut deflate, mut timeout, mut url) = (false, None, None);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--ca" => ca = Some(value("--ca")),
            "-H" | "--header" => {
                let header = value("-H");
                let Some((name, value)) = header.split_once(':') else {
                    usage(&format!("-H wants 'Name: value', not {header:?}"));
                };
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            "--protocol" => protocols.push(value("--protocol")),
            "--deflate" => deflate = true,
            "--timeout" => {
                let secs = value("--timeout");
                let parsed = secs
                    .parse()
                    .ok()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok());
                timeout = Some(parsed.unwrap_or_else(|| usage(&format!("bad --timeout {secs:?}"))));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                exit(0)
            }
            _ if arg.starts_with('-') => usage(&format!("unknown option {arg}")),
            _ if url.is_some() => usage("only one URL"),
            _ => url = Some(arg),
        }
    }
    let url = url.unwrap_or_else(|| usage("no URL"));
    let mut builder = client::Builder::new(url).protocols(protocols);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    if deflate {
        #[cfg(feature = "deflate")]
        {
            builder = builder.deflate(tower_websocket::DeflateConfig::default());
        }
        #[cfg(not(feature = "deflate"))]
        usage("--deflate needs the crate's `deflate` feature");
    }
    if let Some(timeout) = timeout {
        builder = builder.connect_timeout(timeout).handshake_timeout(timeout);
    }
    if let Some(path) = ca {
        builder = builder.tls_config(tls_config(&path));
    }
    builder
}

/// rustls (the ring provider) trusting webpki-roots and the certificates in `path`.
fn tls_config(path: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let certs = CertificateDer::pem_file_iter(path).and_then(|certs| certs.collect());
    let certs: Vec<_> = certs.unwrap_or_else(|e| {
        eprintln!("error: --ca {path}: {e}");
        exit(1)
    });
    if certs.is_empty() {
        eprintln!("error: --ca {path}: no certificate in it");
        exit(1)
    }
    for cert in certs {
        roots.add(cert).unwrap_or_else(|e| fail(&e));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| fail(&e))
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

#[tokio::main]
async fn main() {
    let builder = parse_args(std::env::args().skip(1));
    let conn = match builder.connect().await {
        Ok(conn) => conn,
        Err(error) => {
            // A refusal's body often says why (a login page, "origin not allowed").
            if let client::Error::Refused(response) = &error {
                let body = String::from_utf8_lossy(response.body());
                let body = body.trim();
                if !body.is_empty() && body.len() <= 500 {
                    eprintln!("{body}");
                }
            }
            fail(&error)
        }
    };
    let (mut reader, sender) = conn.split();

    // Stdin in its own task, so that a slow or blocked send never stops the printing.
    tokio::spawn(async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        loop {
            match lines.next_line().await {
                Ok(Some(line)) => {
                    if sender.send(Message::text(line)).await.is_err() {
                        return; // The connection ended: the reader reports why.
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("error: reading stdin: {e}");
                    break;
                }
            }
        }
        let _ = sender.close_with(CloseCode::NORMAL, "").await;
    });

    let mut stdout = std::io::stdout();
    let (mut clean, mut closed) = (false, false);
    while let Some(item) = reader.recv().await {
        let written = match item {
            Ok(Message::Text(text)) => writeln!(stdout, "{}", text.as_str()),
            Ok(Message::Binary(data)) => writeln!(stdout, "binary {} bytes", data.len()),
            Ok(Message::Close(frame)) => {
                closed = true;
                let code = frame.as_ref().map_or(CloseCode::NO_STATUS, |f| f.code);
                clean = [
                    CloseCode::NORMAL,
                    CloseCode::GOING_AWAY,
                    CloseCode::NO_STATUS,
                ]
                .contains(&code);
                if !clean {
                    let reason = frame.as_ref().map_or("", |f| f.reason.as_str());
                    eprintln!("error: the server closed with {}: {reason}", code.as_u16());
                }
                Ok(())
            }
            Ok(_) => Ok(()), // Pings are answered by the connection itself.
            Err(error) => fail(&error),
        };
        if written.is_err() {
            exit(1); // stdout is gone (a closed pipe).
        }
    }
    if !clean && !closed {
        eprintln!("error: the connection ended without a close handshake");
    }
    // `exit`, not a return: the runtime would wait for the blocking read of stdin.
    exit(if clean { 0 } else { 1 })
}

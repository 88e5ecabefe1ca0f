//! `server::serve` at the process's file-descriptor limit: `accept` fails with EMFILE, the
//! server backs off and keeps serving, and accepts again once descriptors are free.
//!
//! A test binary of its own: it lowers the limit for the whole process.

#![cfg(unix)]

mod support;

use std::fs::File;
use std::time::Duration;

use hyper::body::Incoming;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tower::{Layer, service_fn};
use tower_websocket::{WebSocketUpgradeLayer, server};

use support::*;

fn nofile_limit() -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0, "getrlimit: {}", std::io::Error::last_os_error());
    limit
}

fn set_nofile_limit(limit: libc::rlimit) {
    // SAFETY: setrlimit reads the struct it is given.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

/// Opens `/dev/null` until the process is out of descriptors.
fn exhaust_descriptors() -> Vec<File> {
    let mut files = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(file) => files.push(file),
            Err(error) if error.raw_os_error() == Some(libc::EMFILE) => return files,
            Err(error) => panic!("unexpected error while filling the descriptor table: {error}"),
        }
        assert!(
            files.len() < 100_000,
            "the descriptor limit was not lowered"
        );
    }
}

#[tokio::test]
async fn serve_survives_emfile_and_accepts_again_once_descriptors_free_up() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let inner = service_fn(support::inner::<Incoming>);
    let service = WebSocketUpgradeLayer::new(echo).path("/ws").layer(inner);
    let serve = tokio::spawn(server::serve(listener, service).into_future());

    let original = nofile_limit();
    set_nofile_limit(libc::rlimit {
        rlim_cur: 256.min(original.rlim_max),
        rlim_max: original.rlim_max,
    });
    let mut fillers = exhaust_descriptors();
    // One descriptor for the client's socket; the server then has none left to accept it with.
    drop(fillers.pop());
    let mut client = connect(addr).await;
    write_raw(&mut client, handshake_request("/ws", &[]).as_bytes()).await;
    let mut byte = [0u8; 1];
    let starved = tokio::time::timeout(Duration::from_millis(600), client.read(&mut byte)).await;
    assert!(
        starved.is_err(),
        "served without a descriptor to accept with? {starved:?}"
    );
    assert!(
        !serve.is_finished(),
        "the server exited on EMFILE: {:?}",
        serve.await
    );

    // Descriptors come back: the waiting connection is accepted and served.
    drop(fillers);
    set_nofile_limit(original);
    let head = read_response_head(&mut client).await;
    assert_eq!(head.status, 101, "{head:?}");
    write_raw(&mut client, &masked_frame(true, OpCode::Text, b"back")).await;
    assert_eq!(read_frame(&mut client).await.payload, b"back");
    // And new connections too.
    let (head, body) = http_exchange(addr, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!((head.status, body.as_str()), (200, "inner: /again"));
    assert!(!serve.is_finished());
}

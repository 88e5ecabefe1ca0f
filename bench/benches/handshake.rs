//! The opening handshake as the layer runs it on every request: `handshake::is_upgrade_attempt`
//! (asked of every request), `handshake::validate` on a browser's request (the checks, the key,
//! SHA-1 + base64 of the accept value), the 101 response built from it, and `accept_key` alone.
//!
//! `cargo bench -p tower-websocket-bench --bench handshake`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderValue;
use http::request::Parts;
use tower_websocket::handshake::{accept_key, is_upgrade_attempt, validate};

/// A handshake as Chrome sends it (header names lower-cased, as hyper stores them).
fn browser_request(protocols: Option<&str>) -> Parts {
    let mut builder = http::Request::get("/ws")
        .header("host", "example.com:8080")
        .header("connection", "Upgrade")
        .header("pragma", "no-cache")
        .header("cache-control", "no-cache")
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36")
        .header("upgrade", "websocket")
        .header("origin", "http://example.com:8080")
        .header("sec-websocket-version", "13")
        .header("accept-encoding", "gzip, deflate, br, zstd")
        .header("accept-language", "en-US,en;q=0.9")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header(
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits",
        );
    if let Some(p) = protocols {
        builder = builder.header("sec-websocket-protocol", p);
    }
    builder.body(()).unwrap().into_parts().0
}

fn handshake(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake");
    let plain = browser_request(None);
    let with_protocols = browser_request(Some("v2.chat, v1.chat"));
    let server_protocols = [HeaderValue::from_static("v1.chat")];
    let not_websocket = {
        let mut p = browser_request(None);
        for name in ["upgrade", "sec-websocket-key", "sec-websocket-version"] {
            p.headers.remove(name);
        }
        p.headers
            .insert("connection", HeaderValue::from_static("keep-alive"));
        p
    };

    group.bench_function("is_upgrade_attempt_plain_http", |b| {
        b.iter(|| is_upgrade_attempt(black_box(&not_websocket)))
    });
    group.bench_function("is_upgrade_attempt_websocket", |b| {
        b.iter(|| is_upgrade_attempt(black_box(&plain)))
    });
    group.bench_function("validate", |b| {
        b.iter(|| validate(black_box(&plain), &[]).unwrap())
    });
    group.bench_function("validate_with_subprotocol", |b| {
        b.iter(|| validate(black_box(&with_protocols), black_box(&server_protocols)).unwrap())
    });
    group.bench_function("validate_and_response", |b| {
        b.iter(|| validate(black_box(&plain), &[]).unwrap().response())
    });
    group.bench_function("accept_key", |b| {
        b.iter(|| accept_key(black_box(b"dGhlIHNhbXBsZSBub25jZQ==")))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the benchmark machine has 2 cores shared with builds.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = handshake
}
criterion_main!(benches);

//! UTF-8 validation throughput: the incremental validator the decoder runs on every text frame
//! (`Utf8Validator`, src/proto/utf8.rs, fed whole and fed in 4 KiB pieces), the one-shot
//! `validate`, and `std::str::from_utf8` for reference.
//!
//! `cargo bench -p tower-websocket-bench --bench utf8`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tower_websocket::fuzzing::{Utf8Validator, validate};

/// `len` bytes of printable ASCII.
fn ascii(len: usize) -> Vec<u8> {
    (0..len).map(|i| b' ' + (i % 95) as u8).collect()
}

/// About `len` bytes of mixed text: ASCII with 2-, 3- and 4-byte characters.
fn mixed(len: usize) -> Vec<u8> {
    let sample = "WebSocket — ünïcödé テキスト 🦀 and plain words, ";
    let mut out = String::with_capacity(len + sample.len());
    while out.len() < len {
        out.push_str(sample);
    }
    out.into_bytes()
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    let inputs = [
        ("ascii_16B", ascii(16)),
        ("ascii_64KiB", ascii(64 * 1024)),
        ("mixed_64KiB", mixed(64 * 1024)),
    ];
    for (name, input) in &inputs {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::new("validator", name), input, |b, input| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                v.feed(black_box(input)).unwrap();
                v.finish().unwrap();
            })
        });
        if input.len() > 4096 {
            // As TCP delivers it: pieces whose boundaries cut characters in two.
            group.bench_with_input(
                BenchmarkId::new("validator_4KiB_pieces", name),
                input,
                |b, input| {
                    b.iter(|| {
                        let mut v = Utf8Validator::new();
                        for piece in black_box(input).chunks(4093) {
                            v.feed(piece).unwrap();
                        }
                        v.finish().unwrap();
                    })
                },
            );
        }
        group.bench_with_input(BenchmarkId::new("validate", name), input, |b, input| {
            b.iter(|| validate(black_box(input)).unwrap())
        });
        group.bench_with_input(
            BenchmarkId::new("std_from_utf8", name),
            input,
            |b, input| b.iter(|| std::str::from_utf8(black_box(input)).unwrap().len()),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the benchmark machine has 2 cores shared with builds.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = utf8
}
criterion_main!(benches);

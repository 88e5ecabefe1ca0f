//! Unmasking throughput (`apply_mask`, src/proto/mask.rs) against `memcpy` of the same sizes.
//!
//! Both are reported in bytes per second of payload: unmasking reads and writes the buffer in
//! place, `memcpy` (`copy_from_slice`) reads one buffer and writes another, so memcpy moves the
//! same bytes through the caches and is the ceiling a masking loop can hope to reach.
//!
//! `cargo bench -p tower-websocket-bench --bench mask`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tower_websocket::fuzzing::apply_mask;

const SIZES: &[(usize, &str)] = &[
    (16, "16B"),
    (1024, "1KiB"),
    (64 * 1024, "64KiB"),
    (1024 * 1024, "1MiB"),
];

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

fn mask(c: &mut Criterion) {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut group = c.benchmark_group("mask");
    for &(len, name) in SIZES {
        group.throughput(Throughput::Bytes(len as u64));
        let mut buf = data(len);
        group.bench_function(BenchmarkId::new("apply_mask", name), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), black_box(key), 0))
        });
        // A payload unmasked in pieces starts at odd offsets: the key is rotated first.
        group.bench_function(BenchmarkId::new("apply_mask_offset_3", name), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), black_box(key), 3))
        });
        let src = data(len);
        let mut dst = vec![0u8; len];
        group.bench_function(BenchmarkId::new("memcpy", name), |b| {
            b.iter(|| black_box(&mut dst).copy_from_slice(black_box(&src)))
        });
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
    targets = mask
}
criterion_main!(benches);

//! The frame header codec (`decode_header`, `encode_header`, src/proto/frame.rs) for each of the
//! three length forms, and the whole receive path for one small frame (`Decoder::decode`:
//! header, unmasking, message split out of the read buffer).
//!
//! `cargo bench -p tower-websocket-bench --bench frame`

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use tower_websocket::fuzzing::{
    Decoder, Encoder, FrameHeader, MAX_HEADER_LEN, OpCode, WriteBuffer, decode_header,
    encode_header,
};
use tower_websocket::{Limits, Message, Role};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Payload lengths that take the 7-bit, 16-bit and 64-bit length forms.
const FORMS: &[(u64, &str)] = &[(16, "len7"), (1024, "len16"), (1 << 20, "len64")];

fn header(payload_len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
    FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Binary,
        mask,
        payload_len,
    }
}

fn header_codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_header");
    for &(len, name) in FORMS {
        // What a server decodes: a masked client header.
        let mut wire = [0u8; MAX_HEADER_LEN];
        let wire_len = encode_header(&mut wire, &header(len, Some(KEY)));
        group.bench_function(BenchmarkId::new("decode_masked", name), |b| {
            b.iter(|| decode_header(black_box(&wire[..wire_len]), 0).unwrap())
        });
        // What a server encodes: an unmasked header.
        let unmasked = header(len, None);
        group.bench_function(BenchmarkId::new("encode_unmasked", name), |b| {
            let mut dst = [0u8; MAX_HEADER_LEN];
            b.iter(|| encode_header(black_box(&mut dst), black_box(&unmasked)))
        });
    }
    group.finish();
}

fn small_frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_16B");
    // One masked 16-byte client binary frame, as the server reads it.
    let mut client = Encoder::new(Role::Client);
    let mut out = WriteBuffer::new();
    client.encode(&mut out, Message::Binary(vec![b'x'; 16].into()));
    assert!(out.is_contiguous());
    let wire = out.first_chunk().to_vec();
    group.bench_function("decoder_decode", |b| {
        let mut decoder = Decoder::new(Role::Server, Limits::default());
        b.iter_batched_ref(
            || BytesMut::from(&wire[..]),
            |buf| decoder.decode(buf).unwrap().unwrap(),
            BatchSize::SmallInput,
        )
    });
    // The reply: an unmasked server frame queued for the next write.
    group.bench_function("encoder_encode", |b| {
        let mut encoder = Encoder::new(Role::Server);
        let mut out = WriteBuffer::new();
        let message = Message::Binary(vec![b'x'; 16].into());
        b.iter(|| {
            encoder.encode(&mut out, black_box(message.clone()));
            let n = out.len();
            out.advance(n);
        })
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
    targets = header_codec, small_frame
}
criterion_main!(benches);

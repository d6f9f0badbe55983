//! permessage-deflate fan-out: the cost of sending one compressed broadcast
//! frame to N receivers (criterion reports time per receiver via
//! `Throughput::Elements(N)`), for a 16 KiB JSON event:
//!
//! - `plain`: the frame without compression (a slice of the shared frame);
//! - `compressed_once`: ringcast's path, `Frame::wire` per receiver, the first
//!   call compresses (no context takeover) and every other receiver gets the
//!   same bytes; a fresh frame each iteration, so the compression is timed;
//! - `compressed_per_socket`: what a per-socket compressor costs (Node's `ws`
//!   deflates each socket's copy), one `deflate::compress` per receiver.
//!
//! Run: `cargo bench --bench deflate` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringcast::shard::msg::Frame;
use ringcast_proto::ws::deflate::{compress, Negotiated};

const NEG: Negotiated = Negotiated {
    server_max_window_bits: 15,
    client_context_takeover: false,
};

fn payload() -> Vec<u8> {
    let mut s = String::from("2[\"tick\",{\"rows\":[");
    let mut i = 0;
    while s.len() < 16 << 10 {
        s.push_str(&format!(
            "{{\"id\":{i},\"sym\":\"S{}\",\"px\":{}.{:02},\"ok\":true}},",
            i % 97,
            1000 + i * 7 % 500,
            i % 100
        ));
        i += 1;
    }
    s.push_str("{}]}]");
    s.into_bytes()
}

fn bench(c: &mut Criterion) {
    let data = payload();
    let mut g = c.benchmark_group("deflate_fanout");
    for n in [100usize, 1000] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("plain", n), &n, |b, &n| {
            let f = Frame::text(b'4', &data);
            b.iter(|| {
                let mut sum = 0;
                for _ in 0..n {
                    sum += black_box(f.wire(None)).len();
                }
                sum
            });
        });
        g.bench_with_input(BenchmarkId::new("compressed_once", n), &n, |b, &n| {
            b.iter(|| {
                let f = Frame::text(b'4', &data);
                let mut sum = 0;
                for _ in 0..n {
                    sum += black_box(f.wire(Some((&NEG, 1024)))).len();
                }
                sum
            });
        });
        g.bench_with_input(BenchmarkId::new("compressed_per_socket", n), &n, |b, &n| {
            b.iter(|| {
                let mut sum = 0;
                for _ in 0..n {
                    sum += compress(black_box(&data[..]), 6).map_or(0, |z| z.len());
                }
                sum
            });
        });
    }
    g.finish();
    let f = Frame::text(b'4', &data);
    eprintln!(
        "deflate: payload {} B, compressed frame {} B",
        data.len() + 1,
        f.wire(Some((&NEG, 1024))).len()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);

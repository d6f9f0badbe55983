//! Cost of the per-event quota checks on the hot path, next to what every
//! incoming event already costs.
//!
//! - `admit_event`: one socket's GCRA bucket with the coarse clock read, as
//!   `sio.rs` runs it for every event (accepted path);
//! - `decode_event_packet`: decoding a small `42["broadcast",…]` packet, the
//!   work the shard does for the same event before any check.
//!
//! Run: `cargo bench --bench quota` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use ringcast::shard::quota::{coarse_now, Quotas, SocketQuota};
use ringcast::Config;
use ringcast_proto::socketio::{Limits, Packet};

fn bench(c: &mut Criterion) {
    // A rate no benchmark loop can exceed, so every event is accepted.
    let config = Arc::new(Config {
        client_events_per_second: 1_000_000_000,
        client_events_burst: 1_000_000_000,
        ..Config::default()
    });
    let quotas = Quotas::new(&config);
    let socket = SocketQuota::default();
    c.bench_function("admit_event", |b| {
        b.iter(|| black_box(quotas.admit_event(black_box(&socket), coarse_now())))
    });
    let limits = Limits {
        max_attachments: 10,
    };
    let text = r#"42["broadcast","room-1","m",{"n":1,"text":"hello"}]"#;
    c.bench_function("decode_event_packet", |b| {
        b.iter(|| black_box(Packet::decode(black_box(text), &limits).ok()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

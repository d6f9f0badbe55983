//! Connection state recovery's cost per stored packet (issue 13 item 8):
//! what a shard does for each non-volatile emit when recovery is on, in
//! the steady state where the store is full and every packet evicts the
//! oldest.
//!
//! - `offset_and_store`: next offset, its string (the extra argument
//!   written into the packet), and `RecoveryStore::handle_packet` of a
//!   64-byte event to one room, with eviction by the byte bound;
//! - `tail_of_a_session`: the tail a session published to Redis carries
//!   (`recovery_cluster`), from a full store where the session's room gets
//!   one packet in ten (the cross-node persist cost, per disconnect).
//!
//! Run: `cargo bench --bench recovery` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, Criterion};
use ringcast::shard::msg::Msg;
use ringcast::shard::recovery::{RecoveryConfig, RecoveryStore};
use ringcast::shard::recovery_cluster::{TAIL_BYTES, TAIL_MAX};
use std::hint::black_box;
use std::time::Instant;

fn store(max_bytes: usize) -> RecoveryStore {
    RecoveryStore::new(&RecoveryConfig {
        max_bytes,
        node: 0xabcd_ef01,
        ..RecoveryConfig::default()
    })
}

fn recovery(c: &mut Criterion) {
    let mut g = c.benchmark_group("recovery");
    let msg = Msg::socketio(
        r#"2["news","0123456789012345678901234567890123456789012345678901234567890123","abcdef01.0.1"]"#,
        &[],
    );
    let room: Vec<Box<str>> = vec!["room".into()];
    let now = Instant::now();

    // 4 MiB of packets: full after ~20k, evicting from then on.
    let mut s = store(4 << 20);
    for _ in 0..50_000 {
        let o = s.next_offset(0);
        s.handle_packet(o, 0, &room, &[], &msg, now);
    }
    g.bench_function("offset_and_store", |b| {
        b.iter(|| {
            let o = s.next_offset(0);
            black_box(o.encode());
            s.handle_packet(o, 0, &room, &[], &msg, now);
        })
    });

    let mut s = store(4 << 20);
    let other: Vec<Box<str>> = vec!["other".into()];
    for i in 0..50_000 {
        let o = s.next_offset(0);
        let r = if i % 10 == 0 { &room } else { &other };
        s.handle_packet(o, 0, r, &[], &msg, now);
    }
    let rooms: Vec<Box<str>> = vec!["sid".into(), "room".into()];
    g.bench_function("tail_of_a_session", |b| {
        b.iter(|| black_box(s.tail(0, &rooms, TAIL_MAX, TAIL_BYTES)))
    });
    g.finish();
}

criterion_group!(benches, recovery);
criterion_main!(benches);

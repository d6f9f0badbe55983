//! Room table micro-benchmarks (`ringcast::shard::rooms::RoomTable`, one
//! namespace on one shard) at 100k members.
//!
//! - `join_100k_into_one_room`: building a room of 100k members from empty
//!   (per join, growth included);
//! - `join_leave_in_room_of_100k`: one socket joins and leaves a room that
//!   already holds 100k members (the steady state of churn);
//! - `lookup_room_among_100k_rooms`: `members(name)` in a table of 100k
//!   one-member rooms (per-user rooms); the same with 1k rooms for contrast;
//! - `iterate_members_of_100k`: walking the member set of a 100k room, as a
//!   broadcast resolves its receivers (per member);
//! - `add_join_3_rooms_then_remove_socket`: a socket's life in 3 rooms of
//!   100k members: add, 3 joins, then the disconnect's `remove_socket`.
//!
//! Run: `cargo bench --bench rooms` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringcast::shard::rooms::RoomTable;
use std::hint::black_box;

const N: u32 = 100_000;

fn table_one_room(room: &str) -> RoomTable {
    let mut t = RoomTable::default();
    for k in 0..N {
        t.add_socket(k);
        t.join(k, room);
    }
    t
}

fn rooms(c: &mut Criterion) {
    let mut g = c.benchmark_group("rooms");

    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("join_100k_into_one_room", |b| {
        b.iter_batched(
            RoomTable::default,
            |mut t| {
                for k in 0..N {
                    t.join(k, "room");
                }
                t
            },
            BatchSize::LargeInput,
        )
    });

    g.throughput(Throughput::Elements(1));
    g.bench_function("join_leave_in_room_of_100k", |b| {
        let mut t = table_one_room("room");
        let mut k = N;
        b.iter(|| {
            k = k.wrapping_add(1) | N; // a key not in the room
            assert!(t.join(black_box(k), "room"));
            assert!(t.leave(black_box(k), "room"));
        })
    });

    // 100k one-member rooms (per-user rooms); 1k for contrast (all in cache).
    for rooms in [N as usize, 1_000] {
        let name = format!("lookup_room_among_{}k_rooms", rooms / 1000);
        g.bench_function(&name, |b| {
            let mut t = RoomTable::default();
            let names: Vec<String> = (0..rooms).map(|k| format!("user:{k:08}")).collect();
            for (k, name) in names.iter().enumerate() {
                t.join(k as u32, name);
            }
            // 1024 names spread over the table, so the probe keys stay in
            // cache and the cost measured is the table's.
            let probes: Vec<String> = (0..1024)
                .map(|j| names[(j * 7919) % rooms].clone())
                .collect();
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 1) & 1023;
                black_box(t.members(black_box(&probes[i])).map(|m| m.len()))
            })
        });
    }

    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("iterate_members_of_100k", |b| {
        let t = table_one_room("room");
        b.iter(|| {
            let m = t.members(black_box("room")).unwrap();
            m.iter().fold(0u64, |acc, &k| acc.wrapping_add(k as u64))
        })
    });

    g.throughput(Throughput::Elements(1));
    g.bench_function("add_join_3_rooms_then_remove_socket", |b| {
        let names = ["a", "b", "c"];
        let mut t = RoomTable::default();
        for k in 0..N {
            t.add_socket(k);
            for r in names {
                t.join(k, r);
            }
        }
        let mut k = N;
        b.iter(|| {
            k = k.wrapping_add(1) | N;
            t.add_socket(k);
            for r in names {
                t.join(k, r);
            }
            t.remove_socket(black_box(k), names.iter().copied());
        })
    });
    g.finish();
}

criterion_group!(benches, rooms);
criterion_main!(benches);

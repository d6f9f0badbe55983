//! The two Socket.IO parsers on the same events (conformance-app-2.md
//! section 11, issue 13 item 8): the default JSON parser
//! (`socket.io-parser`: text packet, binaries as separate attachments)
//! against the msgpack parser (`socket.io-msgpack-parser`: one binary
//! message, binaries inline), encode and decode, in memory.
//!
//! - `small_event`: `["chat", {user, room, text, ts, tags}]`;
//! - `binary_event`: `["file", {name, data: <1 KiB>}]`.
//!
//! Encode is what a broadcast pays once (the Socket.IO packet, plus the
//! attachment's websocket frame for JSON); decode is what every received
//! packet pays (JSON: text parse and reassembly; msgpack: notepack decode
//! and conversion to ringcast's JSON-with-placeholders form).
//!
//! Run: `cargo bench --bench parser` (add `-- --quick` for a short run).

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringcast_proto::socketio::{self, msgpack, Limits, Reassembler};
use ringcast_proto::ws;
use serde_json::{json, Value};
use std::hint::black_box;

fn small_object() -> Value {
    json!({"user": "alice", "room": "lobby", "text": "hello, world", "ts": 1_700_000_000_u64, "tags": ["a", "b"]})
}

fn parsers(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("parser");
    g.throughput(Throughput::Elements(1));

    // --- small event -----------------------------------------------------
    let args = [small_object()];
    let mut json_text = String::new();
    socketio::encode_event(&mut json_text, "/", None, "chat", &args, 0);
    let mut mp = Vec::new();
    msgpack::encode_event(&mut mp, "/", None, "chat", &args, &[]);
    let mp = Bytes::from(mp);
    eprintln!(
        "small_event bytes: json {} msgpack {}",
        json_text.len(),
        mp.len()
    );

    g.bench_function("small_event/encode/json", |b| {
        let mut out = String::with_capacity(128);
        b.iter(|| {
            out.clear();
            socketio::encode_event(&mut out, "/", None, black_box("chat"), black_box(&args), 0);
            black_box(out.len())
        })
    });
    g.bench_function("small_event/encode/msgpack", |b| {
        let mut out = Vec::with_capacity(128);
        b.iter(|| {
            out.clear();
            msgpack::encode_event(
                &mut out,
                "/",
                None,
                black_box("chat"),
                black_box(&args),
                &[],
            );
            black_box(out.len())
        })
    });
    g.bench_function("small_event/decode/json", |b| {
        b.iter(|| socketio::Packet::decode(black_box(&json_text), &limits).unwrap())
    });
    g.bench_function("small_event/decode/msgpack", |b| {
        b.iter(|| msgpack::decode(black_box(&mp), &limits).unwrap())
    });

    // --- event with one 1 KiB binary -------------------------------------
    let attachment = Bytes::from(vec![0xab_u8; 1024]);
    let bin_args = [json!({"name": "a.bin", "data": socketio::placeholder(0)})];
    let mut bin_text = String::new();
    socketio::encode_event(&mut bin_text, "/", None, "file", &bin_args, 1);
    let mut bin_mp = Vec::new();
    msgpack::encode_event(
        &mut bin_mp,
        "/",
        None,
        "file",
        &bin_args,
        std::slice::from_ref(&attachment),
    );
    let bin_mp = Bytes::from(bin_mp);
    let atts = [attachment.clone()];

    g.bench_function("binary_event/encode/json", |b| {
        let mut out = String::with_capacity(128);
        let mut frames = BytesMut::with_capacity(2048);
        b.iter(|| {
            out.clear();
            frames.clear();
            socketio::encode_event(&mut out, "/", None, "file", black_box(&bin_args), 1);
            ws::encode_frame(ws::opcode::BINARY, black_box(&attachment), &mut frames);
            black_box((out.len(), frames.len()))
        })
    });
    g.bench_function("binary_event/encode/msgpack", |b| {
        let mut out = Vec::with_capacity(1200);
        b.iter(|| {
            out.clear();
            msgpack::encode_event(&mut out, "/", None, "file", black_box(&bin_args), &atts);
            black_box(out.len())
        })
    });
    g.bench_function("binary_event/decode/json", |b| {
        b.iter(|| {
            let p = socketio::Packet::decode(black_box(&bin_text), &limits).unwrap();
            let mut r = Reassembler::new(p);
            r.push(attachment.clone());
            r.finish()
        })
    });
    g.bench_function("binary_event/decode/msgpack", |b| {
        b.iter(|| msgpack::decode(black_box(&bin_mp), &limits).unwrap())
    });
    g.finish();
}

criterion_group!(benches, parsers);
criterion_main!(benches);

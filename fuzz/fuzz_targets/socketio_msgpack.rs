//! `socketio::msgpack::decode`: one Engine.IO binary message of the
//! msgpack parser (`socket.io-msgpack-parser`, conformance-app-2.md
//! section 11), e.g. `{type:2, data:["echo",<bin>], id:0, nsp:"/"}`.
//!
//! Checks: never panics; the ack id is at most `MAX_ACK_ID`; at most
//! `max_attachments` binaries, and every placeholder in `data` indexes one;
//! binary kinds exactly when there are binaries; what decodes re-encodes
//! (EVENT / ACK / CONNECT_ERROR through the server's encoders) to a message
//! that decodes to the same packet and binaries, numbers compared as the
//! JavaScript numbers they are (an integral float64 beyond 2^53 re-encodes
//! as an int64, as notepack writes it, and decodes as a JSON integer).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use ringcast_proto::socketio::{is_placeholder, msgpack, Limits, PacketKind, MAX_ACK_ID};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let message = Bytes::copy_from_slice(data);
    let limits = Limits::default();
    let Ok((p, bins)) = msgpack::decode(&message, &limits) else {
        return;
    };
    assert!(p.id.is_none_or(|id| id <= MAX_ACK_ID));
    assert!(bins.len() <= limits.max_attachments);
    assert_eq!(p.attachments, bins.len());
    assert_eq!(p.kind.is_binary(), !bins.is_empty());
    if let Some(v) = &p.data {
        let mut stack = vec![v];
        while let Some(node) = stack.pop() {
            if let Some(n) = is_placeholder(node) {
                assert!(n < bins.len(), "placeholder {n} of {}", bins.len());
                continue;
            }
            match node {
                Value::Array(items) => stack.extend(items),
                Value::Object(map) => stack.extend(map.values()),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    match (p.kind, &p.data) {
        (PacketKind::Event | PacketKind::BinaryEvent, Some(Value::Array(items))) => {
            let Some(Value::String(name)) = items.first() else {
                return;
            };
            msgpack::encode_event(&mut out, &p.nsp, p.id, name, &items[1..], &bins);
        }
        (PacketKind::Ack | PacketKind::BinaryAck, Some(Value::Array(items))) => {
            let Some(id) = p.id else { return };
            msgpack::encode_ack(&mut out, &p.nsp, id, items, &bins);
        }
        _ => return,
    }
    let again = msgpack::decode(&Bytes::from(out), &limits).map(|(mut q, b)| {
        q.data = q.data.map(js_numbers);
        (q, b)
    });
    let mut p = p;
    p.data = p.data.map(js_numbers);
    assert_eq!(again, Ok((p, bins)));
});

/// `v` with every number as an `f64`: JavaScript has one number type, so
/// `-34369829393661952` (int64) and `-3.436982939366195e16` (float64) are
/// the same value to a client.
fn js_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(items) => Value::Array(items.into_iter().map(js_numbers).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, js_numbers(v))).collect()),
        other => other,
    }
}

//! Socket.IO binary reassembly: `socketio::Packet::decode` of a
//! BINARY_EVENT / BINARY_ACK text packet, then `socketio::Reassembler`
//! fed the binary attachments that follow it.
//!
//! Input: the text packet, then the attachments, separated by `0x1e`
//! (`51-["x",{"_placeholder":true,"num":0}]\x1e<bytes>`). Extra segments
//! are pushed too (the reassembler must drop them).
//!
//! Checks: never panics; `push` returns `is_complete`; `remaining` counts
//! down; `finish` returns exactly `min(attachments, pushed)` buffers, in
//! order; a complete binary packet's placeholders all index those buffers.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use ringcast_proto::socketio::{is_placeholder, Limits, Packet, Reassembler};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0x1e);
    let text = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let Ok(p) = Packet::decode(&text, &Limits::default()) else {
        return;
    };
    let announced = p.attachments;
    let mut r = Reassembler::new(p.clone());
    assert_eq!(r.is_complete(), announced == 0);
    let mut pushed: Vec<Bytes> = Vec::new();
    for part in parts {
        let before = r.remaining();
        let b = Bytes::copy_from_slice(part);
        pushed.push(b.clone());
        let done = r.push(b);
        assert_eq!(done, r.is_complete());
        assert_eq!(r.remaining(), before.saturating_sub(1));
        assert_eq!(r.packet(), &p);
    }
    let complete = r.is_complete();
    let (q, buffers) = r.finish();
    assert_eq!(q, p);
    let kept = announced.min(pushed.len());
    assert_eq!(buffers.as_slice(), &pushed[..kept]);
    assert_eq!(complete, pushed.len() >= announced);
    if let (true, true, Some(v)) = (complete, q.kind.is_binary(), &q.data) {
        let mut stack = vec![v];
        while let Some(node) = stack.pop() {
            if let Some(n) = is_placeholder(node) {
                assert!(buffers.get(n).is_some(), "placeholder {n} unresolved");
                continue;
            }
            match node {
                serde_json::Value::Array(items) => stack.extend(items),
                serde_json::Value::Object(map) => stack.extend(map.values()),
                _ => {}
            }
        }
    }
});

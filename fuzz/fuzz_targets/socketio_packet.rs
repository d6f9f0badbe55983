//! `socketio::Packet::decode`: the text part of a Socket.IO packet
//! (`2["foo"]`, `3/admin,13["bar"]`, `451-["x",{"_placeholder":true,"num":0}]`
//! minus the Engine.IO `4`).
//!
//! Checks: never panics; the namespace starts with `/`; the ack id is at
//! most `MAX_ACK_ID`; only binary kinds carry attachments, at most
//! `max_attachments`; every placeholder has `num < attachments`; what
//! decodes re-encodes to text that decodes to the same packet; the fast
//! EVENT path (`Packet::decode_event`) admits only what `decode` accepts,
//! as the same event, and its kept argument text parses to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringcast_proto::socketio::{is_placeholder, Limits, Packet, MAX_ACK_ID};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let limits = Limits::default();
    let fast = Packet::decode_event(&text, &limits);
    let Ok(p) = Packet::decode(&text, &limits) else {
        assert!(fast.is_none(), "fast path admitted {text:?}");
        return;
    };
    if let Some(ev) = fast {
        let Some(serde_json::Value::Array(items)) = &p.data else {
            panic!("fast path admitted a non-list {text:?}");
        };
        assert_eq!((ev.nsp, ev.id), (p.nsp.as_str(), p.id));
        assert_eq!(items[0], serde_json::Value::from(ev.event.as_str()));
        let mut list = String::from("[");
        ev.args.write_list(&mut list);
        list.push(']');
        let reparsed: Vec<serde_json::Value> = serde_json::from_str(&list).expect("kept text parses");
        assert_eq!(reparsed, items[1..]);
        assert_eq!(*ev.args, items[1..]);
    }
    assert!(p.nsp.starts_with('/'), "namespace {:?}", p.nsp);
    assert!(p.id.is_none_or(|id| id <= MAX_ACK_ID));
    if p.kind.is_binary() {
        assert!(p.attachments <= limits.max_attachments);
    } else {
        assert_eq!(p.attachments, 0);
    }
    if let (true, Some(v)) = (p.kind.is_binary(), &p.data) {
        let mut stack = vec![v];
        while let Some(node) = stack.pop() {
            if let Some(n) = is_placeholder(node) {
                assert!(n < p.attachments, "placeholder {n} of {}", p.attachments);
                continue;
            }
            match node {
                serde_json::Value::Array(items) => stack.extend(items),
                serde_json::Value::Object(map) => stack.extend(map.values()),
                _ => {}
            }
        }
    }
    let mut out = String::new();
    p.encode(&mut out);
    assert_eq!(
        Packet::decode(&out, &limits),
        Ok(p),
        "re-encoded as {out:?}"
    );
});

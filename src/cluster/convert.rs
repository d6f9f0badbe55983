//! Between ringcast's encoded broadcasts and the adapter's packet form.
//!
//! Outgoing: a shard hands the bridge its `Arc<Broadcast>` as is (no work
//! on the shard); the bridge reads the Socket.IO text frame and the binary
//! frames back into `[event, ...args]` with raw binary (msgpack `bin`).
//! Incoming: the adapter's packet becomes JSON with placeholders plus
//! attachments, encoded once into a shared [`Msg`] (BINARY_EVENT when it
//! carries binary), exactly as a local emit would be.

use std::sync::Arc;

use bytes::Bytes;
use ringcast_cluster_wire::{Packet, Value};
use ringcast_proto::socketio;

use crate::config::Parser;
use crate::shard::encode;
use crate::shard::msg::Msg;

/// The adapter packet of an encoded broadcast for namespace `nsp`, or None
/// when the message is not a Socket.IO event. A single binary frame is a
/// msgpack-parser packet (binaries inline, see `shard::encode`).
pub(crate) fn msg_to_packet(nsp: &str, msg: &Msg) -> Option<Packet> {
    let (first, rest) = msg.frames.split_first()?;
    if first.binary {
        let limits = socketio::Limits {
            max_attachments: usize::MAX,
        };
        let data = Bytes::copy_from_slice(first.payload());
        let (p, attachments) = socketio::msgpack::decode(&data, &limits).ok()?;
        let serde_json::Value::Array(data) = p.data? else {
            return None;
        };
        return Some(Packet::from_placeholders(nsp, &data, &attachments));
    }
    let text = std::str::from_utf8(first.payload().get(1..)?).ok()?;
    let limits = socketio::Limits {
        max_attachments: usize::MAX,
    };
    let p = socketio::Packet::decode(text, &limits).ok()?;
    let serde_json::Value::Array(data) = p.data? else {
        return None;
    };
    let attachments: Vec<Bytes> = rest
        .iter()
        .map(|f| f.bytes.slice(f.header_len as usize..))
        .collect();
    Some(Packet::from_placeholders(nsp, &data, &attachments))
}

/// The shared encoded EVENT for an adapter packet (with packet id `ack`).
pub(crate) fn packet_to_msg(
    parser: Parser,
    nsp: &str,
    packet: &Packet,
    ack: Option<u64>,
) -> Option<Arc<Msg>> {
    let (mut data, attachments) = packet.to_placeholders();
    if data.is_empty() {
        return None;
    }
    let event = match data.remove(0) {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(encode::event(parser, nsp, ack, &event, &data, &attachments))
}

/// The first argument of a client's ack, with binary as raw bytes.
pub(crate) fn first_arg(args: &[serde_json::Value], attachments: &[Bytes]) -> Value {
    args.first().map_or(Value::Nil, |a| {
        ringcast_cluster_wire::from_placeholders(a, attachments)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use ringcast_proto::socketio::binary;
    use serde_json::json;

    #[test]
    fn round_trip_keeps_binary() {
        let msg = encode::event(
            Parser::Json,
            "/",
            None,
            "ev",
            &[json!({"a": 1}), binary::placeholder(0)],
            &[Bytes::from_static(b"\x01\x02\x03")],
        );
        let p = msg_to_packet("/", &msg).unwrap();
        assert_eq!(p.data[0], Value::from("ev"));
        assert_eq!(
            p.data[2],
            Value::Binary(Bytes::from_static(b"\x01\x02\x03"))
        );
        let back = packet_to_msg(Parser::Json, "/", &p, None).unwrap();
        assert_eq!(back.frames.len(), 2);
        assert_eq!(
            back.frames[0].payload(),
            &br#"451-["ev",{"a":1},{"_placeholder":true,"num":0}]"#[..]
        );
        assert_eq!(back.frames[1].payload(), b"\x01\x02\x03");
    }

    /// What ringcast publishes for `io.to("r1").emit("hello", {a: 1})` is
    /// byte-identical to the Node adapter (contract 3.5, vector 1).
    #[test]
    fn published_broadcast_matches_golden_vector() {
        use ringcast_cluster_wire::{BroadcastMessage, BroadcastOpts};
        let msg = encode::event(Parser::Json, "/", None, "hello", &[json!({"a": 1})], &[]);
        let m = BroadcastMessage {
            uid: Some("qNHq3X".into()),
            packet: msg_to_packet("/", &msg).unwrap(),
            opts: BroadcastOpts::to_rooms(&["r1"]),
        };
        let hex: String = m
            .encode()
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "93a6714e4871335883a47479706502a46461746192a568656c6c6f81a16101a36e7370a12f83a5726f6f6d7391a27231a665786365707490a5666c61677380"
        );
    }

    /// Vector 3: binary stays msgpack bin (`c4 03 01 02 03`), type stays 2.
    #[test]
    fn published_binary_matches_golden_vector() {
        use ringcast_cluster_wire::{BroadcastMessage, BroadcastOpts};
        let msg = encode::event(
            Parser::Json,
            "/",
            None,
            "bin",
            &[json!({"b": {"_placeholder": true, "num": 0}})],
            &[Bytes::from_static(&[1, 2, 3])],
        );
        let m = BroadcastMessage {
            uid: Some("qNHq3X".into()),
            packet: msg_to_packet("/", &msg).unwrap(),
            opts: BroadcastOpts::to_rooms(&["r1"]),
        };
        let hex: String = m
            .encode()
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "93a6714e4871335883a47479706502a46461746192a362696e81a162c403010203a36e7370a12f83a5726f6f6d7391a27231a665786365707490a5666c61677380"
        );
        // and back: one BINARY_EVENT with its attachment
        let back = packet_to_msg(Parser::Json, "/", &m.packet, None).unwrap();
        assert_eq!(
            back.frames[0].payload(),
            &br#"451-["bin",{"b":{"_placeholder":true,"num":0}}]"#[..]
        );
        assert_eq!(back.frames[1].payload(), &[1, 2, 3]);
    }
}

//! Every msgpack size class notepack uses, carried inside a broadcast next
//! to binary payloads: the expected bytes are written out by hand (header
//! bytes from the msgpack spec / notepack's rules), and the message must
//! encode to them, decode from them, and survive the trip through
//! ringcast's JSON + placeholders + attachments representation
//! byte-identical.

use bytes::Bytes;
use ringcast_cluster_wire::{BroadcastMessage, BroadcastOpts, Packet, Value};

/// `[ "u", {type: 2, data: ["ev", payload], nsp: "/"}, {rooms: [], except: [], flags: {}} ]`.
fn message_bytes(payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0x93, 0xa1, b'u', 0x83, 0xa4];
    b.extend_from_slice(b"type\x02\xa4data\x92\xa2ev");
    b.extend_from_slice(payload);
    b.extend_from_slice(b"\xa3nsp\xa1/\x83\xa5rooms\x90\xa6except\x90\xa5flags\x80");
    b
}

fn message(payload: Value) -> BroadcastMessage {
    BroadcastMessage {
        uid: Some("u".to_owned()),
        packet: Packet::event("/", "ev", [payload]),
        opts: BroadcastOpts::default(),
    }
}

/// `payload` must encode as `payload_bytes`, both ways, and through the
/// placeholder representation.
fn check(what: &str, payload: Value, payload_bytes: &[u8]) {
    let expected = Bytes::from(message_bytes(payload_bytes));
    let msg = message(payload);
    assert!(msg.encode().unwrap() == expected, "{what}: encode");
    assert!(
        BroadcastMessage::decode(&expected).unwrap() == msg,
        "{what}: decode"
    );
    let (json, attachments) = msg.packet.to_placeholders();
    let text = serde_json::to_string(&json).unwrap();
    let json: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let back = BroadcastMessage {
        packet: Packet::from_placeholders("/", &json, &attachments),
        ..msg
    };
    assert!(
        back.encode().unwrap() == expected,
        "{what}: via placeholders"
    );
}

fn bin(n: usize) -> Bytes {
    (0..n).map(|i| (i * 7) as u8).collect::<Vec<u8>>().into()
}

/// `[x, <bin 2>]` as the payload: each scalar class next to a binary.
fn with_bin(what: &str, x: Value, x_bytes: &[u8]) {
    let mut b = vec![0x92];
    b.extend_from_slice(x_bytes);
    b.extend_from_slice(&[0xc4, 0x02, 0x00, 0x07]);
    check(what, Value::Array(vec![x, Value::Binary(bin(2))]), &b);
}

fn cat(head: &[u8], tail: &[u8]) -> Vec<u8> {
    [head, tail].concat()
}

#[test]
fn integers_and_floats() {
    let cases: Vec<(&str, Value, Vec<u8>)> = vec![
        ("positive fixint 0", Value::Int(0), vec![0x00]),
        ("positive fixint 127", Value::Int(127), vec![0x7f]),
        ("negative fixint -1", Value::Int(-1), vec![0xff]),
        ("negative fixint -32", Value::Int(-32), vec![0xe0]),
        ("uint8 128", Value::Int(128), vec![0xcc, 0x80]),
        ("uint8 255", Value::Int(255), vec![0xcc, 0xff]),
        ("uint16 256", Value::Int(256), vec![0xcd, 0x01, 0x00]),
        ("uint16 65535", Value::Int(65535), vec![0xcd, 0xff, 0xff]),
        ("uint32 65536", Value::Int(65536), vec![0xce, 0, 1, 0, 0]),
        (
            "uint32 max",
            Value::Int(u32::MAX.into()),
            vec![0xce, 0xff, 0xff, 0xff, 0xff],
        ),
        (
            "uint64 2^32",
            Value::Int(1 << 32),
            vec![0xcf, 0, 0, 0, 1, 0, 0, 0, 0],
        ),
        (
            "uint64 max",
            Value::UInt(u64::MAX),
            cat(&[0xcf], &[0xff; 8]),
        ),
        ("int8 -33", Value::Int(-33), vec![0xd0, 0xdf]),
        ("int8 -128", Value::Int(-128), vec![0xd0, 0x80]),
        ("int16 -129", Value::Int(-129), vec![0xd1, 0xff, 0x7f]),
        ("int16 -32768", Value::Int(-32768), vec![0xd1, 0x80, 0x00]),
        (
            "int32 -32769",
            Value::Int(-32769),
            vec![0xd2, 0xff, 0xff, 0x7f, 0xff],
        ),
        (
            "int32 min",
            Value::Int(i32::MIN.into()),
            vec![0xd2, 0x80, 0, 0, 0],
        ),
        (
            "int64 -2^31-1",
            Value::Int(-(1 << 31) - 1),
            cat(&[0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f], &[0xff; 3]),
        ),
        (
            "int64 min",
            Value::Int(i64::MIN),
            cat(&[0xd3, 0x80], &[0; 7]),
        ),
        (
            "float64 1.5",
            Value::Float(1.5),
            cat(&[0xcb, 0x3f, 0xf8], &[0; 6]),
        ),
        (
            "float64 -0.25",
            Value::Float(-0.25),
            cat(&[0xcb, 0xbf, 0xd0], &[0; 6]),
        ),
        ("nil", Value::Nil, vec![0xc0]),
        ("true", Value::Bool(true), vec![0xc3]),
        ("false", Value::Bool(false), vec![0xc2]),
    ];
    for (what, v, b) in cases {
        with_bin(what, v, &b);
    }
}

#[test]
fn strings() {
    for (len, head) in [
        (0, vec![0xa0]),
        (31, vec![0xbf]),
        (32, vec![0xd9, 32]),
        (255, vec![0xd9, 0xff]),
        (256, vec![0xda, 0x01, 0x00]),
        (65535, vec![0xda, 0xff, 0xff]),
        (65536, vec![0xdb, 0, 1, 0, 0]),
    ] {
        let s = "s".repeat(len);
        with_bin(
            &format!("str {len}"),
            Value::Str(s.clone()),
            &cat(&head, s.as_bytes()),
        );
    }
    // Lengths count UTF-8 bytes: 16 × "é" is 32 bytes, so str8.
    let s = "é".repeat(16);
    with_bin(
        "str8 multibyte",
        Value::Str(s.clone()),
        &cat(&[0xd9, 32], s.as_bytes()),
    );
}

#[test]
fn binaries() {
    for (len, head) in [
        (0, vec![0xc4, 0]),
        (1, vec![0xc4, 1]),
        (255, vec![0xc4, 0xff]),
        (256, vec![0xc5, 0x01, 0x00]),
        (65535, vec![0xc5, 0xff, 0xff]),
        (65536, vec![0xc6, 0, 1, 0, 0]),
    ] {
        let b = bin(len);
        check(
            &format!("bin {len}"),
            Value::Binary(b.clone()),
            &cat(&head, &b),
        );
    }
}

#[test]
fn arrays_of_binaries() {
    for (len, head) in [
        (0, vec![0x90]),
        (15, vec![0x9f]),
        (16, vec![0xdc, 0x00, 0x10]),
        (65535, vec![0xdc, 0xff, 0xff]),
        (65536, vec![0xdd, 0, 1, 0, 0]),
    ] {
        // Every element a 1-byte binary: placeholders 0..len in order.
        let items = (0..len)
            .map(|i| Value::Binary(Bytes::from(vec![i as u8])))
            .collect();
        let mut b = head;
        for i in 0..len {
            b.extend_from_slice(&[0xc4, 1, i as u8]);
        }
        check(&format!("array {len}"), Value::Array(items), &b);
    }
}

#[test]
fn maps_of_binaries() {
    for (len, head) in [
        (0, vec![0x80]),
        (15, vec![0x8f]),
        (16, vec![0xde, 0x00, 0x10]),
        (65535, vec![0xde, 0xff, 0xff]),
        (65536, vec![0xdf, 0, 1, 0, 0]),
    ] {
        let mut b = head;
        let mut entries = Vec::with_capacity(len);
        for i in 0..len {
            let key = format!("{i:05}");
            b.push(0xa5);
            b.extend_from_slice(key.as_bytes());
            b.extend_from_slice(&[0xc4, 1, i as u8]);
            entries.push((key, Value::Binary(Bytes::from(vec![i as u8]))));
        }
        check(&format!("map {len}"), Value::Map(entries), &b);
    }
}

#[test]
fn placeholders_are_numbered_depth_first_across_arguments() {
    let packet = Packet::event(
        "/",
        "ev",
        [
            Value::map([
                ("a", Value::Binary(bin(1))),
                ("b", Value::Array(vec![Value::Binary(bin(2))])),
            ]),
            Value::Binary(bin(3)),
        ],
    );
    let (json, attachments) = packet.to_placeholders();
    assert_eq!(
        serde_json::to_string(&json).unwrap(),
        r#"["ev",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1}]},{"_placeholder":true,"num":2}]"#
    );
    assert_eq!(attachments, vec![bin(1), bin(2), bin(3)]);
    assert_eq!(Packet::from_placeholders("/", &json, &attachments), packet);
}

//! Literal vectors of conformance-app-2.md section 11 and the decoder's
//! hostile-input rules.

use super::*;
use serde_json::json;

use crate::socketio::placeholder;

fn hex(s: &str) -> Bytes {
    let s: String = s.split_whitespace().collect();
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test vector is hex"))
        .collect::<Vec<u8>>();
    Bytes::from(bytes)
}

fn dec(b: &Bytes) -> Result<(Packet, Vec<Bytes>), DecodeError> {
    decode(b, &Limits::default())
}

/// `{type:0, data:undefined, nsp:"/custom"}` (socket.io-client, no auth).
const CLIENT_CONNECT: &str = "83 a4 74797065 00 a4 64617461 d40000 a3 6e7370 a7 2f637573746f6d";

/// `{type:2, data:["echo","hi",<bin 0102>,{n:[1,{b:<bin 03>}]}],
/// options:{compress:true}, id:0, nsp:"/"}`.
const CLIENT_EVENT: &str = "85 a4 74797065 02 a4 64617461 94 a4 6563686f a2 6869 c4 02 0102 \
     81 a1 6e 92 01 81 a1 62 c4 01 03 \
     a7 6f7074696f6e73 81 a8 636f6d7072657373 c3 a2 6964 00 a3 6e7370 a1 2f";

/// `{id:0, type:3, data:["hi",<bin 0102>,{n:[1,{b:<bin 03>}]}], nsp:"/"}`.
const SERVER_ACK: &str = "84 a2 6964 00 a4 74797065 03 a4 64617461 93 a2 6869 c4 02 0102 \
     81 a1 6e 92 01 81 a1 62 c4 01 03 a3 6e7370 a1 2f";

#[test]
fn client_connect_with_undefined_data() {
    let (p, att) = dec(&hex(CLIENT_CONNECT)).unwrap();
    assert_eq!(p.kind, PacketKind::Connect);
    assert_eq!(p.nsp, "/custom");
    assert_eq!(p.data, None);
    assert_eq!(p.id, None);
    assert!(att.is_empty());
}

#[test]
fn client_event_with_binary_at_depth_and_ack() {
    let (p, att) = dec(&hex(CLIENT_EVENT)).unwrap();
    assert_eq!(p.kind, PacketKind::BinaryEvent);
    assert_eq!(p.nsp, "/");
    assert_eq!(p.id, Some(0));
    assert_eq!(p.attachments, 2);
    assert_eq!(
        p.data,
        Some(json!(["echo", "hi", placeholder(0), {"n": [1, {"b": placeholder(1)}]}]))
    );
    assert_eq!(att, vec![hex("0102"), hex("03")]);
}

#[test]
fn server_ack_is_byte_exact() {
    // The echo handler answers with the event's arguments after the name.
    let (p, att) = dec(&hex(CLIENT_EVENT)).unwrap();
    let Some(Value::Array(mut items)) = p.data else {
        panic!("event data is an array");
    };
    items.remove(0);
    let mut out = Vec::new();
    encode_ack(&mut out, "/", 0, &items, &att);
    assert_eq!(Bytes::from(out), hex(SERVER_ACK));
}

#[test]
fn event_encoding_round_trips() {
    let mut out = Vec::new();
    let args = [json!({"a": [1, 2.5, null, true]}), placeholder(0)];
    encode_event(&mut out, "/custom", Some(7), "ev", &args, &[hex("ff00")]);
    let v = wire::decode(&Bytes::from(out.clone())).unwrap();
    assert_eq!(v.get("type"), Some(&Wire::Int(2)));
    assert_eq!(v.get("id"), Some(&Wire::Int(7)));
    assert_eq!(v.get("nsp").and_then(Wire::as_str), Some("/custom"));
    let (p, att) = dec(&Bytes::from(out)).unwrap();
    assert_eq!(p.id, Some(7));
    assert_eq!(
        p.data,
        Some(json!(["ev", {"a": [1, 2.5, null, true]}, placeholder(0)]))
    );
    assert_eq!(att, vec![hex("ff00")]);
}

#[test]
fn plain_event_has_node_key_order() {
    let mut out = Vec::new();
    encode_event(&mut out, "/", None, "hi", &[json!(1)], &[]);
    // {type:2, data:["hi",1], nsp:"/"}
    assert_eq!(
        Bytes::from(out),
        hex("83 a4 74797065 02 a4 64617461 92 a2 6869 01 a3 6e7370 a1 2f")
    );
}

#[test]
fn connect_reply_and_refusal() {
    let mut out = Vec::new();
    encode_connect(&mut out, "/", "abc", None);
    // {type:0, data:{sid:"abc"}, nsp:"/"}
    assert_eq!(
        Bytes::from(out),
        hex("83 a4 74797065 00 a4 64617461 81 a3 736964 a3 616263 a3 6e7370 a1 2f")
    );
    let mut out = Vec::new();
    encode_connect_error(&mut out, "/nope", "Invalid namespace", None);
    let v = wire::decode(&Bytes::from(out)).unwrap();
    assert_eq!(v.get("type"), Some(&Wire::Int(4)));
    assert_eq!(v.get("nsp").and_then(Wire::as_str), Some("/nope"));
    assert_eq!(
        v.get("data").and_then(|d| d.get("message")),
        Some(&Wire::from("Invalid namespace"))
    );
    let mut out = Vec::new();
    encode_connect_error(&mut out, "/admin", "unauthorized", Some(&json!({"a": 1})));
    let (p, _) = dec(&Bytes::from(out)).unwrap();
    assert_eq!(
        p.data,
        Some(json!({"message": "unauthorized", "data": {"a": 1}}))
    );
}

#[test]
fn any_key_order_extra_keys_and_duplicates() {
    // {nsp:"/", extra:[1], data:["x"], type:2, type:3 (last wins)}
    let b = hex(
        "85 a3 6e7370 a1 2f a5 6578747261 91 01 a4 64617461 91 a1 78 a4 74797065 02 a4 74797065 03",
    );
    let (p, _) = dec(&b).unwrap();
    assert_eq!(p.kind, PacketKind::Ack);
    assert_eq!(p.data, Some(json!(["x"])));
}

#[test]
fn binary_outside_events_is_json_stringified() {
    // {id:0, type:4, data:<bin 03>, nsp:"/"}: a string or object is needed.
    let b = hex("84 a2 6964 00 a4 74797065 04 a4 64617461 c4 01 03 a3 6e7370 a1 2f");
    let (p, att) = dec(&b).unwrap();
    assert_eq!(p.kind, PacketKind::ConnectError);
    assert_eq!(p.data, Some(json!({"type": "Buffer", "data": [3]})));
    assert!(att.is_empty());
    // CONNECT auth {k:<bin 01>}
    let b = hex("83 a4 74797065 00 a3 6e7370 a1 2f a4 64617461 81 a1 6b c4 01 01");
    let (p, att) = dec(&b).unwrap();
    assert_eq!(p.data, Some(json!({"k": {"type": "Buffer", "data": [1]}})));
    assert!(att.is_empty());
}

#[test]
fn undefined_in_an_array_is_null() {
    // {type:2, nsp:"/", data:["x", undefined]}
    let b = hex("83 a4 74797065 02 a3 6e7370 a1 2f a4 64617461 92 a1 78 d40000");
    let (p, _) = dec(&b).unwrap();
    assert_eq!(p.data, Some(json!(["x", null])));
}

#[test]
fn invalid_packets_are_refused() {
    let cases = [
        ("", DecodeError::InvalidMsgpack),
        ("c1", DecodeError::InvalidMsgpack),
        // an array, not a map
        ("91 02", DecodeError::InvalidMsgpack),
        // type 5 (no binary kinds in this parser)
        (
            "82 a4 74797065 05 a3 6e7370 a1 2f",
            DecodeError::InvalidMsgpack,
        ),
        // type as a string
        (
            "82 a4 74797065 a1 32 a3 6e7370 a1 2f",
            DecodeError::InvalidMsgpack,
        ),
        // no nsp
        (
            "82 a4 74797065 02 a4 64617461 91 a1 78",
            DecodeError::InvalidPayload,
        ),
        // EVENT without data
        (
            "82 a4 74797065 02 a3 6e7370 a1 2f",
            DecodeError::InvalidPayload,
        ),
        // reserved event name
        (
            "83 a4 74797065 02 a3 6e7370 a1 2f a4 64617461 91 a7 636f6e6e656374",
            DecodeError::InvalidPayload,
        ),
        // DISCONNECT with data
        (
            "83 a4 74797065 01 a3 6e7370 a1 2f a4 64617461 80",
            DecodeError::InvalidPayload,
        ),
        // negative id
        (
            "84 a4 74797065 03 a3 6e7370 a1 2f a4 64617461 90 a2 6964 ff",
            DecodeError::InvalidAckId,
        ),
        // id null
        (
            "84 a4 74797065 03 a3 6e7370 a1 2f a4 64617461 90 a2 6964 c0",
            DecodeError::InvalidAckId,
        ),
        // a literal placeholder-shaped map: {type:2,nsp:"/",data:["x",{_placeholder:true,num:0}]}
        ("83 a4 74797065 02 a3 6e7370 a1 2f a4 64617461 92 a1 78 82 ac 5f706c616365686f6c646572 c3 a3 6e756d 00", DecodeError::InvalidPlaceholder),
        // trailing byte
        (
            "82 a4 74797065 00 a3 6e7370 a1 2f 00",
            DecodeError::InvalidMsgpack,
        ),
    ];
    for (h, want) in cases {
        assert_eq!(dec(&hex(h)).map(|_| ()), Err(want), "{h}");
    }
}

#[test]
fn limits_depth_and_binaries() {
    // data: ["x", [[[…]]]] nested past MAX_DEPTH
    let mut b = hex("83 a4 74797065 02 a3 6e7370 a1 2f a4 64617461 92 a1 78").to_vec();
    b.extend(std::iter::repeat_n(0x91, MAX_DEPTH));
    b.push(0x01);
    assert_eq!(
        dec(&Bytes::from(b)).map(|_| ()),
        Err(DecodeError::InvalidMsgpack)
    );
    // eleven binaries, one over the default limit of ten
    let mut b = hex("83 a4 74797065 02 a3 6e7370 a1 2f a4 64617461 9c a1 78").to_vec();
    for _ in 0..11 {
        b.extend_from_slice(&[0xc4, 0x00]);
    }
    assert_eq!(
        dec(&Bytes::from(b.clone())).map(|_| ()),
        Err(DecodeError::TooManyAttachments)
    );
    let limits = Limits {
        max_attachments: 11,
    };
    assert_eq!(decode(&Bytes::from(b), &limits).unwrap().1.len(), 11);
}

#[test]
fn huge_announced_lengths_do_not_allocate_or_panic() {
    for h in [
        "83 a4 74797065 02 a3 6e7370 a1 2f a4 64617461 dd ffffffff",
        "83 a4 74797065 02 a3 6e7370 a1 2f a4 64617461 91 c6 ffffffff",
        "df ffffffff",
    ] {
        assert!(dec(&hex(h)).is_err(), "{h}");
    }
}

#[test]
fn direct_encoder_matches_cluster_wire() {
    let atts = [
        hex("00"),
        Bytes::from(vec![7u8; 300]),
        Bytes::from(vec![1u8; 70_000]),
    ];
    let values = [
        json!(null),
        json!([
            true,
            false,
            0,
            127,
            128,
            255,
            256,
            65535,
            65536,
            4294967296u64,
            u64::MAX
        ]),
        json!([
            -1,
            -32,
            -33,
            -128,
            -129,
            -32768,
            -32769,
            -2147483649i64,
            i64::MIN
        ]),
        json!([0.5, -0.0, 2.0, 1e300, -1e19, 1.0e19]),
        json!([
            "",
            "x".repeat(31),
            "y".repeat(32),
            "z".repeat(256),
            "é".repeat(40000)
        ]),
        json!({"a": placeholder(1), "b": [placeholder(0), placeholder(2), placeholder(3)]}),
        json!({"_placeholder": true, "num": "0"}),
        Value::Object((0..20).map(|i| (format!("k{i}"), json!(i))).collect()),
        Value::Array((0..70_000).map(|i| json!(i % 3)).collect()),
    ];
    for v in values {
        let mut direct = Vec::new();
        write_json(&mut direct, &v, &atts);
        let want = wire::encode(&wire::from_placeholders(&v, &atts)).unwrap();
        assert_eq!(direct, want.to_vec(), "{v:.80}");
    }
    // Too deep to encode: nil.
    let mut deep = json!(1);
    for _ in 0..300 {
        deep = json!([deep]);
    }
    let mut out = Vec::new();
    write_json(&mut out, &deep, &[]);
    assert_eq!(out, vec![0xc0]);
}

/// An integral float64 beyond 2^53 decodes as a JSON float and re-encodes
/// as notepack writes that JavaScript number: int64 (`0xd3`). Both forms
/// are the same number to a client (found by the `socketio_msgpack` fuzz
/// target, which now compares numbers as JavaScript does).
#[test]
fn integral_float_beyond_2_pow_53_reencodes_as_int64() {
    // {type:2, nsp:"/", data:["a", float64 -34369829393661952]}
    let message = hex("83 a4 74797065 02 a3 6e7370 a1 2f a4 64617461 92 a1 61 cb c35e86cb60000000");
    let (p, bins) = dec(&message).unwrap();
    let Some(Value::Array(items)) = &p.data else {
        panic!("event data is an array: {:?}", p.data)
    };
    assert_eq!(items[1].as_f64(), Some(-34_369_829_393_661_952.0));
    let mut out = Vec::new();
    encode_event(&mut out, "/", None, "a", &items[1..], &bins);
    assert!(
        out.windows(9)
            .any(|w| w == hex("d3 ff85e4d280000000").as_ref()),
        "int64 form in {out:02x?}"
    );
    let (again, _) = dec(&Bytes::from(out)).unwrap();
    let Some(Value::Array(again)) = again.data else {
        panic!("event data is an array")
    };
    assert_eq!(again[1].as_f64(), items[1].as_f64());
}

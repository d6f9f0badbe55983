//! Wire vectors for [`Packet::decode`] / [`Packet::encode`], taken from the
//! socket.io-protocol README, plus rejection cases and fuzzing.

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn dec(s: &str) -> Result<Packet, DecodeError> {
    Packet::decode(s, &Limits::default())
}

fn p(
    kind: PacketKind,
    nsp: &str,
    id: Option<u64>,
    data: Option<Value>,
    attachments: usize,
) -> Packet {
    Packet {
        kind,
        nsp: nsp.to_owned(),
        id,
        data,
        attachments,
    }
}

fn enc(p: &Packet) -> String {
    let mut s = String::new();
    p.encode(&mut s);
    s
}

#[test]
fn readme_vectors_roundtrip() {
    use PacketKind::*;
    let cases = [
        ("0", p(Connect, "/", None, None, 0)),
        ("0/admin,", p(Connect, "/admin", None, None, 0)),
        (
            r#"0{"token":"123"}"#,
            p(Connect, "/", None, Some(json!({"token":"123"})), 0),
        ),
        (
            r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
            p(
                Connect,
                "/admin",
                None,
                Some(json!({"sid":"oSO0OpakMV_3jnilAAAA"})),
                0,
            ),
        ),
        (
            r#"4{"message":"Not authorized"}"#,
            p(
                ConnectError,
                "/",
                None,
                Some(json!({"message":"Not authorized"})),
                0,
            ),
        ),
        (
            r#"4"Not authorized""#,
            p(ConnectError, "/", None, Some(json!("Not authorized")), 0),
        ),
        (r#"2["foo"]"#, p(Event, "/", None, Some(json!(["foo"])), 0)),
        (
            r#"2/admin,["bar"]"#,
            p(Event, "/admin", None, Some(json!(["bar"])), 0),
        ),
        (
            r#"2["hey","Jude"]"#,
            p(Event, "/", None, Some(json!(["hey", "Jude"])), 0),
        ),
        (
            r#"212["foo",1]"#,
            p(Event, "/", Some(12), Some(json!(["foo", 1])), 0),
        ),
        (
            r#"2[42,"x"]"#,
            p(Event, "/", None, Some(json!([42, "x"])), 0),
        ),
        (
            r#"3/admin,13["bar"]"#,
            p(Ack, "/admin", Some(13), Some(json!(["bar"])), 0),
        ),
        ("30[]", p(Ack, "/", Some(0), Some(json!([])), 0)),
        (
            r#"51-["baz",{"_placeholder":true,"num":0}]"#,
            p(
                BinaryEvent,
                "/",
                None,
                Some(json!(["baz", {"_placeholder":true,"num":0}])),
                1,
            ),
        ),
        (
            r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            p(
                BinaryEvent,
                "/admin",
                None,
                Some(json!(["baz", {"_placeholder":true,"num":0}, {"_placeholder":true,"num":1}])),
                2,
            ),
        ),
        (
            r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
            p(
                BinaryAck,
                "/",
                Some(15),
                Some(json!(["bar", {"_placeholder":true,"num":0}])),
                1,
            ),
        ),
        (
            r#"61-/admin,1[{"_placeholder":true,"num":0}]"#,
            p(
                BinaryAck,
                "/admin",
                Some(1),
                Some(json!([{"_placeholder":true,"num":0}])),
                1,
            ),
        ),
        ("1", p(Disconnect, "/", None, None, 0)),
        ("1/admin,", p(Disconnect, "/admin", None, None, 0)),
        (
            r#"2/a/b,9007199254740991["x"]"#,
            p(Event, "/a/b", Some(MAX_ACK_ID), Some(json!(["x"])), 0),
        ),
    ];
    for (wire, packet) in cases {
        assert_eq!(dec(wire).as_ref(), Ok(&packet), "decode {wire}");
        assert_eq!(enc(&packet), wire, "encode {wire}");
    }
}

#[test]
fn lenient_forms_node_accepts() {
    // A namespace without the trailing comma runs to the end of the string.
    assert_eq!(
        dec("0/admin"),
        Ok(p(PacketKind::Connect, "/admin", None, None, 0))
    );
    assert_eq!(
        dec("1/admin"),
        Ok(p(PacketKind::Disconnect, "/admin", None, None, 0))
    );
    // JSON with surrounding whitespace (JSON.parse accepts it).
    assert_eq!(dec(r#"2 ["a"] "#).unwrap().data, Some(json!(["a"])));
    // Zero attachments is a complete packet.
    assert_eq!(dec(r#"50-["a"]"#).unwrap().attachments, 0);
    // Key order is preserved.
    assert_eq!(
        enc(&dec(r#"2["a",{"z":1,"a":2}]"#).unwrap()),
        r#"2["a",{"z":1,"a":2}]"#
    );
    // Null data is not written (like Node's `null != obj.data`).
    assert_eq!(
        enc(&p(PacketKind::Connect, "/", None, Some(Value::Null), 0)),
        "0"
    );
}

#[test]
fn rejections() {
    use DecodeError::*;
    let cases: &[(&str, DecodeError)] = &[
        ("", Empty),
        ("9", UnknownType(b'9')),
        ("7[]", UnknownType(b'7')),
        ("a", UnknownType(b'a')),
        ("4abc", InvalidJson),
        // "42{}" as an Engine.IO message is the Socket.IO text "2{}".
        ("2{}", InvalidPayload),
        ("42abc[", InvalidJson),
        ("2", InvalidPayload),
        ("2[]", InvalidPayload),
        ("2[null]", InvalidPayload),
        ("2[{}]", InvalidPayload),
        (r#"2["connect"]"#, InvalidPayload),
        (r#"2["disconnecting",1]"#, InvalidPayload),
        (r#"2["newListener"]"#, InvalidPayload),
        (r#"2/admin,["removeListener"]"#, InvalidPayload),
        (r#"5["a"]"#, InvalidAttachments),
        (r#"5-["a"]"#, InvalidAttachments),
        (r#"51["a"]"#, InvalidAttachments),
        (r#"5a-["a"]"#, InvalidAttachments),
        ("5", InvalidAttachments),
        (r#"511-["a"]"#, TooManyAttachments),
        (r#"599999999999999999999999999-["a"]"#, TooManyAttachments),
        (
            r#"51-["a",{"_placeholder":true,"num":1}]"#,
            InvalidPlaceholder,
        ),
        (
            r#"51-["a",{"_placeholder":true,"num":-1}]"#,
            InvalidPlaceholder,
        ),
        (r#"51-["a",{"_placeholder":true}]"#, InvalidPlaceholder),
        (
            r#"50-["a",{"_placeholder":true,"num":0}]"#,
            InvalidPlaceholder,
        ),
        (
            r#"61-[{"x":[{"_placeholder":true,"num":7}]}]"#,
            InvalidPlaceholder,
        ),
        ("3", InvalidPayload),
        ("3{}", InvalidPayload),
        ("31", InvalidPayload),
        ("1{}", InvalidPayload),
        (r#"1["a"]"#, InvalidPayload),
        ("0[]", InvalidPayload),
        ("0null", InvalidPayload),
        (r#"0"x""#, InvalidPayload),
        ("4", InvalidPayload),
        ("4[]", InvalidPayload),
        ("4 1", InvalidPayload),
        (r#"29007199254740992["x"]"#, InvalidAckId),
        (r#"212345678901234567["x"]"#, InvalidAckId),
        (r#"2["a"]x"#, InvalidJson),
        (r#"2/admin,["a""#, InvalidJson),
    ];
    for (wire, err) in cases {
        assert_eq!(dec(wire), Err(*err), "{wire:?}");
    }
}

#[test]
fn attachment_limit_is_configurable() {
    let l = Limits { max_attachments: 2 };
    let ok = r#"52-["a",{"_placeholder":true,"num":1}]"#;
    assert!(Packet::decode(ok, &l).is_ok());
    let bad = r#"53-["a",{"_placeholder":true,"num":1}]"#;
    assert_eq!(
        Packet::decode(bad, &l),
        Err(DecodeError::TooManyAttachments)
    );
}

#[test]
fn deep_json_is_rejected_without_overflow() {
    let deep = format!("2{}", "[".repeat(100_000));
    assert_eq!(dec(&deep), Err(DecodeError::InvalidJson));
    let closed = format!("2[\"a\",{}{}]", "[".repeat(200), "]".repeat(200));
    assert_eq!(dec(&closed), Err(DecodeError::InvalidJson));
    let ok = format!("2[\"a\",{}{}]", "[".repeat(100), "]".repeat(100));
    assert!(dec(&ok).is_ok());
}

#[test]
fn kind_helpers() {
    assert_eq!(PacketKind::from_digit(b'6'), Some(PacketKind::BinaryAck));
    assert_eq!(PacketKind::from_digit(b'7'), None);
    assert_eq!(PacketKind::ConnectError.digit(), '4');
    assert!(PacketKind::BinaryEvent.is_binary());
    assert!(!PacketKind::Event.is_binary());
    assert_eq!(Limits::default().max_attachments, 10);
}

proptest! {
    #[test]
    fn decode_never_panics(s in ".{0,48}") {
        let _ = dec(&s);
    }

    #[test]
    fn decode_prefixed_never_panics(kind in 0u8..7, rest in "[-/,0-9\\[\\]{}\"a-z:_]{0,32}") {
        let s = format!("{kind}{rest}");
        if let Ok(p) = dec(&s) {
            // Whatever decodes must re-encode to something that decodes
            // to the same packet.
            let e = enc(&p);
            prop_assert_eq!(dec(&e), Ok(p));
        }
    }

    #[test]
    fn decode_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = dec(&s);
    }
}

#[test]
fn decimal_prefix_numbers() {
    for n in [
        0u64,
        7,
        9,
        10,
        99,
        100,
        12345,
        u64::from(u32::MAX),
        u64::MAX,
    ] {
        let mut s = String::from("x");
        push_decimal(&mut s, n);
        assert_eq!(s, format!("x{n}"));
    }
}

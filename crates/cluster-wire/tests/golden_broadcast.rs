//! Golden broadcast vectors of the cluster contract (docs/contracts/redis-cluster.md
//! section 3.5, vectors 1-4 and 7), captured on the wire between Node
//! nodes: each decodes to the expected typed message and re-encodes to the
//! exact captured bytes.

mod common;

use bytes::Bytes;
use common::{broadcast, check_broadcast, hex, map, opts};
use ringcast_cluster_wire::{
    BroadcastMessage, ChannelKind, Channels, OptsOrder, Packet, Value, DEFAULT_KEY,
};

#[test]
fn vector_1_room_broadcast() {
    let bytes = hex("93a6714e4871335883a47479706502a46461746192a568656c6c6f81a16101a36e7370a12f83a5726f6f6d7391a27231a665786365707490a5666c61677380");
    assert_eq!(bytes.len(), 63);
    let data = vec![Value::from("hello"), map(&[("a", Value::Int(1))])];
    let expected = broadcast("qNHq3X", data, opts(&["r1"], &[], &[], OptsOrder::Adapter));
    check_broadcast(&bytes, &expected, "socket.io#/#r1#");
    assert_eq!(
        Channels::new(DEFAULT_KEY, "/").classify("socket.io#/#r1#"),
        Some(ChannelKind::Room("r1"))
    );
}

#[test]
fn vector_2_broadcast_except_sender() {
    let bytes = hex("93a66c76365a666783a47479706502a46461746192a26869a178a36e7370a12f83a5726f6f6d7391a27231a665786365707491b4745f6576695665484d3966726a4d485541414141a5666c61677380");
    let escaped = b"\x93\xa6lv6Zfg\x83\xa4type\x02\xa4data\x92\xa2hi\xa1x\xa3nsp\xa1/\x83\xa5rooms\x91\xa2r1\xa6except\x91\xb4t_eviVeHM9frjMHUAAAA\xa5flags\x80";
    assert_eq!(&bytes[..], &escaped[..]);
    let data = vec![Value::from("hi"), Value::from("x")];
    let o = opts(&["r1"], &["t_eviVeHM9frjMHUAAAA"], &[], OptsOrder::Adapter);
    check_broadcast(&bytes, &broadcast("lv6Zfg", data, o), "socket.io#/#r1#");
}

#[test]
fn vector_3_binary_stays_bin8_and_type_2() {
    let bytes = hex("93a6714e4871335883a47479706502a46461746192a362696e81a162c403010203a36e7370a12f83a5726f6f6d7391a27231a665786365707490a5666c61677380");
    let bin = Value::Binary(Bytes::from_static(&[1, 2, 3]));
    let data = vec![Value::from("bin"), map(&[("b", bin)])];
    let expected = broadcast("qNHq3X", data, opts(&["r1"], &[], &[], OptsOrder::Adapter));
    check_broadcast(&bytes, &expected, "socket.io#/#r1#");
    let msg = BroadcastMessage::decode(&bytes).unwrap();
    assert!(msg.packet.has_binary());
    let (json, attachments) = msg.packet.to_placeholders();
    assert_eq!(
        serde_json::Value::Array(json.clone()).to_string(),
        r#"["bin",{"b":{"_placeholder":true,"num":0}}]"#
    );
    assert_eq!(attachments, vec![Bytes::from_static(&[1, 2, 3])]);
    let rebuilt = Packet::from_placeholders("/", &json, &attachments);
    assert_eq!(rebuilt, msg.packet);
}

#[test]
fn vector_4_emitter_broadcasts() {
    let to_room = b"\x93\xa7emitter\x83\xa4type\x02\xa4data\x92\xa2ev\xa1x\xa3nsp\xa1/\x83\xa5rooms\x91\xa2r1\xa5flags\x80\xa6except\x91\xa2ex";
    let data = vec![Value::from("ev"), Value::from("x")];
    let expected = broadcast(
        "emitter",
        data,
        opts(&["r1"], &["ex"], &[], OptsOrder::Emitter),
    );
    check_broadcast(to_room, &expected, "socket.io#/#r1#");
    assert!(expected.is_from_emitter());

    let to_all = b"\x93\xa7emitter\x83\xa4type\x02\xa4data\x92\xa3all\x01\xa3nsp\xa1/\x83\xa5rooms\x90\xa5flags\x80\xa6except\x90";
    let data = vec![Value::from("all"), Value::Int(1)];
    let expected = broadcast("emitter", data, opts(&[], &[], &[], OptsOrder::Emitter));
    check_broadcast(to_all, &expected, "socket.io#/#");
}

#[test]
fn vector_7_number_string_binary_encodings() {
    let bytes = hex("93a641624331323383a47479706502a46461746192a16e84a1699c007fcc80ccffcd0100cdffffce00010000cf0000000100000000ffe0d0dfd1ff7fa166cb3ff8000000000000a173a2c3a9a162c402deada36e7370a12f83a5726f6f6d7391a172a665786365707490a5666c61677381a8766f6c6174696c65c3");
    assert_eq!(bytes.len(), 123);
    let ints = [
        0,
        127,
        128,
        255,
        256,
        65535,
        65536,
        4_294_967_296,
        -1,
        -32,
        -33,
        -129,
    ];
    let payload = map(&[
        (
            "i",
            Value::Array(ints.iter().map(|&i| Value::Int(i)).collect()),
        ),
        ("f", Value::Float(1.5)),
        ("s", Value::from("é")),
        ("b", Value::Binary(Bytes::from_static(&[0xde, 0xad]))),
    ]);
    let o = opts(
        &["r"],
        &[],
        &[("volatile", Value::Bool(true))],
        OptsOrder::Adapter,
    );
    let expected = broadcast("AbC123", vec![Value::from("n"), payload], o);
    check_broadcast(&bytes, &expected, "socket.io#/#r#");
    assert!(expected.opts.flags.volatile());
}

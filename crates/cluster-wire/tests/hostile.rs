//! Hostile input: random and mutated bytes never panic any decoder, and
//! each malformed shape maps to a clear [`DecodeError`].

use bytes::Bytes;
use proptest::prelude::*;
use ringcast_cluster_wire::{
    decode, decode_with, BroadcastMessage, DecodeError, DecodeErrorKind, Limits, Request,
    RequestType, Response, Value,
};

const ALL_TYPES: [RequestType; 10] = [
    RequestType::Sockets,
    RequestType::AllRooms,
    RequestType::RemoteJoin,
    RequestType::RemoteLeave,
    RequestType::RemoteDisconnect,
    RequestType::RemoteFetch,
    RequestType::ServerSideEmit,
    RequestType::Broadcast,
    RequestType::BroadcastClientCount,
    RequestType::BroadcastAck,
];

/// Runs every decoder on `bytes`; only panics would fail.
fn decode_everything(bytes: &[u8]) {
    let b = Bytes::copy_from_slice(bytes);
    let _ = decode(&b);
    let _ = BroadcastMessage::decode(&b);
    let _ = Request::decode(&b);
    for t in ALL_TYPES {
        let _ = Response::decode(&b, |_| Some(t));
    }
}

const GOLDEN: [&[u8]; 4] = [
    b"\x93\xa6qNHq3X\x83\xa4type\x02\xa4data\x92\xa3bin\x81\xa1b\xc4\x03\x01\x02\x03\xa3nsp\xa1/\x83\xa5rooms\x91\xa2r1\xa6except\x90\xa5flags\x80",
    b"\x85\xa3uid\xa6qNHq3X\xa9requestId\xa6ooehj4\xa4type\x07\xa6packet\x83\xa4type\x02\xa4data\x92\xa3ask\x81\xa1q\x01\xa3nsp\xa1/\xa4opts\x83\xa5rooms\x91\xa2r1\xa6except\x90\xa5flags\x81\xa7timeout\xcd\x07\xd0",
    br#"{"uid":"qNHq3X","requestId":"4JIP7A","type":5,"opts":{"rooms":["r1"],"except":[]}}"#,
    br#"{"requestId":"4JIP7A","sockets":[{"id":"a","handshake":{},"rooms":["a"],"data":{}}]}"#,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_everything(&bytes);
    }

    #[test]
    fn random_json_like_bytes_never_panic(tail in "[\\[\\]{}\",:0-9a-z ]{0,64}") {
        decode_everything(format!("{{{tail}").as_bytes());
    }

    #[test]
    fn mutated_golden_vectors_never_panic(
        which in 0..GOLDEN.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6),
    ) {
        let mut b = GOLDEN[which].to_vec();
        for (at, byte, op) in edits {
            if b.is_empty() {
                break;
            }
            let i = at.index(b.len());
            match op {
                0 => b[i] = byte,
                1 => b.insert(i, byte),
                _ => b.truncate(i),
            }
        }
        decode_everything(&b);
    }
}

fn err(bytes: &[u8]) -> DecodeError {
    decode(&Bytes::copy_from_slice(bytes)).unwrap_err()
}

fn ok(bytes: &[u8]) -> Value {
    decode(&Bytes::copy_from_slice(bytes)).unwrap()
}

#[test]
fn absurd_lengths_fail_before_allocating() {
    assert_eq!(
        err(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
        DecodeError::Truncated(5)
    );
    assert_eq!(
        err(&[0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0]),
        DecodeError::Truncated(5)
    );
    assert_eq!(
        err(&[0xdb, 0xff, 0xff, 0xff, 0xff, b'a']),
        DecodeError::Truncated(5)
    );
    assert_eq!(
        err(&[0xc6, 0xff, 0xff, 0xff, 0xff]),
        DecodeError::Truncated(5)
    );
    assert_eq!(
        err(&[0xc9, 0xff, 0xff, 0xff, 0xff, 0x05]),
        DecodeError::Truncated(6)
    );
    assert_eq!(err(&[0x92, 0x01]), DecodeError::Truncated(1));
    assert_eq!(
        err(&[0x92, 0x01, 0xc0, 0xc0]),
        DecodeError::TrailingBytes(1)
    );
    assert_eq!(err(&[0x92, 0xc4, 0x05, 0x01]), DecodeError::Truncated(3));
    assert_eq!(err(&[0xcb, 0x00]), DecodeError::Truncated(1));
}

#[test]
fn nesting_is_bounded() {
    let mut deep = vec![0x91; 100_000];
    deep.push(0xc0);
    assert_eq!(err(&deep), DecodeError::TooDeep(256));
    let mut fits = vec![0x91; 256];
    fits.push(0xc0);
    assert!(decode(&Bytes::from(fits.clone())).is_ok());
    fits.insert(0, 0x81);
    fits.insert(1, 0xa0);
    assert_eq!(err(&fits), DecodeError::TooDeep(256));
    let limits = Limits {
        max_depth: 2,
        ..Limits::DEFAULT
    };
    assert!(decode_with(&Bytes::from_static(&[0x91, 0x90]), &limits).is_ok());
    assert_eq!(
        decode_with(&Bytes::from_static(&[0x91, 0x91, 0x90]), &limits),
        Err(DecodeError::TooDeep(2))
    );
    // JSON nesting is bounded by serde_json's recursion limit.
    let json = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let e = Request::decode(&Bytes::from(json)).unwrap_err();
    assert!(matches!(e, DecodeError::Json(_)), "{e}");
}

#[test]
fn byte_level_errors() {
    assert_eq!(decode(&Bytes::new()), Err(DecodeError::Empty));
    assert_eq!(
        err(&[0xc1]),
        DecodeError::InvalidByte {
            byte: 0xc1,
            offset: 0
        }
    );
    assert_eq!(err(&[0x00, 0x00]), DecodeError::TrailingBytes(1));
    assert_eq!(err(&[0x81, 0xc0, 0xc0]), DecodeError::NonStringKey(1));
    assert_eq!(
        err(&[0xc7, 0x05, 0xff, 0, 0, 0, 0, 0]),
        DecodeError::BadExtension(0)
    );
    let limits = Limits {
        max_bytes: 4,
        ..Limits::DEFAULT
    };
    let e = decode_with(&Bytes::from_static(&[0x95, 1, 2, 3, 4, 5]), &limits).unwrap_err();
    assert_eq!(e, DecodeError::TooLarge { len: 6, max: 4 });
    assert_eq!(e.kind(), DecodeErrorKind::Limit);
    assert_eq!(err(&[0xc1]).kind(), DecodeErrorKind::Syntax);
}

#[test]
fn notepack_extension_semantics() {
    // fixext 1 type 0 is `undefined`: null in arrays, omitted in maps.
    assert_eq!(
        ok(&[0x92, 0xd4, 0x00, 0x00, 0x01]),
        Value::Array(vec![Value::Nil, Value::Int(1)])
    );
    assert_eq!(
        ok(&[0x82, 0xa1, b'a', 0xd4, 0x00, 0x00, 0xa1, b'b', 0x02]),
        Value::map([("b", Value::Int(2))])
    );
    assert_eq!(ok(&[0xd4, 0x00, 0x00]), Value::Nil);
    // ext of type 0 is an ArrayBuffer: binary.
    assert_eq!(
        ok(&[0xc7, 0x02, 0x00, 0xaa, 0xbb]),
        Value::Binary(Bytes::from_static(&[0xaa, 0xbb]))
    );
    // Unknown extension types are [type, Buffer].
    assert_eq!(
        ok(&[0xd5, 0x05, 0x01, 0x02]),
        Value::Array(vec![
            Value::Int(5),
            Value::Binary(Bytes::from_static(&[1, 2]))
        ])
    );
    // Legacy d7 00 date (milliseconds), float32, integer keys, bad UTF-8.
    assert_eq!(
        ok(&[0xd7, 0x00, 0, 0, 0, 0, 0, 0, 0x03, 0xe8]),
        Value::Date(1000.0)
    );
    assert_eq!(ok(&[0xca, 0x3f, 0xc0, 0x00, 0x00]), Value::Float(1.5));
    assert_eq!(
        ok(&[0x81, 0x07, 0xc3]),
        Value::map([("7", Value::Bool(true))])
    );
    assert_eq!(
        ok(&[0xa3, b'a', 0xff, 0xfe]),
        Value::from("a\u{fffd}\u{fffd}")
    );
}

#[test]
fn message_shape_errors() {
    let b = |s: &'static [u8]| Bytes::from_static(s);
    let e = BroadcastMessage::decode(&b(&[0x92, 0xa1, b'u', 0x80])).unwrap_err();
    assert_eq!(e.kind(), DecodeErrorKind::Shape);
    let e = BroadcastMessage::decode(&b(&[0x93, 0x01, 0x80, 0x80])).unwrap_err();
    assert_eq!(
        e,
        DecodeError::Field {
            field: "uid",
            expected: "a string"
        }
    );
    assert!(BroadcastMessage::decode(&b(&[0x93, 0xc0, 0x80, 0x80])).is_err());
    assert_eq!(
        Request::decode(&b(br#"{"type":99}"#)),
        Err(DecodeError::UnknownType(99))
    );
    assert!(matches!(
        Request::decode(&b(br#"{"uid":"x"}"#)),
        Err(DecodeError::Field { field: "type", .. })
    ));
    assert!(matches!(
        Request::decode(&b(br#"{"type":2}"#)),
        Err(DecodeError::Field {
            field: "requestId",
            ..
        })
    ));
    assert!(matches!(
        Request::decode(&b(br#"{"type":6,"data":1}"#)),
        Err(DecodeError::Field { field: "data", .. })
    ));
    assert!(matches!(
        Request::decode(&b(b"\x91\x01")),
        Err(DecodeError::Field { .. })
    ));
    assert!(matches!(
        Request::decode(&b(b"[1]")),
        Err(DecodeError::TrailingBytes(2))
    ));
    assert!(matches!(
        Request::decode(&b(b"{nope")),
        Err(DecodeError::Json(_))
    ));
    // Leading whitespace is not JSON (Node tests the first byte for `{`).
    assert!(matches!(
        Request::decode(&b(br#" {"type":1}"#)),
        Err(DecodeError::TrailingBytes(_))
    ));
    let resp = |s: &'static [u8], t| Response::decode(&b(s), |_| Some(t));
    assert!(matches!(
        resp(br#"{"sockets":[]}"#, RequestType::Sockets),
        Err(DecodeError::Field {
            field: "requestId",
            ..
        })
    ));
    assert_eq!(
        resp(br#"{"type":5,"requestId":"x"}"#, RequestType::Broadcast),
        Err(DecodeError::UnknownType(5))
    );
    assert!(resp(
        br#"{"requestId":"x","sockets":[1]}"#,
        RequestType::RemoteFetch
    )
    .is_err());
    assert!(resp(br#"{"requestId":"x"}"#, RequestType::AllRooms).is_err());
    assert!(resp(
        br#"{"type":8,"requestId":"x","clientCount":-1}"#,
        RequestType::Broadcast
    )
    .is_err());
}

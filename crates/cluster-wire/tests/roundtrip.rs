//! Round trips: arbitrary values through msgpack and through ringcast's
//! placeholder representation, broadcasts through their wire encoding,
//! and deep values through every recursive walk.

use bytes::Bytes;
use proptest::prelude::*;
use ringcast_cluster_wire::{
    decode, encode, from_placeholders, to_json, to_placeholders, BroadcastMessage, BroadcastOpts,
    EncodeError, Flags, OptsOrder, Packet, Request, RequestBody, Value,
};

/// Values in canonical form (what the decoder yields): non-integral finite
/// floats, `UInt` only above `i64::MAX`, valid dates.
fn value(with_dates: bool) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        ((i64::MAX as u64 + 1)..=u64::MAX).prop_map(Value::UInt),
        any::<f64>()
            .prop_filter("canonical float", |f| f.is_finite() && f.fract() != 0.0)
            .prop_map(Value::Float),
        ".{0,40}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| Value::Binary(b.into())),
    ];
    let leaf = if with_dates {
        let date = (-8.64e15f64..8.64e15).prop_map(|t| Value::Date(t.trunc() + 0.0));
        prop_oneof![8 => leaf, 1 => date].boxed()
    } else {
        leaf.boxed()
    };
    leaf.prop_recursive(4, 64, 18, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..18).prop_map(Value::Array),
            // Unique keys that cannot look like a placeholder.
            proptest::collection::btree_map("[a-z0-9é]{0,6}", inner, 0..18)
                .prop_map(|m| Value::Map(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn msgpack_round_trip(v in value(true)) {
        let bytes = encode(&v).unwrap();
        let back = decode(&bytes).unwrap();
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(encode(&back).unwrap(), bytes);
    }

    #[test]
    fn placeholder_round_trip(v in value(false)) {
        let (json, attachments) = to_placeholders(&v);
        prop_assert_eq!(attachments.len(), count_binaries(&v));
        // (Not through JSON text: serde_json's default float parser may be
        // off by one ulp without its `float_roundtrip` feature.)
        let back = from_placeholders(&json, &attachments);
        prop_assert_eq!(&back, &v);
    }

    #[test]
    fn broadcast_round_trip(
        uid in proptest::option::of("[A-Za-z0-9_-]{6}"),
        args in proptest::collection::vec(value(true), 0..4),
        rooms in proptest::collection::vec(".{0,8}", 0..4),
        except in proptest::collection::vec(".{0,8}", 0..4),
        emitter_order in any::<bool>(),
        timeout in proptest::option::of(any::<u32>()),
    ) {
        let mut flags = Flags::default();
        if let Some(t) = timeout {
            flags.set("timeout", Value::Int(t.into()));
        }
        let order = if emitter_order { OptsOrder::Emitter } else { OptsOrder::Adapter };
        let msg = BroadcastMessage {
            uid,
            packet: Packet::event("/admin", "ev", args),
            opts: BroadcastOpts { rooms, except, flags, order },
        };
        let bytes = msg.encode().unwrap();
        let back = BroadcastMessage::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &msg);
        prop_assert_eq!(back.opts.flags.timeout(), timeout.map(u64::from));
        prop_assert!(back.is_for("/admin"));
    }
}

fn count_binaries(v: &Value) -> usize {
    match v {
        Value::Binary(_) => 1,
        Value::Array(items) => items.iter().map(count_binaries).sum(),
        Value::Map(entries) => entries.iter().map(|(_, v)| count_binaries(v)).sum(),
        _ => 0,
    }
}

/// 256 levels (the default limit) through every recursive walk, on a
/// default-sized test thread stack, then one level too many.
#[test]
fn deep_values_through_every_walk() {
    let mut v = Value::Binary(Bytes::from_static(&[1]));
    for i in 0..256 {
        v = if i % 2 == 0 {
            Value::Array(vec![v])
        } else {
            Value::map([("k", v)])
        };
    }
    let bytes = encode(&v).unwrap();
    assert_eq!(decode(&bytes).unwrap(), v);
    let (json, attachments) = to_placeholders(&v);
    assert_eq!(from_placeholders(&json, &attachments), v);
    assert!(to_json(&v).is_object());
    let too_deep = Value::Array(vec![v]);
    assert_eq!(encode(&too_deep), Err(EncodeError::TooDeep(256)));
    let req = Request {
        uid: None,
        body: RequestBody::ServerSideEmit {
            request_id: None,
            data: vec![too_deep],
        },
    };
    assert_eq!(req.encode(), Err(EncodeError::TooDeep(256)));
}

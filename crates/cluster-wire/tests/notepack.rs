//! Differential tests against real notepack.io 3.0.1 output
//! (`fixtures/notepack-vectors.txt`, made by `fixtures/gen-notepack.js`):
//! for every vector, decode then encode gives the exact bytes (or, for
//! the one non-canonical vector, what notepack re-encodes), and the
//! decoded value converts to the JSON that `JSON.stringify` printed for
//! notepack's own decoding of it.

use bytes::Bytes;
use ringcast_cluster_wire::{decode, encode, to_json, Value};

const VECTORS: &str = include_str!("fixtures/notepack-vectors.txt");

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn lines(kind: &str) -> impl Iterator<Item = Vec<&'static str>> + '_ {
    VECTORS
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(move |f| f[0] == kind)
}

#[test]
fn every_vector_reencodes_byte_identical_and_matches_node_json() {
    let mut n = 0;
    for f in lines("v") {
        let (name, bytes, json) = (f[1], Bytes::from(hex(f[2])), f[3]);
        // What notepack itself writes back after decoding (differs only for
        // an invalid Date, which it writes as timestamp 96 zero = epoch).
        let again = if f[4] == "=" {
            bytes.clone()
        } else {
            Bytes::from(hex(f[4]))
        };
        let value = decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(encode(&value).unwrap(), again, "{name}");
        if json != "-" {
            let node: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(to_json(&value), node, "{name}");
        }
        n += 1;
    }
    assert!(n > 350, "only {n} vectors");
}

/// The value a `big` recipe describes (see gen-notepack.js).
fn recipe(r: &str) -> Value {
    let parts: Vec<&str> = r.split(':').collect();
    let n: usize = parts.last().unwrap().parse().unwrap();
    match parts[0] {
        "str" => Value::Str(parts[1].repeat(n)),
        "bin" => Value::Binary((0..n).map(|i| i as u8).collect::<Vec<u8>>().into()),
        "arr" => Value::Array((0..n).map(|i| Value::Int((i % 100) as i64)).collect()),
        "map" => Value::Map((0..n).map(|i| (format!("k{i}"), Value::Int(1))).collect()),
        other => panic!("unknown recipe {other}"),
    }
}

#[test]
fn large_size_classes_match_notepack() {
    let mut n = 0;
    for f in lines("big") {
        let value = recipe(f[1]);
        let bytes = encode(&value).unwrap();
        assert_eq!(bytes[..16], hex(f[2])[..], "{}", f[1]);
        assert_eq!(bytes.len(), f[3].parse::<usize>().unwrap(), "{}", f[1]);
        assert_eq!(bytes[bytes.len() - 4..], hex(f[4])[..], "{}", f[1]);
        assert_eq!(decode(&bytes).unwrap(), value, "{}", f[1]);
        n += 1;
    }
    assert_eq!(n, 9);
}

#[test]
fn decoded_integers_keep_their_exact_value() {
    let cases: [(&str, Value); 4] = [
        ("cf8000000000000000", Value::UInt(1 << 63)),
        ("cfffffffffffffffff", Value::UInt(u64::MAX)),
        ("d38000000000000000", Value::Int(i64::MIN)),
        ("cf7fffffffffffffff", Value::Int(i64::MAX)),
    ];
    for (h, v) in cases {
        let bytes = Bytes::from(hex(h));
        assert_eq!(decode(&bytes).unwrap(), v, "{h}");
        assert_eq!(encode(&v).unwrap(), bytes, "{h}");
    }
}

#[test]
fn javascript_numbers_pick_notepack_forms() {
    let cases: [(f64, &str); 10] = [
        (1.0, "01"),
        (-0.0, "00"),
        (200.0, "ccc8"),
        (-1.0, "ff"),
        (-200.0, "d1ff38"),
        (4_294_967_296.0, "cf0000000100000000"),
        (-9_223_372_036_854_775_808.0, "d38000000000000000"),
        (18_446_744_073_709_549_568.0, "cffffffffffffff800"),
        (0.5, "cb3fe0000000000000"),
        // notepack writes cf 00.. (0) for 1e300; this encoder keeps the value.
        (1e300, "cb7e37e43c8800759c"),
    ];
    for (f, h) in cases {
        assert_eq!(encode(&Value::Float(f)).unwrap(), hex(h), "{f}");
    }
    assert_eq!(encode(&Value::Int(200)).unwrap(), hex("ccc8"));
    assert_eq!(encode(&Value::UInt(5)).unwrap(), hex("05"));
}

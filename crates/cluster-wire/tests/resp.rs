//! RESP2 decoding under split reads: any reply sequence, cut anywhere, comes
//! out of a `ReplyReader` exactly as it went in; any bytes at all give a
//! reply, "incomplete" or an error, never a panic.

use proptest::prelude::*;
use ringcast_cluster_wire::resp::{check, parse, Reply, ReplyReader, RespError};

/// The wire form of `r` (what a Redis server would send).
fn encode(r: &Reply, out: &mut Vec<u8>) {
    match r {
        Reply::Status(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
        Reply::Error(s) => out.extend_from_slice(format!("-{s}\r\n").as_bytes()),
        Reply::Int(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        Reply::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
        Reply::Bulk(Some(b)) => {
            out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Array(items) => {
            out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
            for i in items {
                encode(i, out);
            }
        }
    }
}

fn reply() -> impl Strategy<Value = Reply> {
    let line = "[^\r\n]{0,12}";
    let leaf = prop_oneof![
        line.prop_map(Reply::Status),
        line.prop_map(Reply::Error),
        any::<i64>().prop_map(Reply::Int),
        Just(Reply::Bulk(None)),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| Reply::Bulk(Some(b))),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        proptest::collection::vec(inner, 0..5).prop_map(Reply::Array)
    })
}

proptest! {
    #[test]
    fn split_reads_reassemble(
        replies in proptest::collection::vec(reply(), 1..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut wire = Vec::new();
        for r in &replies {
            encode(r, &mut wire);
        }
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.push(0);
        points.push(wire.len());
        points.sort_unstable();
        let mut reader = ReplyReader::new();
        let mut got = Vec::new();
        for w in points.windows(2) {
            reader.handle_bytes(&wire[w[0]..w[1]]);
            while let Some(r) = reader.poll_reply().unwrap() {
                got.push(r);
            }
        }
        prop_assert_eq!(got, replies);
        prop_assert_eq!(reader.buffered(), 0);
    }

    #[test]
    fn every_prefix_is_incomplete(r in reply()) {
        let mut wire = Vec::new();
        encode(&r, &mut wire);
        prop_assert_eq!(check(&wire), Ok(wire.len()));
        for cut in 0..wire.len() {
            prop_assert_eq!(check(&wire[..cut]), Err(RespError::Incomplete));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok((_, used)) = parse(&bytes) {
            prop_assert!(used <= bytes.len());
            prop_assert_eq!(check(&bytes), Ok(used));
        }
    }

    #[test]
    fn arbitrary_resp_shaped_bytes_never_panic(
        parts in proptest::collection::vec(
            prop_oneof![
                Just(&b"*"[..]), Just(&b"$"[..]), Just(&b":"[..]), Just(&b"+"[..]),
                Just(&b"-1"[..]), Just(&b"2"[..]), Just(&b"\r\n"[..]), Just(&b"x"[..]),
                Just(&b"99999999999"[..]),
            ],
            0..24,
        ),
    ) {
        let bytes = parts.concat();
        let mut reader = ReplyReader::new();
        reader.handle_bytes(&bytes);
        while let Ok(Some(_)) = reader.poll_reply() {}
    }
}

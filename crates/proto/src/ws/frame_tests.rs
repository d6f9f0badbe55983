//! Wire vectors (RFC 6455 §5.7) and rule-by-rule rejection tests for
//! [`FrameDecoder`], plus fuzzing.

use super::*;
use crate::ws::encode_frame_header;
use proptest::prelude::*;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A masked client frame.
fn cf(fin: bool, op: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_frame_header(op, payload.len(), &mut out);
    if !fin {
        out[0] &= 0x7f;
    }
    out[1] |= 0x80;
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], mask);
    out.to_vec()
}

fn decode_all(max: usize, bytes: &[u8]) -> Result<Vec<Message>, WsError> {
    let mut d = FrameDecoder::new(max);
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(m) = d.decode(&mut buf)? {
        out.push(m);
    }
    Ok(out)
}

fn text(s: &'static str) -> Message {
    Message::Text(Utf8Bytes::from_static(s))
}

#[test]
fn rfc_vectors() {
    // Single-frame masked text "Hello".
    let hello = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(decode_all(1024, &hello), Ok(vec![text("Hello")]));
    // Fragmented unmasked "Hel" + "lo" from the RFC, here masked.
    let mut v = cf(false, opcode::TEXT, b"Hel", MASK);
    v.extend(cf(true, opcode::CONTINUATION, b"lo", [1, 2, 3, 4]));
    assert_eq!(decode_all(1024, &v), Ok(vec![text("Hello")]));
    // Masked ping "Hello".
    let ping = [
        0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(
        decode_all(1024, &ping),
        Ok(vec![Message::Ping(Bytes::from_static(b"Hello"))])
    );
    // 256-byte binary with a 16-bit length.
    let payload = vec![7u8; 256];
    let f = cf(true, opcode::BINARY, &payload, MASK);
    assert_eq!(&f[..4], [0x82, 0xfe, 0x01, 0x00]);
    assert_eq!(
        decode_all(1024, &f),
        Ok(vec![Message::Binary(Bytes::from(payload))])
    );
}

#[test]
fn incremental_delivery_and_pipelining() {
    let mut wire = cf(true, opcode::TEXT, b"4hello", MASK);
    wire.extend(cf(true, opcode::PONG, b"", MASK));
    wire.extend(cf(true, opcode::BINARY, &[0, 1, 2], MASK));
    let mut d = FrameDecoder::new(64);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for &b in &wire {
        buf.extend_from_slice(&[b]);
        while let Some(m) = d.decode(&mut buf).unwrap() {
            got.push(m);
        }
    }
    assert!(buf.is_empty());
    assert_eq!(
        got,
        vec![
            text("4hello"),
            Message::Pong(Bytes::new()),
            Message::Binary(Bytes::from_static(&[0, 1, 2]))
        ]
    );
}

#[test]
fn control_frames_inside_fragmented_message() {
    let mut v = cf(false, opcode::BINARY, b"ab", MASK);
    v.extend(cf(true, opcode::PING, b"p", MASK));
    v.extend(cf(false, opcode::CONTINUATION, b"", MASK));
    v.extend(cf(true, opcode::CONTINUATION, b"cd", MASK));
    assert_eq!(
        decode_all(64, &v),
        Ok(vec![
            Message::Ping(Bytes::from_static(b"p")),
            Message::Binary(Bytes::from_static(b"abcd"))
        ])
    );
}

#[test]
fn utf8_across_fragments() {
    let e = "é".as_bytes();
    let mut v = cf(false, opcode::TEXT, &[b'a', e[0]], MASK);
    v.extend(cf(true, opcode::CONTINUATION, &[e[1], b'b'], MASK));
    assert_eq!(decode_all(64, &v), Ok(vec![text("aéb")]));
    // Incomplete sequence at the end of the message.
    let mut v = cf(false, opcode::TEXT, b"a", MASK);
    v.extend(cf(true, opcode::CONTINUATION, &[e[0]], MASK));
    assert_eq!(decode_all(64, &v), Err(WsError::InvalidUtf8));
    // Fail fast: an invalid first fragment errors before the rest arrives.
    let v = cf(false, opcode::TEXT, &[b'a', 0xff], MASK);
    assert_eq!(decode_all(64, &v), Err(WsError::InvalidUtf8));
    assert_eq!(
        decode_all(64, &cf(true, opcode::TEXT, &[0xc3], MASK)),
        Err(WsError::InvalidUtf8)
    );
    // Binary is not checked.
    assert!(decode_all(64, &cf(true, opcode::BINARY, &[0xff], MASK)).is_ok());
}

#[test]
fn close_frames() {
    assert_eq!(
        decode_all(64, &cf(true, opcode::CLOSE, b"", MASK)),
        Ok(vec![Message::Close(None, Bytes::new())])
    );
    assert_eq!(
        decode_all(64, &cf(true, opcode::CLOSE, b"\x03\xe8bye", MASK)),
        Ok(vec![Message::Close(Some(1000), Bytes::from_static(b"bye"))])
    );
    for ok in [1000u16, 1001, 1003, 1007, 1011, 3000, 4999] {
        let v = cf(true, opcode::CLOSE, &ok.to_be_bytes(), MASK);
        assert_eq!(
            decode_all(64, &v),
            Ok(vec![Message::Close(Some(ok), Bytes::new())]),
            "{ok}"
        );
    }
    for bad in [
        0u16, 999, 1004, 1005, 1006, 1012, 1015, 2000, 2999, 5000, 65535,
    ] {
        let v = cf(true, opcode::CLOSE, &bad.to_be_bytes(), MASK);
        assert_eq!(
            decode_all(64, &v),
            Err(WsError::Protocol("invalid close code")),
            "{bad}"
        );
    }
    assert_eq!(
        decode_all(64, &cf(true, opcode::CLOSE, b"\x03", MASK)),
        Err(WsError::Protocol("close payload of one byte"))
    );
    assert_eq!(
        decode_all(64, &cf(true, opcode::CLOSE, b"\x03\xe8\xff", MASK)),
        Err(WsError::InvalidUtf8)
    );
}

#[test]
fn protocol_violations() {
    let p = |s| Err(WsError::Protocol(s));
    // Unmasked client frame.
    assert_eq!(
        decode_all(64, &[0x81, 0x01, b'a']),
        p("client frame not masked")
    );
    // RSV1..3.
    for rsv in [0x40u8, 0x20, 0x10] {
        let mut v = cf(true, opcode::TEXT, b"a", MASK);
        v[0] |= rsv;
        assert_eq!(decode_all(64, &v), p("reserved bits set"));
    }
    // Reserved opcodes.
    for op in [3u8, 4, 5, 6, 7, 11, 12, 13, 14, 15] {
        assert_eq!(
            decode_all(64, &cf(true, op, b"", MASK)),
            p("reserved opcode"),
            "{op}"
        );
    }
    // Control frames: not FIN, or more than 125 bytes.
    assert_eq!(
        decode_all(64, &cf(false, opcode::PING, b"", MASK)),
        p("fragmented control frame")
    );
    assert_eq!(
        decode_all(1024, &cf(true, opcode::PING, &[0; 126], MASK)),
        p("control frame payload over 125 bytes")
    );
    // Continuation without a start; new data frame while fragmented.
    assert_eq!(
        decode_all(64, &cf(true, opcode::CONTINUATION, b"a", MASK)),
        p("continuation without a started message")
    );
    let mut v = cf(false, opcode::TEXT, b"a", MASK);
    v.extend(cf(true, opcode::TEXT, b"b", MASK));
    assert_eq!(
        decode_all(64, &v),
        p("new data frame inside a fragmented message")
    );
    // 64-bit length with the most significant bit set.
    let v = [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(decode_all(64, &v), p("64-bit length with the high bit set"));
}

#[test]
fn too_large_is_detected_from_the_header() {
    // Only the header of a 2^40-byte frame: rejected without the payload.
    let v = [0x82, 0xff, 0, 0, 0x01, 0, 0, 0, 0, 0];
    assert_eq!(decode_all(1 << 20, &v), Err(WsError::TooLarge));
    let v = [0x82, 0xfe, 0x01, 0x00];
    assert_eq!(decode_all(255, &v), Err(WsError::TooLarge));
    assert!(decode_all(256, &cf(true, opcode::BINARY, &[0; 256], MASK)).is_ok());
    // Reassembled size over the limit.
    let mut v = cf(false, opcode::BINARY, &[0; 40], MASK);
    v.extend(cf(true, opcode::CONTINUATION, &[0; 25], MASK));
    assert_eq!(decode_all(64, &v), Err(WsError::TooLarge));
    let mut v = cf(false, opcode::BINARY, &[0; 40], MASK);
    v.extend(cf(true, opcode::CONTINUATION, &[0; 24], MASK));
    assert_eq!(decode_all(64, &v).map(|m| m.len()), Ok(1));
    assert_eq!(WsError::TooLarge.close_code(), 1009);
    assert_eq!(WsError::InvalidUtf8.close_code(), 1007);
    assert_eq!(WsError::Protocol("x").close_code(), 1002);
}

#[test]
fn needs_more_bytes() {
    let mut d = FrameDecoder::new(64);
    let full = cf(true, opcode::TEXT, b"hello", MASK);
    for cut in 0..full.len() {
        let mut buf = BytesMut::from(&full[..cut]);
        assert_eq!(d.decode(&mut buf), Ok(None), "cut {cut}");
        assert_eq!(
            buf.len(),
            cut,
            "nothing consumed before a frame is complete"
        );
    }
    let mut v = cf(false, opcode::TEXT, b"he", MASK);
    let mut buf = BytesMut::from(&v[..]);
    assert_eq!(d.decode(&mut buf), Ok(None));
    assert!(d.in_fragmented_message());
    v = cf(true, opcode::CONTINUATION, b"llo", MASK);
    buf.extend_from_slice(&v);
    assert_eq!(d.decode(&mut buf), Ok(Some(text("hello"))));
    assert!(!d.in_fragmented_message());
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), max in 0usize..300) {
        let _ = decode_all(max, &bytes);
    }

    #[test]
    fn masked_random_frames_never_panic(
        frames in proptest::collection::vec((any::<bool>(), 0u8..16, proptest::collection::vec(any::<u8>(), 0..40)), 0..6),
    ) {
        let wire: Vec<u8> = frames.iter().flat_map(|(fin, op, p)| cf(*fin, *op, p, MASK)).collect();
        let _ = decode_all(64, &wire);
    }

    #[test]
    fn fragmented_roundtrip(
        msg in ".{0,64}",
        cuts in proptest::collection::vec(0usize..64, 0..4),
        chunk in 1usize..17,
        mask in any::<[u8; 4]>(),
    ) {
        let bytes = msg.as_bytes();
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
        points.sort_unstable();
        points.push(bytes.len());
        let mut wire = Vec::new();
        let mut start = 0;
        for (i, &end) in points.iter().enumerate() {
            let op = if i == 0 { opcode::TEXT } else { opcode::CONTINUATION };
            wire.extend(cf(i + 1 == points.len(), op, &bytes[start..end], mask));
            start = end;
        }
        let mut d = FrameDecoder::new(64 * 4);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for c in wire.chunks(chunk) {
            buf.extend_from_slice(c);
            while let Some(m) = d.decode(&mut buf).unwrap() {
                got.push(m);
            }
        }
        prop_assert_eq!(got, vec![Message::Text(Utf8Bytes::from(msg))]);
    }
}

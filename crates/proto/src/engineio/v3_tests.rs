//! Literal wire vectors of Engine.IO v3 (as Node's `parser-v3` writes and
//! reads them).

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::super::payload::{Format, PayloadWriter};
use super::*;

fn msg(s: &'static str) -> Packet {
    Packet::Message(Utf8Bytes::from_static(s))
}

fn write(format: Format, packets: &[Packet]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let mut w = PayloadWriter::with_format(&mut out, format);
    for p in packets {
        w.push(p);
    }
    assert_eq!(w.count(), packets.len());
    out.to_vec()
}

#[test]
fn utf16_lengths_count_as_javascript() {
    assert_eq!(utf16_len(b"4hello"), 6);
    assert_eq!(utf16_len("4é".as_bytes()), 2);
    assert_eq!(utf16_len("4€".as_bytes()), 2);
    // Outside the BMP: a surrogate pair, two units.
    assert_eq!(utf16_len("4😀".as_bytes()), 3);
}

#[test]
fn text_payload_vectors() {
    assert_eq!(
        write(Format::V3Text, &[msg("hello"), msg("0")]),
        b"6:4hello2:40"
    );
    assert_eq!(write(Format::V3Text, &[Packet::Pong(Bytes::new())]), b"1:3");
    assert_eq!(
        write(Format::V3Text, &[msg("2[\"é😀\"]")]),
        "9:42[\"é😀\"]".as_bytes()
    );
    assert_eq!(
        write(
            Format::V3Text,
            &[Packet::Binary(Bytes::from_static(&[1, 2, 3]))]
        ),
        b"6:b4AQID"
    );
    let mut out = BytesMut::new();
    let mut w = PayloadWriter::with_format(&mut out, Format::V3Text);
    w.push_encoded(b"0{\"sid\":\"x\"}");
    w.push_encoded(b"40");
    assert_eq!(&out[..], b"12:0{\"sid\":\"x\"}2:40");
}

#[test]
fn binary_payload_vectors() {
    assert_eq!(
        write(
            Format::V3Binary,
            &[
                msg("51-[\"b\",{\"_placeholder\":true,\"num\":0}]"),
                Packet::Binary(Bytes::from_static(&[1, 2, 3])),
            ]
        ),
        [
            &[0u8, 3, 9, 0xff][..],
            b"451-[\"b\",{\"_placeholder\":true,\"num\":0}]",
            &[1, 4, 0xff, 4, 1, 2, 3],
        ]
        .concat()
    );
    // UTF-8 byte length in the binary framing.
    assert_eq!(
        write(Format::V3Binary, &[msg("é")]),
        [&[0u8, 3, 0xff][..], "4é".as_bytes()].concat()
    );
}

#[test]
fn decode_text_payload_vectors() {
    let d = |s: &'static [u8]| decode_payload_text(&Bytes::from_static(s), 16);
    assert_eq!(d(b"6:4hello2:40"), Ok(vec![msg("hello"), msg("0")]));
    assert_eq!(d(b"1:2"), Ok(vec![Packet::Ping(Bytes::new()),]));
    assert_eq!(
        d(b"6:2probe"),
        Ok(vec![Packet::Ping(Bytes::from_static(b"probe"))])
    );
    assert_eq!(d(b"1:1"), Ok(vec![Packet::Close]));
    assert_eq!(d(b"0:1:6"), Ok(vec![Packet::Noop]));
    assert_eq!(
        d("9:42[\"é😀\"]1:2".as_bytes()),
        Ok(vec![msg("2[\"é😀\"]"), Packet::Ping(Bytes::new())])
    );
    assert_eq!(
        d(b"6:b4AQID"),
        Ok(vec![Packet::Binary(Bytes::from_static(&[1, 2, 3]))])
    );
    assert_eq!(d(b""), Err(DecodeError::Empty));
    assert_eq!(d(b"6:4hell"), Err(DecodeError::EmptySegment));
    assert_eq!(d(b"6:4hello2"), Err(DecodeError::EmptySegment));
    assert_eq!(d(b"x:4"), Err(DecodeError::EmptySegment));
    assert_eq!(d(b":4"), Err(DecodeError::EmptySegment));
    assert_eq!(d(b"99999999999:4"), Err(DecodeError::EmptySegment));
    assert_eq!(d(b"1:9"), Err(DecodeError::UnknownType(b'9')));
    assert_eq!(d(b"3:b9A"), Err(DecodeError::UnknownType(b'9')));
    assert_eq!(d(b"4:b4!!"), Err(DecodeError::InvalidBase64));
    assert_eq!(d(b"2:4\xff"), Err(DecodeError::InvalidUtf8));
    // A length that ends inside a surrogate pair.
    assert_eq!(d("2:4😀".as_bytes()), Err(DecodeError::EmptySegment));
    assert_eq!(
        decode_payload_text(&Bytes::from_static(b"1:21:21:2"), 2),
        Err(DecodeError::TooManyPackets)
    );
}

#[test]
fn decode_binary_payload_vectors() {
    let body = Bytes::from(
        [
            &[0u8, 2, 0xff][..],
            b"40",
            &[1, 4, 0xff, 4, 1, 2, 3],
            &[0, 1, 0xff, b'2'],
        ]
        .concat(),
    );
    assert_eq!(
        decode_payload_binary(&body, 8),
        Ok(vec![
            msg("0"),
            Packet::Binary(Bytes::from_static(&[1, 2, 3])),
            Packet::Ping(Bytes::new())
        ])
    );
    assert_eq!(
        decode_payload_binary(&body, 2),
        Err(DecodeError::TooManyPackets)
    );
    let d = |s: &'static [u8]| decode_payload_binary(&Bytes::from_static(s), 8);
    assert_eq!(d(b""), Err(DecodeError::Empty));
    assert_eq!(d(&[2, 1, 0xff, b'2']), Err(DecodeError::EmptySegment));
    assert_eq!(d(&[0, 5, 0xff, b'2']), Err(DecodeError::EmptySegment));
    assert_eq!(d(&[0, 1, 2]), Err(DecodeError::EmptySegment));
    assert_eq!(d(&[0, 10, 0xff, b'2']), Err(DecodeError::EmptySegment));
    assert_eq!(d(&[1, 1, 0xff, 9]), Err(DecodeError::UnknownType(9)));
    assert_eq!(d(&[0, 0xff]), Err(DecodeError::EmptySegment));
}

#[test]
fn packet_vectors() {
    assert_eq!(
        Packet::decode_binary_v3(Bytes::from_static(&[4, 0xde, 0xad])),
        Ok(Packet::Binary(Bytes::from_static(&[0xde, 0xad])))
    );
    assert_eq!(
        Packet::decode_binary_v3(Bytes::new()),
        Err(DecodeError::Empty)
    );
    assert_eq!(
        Packet::decode_text_v3(Bytes::from_static(b"b4AQID")),
        Ok(Packet::Binary(Bytes::from_static(&[1, 2, 3])))
    );
    assert_eq!(
        Packet::decode_text_v3(Bytes::from_static(b"4hello")),
        Ok(msg("hello"))
    );
    assert_eq!(
        Packet::decode_text_v3(Bytes::from_static(b"b")),
        Err(DecodeError::Empty)
    );
}

proptest! {
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96), max in 0usize..6) {
        let b = Bytes::from(bytes);
        let _ = decode_payload_text(&b, max);
        let _ = decode_payload_binary(&b, max);
        let _ = Packet::decode_binary_v3(b.clone());
        let _ = Packet::decode_text_v3(b);
    }

    #[test]
    fn roundtrips(texts in proptest::collection::vec(".{0,12}", 1..6), bins in proptest::collection::vec(any::<u8>(), 0..16)) {
        let mut packets: Vec<Packet> = texts.into_iter().map(|t| Packet::Message(Utf8Bytes::from(t))).collect();
        packets.push(Packet::Binary(Bytes::from(bins)));
        let text = Bytes::from(write(Format::V3Text, &packets));
        prop_assert_eq!(decode_payload_text(&text, 64), Ok(packets.clone()));
        let bin = Bytes::from(write(Format::V3Binary, &packets));
        prop_assert_eq!(decode_payload_binary(&bin, 64), Ok(packets));
    }
}

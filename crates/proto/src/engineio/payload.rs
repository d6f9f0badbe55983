//! The HTTP long-polling payload: packets joined by the record separator
//! `0x1e` (`4hello\x1e2\x1e4world`), binary packets as `b`+base64.
//!
//! # Invariants
//! - [`decode`] counts separators before allocating, so the result vector
//!   never exceeds `max_packets` entries whatever the body contains.
//! - Packets are zero-copy slices of the body (except base64 binaries,
//!   which are decoded into a new buffer no larger than the segment).
//! - `0x1e` is ASCII, so splitting on it never cuts a UTF-8 sequence; each
//!   text segment is validated on its own.

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};

use super::{DecodeError, Packet};

/// The record separator between packets of a payload.
pub const SEPARATOR: u8 = 0x1e;

/// Splits a polling POST body into packets. Segments starting with `b` are
/// base64 binary messages.
///
/// Errors: an empty body ([`DecodeError::Empty`]), an empty segment
/// ([`DecodeError::EmptySegment`]), more than `max_packets` segments
/// ([`DecodeError::TooManyPackets`]), or any per-packet error of
/// [`Packet::decode_text`].
pub fn decode(body: &Bytes, max_packets: usize) -> Result<Vec<Packet>, DecodeError> {
    if body.is_empty() {
        return Err(DecodeError::Empty);
    }
    let count = body.iter().filter(|&&b| b == SEPARATOR).count() + 1;
    if count > max_packets {
        return Err(DecodeError::TooManyPackets);
    }
    let mut packets = Vec::with_capacity(count);
    let mut start = 0;
    for segment in body.split(|&b| b == SEPARATOR) {
        let end = start + segment.len();
        if segment.is_empty() {
            return Err(DecodeError::EmptySegment);
        }
        packets.push(Packet::decode_text(body.slice(start..end))?);
        start = end + 1;
    }
    Ok(packets)
}

/// Appends packets joined by [`SEPARATOR`] to a buffer (a GET response
/// body). The separator is written between packets only, never first or
/// last, regardless of what the buffer already contained.
///
/// With a v3 [`Format`] it writes the Engine.IO v3 payloads instead
/// (`super::v3`): `<length>:<packet>` text, or the binary framing.
#[derive(Debug)]
pub struct PayloadWriter<'a> {
    out: &'a mut BytesMut,
    count: usize,
    format: Format,
}

/// The payload encoding a [`PayloadWriter`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// v4: packets joined by `0x1e`, binary as `b` + base64.
    V4,
    /// v3 text: `<UTF-16 length>:<packet>`, binary as `b4` + base64.
    V3Text,
    /// v3 binary framing (`application/octet-stream`): `0x00`/`0x01`,
    /// length digits, `0xff`, then the text or `0x04` + the data.
    V3Binary,
}

impl<'a> PayloadWriter<'a> {
    /// Starts a v4 payload at the current end of `out`.
    pub fn new(out: &'a mut BytesMut) -> Self {
        Self::with_format(out, Format::V4)
    }

    /// Starts a payload in `format` at the current end of `out`.
    pub fn with_format(out: &'a mut BytesMut, format: Format) -> Self {
        Self {
            out,
            count: 0,
            format,
        }
    }

    /// Appends `packet` in its polling encoding.
    pub fn push(&mut self, packet: &Packet) {
        match (self.format, packet) {
            (Format::V4, _) => {
                self.separate(packet.encoded_polling_len());
                packet.encode_polling(self.out);
            }
            (Format::V3Text, Packet::Binary(d)) => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(d);
                self.count += 1;
                self.out.reserve(b64.len() + 14);
                self.out
                    .extend_from_slice((b64.len() + 2).to_string().as_bytes());
                self.out.extend_from_slice(b":b4");
                self.out.extend_from_slice(b64.as_bytes());
            }
            (Format::V3Binary, Packet::Binary(d)) => {
                self.count += 1;
                self.out.reserve(d.len() + 14);
                self.out.put_u8(1);
                put_digits(self.out, d.len() + 1);
                self.out.put_u8(0xff);
                self.out.put_u8(4);
                self.out.extend_from_slice(d);
            }
            (_, other) => {
                let mut text = BytesMut::with_capacity(other.encoded_polling_len());
                other.encode_polling(&mut text);
                self.push_encoded(&text);
            }
        }
    }

    /// Appends a text packet that is already polling-encoded (for example a
    /// broadcast encoded once for many sessions).
    pub fn push_encoded(&mut self, polling_bytes: &[u8]) {
        match self.format {
            Format::V4 => {
                self.separate(polling_bytes.len());
                self.out.extend_from_slice(polling_bytes);
            }
            Format::V3Text => {
                self.count += 1;
                let len = super::v3::utf16_len(polling_bytes).to_string();
                self.out.reserve(len.len() + 1 + polling_bytes.len());
                self.out.extend_from_slice(len.as_bytes());
                self.out.put_u8(b':');
                self.out.extend_from_slice(polling_bytes);
            }
            Format::V3Binary => {
                self.count += 1;
                self.out.reserve(polling_bytes.len() + 13);
                self.out.put_u8(0);
                put_digits(self.out, polling_bytes.len());
                self.out.put_u8(0xff);
                self.out.extend_from_slice(polling_bytes);
            }
        }
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Number of packets written so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// True when no packet has been written yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn separate(&mut self, next_len: usize) {
        self.out.reserve(next_len + 1);
        if self.count > 0 {
            self.out.put_u8(SEPARATOR);
        }
        self.count += 1;
    }
}

/// The decimal digits of `n` as byte values 0..=9 (the v3 binary framing).
fn put_digits(out: &mut BytesMut, n: usize) {
    for c in n.to_string().bytes() {
        out.put_u8(c - b'0');
    }
}

/// Exact size of the payload [`PayloadWriter`] would produce for `packets`.
pub fn encoded_len<'p>(packets: impl IntoIterator<Item = &'p Packet>) -> usize {
    let mut n = 0usize;
    let mut total = 0usize;
    for p in packets {
        total += p.encoded_polling_len();
        n += 1;
    }
    total + n.saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn msg(s: &'static str) -> Packet {
        Packet::Message(crate::Utf8Bytes::from_static(s))
    }

    #[test]
    fn decode_doc_vectors() {
        let body = Bytes::from_static(b"4hello\x1e2\x1e4world");
        assert_eq!(
            decode(&body, 16),
            Ok(vec![msg("hello"), Packet::Ping(Bytes::new()), msg("world")])
        );
        let body = Bytes::from_static(b"4hello\x1ebAQIDBA==");
        assert_eq!(
            decode(&body, 16),
            Ok(vec![
                msg("hello"),
                Packet::Binary(Bytes::from_static(&[1, 2, 3, 4]))
            ])
        );
        let body = Bytes::from_static(b"42[\"hello\"]\x1e42[\"world\"]");
        assert_eq!(
            decode(&body, 2),
            Ok(vec![msg("2[\"hello\"]"), msg("2[\"world\"]")])
        );
        assert_eq!(
            decode(&Bytes::from_static(b"1"), 1),
            Ok(vec![Packet::Close])
        );
    }

    #[test]
    fn decode_errors() {
        assert_eq!(decode(&Bytes::new(), 16), Err(DecodeError::Empty));
        assert_eq!(
            decode(&Bytes::from_static(b"\x1e"), 16),
            Err(DecodeError::EmptySegment)
        );
        assert_eq!(
            decode(&Bytes::from_static(b"4a\x1e"), 16),
            Err(DecodeError::EmptySegment)
        );
        assert_eq!(
            decode(&Bytes::from_static(b"\x1e4a"), 16),
            Err(DecodeError::EmptySegment)
        );
        assert_eq!(
            decode(&Bytes::from_static(b"4a\x1e\x1e4b"), 16),
            Err(DecodeError::EmptySegment)
        );
        assert_eq!(
            decode(&Bytes::from_static(b"4a\x1e4b"), 1),
            Err(DecodeError::TooManyPackets)
        );
        assert_eq!(
            decode(&Bytes::from_static(b"4a"), 0),
            Err(DecodeError::TooManyPackets)
        );
        assert_eq!(
            decode(&Bytes::from_static(b"4a\x1e9"), 4),
            Err(DecodeError::UnknownType(b'9'))
        );
        assert_eq!(
            decode(&Bytes::from_static(b"b$$"), 4),
            Err(DecodeError::InvalidBase64)
        );
        assert_eq!(
            decode(&Bytes::from_static(b"4\xff"), 4),
            Err(DecodeError::InvalidUtf8)
        );
    }

    #[test]
    fn writer_vectors() {
        let mut out = BytesMut::from(&b"HEAD"[..]);
        let mut w = PayloadWriter::new(&mut out);
        assert!(w.is_empty());
        w.push(&msg("hello"));
        w.push(&Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])));
        w.push_encoded(b"42[\"x\"]");
        assert_eq!(w.count(), 3);
        assert_eq!(&out[..], b"HEAD4hello\x1ebAQIDBA==\x1e42[\"x\"]");
        let packets = [
            msg("hello"),
            Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])),
        ];
        assert_eq!(encoded_len(&packets), b"4hello\x1ebAQIDBA==".len());
        assert_eq!(encoded_len(&[]), 0);
        let mut out = BytesMut::new();
        PayloadWriter::new(&mut out).push(&Packet::Noop);
        assert_eq!(&out[..], b"6");
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128), max in 0usize..8) {
            let _ = decode(&Bytes::from(bytes), max);
        }

        #[test]
        fn roundtrip(texts in proptest::collection::vec("[^\x1e]{0,16}", 1..8), bins in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut packets: Vec<Packet> = texts.into_iter().map(|t| Packet::Message(crate::Utf8Bytes::from(t))).collect();
            packets.push(Packet::Binary(Bytes::from(bins)));
            let mut out = BytesMut::new();
            let mut w = PayloadWriter::new(&mut out);
            for p in &packets { w.push(p); }
            prop_assert_eq!(out.len(), encoded_len(&packets));
            prop_assert_eq!(decode(&out.freeze(), 64), Ok(packets));
        }
    }
}

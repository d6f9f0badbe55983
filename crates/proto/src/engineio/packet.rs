//! A single Engine.IO v4 packet and its text / polling encodings.
//!
//! Decoding follows Node's `engine.io-parser` `decodePacket`: the first
//! character selects the type and everything after it is the data. Types
//! that carry no data (`close`, `upgrade`, `noop`) ignore trailing bytes, as
//! Node does. A text packet starting with `b` is a base64 binary message;
//! Node accepts that form on every transport, so [`Packet::decode_text`]
//! accepts it too.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};

use crate::Utf8Bytes;

/// Lenient base64 decoder for client data, like Node's `Buffer.from(s,
/// "base64")` on well-formed input: standard alphabet, padding optional,
/// non-zero trailing bits tolerated. Characters outside the alphabet are
/// still rejected.
pub(super) const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// One Engine.IO packet. Data is kept as [`Bytes`] slices of the received
/// buffer (no copy on decode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0`: handshake, data is the JSON text of [`super::OpenPacket`].
    Open(Bytes),
    /// `1`: close the session.
    Close,
    /// `2`: ping with optional data (`2probe` during an upgrade).
    Ping(Bytes),
    /// `3`: pong echoing the ping data.
    Pong(Bytes),
    /// `4`: a text message (checked to be UTF-8 on decode).
    Message(Utf8Bytes),
    /// A binary message (WebSocket binary frame, or `b`+base64 in polling).
    Binary(Bytes),
    /// `5`: the client completes a transport upgrade.
    Upgrade,
    /// `6`: no-op, used to end a pending long-polling request.
    Noop,
}

/// Why an Engine.IO packet or payload was rejected. The caller closes the
/// session (or answers HTTP 400 for a polling POST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame or body had no bytes at all.
    #[error("empty packet")]
    Empty,
    /// The first byte is not a known packet type (`0`..=`6` or `b`).
    #[error("unknown packet type {0:#04x}")]
    UnknownType(u8),
    /// Text data is not valid UTF-8.
    #[error("packet is not valid UTF-8")]
    InvalidUtf8,
    /// A `b` packet did not contain valid base64.
    #[error("invalid base64 in binary packet")]
    InvalidBase64,
    /// A packet or payload exceeds the configured maximum size. Not produced
    /// by the decoders here (sizes are bounded by the transport layers); it
    /// exists so callers enforcing `maxPayload` report a uniform error.
    #[error("packet too large")]
    TooLarge,
    /// A polling payload held more packets than the caller allows.
    #[error("too many packets in payload")]
    TooManyPackets,
    /// A polling payload contained an empty segment (`4a\x1e\x1e4b`, or a
    /// leading / trailing separator).
    #[error("empty packet in payload")]
    EmptySegment,
}

impl Packet {
    /// Decodes one packet from one segment of a polling payload (or any
    /// text not yet checked): the text is checked to be UTF-8 here.
    pub fn decode_text(frame: Bytes) -> Result<Self, DecodeError> {
        let first = *frame.first().ok_or(DecodeError::Empty)?;
        if first == b'b' {
            return Self::decode_base64(&frame[1..]);
        }
        Self::decode_utf8(Utf8Bytes::try_from(frame).map_err(|_| DecodeError::InvalidUtf8)?)
    }

    /// Decodes one packet from a WebSocket text message (`4hello`, `2probe`,
    /// `3`, `6`, `5`, `1`), already checked to be UTF-8 by the WebSocket
    /// decoder: not checked again.
    pub fn decode_utf8(frame: Utf8Bytes) -> Result<Self, DecodeError> {
        let first = *frame.as_bytes().first().ok_or(DecodeError::Empty)?;
        // A type character is ASCII: the data after it starts at a
        // character boundary.
        let data = || frame.slice_from(1).unwrap_or_default();
        Ok(match first {
            b'0' => Self::Open(data().into_bytes()),
            b'1' => Self::Close,
            b'2' => Self::Ping(data().into_bytes()),
            b'3' => Self::Pong(data().into_bytes()),
            b'4' => Self::Message(data()),
            b'5' => Self::Upgrade,
            b'6' => Self::Noop,
            b'b' => return Self::decode_base64(&frame.as_bytes()[1..]),
            other => return Err(DecodeError::UnknownType(other)),
        })
    }

    /// `b` + base64: a binary message in a text packet.
    fn decode_base64(text: &[u8]) -> Result<Self, DecodeError> {
        let decoded = LENIENT_B64
            .decode(text)
            .map_err(|_| DecodeError::InvalidBase64)?;
        Ok(Self::Binary(Bytes::from(decoded)))
    }

    /// A WebSocket binary frame is always a binary message (EIO4 has no type
    /// byte in binary frames).
    pub fn decode_binary(frame: Bytes) -> Self {
        Self::Binary(frame)
    }

    /// The type character of this packet (`b` for binary).
    pub fn type_char(&self) -> u8 {
        match self {
            Self::Open(_) => b'0',
            Self::Close => b'1',
            Self::Ping(_) => b'2',
            Self::Pong(_) => b'3',
            Self::Message(_) => b'4',
            Self::Upgrade => b'5',
            Self::Noop => b'6',
            Self::Binary(_) => b'b',
        }
    }

    /// The data carried after the type character (empty for data-less
    /// types; the raw bytes for [`Packet::Binary`]).
    pub fn data(&self) -> &[u8] {
        match self {
            Self::Open(d) | Self::Ping(d) | Self::Pong(d) | Self::Binary(d) => d,
            Self::Message(d) => d.as_bytes(),
            Self::Close | Self::Upgrade | Self::Noop => &[],
        }
    }

    /// Text encoding used in WebSocket text frames: type digit + data.
    ///
    /// [`Packet::Binary`] is not valid here (callers send it as a binary
    /// frame); debug builds assert, release builds fall back to the polling
    /// form `b`+base64, which Node's parser also accepts in a text frame.
    pub fn encode_text(&self, out: &mut BytesMut) {
        debug_assert!(
            !matches!(self, Self::Binary(_)),
            "binary packets go in binary WebSocket frames"
        );
        self.encode_polling(out);
    }

    /// Encoding inside a polling payload: like [`Packet::encode_text`], and
    /// [`Packet::Binary`] becomes `b` + standard base64 with padding (what
    /// Node's `Buffer.toString("base64")` produces).
    pub fn encode_polling(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_polling_len());
        out.put_u8(self.type_char());
        match self {
            Self::Binary(d) => {
                let start = out.len();
                out.resize(start + base64_len(d.len()), 0);
                // The slice is exactly base64_len bytes, the size the padded
                // encoder needs, so this cannot fail; roll back if it did.
                if STANDARD.encode_slice(d, &mut out[start..]).is_err() {
                    debug_assert!(false, "base64 output size mismatch");
                    out.truncate(start);
                }
            }
            other => out.extend_from_slice(other.data()),
        }
    }

    /// Exact number of bytes [`Packet::encode_polling`] appends.
    pub fn encoded_polling_len(&self) -> usize {
        match self {
            Self::Binary(d) => 1 + base64_len(d.len()),
            other => 1 + other.data().len(),
        }
    }
}

/// Length of padded standard base64 for `n` input bytes. `n` is the length
/// of an in-memory buffer (<= isize::MAX), so the arithmetic cannot overflow.
fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(s: &'static [u8]) -> Result<Packet, DecodeError> {
        Packet::decode_text(Bytes::from_static(s))
    }

    fn enc(p: &Packet) -> Vec<u8> {
        let mut out = BytesMut::new();
        p.encode_polling(&mut out);
        assert_eq!(out.len(), p.encoded_polling_len());
        out.to_vec()
    }

    #[test]
    fn decode_vectors() {
        assert_eq!(
            dec(b"4hello"),
            Ok(Packet::Message(Utf8Bytes::from_static("hello")))
        );
        assert_eq!(
            dec(b"4HelloWorld"),
            Ok(Packet::Message(Utf8Bytes::from_static("HelloWorld")))
        );
        assert_eq!(
            dec(b"2probe"),
            Ok(Packet::Ping(Bytes::from_static(b"probe")))
        );
        assert_eq!(
            dec(b"3probe"),
            Ok(Packet::Pong(Bytes::from_static(b"probe")))
        );
        assert_eq!(dec(b"3"), Ok(Packet::Pong(Bytes::new())));
        assert_eq!(dec(b"2"), Ok(Packet::Ping(Bytes::new())));
        assert_eq!(dec(b"1"), Ok(Packet::Close));
        assert_eq!(dec(b"5"), Ok(Packet::Upgrade));
        assert_eq!(dec(b"6"), Ok(Packet::Noop));
        assert_eq!(dec(b"4"), Ok(Packet::Message(Utf8Bytes::default())));
        assert_eq!(dec(b"40"), Ok(Packet::Message(Utf8Bytes::from_static("0"))));
        assert_eq!(
            dec(br#"0{"sid":"x"}"#),
            Ok(Packet::Open(Bytes::from_static(br#"{"sid":"x"}"#)))
        );
        assert_eq!(
            dec(b"4h\xc3\xa9"),
            Ok(Packet::Message(Utf8Bytes::from_static("hé")))
        );
        assert_eq!(
            dec(b"bAQIDBA=="),
            Ok(Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])))
        );
        assert_eq!(
            dec(b"bAQIDBA"),
            Ok(Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])))
        );
        assert_eq!(dec(b"b"), Ok(Packet::Binary(Bytes::new())));
    }

    #[test]
    fn decode_errors() {
        assert_eq!(dec(b""), Err(DecodeError::Empty));
        assert_eq!(dec(b"7"), Err(DecodeError::UnknownType(b'7')));
        assert_eq!(dec(b"9hello"), Err(DecodeError::UnknownType(b'9')));
        assert_eq!(dec(b"x"), Err(DecodeError::UnknownType(b'x')));
        assert_eq!(dec(b"4\xff"), Err(DecodeError::InvalidUtf8));
        assert_eq!(dec(b"\xc3"), Err(DecodeError::InvalidUtf8));
        assert_eq!(dec(b"b!!!!"), Err(DecodeError::InvalidBase64));
        assert_eq!(dec(b"bA"), Err(DecodeError::InvalidBase64));
    }

    #[test]
    fn decode_binary_frame() {
        let p = Packet::decode_binary(Bytes::from_static(&[0, 1, 2]));
        assert_eq!(p, Packet::Binary(Bytes::from_static(&[0, 1, 2])));
    }

    #[test]
    fn encode_vectors() {
        assert_eq!(
            enc(&Packet::Message(Utf8Bytes::from_static("hello"))),
            b"4hello"
        );
        assert_eq!(enc(&Packet::Pong(Bytes::from_static(b"probe"))), b"3probe");
        assert_eq!(enc(&Packet::Ping(Bytes::new())), b"2");
        assert_eq!(enc(&Packet::Close), b"1");
        assert_eq!(enc(&Packet::Upgrade), b"5");
        assert_eq!(enc(&Packet::Noop), b"6");
        assert_eq!(enc(&Packet::Open(Bytes::from_static(b"{}"))), b"0{}");
        assert_eq!(
            enc(&Packet::Binary(Bytes::from_static(&[1, 2, 3, 4]))),
            b"bAQIDBA=="
        );
        assert_eq!(enc(&Packet::Binary(Bytes::new())), b"b");
        assert_eq!(
            enc(&Packet::Binary(Bytes::from_static(&[1, 2, 3]))),
            b"bAQID"
        );
        let mut out = BytesMut::from(&b"pre"[..]);
        Packet::Message(Utf8Bytes::from_static("x")).encode_text(&mut out);
        assert_eq!(&out[..], b"pre4x");
    }

    proptest! {
        #[test]
        fn decode_text_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Packet::decode_text(Bytes::from(bytes));
        }

        #[test]
        fn binary_roundtrip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let p = Packet::Binary(Bytes::from(bytes));
            let mut out = BytesMut::new();
            p.encode_polling(&mut out);
            prop_assert_eq!(out.len(), p.encoded_polling_len());
            prop_assert_eq!(Packet::decode_text(out.freeze()), Ok(p));
        }

        #[test]
        fn text_roundtrip(s in ".{0,32}", t in 0usize..7) {
            let d = Bytes::from(s.into_bytes());
            let p = match t {
                0 => Packet::Open(d), 1 => Packet::Ping(d), 2 => Packet::Pong(d),
                3 => Packet::Message(Utf8Bytes::try_from(d).unwrap()), 4 => Packet::Close, 5 => Packet::Upgrade,
                _ => Packet::Noop,
            };
            let mut out = BytesMut::new();
            p.encode_text(&mut out);
            let text = Utf8Bytes::try_from(out.freeze()).unwrap();
            prop_assert_eq!(Packet::decode_utf8(text.clone()), Ok(p.clone()));
            prop_assert_eq!(Packet::decode_text(text.into_bytes()), Ok(p));
        }

        #[test]
        fn decode_utf8_agrees_with_decode_text(s in "\\PC{0,16}") {
            // Any text, type character or not: the same packet or error.
            let text = Utf8Bytes::from(s);
            prop_assert_eq!(
                Packet::decode_utf8(text.clone()),
                Packet::decode_text(text.into_bytes())
            );
        }
    }
}

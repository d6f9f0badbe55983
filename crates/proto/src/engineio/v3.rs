//! Engine.IO protocol v3 (`EIO=3`, socket.io-client 2.x), accepted next to
//! v4 when the server allows it (Node's `allowEIO3`). Only what differs
//! from v4 is here; the session state machine takes the [`Protocol`] of
//! its client and [`super::payload::PayloadWriter`] writes either format.
//!
//! # Wire format (Node's `engine.io/lib/parser-v3`)
//! - Text packets are as in v4 (`4hello`, `2`, `3probe`).
//! - A binary message carries its type: on WebSocket a binary frame whose
//!   first byte is the numeric type (`0x04` + data), as text `b4` + base64
//!   (`b4AQID`) for clients that asked for base64 (`b64=1`).
//! - A polling payload is a sequence of `<length>:<packet>` where the
//!   length counts UTF-16 code units, as JavaScript's `String.length` does
//!   (`6:4hello2:40`), or, when the client supports binary and the payload
//!   holds a binary packet, the binary framing: per packet `0x00` (text) or
//!   `0x01` (binary), the decimal digits of its byte length as bytes 0..=9,
//!   `0xff`, then the UTF-8 text or the type byte and the data.
//!
//! # Invariants
//! - Decoders never panic and bound the number of packets before keeping
//!   more (`max_packets`); lengths are parsed with checked arithmetic.
//! - Text packets go through [`Packet::decode_text`], so
//!   [`Packet::Message`] is valid UTF-8 here too.

use base64::Engine as _;
use bytes::Bytes;

use super::packet::LENIENT_B64;
use super::{DecodeError, Packet};
use crate::Utf8Bytes;

/// The Engine.IO revision a session speaks, and how binary reaches its
/// client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// `EIO=4` (the default).
    #[default]
    V4,
    /// `EIO=3`; `binary` is false when the client asked for base64
    /// (`b64=1`): binary packets then travel as `b4<base64>` text.
    V3 {
        /// The client takes binary frames and the binary polling framing.
        binary: bool,
    },
}

impl Protocol {
    /// Whether this is the v3 protocol.
    pub fn is_v3(self) -> bool {
        matches!(self, Self::V3 { .. })
    }
}

/// Number of UTF-16 code units of UTF-8 `text` (JavaScript's length):
/// one per character, two for characters outside the BMP (4-byte UTF-8).
pub fn utf16_len(text: &[u8]) -> usize {
    text.iter()
        .map(|&b| usize::from(b & 0xc0 != 0x80) + usize::from(b >= 0xf0))
        .sum()
}

/// Byte length of the first `units` UTF-16 code units of UTF-8 `text`;
/// None when the text is shorter or the count ends inside a surrogate pair.
fn utf16_prefix(text: &str, units: usize) -> Option<usize> {
    let mut seen = 0usize;
    for (i, c) in text.char_indices() {
        if seen == units {
            return Some(i);
        }
        seen += c.len_utf16();
        if seen > units {
            return None;
        }
    }
    (seen == units).then_some(text.len())
}

impl Packet {
    /// Decodes a v3 text packet (a WebSocket text frame or a payload
    /// segment): as [`Packet::decode_text`], except that a binary packet is
    /// `b` + its type + base64 (`b4AQID`).
    pub fn decode_text_v3(frame: Bytes) -> Result<Self, DecodeError> {
        if frame.first() != Some(&b'b') {
            return Self::decode_text(frame);
        }
        match frame.get(1) {
            Some(b'4') => LENIENT_B64
                .decode(&frame[2..])
                .map(|d| Self::Binary(Bytes::from(d)))
                .map_err(|_| DecodeError::InvalidBase64),
            Some(&other) => Err(DecodeError::UnknownType(other)),
            None => Err(DecodeError::Empty),
        }
    }

    /// Decodes a v3 WebSocket text message, already checked to be UTF-8:
    /// as [`Packet::decode_utf8`], except for the `b` binary form.
    pub fn decode_utf8_v3(frame: Utf8Bytes) -> Result<Self, DecodeError> {
        if frame.as_bytes().first() == Some(&b'b') {
            return Self::decode_text_v3(frame.into_bytes());
        }
        Self::decode_utf8(frame)
    }

    /// Decodes a v3 binary packet (a WebSocket binary frame, or a binary
    /// segment of the polling framing): the first byte is the numeric type.
    pub fn decode_binary_v3(frame: Bytes) -> Result<Self, DecodeError> {
        let first = *frame.first().ok_or(DecodeError::Empty)?;
        let data = frame.slice(1..);
        Ok(match first {
            4 => Self::Binary(data),
            0 => Self::Open(data),
            1 => Self::Close,
            2 => Self::Ping(data),
            3 => Self::Pong(data),
            5 => Self::Upgrade,
            6 => Self::Noop,
            other => return Err(DecodeError::UnknownType(other)),
        })
    }
}

/// Splits a v3 text polling body (`<length>:<packet>…`) into packets.
/// Empty packets (`0:`) are skipped, as Node does.
///
/// Errors: an empty body, a length that is not decimal digits or that
/// overruns the body, a trailing length without `:`
/// ([`DecodeError::EmptySegment`]), a body that is not UTF-8, more than
/// `max_packets` packets, or any error of [`Packet::decode_text_v3`].
pub fn decode_payload_text(body: &Bytes, max_packets: usize) -> Result<Vec<Packet>, DecodeError> {
    if body.is_empty() {
        return Err(DecodeError::Empty);
    }
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::InvalidUtf8)?;
    let mut packets = Vec::new();
    let mut pos = 0usize;
    while pos < text.len() {
        let colon = text[pos..].find(':').ok_or(DecodeError::EmptySegment)? + pos;
        let digits = &text[pos..colon];
        let units = parse_digits(digits.bytes().map(|b| b.wrapping_sub(b'0')))?;
        let start = colon + 1;
        let len = utf16_prefix(&text[start..], units).ok_or(DecodeError::EmptySegment)?;
        if len > 0 {
            if packets.len() == max_packets {
                return Err(DecodeError::TooManyPackets);
            }
            packets.push(Packet::decode_text_v3(body.slice(start..start + len))?);
        }
        pos = start + len;
    }
    Ok(packets)
}

/// Splits a v3 binary polling body (`application/octet-stream`) into
/// packets: `0x00`/`0x01`, length digits (bytes 0..=9), `0xff`, data.
///
/// Errors: an empty body, a bad marker, length or truncated packet
/// ([`DecodeError::EmptySegment`]), more than `max_packets` packets, or
/// any error of the packet decoders.
pub fn decode_payload_binary(body: &Bytes, max_packets: usize) -> Result<Vec<Packet>, DecodeError> {
    if body.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut packets = Vec::new();
    let mut pos = 0usize;
    while pos < body.len() {
        let is_text = match body[pos] {
            0 => true,
            1 => false,
            _ => return Err(DecodeError::EmptySegment),
        };
        let digits_start = pos + 1;
        let end = body[digits_start..]
            .iter()
            .position(|&b| b == 0xff)
            .ok_or(DecodeError::EmptySegment)?
            + digits_start;
        let len = parse_digits(body[digits_start..end].iter().copied())?;
        let start = end + 1;
        let stop = start
            .checked_add(len)
            .filter(|&s| s <= body.len())
            .ok_or(DecodeError::EmptySegment)?;
        if packets.len() == max_packets {
            return Err(DecodeError::TooManyPackets);
        }
        let data = body.slice(start..stop);
        packets.push(if is_text {
            Packet::decode_text_v3(data)?
        } else {
            Packet::decode_binary_v3(data)?
        });
        pos = stop;
    }
    Ok(packets)
}

/// A decimal length from digit values (each 0..=9), at most 10 digits (no
/// packet is anywhere near 10 GB).
fn parse_digits(digits: impl Iterator<Item = u8>) -> Result<usize, DecodeError> {
    let mut n = 0usize;
    let mut count = 0;
    for d in digits {
        count += 1;
        if d > 9 || count > 10 {
            return Err(DecodeError::EmptySegment);
        }
        n = n * 10 + usize::from(d);
    }
    if count == 0 {
        return Err(DecodeError::EmptySegment);
    }
    Ok(n)
}

#[cfg(test)]
#[path = "v3_tests.rs"]
mod tests;

//! The Socket.IO packet type and its decoder.
//!
//! Parsing mirrors `socket.io-parser` 4.x `decodeString` step by step:
//! type digit; for binary kinds the attachment count and a mandatory `-`;
//! an optional namespace starting with `/` and running to the first `,`
//! (or to the end of the string when there is no comma); optional ack id
//! digits; then the JSON payload, checked like `isPayloadValid`.
//!
//! Deliberate differences from Node (all stricter, all documented):
//! - the attachment count needs at least one digit (`5-[…]` is rejected)
//!   and may not exceed [`Limits::max_attachments`];
//! - an ack id has at most 16 digits and is at most [`MAX_ACK_ID`]
//!   (`Number.MAX_SAFE_INTEGER`, the largest id a JS client can produce);
//! - EVENT, ACK and CONNECT_ERROR require a payload (Node lets `2` through
//!   with `data === undefined`);
//! - placeholders in binary packets must carry an integer `num` below the
//!   attachment count (Node checks this only when reconstructing).

use serde_json::Value;

use crate::json_util::{push_decimal, write_json};

use super::binary::check_placeholders;

/// Largest accepted ack id: `2^53 - 1` (JavaScript's `MAX_SAFE_INTEGER`).
pub const MAX_ACK_ID: u64 = (1 << 53) - 1;
/// Maximum number of digits in an ack id (`MAX_ACK_ID` has 16).
const MAX_ACK_ID_DIGITS: usize = 16;

/// Event names a client may not emit (`socket.io-parser` `RESERVED_EVENTS`).
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Socket.IO packet types; the discriminant is the wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketKind {
    /// `0`: connect to a namespace (client: optional auth object; server:
    /// `{"sid":…}`).
    Connect = 0,
    /// `1`: leave a namespace.
    Disconnect = 1,
    /// `2`: an event `["name", args…]`.
    Event = 2,
    /// `3`: acknowledgement `[args…]` for the packet with the same id.
    Ack = 3,
    /// `4`: namespace connection refused (server to client).
    ConnectError = 4,
    /// `5`: an event with binary attachments.
    BinaryEvent = 5,
    /// `6`: an acknowledgement with binary attachments.
    BinaryAck = 6,
}

impl PacketKind {
    /// The kind for an ASCII wire digit (`b'0'..=b'6'`).
    pub fn from_digit(d: u8) -> Option<Self> {
        Some(match d {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    /// The ASCII wire digit.
    pub fn digit(self) -> char {
        char::from(b'0' + self as u8)
    }

    /// True for [`PacketKind::BinaryEvent`] and [`PacketKind::BinaryAck`].
    pub fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// A decoded Socket.IO packet (the text part; binary attachments follow
/// separately, see [`super::Reassembler`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Packet type.
    pub kind: PacketKind,
    /// Namespace, `"/"` by default. Must start with `/` to be encodable.
    pub nsp: String,
    /// Ack id, if the sender expects an acknowledgement (or this is one).
    pub id: Option<u64>,
    /// JSON payload. `None` (and `Some(Null)`) are not written.
    pub data: Option<Value>,
    /// Number of binary attachments (0 for non-binary kinds).
    pub attachments: usize,
}

/// Decoder limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum attachment count of a binary packet (default 10). JSON depth
    /// is bounded by serde_json's recursion limit (128).
    pub max_attachments: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_attachments: 10,
        }
    }
}

/// Why a Socket.IO packet was rejected. The caller closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The message was empty.
    #[error("empty packet")]
    Empty,
    /// The first byte is not a digit `0`..=`6`.
    #[error("unknown packet type {0:#04x}")]
    UnknownType(u8),
    /// The attachment count of a binary packet is missing or malformed.
    #[error("illegal attachments")]
    InvalidAttachments,
    /// The attachment count exceeds [`Limits::max_attachments`].
    #[error("too many attachments")]
    TooManyAttachments,
    /// The ack id is longer than 16 digits or above [`MAX_ACK_ID`].
    #[error("invalid ack id")]
    InvalidAckId,
    /// The payload is not valid JSON (or nests deeper than 128 levels).
    #[error("invalid JSON payload")]
    InvalidJson,
    /// The payload is valid JSON of the wrong shape for the packet type.
    #[error("invalid payload")]
    InvalidPayload,
    /// A binary placeholder is malformed or refers to a missing attachment.
    #[error("invalid attachment placeholder")]
    InvalidPlaceholder,
    /// msgpack parser: the message is not one well-formed msgpack value
    /// within the limits (depth, size), or not a map with a valid `type`.
    #[error("invalid msgpack packet")]
    InvalidMsgpack,
}

impl Packet {
    /// Decodes the text part of a Socket.IO packet (see the module docs for
    /// the exact grammar and the validity rules per type).
    pub fn decode(text: &str, limits: &Limits) -> Result<Self, DecodeError> {
        let Prefix {
            kind,
            attachments,
            nsp,
            id,
            rest: i,
        } = Prefix::decode(text, limits)?;
        let nsp = nsp.to_owned();

        let data = match text.get(i..) {
            Some(rest) if !rest.is_empty() => {
                let mut v =
                    serde_json::from_str::<Value>(rest).map_err(|_| DecodeError::InvalidJson)?;
                if crate::json_util::may_hold_float(rest) {
                    crate::json_util::normalize_js_numbers(&mut v);
                }
                Some(v)
            }
            _ => None,
        };

        if !payload_valid(kind, data.as_ref()) {
            return Err(DecodeError::InvalidPayload);
        }
        if kind.is_binary() {
            if let Some(d) = &data {
                check_placeholders(d, attachments)?;
            }
        }
        Ok(Self {
            kind,
            nsp,
            id,
            data,
            attachments,
        })
    }

    /// Compact encoding: type digit, `N-` for binary kinds, `nsp,` when the
    /// namespace is not `/`, the ack id, then the JSON payload:
    /// `42["hello",1]`, `43/custom,1["ok"]`,
    /// `451-["bin",{"_placeholder":true,"num":0}]` (after Engine.IO's `4`).
    pub fn encode(&self, out: &mut String) {
        write_prefix(out, self.kind, self.attachments, &self.nsp, self.id);
        match &self.data {
            None | Some(Value::Null) => {}
            Some(v) => write_json(out, v),
        }
    }
}

/// The part of a packet before its JSON: type, attachment count, namespace
/// and ack id, and where the JSON starts.
pub(super) struct Prefix<'a> {
    pub kind: PacketKind,
    pub attachments: usize,
    pub nsp: &'a str,
    pub id: Option<u64>,
    /// Byte offset of the JSON payload (the text's length when there is none).
    pub rest: usize,
}

impl<'a> Prefix<'a> {
    pub(super) fn decode(text: &'a str, limits: &Limits) -> Result<Self, DecodeError> {
        let b = text.as_bytes();
        let first = *b.first().ok_or(DecodeError::Empty)?;
        let kind = PacketKind::from_digit(first).ok_or(DecodeError::UnknownType(first))?;
        let mut i = 1;

        let mut attachments = 0usize;
        if kind.is_binary() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                attachments = attachments
                    .checked_mul(10)
                    .and_then(|a| a.checked_add(usize::from(b[i] - b'0')))
                    .ok_or(DecodeError::TooManyAttachments)?;
                i += 1;
            }
            if i == start || b.get(i) != Some(&b'-') {
                return Err(DecodeError::InvalidAttachments);
            }
            if attachments > limits.max_attachments {
                return Err(DecodeError::TooManyAttachments);
            }
            i += 1;
        }

        let nsp = if b.get(i) == Some(&b'/') {
            let end = b[i..]
                .iter()
                .position(|&c| c == b',')
                .map_or(b.len(), |p| i + p);
            // `i` and `end` sit on ASCII bytes (or the end), so both are
            // char boundaries; `get` keeps this panic-free regardless.
            let nsp = text.get(i..end).ok_or(DecodeError::InvalidPayload)?;
            i = (end + 1).min(b.len());
            nsp
        } else {
            "/"
        };

        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let id = if i > start {
            if i - start > MAX_ACK_ID_DIGITS {
                return Err(DecodeError::InvalidAckId);
            }
            let id = b[start..i]
                .iter()
                .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
            if id > MAX_ACK_ID {
                return Err(DecodeError::InvalidAckId);
            }
            Some(id)
        } else {
            None
        };
        Ok(Self {
            kind,
            attachments,
            nsp,
            id,
            rest: i,
        })
    }
}

/// `socket.io-parser` `isPayloadValid`, with a payload required for
/// EVENT, ACK and CONNECT_ERROR.
pub(super) fn payload_valid(kind: PacketKind, data: Option<&Value>) -> bool {
    match (kind, data) {
        (PacketKind::Connect, None | Some(Value::Object(_))) => true,
        (PacketKind::Disconnect, None) => true,
        (PacketKind::ConnectError, Some(Value::String(_) | Value::Object(_))) => true,
        (PacketKind::Event | PacketKind::BinaryEvent, Some(Value::Array(a))) => match a.first() {
            Some(Value::Number(_)) => true,
            Some(Value::String(name)) => !RESERVED_EVENTS.contains(&name.as_str()),
            _ => false,
        },
        (PacketKind::Ack | PacketKind::BinaryAck, Some(Value::Array(_))) => true,
        _ => false,
    }
}

/// Writes `<digit>[<attachments>-][<nsp>,][<id>]`.
pub(super) fn write_prefix(
    out: &mut String,
    kind: PacketKind,
    attachments: usize,
    nsp: &str,
    id: Option<u64>,
) {
    out.push(kind.digit());
    if kind.is_binary() {
        push_decimal(out, attachments as u64);
        out.push('-');
    }
    if !nsp.is_empty() && nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
    if let Some(id) = id {
        push_decimal(out, id);
    }
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;

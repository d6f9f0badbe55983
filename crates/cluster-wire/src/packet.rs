//! The Socket.IO packet carried inside broadcasts (contract 3.2) and
//! broadcast-with-ack requests (type 7).
//!
//! On the wire it is the map `{type: 2, data: [event, ...args], nsp: "/"}`:
//! the packet **before** Socket.IO encoding. Binary stays msgpack `bin`
//! inside `data`; there are no placeholders and no `attachments` count.
//!
//! # Invariants
//! - `type` is 2 (EVENT) even when `data` holds binary; the receiver turns
//!   it into BINARY_EVENT for its clients when [`Packet::has_binary`].
//!   ringcast must never publish type 5 (Node would print `5undefined-`).
//! - An absent `nsp` means `/` (what the adapter assumes on receipt).
//! - Encoding writes `type, data, nsp` in that order (the adapter's and
//!   the emitter's order); `nsp` is omitted only when `None`.

use bytes::Bytes;

use crate::{fields, json, DecodeError, Value};

/// Socket.IO packet type EVENT.
pub const EVENT: u8 = 2;

/// A Socket.IO packet as the adapter publishes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The Socket.IO packet type (2 = EVENT for every adapter broadcast).
    pub packet_type: u8,
    /// `[event, ...args]`.
    pub data: Vec<Value>,
    /// The namespace; `None` (absent on the wire) means `/`.
    pub nsp: Option<String>,
}

impl Packet {
    /// An EVENT packet `{type: 2, data: [event, ...args], nsp}`.
    pub fn event(nsp: &str, event: &str, args: impl IntoIterator<Item = Value>) -> Self {
        let mut data = vec![Value::from(event)];
        data.extend(args);
        Self {
            packet_type: EVENT,
            data,
            nsp: Some(nsp.to_owned()),
        }
    }

    /// An EVENT packet from ringcast's representation: `data` is the JSON
    /// array `[event, ...args]` with placeholders, `attachments` the
    /// buffers they refer to.
    pub fn from_placeholders(nsp: &str, data: &[serde_json::Value], attachments: &[Bytes]) -> Self {
        Self {
            packet_type: EVENT,
            data: data
                .iter()
                .map(|j| json::from_placeholders(j, attachments))
                .collect(),
            nsp: Some(nsp.to_owned()),
        }
    }

    /// `data` in ringcast's representation: the JSON array with
    /// placeholders (numbered across all of `data`) and the attachments.
    pub fn to_placeholders(&self) -> (Vec<serde_json::Value>, Vec<Bytes>) {
        let mut attachments = Vec::new();
        let out = self
            .data
            .iter()
            .map(|v| json::placeholders_into(v, &mut attachments))
            .collect();
        (out, attachments)
    }

    /// The event name (`data[0]`), if it is a string.
    pub fn event_name(&self) -> Option<&str> {
        self.data.first().and_then(Value::as_str)
    }

    /// The event arguments (`data[1..]`).
    pub fn args(&self) -> &[Value] {
        self.data.get(1..).unwrap_or_default()
    }

    /// The namespace, `/` when absent.
    pub fn nsp(&self) -> &str {
        self.nsp.as_deref().unwrap_or("/")
    }

    /// Whether any argument holds binary (clients then get BINARY_EVENT).
    pub fn has_binary(&self) -> bool {
        self.data.iter().any(Value::has_binary)
    }

    /// The wire map `{type, data, nsp}`.
    pub fn to_value(&self) -> Value {
        let mut m = vec![
            ("type".to_owned(), Value::Int(self.packet_type.into())),
            ("data".to_owned(), Value::Array(self.data.clone())),
        ];
        if let Some(nsp) = &self.nsp {
            m.push(("nsp".to_owned(), Value::Str(nsp.clone())));
        }
        Value::Map(m)
    }

    /// Reads the packet map; unknown keys (e.g. an `id`) are ignored.
    pub fn from_value(v: &Value) -> Result<Self, DecodeError> {
        if !matches!(v, Value::Map(_)) {
            return Err(DecodeError::field("packet", "a map"));
        }
        let packet_type = fields::get(v, "type")
            .and_then(Value::as_u64)
            .and_then(|t| u8::try_from(t).ok())
            .ok_or(DecodeError::field("packet.type", "a packet type"))?;
        let data = match fields::get(v, "data") {
            Some(Value::Array(items)) => items.clone(),
            _ => return Err(DecodeError::field("packet.data", "an array")),
        };
        let nsp = fields::opt_string(v, "nsp", "packet.nsp")?;
        Ok(Self {
            packet_type,
            data,
            nsp,
        })
    }
}

//! The broadcast message (contract 3.2): the msgpack array
//! `[uid, packet, opts]` published on `<key>#<nsp>#` or, when `opts.rooms`
//! has exactly one room, on `<key>#<nsp>#<room>#`
//! ([`crate::Channels::for_rooms`]).
//!
//! The emitter publishes the same shape with uid `"emitter"` and opts in
//! `rooms, flags, except` order.
//!
//! # Invariants
//! - The receiver ignores messages whose uid is its own, and packets for
//!   another namespace ([`BroadcastMessage::is_for`]; no `nsp` means `/`).
//! - `encode(&decode(b)?)? == b` for every message the adapter or the
//!   emitter publishes (golden vectors in `tests/golden.rs`).
//! - Elements past the third are ignored (Node destructures three).

use bytes::Bytes;

use crate::{decode_with, encode, BroadcastOpts, DecodeError, EncodeError, Limits, Packet, Value};

/// The uid the redis-emitter puts on everything it publishes.
pub const EMITTER_UID: &str = "emitter";

/// `[uid, packet, opts]`.
#[derive(Debug, Clone, PartialEq)]
pub struct BroadcastMessage {
    /// The publishing adapter's uid (`"emitter"` for the emitter); `None`
    /// if the publisher sent `nil` / `undefined`.
    pub uid: Option<String>,
    /// The Socket.IO packet to deliver.
    pub packet: Packet,
    /// Which sockets receive it, and how.
    pub opts: BroadcastOpts,
}

impl BroadcastMessage {
    /// Decodes with the default [`Limits`].
    pub fn decode(payload: &Bytes) -> Result<Self, DecodeError> {
        Self::decode_with(payload, &Limits::DEFAULT)
    }

    /// Decodes a broadcast payload.
    pub fn decode_with(payload: &Bytes, limits: &Limits) -> Result<Self, DecodeError> {
        Self::from_value(&decode_with(payload, limits)?)
    }

    /// Reads the decoded `[uid, packet, opts]` array.
    pub fn from_value(v: &Value) -> Result<Self, DecodeError> {
        let [uid, packet, opts, ..] = v.as_array().unwrap_or_default() else {
            return Err(DecodeError::field(
                "<message>",
                "an array [uid, packet, opts]",
            ));
        };
        let uid = match uid {
            Value::Nil => None,
            Value::Str(s) => Some(s.clone()),
            _ => return Err(DecodeError::field("uid", "a string")),
        };
        Ok(Self {
            uid,
            packet: Packet::from_value(packet)?,
            opts: BroadcastOpts::from_value(opts)?,
        })
    }

    /// The wire value `[uid, packet, opts]`.
    pub fn to_value(&self) -> Value {
        Value::Array(vec![
            self.uid.as_deref().map_or(Value::Nil, Value::from),
            self.packet.to_value(),
            self.opts.to_value(),
        ])
    }

    /// The msgpack payload, byte-identical to what Node would publish.
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        encode(&self.to_value())
    }

    /// Whether the emitter published it.
    pub fn is_from_emitter(&self) -> bool {
        self.uid.as_deref() == Some(EMITTER_UID)
    }

    /// Whether the packet is for namespace `nsp` (an absent `nsp` is `/`).
    pub fn is_for(&self, nsp: &str) -> bool {
        self.packet.nsp() == nsp
    }
}

//! Engine.IO protocol v4 (`EIO=4`): packets, the long-polling payload and
//! the handshake, and the sans-IO [`session`] state machine; [`v3`] has what
//! differs for Engine.IO v3 clients (`EIO=3`, socket.io-client 2.x).
//!
//! # Wire format
//! A packet is a one-character type (`0` open, `1` close, `2` ping,
//! `3` pong, `4` message, `5` upgrade, `6` noop) followed by its data:
//! `4hello`, `2probe`, `3`. Binary messages have no type character: on
//! WebSocket they travel as binary frames, and inside a long-polling
//! payload they are written as `b` + standard base64 (`bAQIDBA==`).
//! A polling payload joins packets with the record separator `0x1e`:
//! `4hello\x1e2\x1e4world`.
//!
//! # Invariants
//! - [`Packet::Message`] data is always valid UTF-8 (checked on decode).
//! - Decoders never panic and never allocate more than a constant factor of
//!   the input they were given; [`payload::decode`] additionally bounds the
//!   number of packets before allocating the result vector.
//! - Encoders are infallible and append to a caller-provided buffer so a
//!   broadcast can be encoded once and shared.

mod open;
mod packet;
pub mod payload;
pub mod session;
pub mod v3;

pub use open::{EngineError, OpenPacket, OpenTemplate};
pub use packet::{DecodeError, Packet};
pub use payload::Format;
pub use v3::Protocol;

/// The Engine.IO protocol revision this crate speaks by default (`EIO=4`;
/// [`v3`] has what differs for `EIO=3` clients).
pub const PROTOCOL_VERSION: &str = "4";

//! Socket.IO protocol v5 (Socket.IO 3.x/4.x, `socket.io-parser` 4.x),
//! carried in Engine.IO `message` packets.
//!
//! # Wire format
//! `<type>[<attachments>-][<nsp>,][<ack id>][<JSON>]`, for example
//! `2["foo"]`, `2/admin,["bar"]`, `3/admin,13["bar"]`,
//! `51-["baz",{"_placeholder":true,"num":0}]`, `40{"sid":"…"}` (as the
//! Engine.IO message `4` + `0{…}`). Binary packets (types 5 and 6) are
//! followed by `attachments` Engine.IO binary messages, referenced from
//! the JSON by placeholders `{"_placeholder":true,"num":N}`.
//!
//! # Invariants
//! - [`Packet::decode`] accepts exactly what Node's decoder accepts and
//!   whose payload passes `isPayloadValid`, with explicit bounds where Node
//!   has none (attachment count, ack id, JSON depth via serde_json's
//!   recursion limit of 128). Any error means: close the connection.
//! - [`Packet::decode_event`] admits only packets [`Packet::decode`]
//!   accepts, as the same event with the same argument values; it keeps
//!   the arguments as text ([`Args`]) and declines (returns `None`) what
//!   it cannot vouch for, which then goes through `decode`.
//! - A decoded binary packet's placeholders all have `num < attachments`,
//!   so the [`Reassembler`] never needs to look inside the JSON again.
//! - Encoders write compact JSON (serde_json, key order preserved) and are
//!   infallible.

pub mod args;
pub mod binary;
mod encode;
mod event;
pub mod msgpack;
mod packet;

pub use args::{ArgList, Args};
pub use binary::{count_placeholders, is_placeholder, placeholder, Reassembler};
pub use encode::{encode_ack, encode_connect, encode_connect_error, encode_event};
pub use event::EventPacket;
pub use packet::{DecodeError, Limits, Packet, PacketKind, MAX_ACK_ID, RESERVED_EVENTS};

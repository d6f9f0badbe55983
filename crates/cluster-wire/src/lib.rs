//! Sans-IO codec for the wire protocol of `@socket.io/redis-adapter` 8.3.0
//! and `@socket.io/redis-emitter` 5.1.0 (the cluster contract,
//! `docs/contracts/redis-cluster.md`), so ringcast nodes and Node socket.io
//! nodes form one cluster over Redis pub/sub.
//!
//! Nothing here performs IO, reads a clock or knows a Redis client: the
//! caller subscribes, hands each payload (and its channel) to a decoder
//! and publishes what the encoders return.
//!
//! # Layout
//! - [`Value`]: notepack's data model (JSON + binary + `Date`);
//!   [`encode`] / [`decode`] reproduce notepack.io 3.0.1 byte for byte.
//! - [`to_placeholders`] / [`from_placeholders`]: conversion to / from
//!   ringcast's JSON-with-placeholders + attachments representation.
//! - [`js_date_string`]: JavaScript's `Date.prototype.toString` in UTC (the
//!   `time` of a fetched socket's handshake).
//! - [`Channels`]: channel names and classification of incoming channels.
//! - [`BroadcastMessage`] (`[uid, packet, opts]`) with [`Packet`] and
//!   [`BroadcastOpts`]; [`Request`] (types 0-7); [`Response`] (answers,
//!   types 6, 8, 9).
//! - [`resp`]: RESP2, the Redis protocol itself (commands, two-phase reply
//!   decoding, pub/sub pushes, `redis://` URLs), for the bridge's own
//!   Redis client.
//!
//! # Error policy
//! Every decoder treats its input as hostile: no panic, bounded depth and
//! allocation ([`Limits`]). A [`DecodeError`] means: drop the message and
//! count it; it never affects other messages or the Redis connection.
#![deny(missing_docs)]

mod broadcast;
mod channel;
mod date;
mod decode;
mod encode;
mod error;
mod fetch;
mod fields;
mod js_date;
mod json;
mod opts;
mod packet;
mod request;
mod request_codec;
pub mod resp;
mod response;
mod sharded;
mod subscription;
mod token;
mod value;

pub use broadcast::{BroadcastMessage, EMITTER_UID};
pub use channel::{ChannelKind, Channels, DEFAULT_KEY};
pub use decode::{decode, decode_with};
pub use encode::{encode, encode_into, write_int, write_uint};
pub use error::{DecodeError, DecodeErrorKind, EncodeError, Limits};
pub use fetch::{FetchedSocket, Handshake};
pub use js_date::js_date_string;
pub use json::{from_json, from_placeholders, js_number, to_json, to_placeholders};
pub use opts::{BroadcastOpts, Flags, OptsOrder, RoomFilter};
pub use packet::{Packet, EVENT};
pub use request::{Request, RequestBody, RequestType};
pub use response::Response;
pub use sharded::{looks_like_a_socket_id, message_type, ShardedBody, ShardedMessage};
pub use subscription::{BadSubscriptionMode, SubscriptionMode};
pub use value::Value;

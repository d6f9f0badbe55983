//! RESP2, the Redis protocol, sans IO: what the bridge's Redis client
//! needs (commands out; replies and pub/sub pushes in) and the parsing of
//! `redis://` URLs. The caller owns the sockets and the clock.
//!
//! # Reading replies: two phases
//! Bytes from the socket go into a [`ReplyReader`]
//! ([`ReplyReader::handle_bytes`]); [`ReplyReader::poll_reply`] then yields
//! each complete reply. Underneath, [`check`] first walks the buffer and
//! answers "complete, `n` bytes", "incomplete" or "invalid" without
//! allocating (bulk payloads are skipped by their length, so a large reply
//! arriving in many reads costs one walk of its headers per read); only a
//! complete reply is [`parse`]d into a [`Reply`]. This is the websocket
//! codec's shape (`ringcast_proto::ws`) and mini-redis's `Frame::check` /
//! `Frame::parse`.
//!
//! # Invariants
//! - Every length from the network is bounded ([`MAX_BULK`], [`MAX_ARRAY`],
//!   [`MAX_DEPTH`], [`MAX_LINE`]) before anything is allocated; hostile
//!   input is a [`RespError::Invalid`], never a panic.
//! - [`parse`] consumes exactly the bytes [`check`] measured.
//! - A [`RespError::Invalid`] leaves the stream unsynchronized: the caller
//!   drops the connection.

mod command;
mod frame;
mod push;
mod reader;
mod url;

pub use command::command;
pub use frame::{check, parse, Reply, RespError, MAX_ARRAY, MAX_BULK, MAX_DEPTH, MAX_LINE};
pub use push::Push;
pub use reader::ReplyReader;
pub use url::{RedisAddr, RedisUrl, UrlError};

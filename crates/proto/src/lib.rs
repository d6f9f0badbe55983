//! Sans-IO protocol core of ringcast: Engine.IO v4, Socket.IO v5, WebSocket
//! (RFC 6455) framing and the HTTP/1.1 request head.
//!
//! Nothing in this crate performs IO, spawns tasks or reads a clock: every
//! function takes bytes (and, where time matters, a `now: Instant` argument)
//! and returns packets, events or deadlines. That keeps the protocol logic
//! deterministic and testable with literal wire vectors, and lets the
//! compiler enforce the layering (this crate has no runtime dependencies).
//!
//! # Layout
//! - [`engineio`]: Engine.IO packets, the long-polling payload (`0x1e`
//!   separated, `b`+base64 binary), the handshake (open) packet, and the
//!   sans-IO session state machine ([`engineio::session`]: transport and
//!   upgrade, heartbeat and connect deadlines, the bounded outbox).
//! - [`socketio`]: Socket.IO packets and binary attachment placeholders,
//!   the fast EVENT decoder and `Args` (arguments kept as received text).
//! - [`ws`]: WebSocket frame decoder/encoder and the handshake accept key.
//! - [`http`]: HTTP/1.1 request head parsing and response writing.
//! - [`sid`]: session ids and the pure routing function `shard_for`.
//! - [`Utf8Bytes`]: shared bytes checked once to be UTF-8 (a WebSocket text
//!   message, an Engine.IO message), read as `&str` by every layer above.
#![deny(missing_docs)]

pub mod engineio;
pub mod http;
pub mod sid;
pub mod socketio;
pub mod ws;

mod json_util;
mod utf8;

pub use utf8::Utf8Bytes;

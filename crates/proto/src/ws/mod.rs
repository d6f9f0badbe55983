//! WebSocket (RFC 6455) server side: frame decoding with fragment
//! reassembly, frame encoding, and the opening handshake key.
//!
//! # Invariants
//! - [`FrameDecoder`] only consumes complete frames from the caller's
//!   buffer and unmasks them in place; it keeps nothing but the
//!   reassembly buffer of a fragmented message, which never exceeds
//!   `max_message` because frame header lengths are checked against the
//!   limit *before* any payload is waited for or copied.
//! - Every violation of RFC 6455 that a server must detect is an error
//!   carrying the close code to send ([`WsError::close_code`]); after an
//!   error the connection is finished and the decoder must not be reused.
//! - Text messages are valid UTF-8 (checked incrementally across fragments
//!   so an invalid sequence fails fast). Close reasons are valid UTF-8 and
//!   close codes are in the allowed ranges.
//! - Server frames are never masked and never fragmented: one
//!   [`encode_frame`] output is a complete frame, so a broadcast frame can
//!   be built once and written to every receiver.

pub mod deflate;
mod encode;
mod frame;
mod handshake;

pub use encode::{apply_mask, encode_close, encode_frame, encode_frame_header, frame_header_len};
pub use frame::FrameDecoder;
pub use handshake::{accept_key, is_valid_key, AcceptKey, ACCEPT_GUID, SUPPORTED_VERSION};

use bytes::Bytes;

use crate::Utf8Bytes;

/// Frame opcodes (RFC 6455 §5.2).
pub mod opcode {
    /// Continuation of a fragmented message.
    pub const CONTINUATION: u8 = 0;
    /// Text data (UTF-8).
    pub const TEXT: u8 = 1;
    /// Binary data.
    pub const BINARY: u8 = 2;
    /// Connection close.
    pub const CLOSE: u8 = 8;
    /// Ping.
    pub const PING: u8 = 9;
    /// Pong.
    pub const PONG: u8 = 10;
}

/// A complete message received from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (checked to be UTF-8 by the decoder).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping; the server should answer with a pong carrying the same data.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame: the status code (absent when the payload was empty)
    /// and the UTF-8 reason.
    Close(Option<u16>, Bytes),
}

/// A protocol violation by the client. Send a close frame with
/// [`WsError::close_code`] and drop the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WsError {
    /// A framing rule was broken (close code 1002).
    #[error("websocket protocol error: {0}")]
    Protocol(&'static str),
    /// A text message or close reason is not UTF-8 (close code 1007).
    #[error("invalid UTF-8 in websocket text")]
    InvalidUtf8,
    /// A message exceeds the configured maximum (close code 1009).
    #[error("websocket message too large")]
    TooLarge,
}

impl WsError {
    /// The close code to send to the client for this error.
    pub fn close_code(&self) -> u16 {
        match self {
            Self::Protocol(_) => 1002,
            Self::InvalidUtf8 => 1007,
            Self::TooLarge => 1009,
        }
    }
}

/// Whether a close code received from a peer is acceptable: 1000-1003,
/// 1007-1011 or 3000-4999 (1004-1006 and 1015 must never be sent).
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}

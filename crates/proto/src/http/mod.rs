//! HTTP/1.1 for the Engine.IO endpoints: request heads (via `httparse`),
//! chunked request bodies, the query string, and response writing.
//!
//! # Invariants
//! - [`parse_request`] never looks past `max_head_bytes` and fails with
//!   [`HttpError::HeadTooLarge`] once that many bytes arrived without a
//!   complete head, so a slow or endless head costs bounded memory.
//! - Framing is unambiguous or rejected: conflicting `Content-Length`
//!   values, `Content-Length` together with `Transfer-Encoding`, any
//!   transfer coding other than a lone `chunked`, and duplicate `Host`
//!   are errors (request smuggling defenses, RFC 9112 §6.3).
//! - [`ChunkedDecoder`] enforces `max_body` when a chunk size line is
//!   read, before any of that chunk's data is copied.
//! - Response writers strip CR and LF from header names and values, so a
//!   value echoed from a request (e.g. `Origin`) cannot split the response.

mod chunked;
mod headers;
mod query;
mod request;
mod response;

pub use chunked::{ChunkedDecoder, MAX_EXTENSION, MAX_TRAILERS};
pub use headers::Headers;
pub use query::{percent_decode, Query};
pub use request::{parse_request, RequestHead};
pub use response::{reason_phrase, write_head, write_switching_protocols, Response};

/// Request method (only the ones Engine.IO uses are distinguished).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: handshake, long-polling read, WebSocket upgrade.
    Get,
    /// `POST`: long-polling write.
    Post,
    /// `OPTIONS`: CORS preflight.
    Options,
    /// Anything else (answered with an error).
    Other,
}

/// The largest request head [`parse_request`] reads, whatever
/// [`Limits::max_head_bytes`] says: offsets into a head are kept as `u32`.
pub const MAX_HEAD_BYTES: usize = u32::MAX as usize;

/// Limits applied while parsing a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum size of the request line plus headers (default 8192; at
    /// most [`MAX_HEAD_BYTES`], a larger value reads as that).
    pub max_head_bytes: usize,
    /// Maximum number of header fields (default 64).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head_bytes: 8192,
            max_headers: 64,
        }
    }
}

/// A request the server refuses; answer with [`HttpError::status`] and
/// close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The head (or a chunked trailer) exceeds the size limit (431).
    #[error("request header fields too large")]
    HeadTooLarge,
    /// More header fields than allowed (431).
    #[error("too many header fields")]
    TooManyHeaders,
    /// Not a valid HTTP/1.x request, a malformed header value we need, or
    /// malformed chunked framing (400).
    #[error("malformed request")]
    Malformed,
    /// HTTP/1.1 request without `Host` (400).
    #[error("missing Host header")]
    MissingHost,
    /// `Content-Length` invalid, or present several times with differing
    /// values (400).
    #[error("invalid Content-Length")]
    BadContentLength,
    /// Both `Content-Length` and `Transfer-Encoding` (400).
    #[error("both Content-Length and Transfer-Encoding")]
    ContentLengthAndChunked,
    /// A transfer coding other than a single `chunked` (501).
    #[error("unsupported transfer encoding")]
    UnsupportedTransferEncoding,
    /// A chunked body exceeds the allowed size (413).
    #[error("request body too large")]
    BodyTooLarge,
}

impl HttpError {
    /// The HTTP status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::HeadTooLarge | Self::TooManyHeaders => 431,
            Self::Malformed
            | Self::MissingHost
            | Self::BadContentLength
            | Self::ContentLengthAndChunked => 400,
            Self::UnsupportedTransferEncoding => 501,
            Self::BodyTooLarge => 413,
        }
    }
}

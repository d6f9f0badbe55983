//! Errors and decoding limits.
//!
//! Every payload read from Redis is hostile: any publisher on the server can
//! write anything to our channels. Decoders therefore never panic and never
//! allocate more than a small multiple of the input size; whatever they
//! reject comes back as a [`DecodeError`]. The caller's contract is simple:
//! **drop the message and count it** (per error kind if it likes, using
//! [`DecodeError::kind`]); no error is fatal to the node or to the
//! connection to Redis.
//!
//! Encoders only fail on values that Node could not produce either (a
//! string or container beyond `u32::MAX` elements) or on hand-built values
//! nested deeper than [`Limits::max_depth`].

use thiserror::Error;

/// Bounds applied while decoding a payload.
///
/// The defaults are generous for real traffic: a Socket.IO payload parsed
/// by serde_json is at most 128 levels deep, and the adapter wraps it in at
/// most three more (message array, packet map, data array).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum container nesting (the top-level value is depth 1).
    pub max_depth: usize,
    /// Maximum payload size in bytes, checked before anything is parsed.
    pub max_bytes: usize,
}

impl Limits {
    /// 256 levels, 64 MiB.
    pub const DEFAULT: Self = Self {
        max_depth: 256,
        max_bytes: 64 << 20,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a payload was rejected. The caller drops the message and counts it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The payload has no bytes at all.
    #[error("empty payload")]
    Empty,
    /// The payload is larger than [`Limits::max_bytes`].
    #[error("payload of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Payload size.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The msgpack data ends in the middle of a value (or announces more
    /// elements / bytes than the payload has left).
    #[error("msgpack truncated at offset {0}")]
    Truncated(usize),
    /// `0xc1` (never used) or a reserved extension layout.
    #[error("invalid msgpack byte 0x{byte:02x} at offset {offset}")]
    InvalidByte {
        /// The offending marker byte.
        byte: u8,
        /// Its offset in the payload.
        offset: usize,
    },
    /// A timestamp extension (type `-1`) with a payload length notepack
    /// cannot read (ext 8 must carry exactly 12 bytes).
    #[error("malformed msgpack extension at offset {0}")]
    BadExtension(usize),
    /// Containers nest deeper than [`Limits::max_depth`].
    #[error("nesting deeper than {0} levels")]
    TooDeep(usize),
    /// A complete value was read but bytes remain (notepack rejects this too).
    #[error("{0} trailing bytes after the msgpack value")]
    TrailingBytes(usize),
    /// A msgpack map key is neither a string nor an integer.
    #[error("msgpack map key at offset {0} is not a string")]
    NonStringKey(usize),
    /// A payload starting with `{` is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The payload is well-formed but is not the expected message: a
    /// missing field or a field of the wrong type.
    #[error("bad field `{field}`: expected {expected}")]
    Field {
        /// The field (path) at fault, e.g. `opts.rooms`.
        field: &'static str,
        /// What was expected there.
        expected: &'static str,
    },
    /// A request or response `type` this crate does not know.
    #[error("unknown message type {0}")]
    UnknownType(i64),
}

/// Coarse classification of a [`DecodeError`], for metrics labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodeErrorKind {
    /// Empty, too large or too deep: resource limits.
    Limit,
    /// Not valid msgpack / JSON at the byte level.
    Syntax,
    /// Valid encoding, but not a message of the protocol.
    Shape,
}

impl DecodeError {
    /// The coarse kind of this error (a stable metrics label).
    pub fn kind(&self) -> DecodeErrorKind {
        match self {
            Self::Empty | Self::TooLarge { .. } | Self::TooDeep(_) => DecodeErrorKind::Limit,
            Self::Truncated(_)
            | Self::InvalidByte { .. }
            | Self::BadExtension(_)
            | Self::TrailingBytes(_)
            | Self::NonStringKey(_)
            | Self::Json(_) => DecodeErrorKind::Syntax,
            Self::Field { .. } | Self::UnknownType(_) => DecodeErrorKind::Shape,
        }
    }

    pub(crate) fn field(field: &'static str, expected: &'static str) -> Self {
        Self::Field { field, expected }
    }
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// A string, binary, array or map has more than `u32::MAX` elements /
    /// bytes (notepack throws "String too long" and friends).
    #[error("{0} too large for msgpack")]
    TooLarge(&'static str),
    /// The value nests deeper than [`Limits::max_depth`] of
    /// [`Limits::DEFAULT`] (guards the recursive encoder's stack).
    #[error("value nests deeper than {0} levels")]
    TooDeep(usize),
}

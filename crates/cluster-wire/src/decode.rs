//! Bounded msgpack decoder with notepack.io 3.0.1 semantics.
//!
//! It accepts every msgpack form (not only the ones notepack writes:
//! float32, non-minimal lengths, ...) and maps extension types the way
//! notepack's decoder does, so a [`Value`] holds what a Node peer would see:
//! - `d4 00 xx` (fixext 1, type 0) is `undefined`: `null` inside an array,
//!   an omitted entry inside a map, `null` at the top;
//! - ext 8/16/32 of type 0 is an `ArrayBuffer`: [`Value::Binary`];
//! - timestamps (`d6 ff`, `d7 ff`, `c7 0c ff`) and the legacy `d7 00` are
//!   [`Value::Date`];
//! - any other extension is `[type, <Buffer>]`;
//! - invalid UTF-8 in a string becomes U+FFFD (`Buffer.toString("utf8")`);
//! - integer map keys become their decimal string (JS property keys).
//!
//! # Invariants (hostile input)
//! - Never panics; every read is bounds-checked.
//! - Nesting is capped by [`Limits::max_depth`]; decoding is iterative
//!   (no recursion), so even a huge limit cannot exhaust the call stack.
//! - A container's element count is checked against the bytes left
//!   (each element takes at least one byte) and at most 1024 elements are
//!   reserved up front, so allocation stays proportional to the elements
//!   actually present.
//! - Binary values are zero-copy slices of the input [`Bytes`].
//! - Trailing bytes after the value are an error, as in notepack.

use bytes::Bytes;

use crate::token::{Reader, Token};
use crate::{DecodeError, Limits, Value};

/// Decodes one msgpack value with the default [`Limits`].
pub fn decode(payload: &Bytes) -> Result<Value, DecodeError> {
    decode_with(payload, &Limits::DEFAULT)
}

/// Decodes one msgpack value that must span all of `payload`.
pub fn decode_with(payload: &Bytes, limits: &Limits) -> Result<Value, DecodeError> {
    check_size(payload, limits)?;
    let mut r = Reader::new(payload);
    let value = read_value(&mut r, limits.max_depth)?.unwrap_or(Value::Nil);
    match payload.len() - r.pos() {
        0 => Ok(value),
        n => Err(DecodeError::TrailingBytes(n)),
    }
}

/// The checks shared by every decoder: not empty, not above the limit.
pub(crate) fn check_size(payload: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    if payload.is_empty() {
        return Err(DecodeError::Empty);
    }
    if payload.len() > limits.max_bytes {
        return Err(DecodeError::TooLarge {
            len: payload.len(),
            max: limits.max_bytes,
        });
    }
    Ok(())
}

/// One complete value, iteratively (an explicit stack of open
/// containers, so hostile nesting cannot exhaust the call stack).
/// `None` is JavaScript `undefined`.
fn read_value(r: &mut Reader<'_>, max_depth: usize) -> Result<Option<Value>, DecodeError> {
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let offset = r.pos();
        let wants_key = matches!(stack.last(), Some(Frame::Map { key: None, .. }));
        let mut item = match r.token()? {
            Token::Scalar(v) => v,
            Token::Array(_) | Token::Map(_) if wants_key => {
                return Err(DecodeError::NonStringKey(offset))
            }
            _ if stack.len() >= max_depth => return Err(DecodeError::TooDeep(max_depth)),
            Token::Array(0) => Some(Value::Array(Vec::new())),
            Token::Map(0) => Some(Value::Map(Vec::new())),
            Token::Array(n) => {
                let items = Vec::with_capacity(r.capacity(n, n)?);
                stack.push(Frame::Array { items, left: n });
                continue;
            }
            Token::Map(n) => {
                let entries = Vec::with_capacity(r.capacity(n, n.saturating_mul(2))?);
                stack.push(Frame::Map {
                    entries,
                    left: n,
                    key: None,
                });
                continue;
            }
        };
        // Hand the finished item to its container, closing every
        // container it completes.
        loop {
            let Some(top) = stack.last_mut() else {
                return Ok(item);
            };
            let complete = match top {
                Frame::Array { items, left } => {
                    items.push(item.take().unwrap_or(Value::Nil));
                    *left -= 1;
                    *left == 0
                }
                Frame::Map {
                    key: key @ None, ..
                } => {
                    *key = Some(match item.take() {
                        Some(Value::Str(s)) => s,
                        Some(Value::Int(i)) => i.to_string(),
                        Some(Value::UInt(u)) => u.to_string(),
                        _ => return Err(DecodeError::NonStringKey(offset)),
                    });
                    false
                }
                Frame::Map { entries, left, key } => {
                    if let (Some(k), Some(v)) = (key.take(), item.take()) {
                        entries.push((k, v));
                    }
                    *left -= 1;
                    *left == 0
                }
            };
            if !complete {
                break;
            }
            item = stack.pop().map(Frame::into_value);
        }
    }
}

/// A container being filled.
enum Frame {
    Array {
        items: Vec<Value>,
        left: usize,
    },
    Map {
        entries: Vec<(String, Value)>,
        left: usize,
        /// The key read, waiting for its value.
        key: Option<String>,
    },
}

impl Frame {
    fn into_value(self) -> Value {
        match self {
            Self::Array { items, .. } => Value::Array(items),
            Self::Map { entries, .. } => Value::Map(entries),
        }
    }
}

//! The byte-level half of the msgpack decoder: a bounds-checked reader
//! that yields one scalar or one container header at a time, with
//! notepack.io 3.0.1's extension semantics (see [`crate::decode`]).
//!
//! # Invariants
//! - Every read is bounds-checked: running out of bytes is
//!   [`DecodeError::Truncated`] at the offset where the read started.
//! - Binary values are zero-copy slices of the input [`Bytes`].
//! - Strings are decoded lossily (U+FFFD), as `Buffer.toString("utf8")`.

use bytes::Bytes;

use crate::{date, DecodeError, Value};

/// Most elements reserved up front for one container.
const MAX_RESERVE: usize = 1024;

/// What [`Reader::token`] read.
pub(crate) enum Token {
    /// A complete scalar (`None`: `undefined`).
    Scalar(Option<Value>),
    /// An array header with its element count.
    Array(usize),
    /// A map header with its entry count.
    Map(usize),
}

/// A cursor over the payload.
pub(crate) struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a Bytes) -> Self {
        Self { buf, pos: 0 }
    }

    /// The offset of the next byte.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(DecodeError::Truncated(self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<usize, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?).into())
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn len32(&mut self) -> Result<usize, DecodeError> {
        usize::try_from(self.u32()?).map_err(|_| DecodeError::Truncated(self.pos))
    }

    fn i8(&mut self) -> Result<i8, DecodeError> {
        Ok(self.u8()? as i8)
    }

    fn bin(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        self.take(n)?;
        Ok(self.buf.slice(start..self.pos))
    }

    fn str(&mut self, n: usize) -> Result<String, DecodeError> {
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }

    /// Fails unless at least `min_bytes` more bytes exist; returns the
    /// capacity to reserve for `n` elements (capped: the vector grows as
    /// elements actually arrive).
    pub(crate) fn capacity(&self, n: usize, min_bytes: usize) -> Result<usize, DecodeError> {
        if min_bytes > self.buf.len() - self.pos {
            Err(DecodeError::Truncated(self.pos))
        } else {
            Ok(n.min(MAX_RESERVE))
        }
    }

    /// The next scalar, or the header of a container.
    pub(crate) fn token(&mut self) -> Result<Token, DecodeError> {
        let offset = self.pos;
        let marker = self.u8()?;
        let v = match marker {
            0x00..=0x7f => Value::Int(marker.into()),
            0x80..=0x8f => return Ok(Token::Map(usize::from(marker & 0x0f))),
            0x90..=0x9f => return Ok(Token::Array(usize::from(marker & 0x0f))),
            0xa0..=0xbf => Value::Str(self.str(usize::from(marker & 0x1f))?),
            0xc0 => Value::Nil,
            0xc1 => {
                return Err(DecodeError::InvalidByte {
                    byte: marker,
                    offset,
                })
            }
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 => {
                let n = self.u8()?.into();
                Value::Binary(self.bin(n)?)
            }
            0xc5 => {
                let n = self.u16()?;
                Value::Binary(self.bin(n)?)
            }
            0xc6 => {
                let n = self.len32()?;
                Value::Binary(self.bin(n)?)
            }
            0xc7 => {
                let n = self.u8()?.into();
                self.ext(n, offset, true)?
            }
            0xc8 => {
                let n = self.u16()?;
                self.ext(n, offset, false)?
            }
            0xc9 => {
                let n = self.len32()?;
                self.ext(n, offset, false)?
            }
            0xca => Value::Float(f32::from_be_bytes(self.array()?).into()),
            0xcb => Value::Float(f64::from_be_bytes(self.array()?)),
            0xcc => Value::Int(self.u8()?.into()),
            0xcd => Value::Int(u16::from_be_bytes(self.array()?).into()),
            0xce => Value::Int(self.u32()?.into()),
            0xcf => Value::from(u64::from_be_bytes(self.array()?)),
            0xd0 => Value::Int(self.i8()?.into()),
            0xd1 => Value::Int(i16::from_be_bytes(self.array()?).into()),
            0xd2 => Value::Int(i32::from_be_bytes(self.array()?).into()),
            0xd3 => Value::Int(i64::from_be_bytes(self.array()?)),
            0xd4..=0xd8 => return self.fixext(1 << (marker - 0xd4)).map(Token::Scalar),
            0xd9 => {
                let n = self.u8()?.into();
                Value::Str(self.str(n)?)
            }
            0xda => {
                let n = self.u16()?;
                Value::Str(self.str(n)?)
            }
            0xdb => {
                let n = self.len32()?;
                Value::Str(self.str(n)?)
            }
            0xdc => return Ok(Token::Array(self.u16()?)),
            0xdd => return Ok(Token::Array(self.len32()?)),
            0xde => return Ok(Token::Map(self.u16()?)),
            0xdf => return Ok(Token::Map(self.len32()?)),
            0xe0..=0xff => Value::Int((marker as i8).into()),
        };
        Ok(Token::Scalar(Some(v)))
    }

    /// ext 8/16/32 (`c7`/`c8`/`c9`); only ext 8 knows timestamp 96.
    fn ext(&mut self, n: usize, offset: usize, ext8: bool) -> Result<Value, DecodeError> {
        match self.i8()? {
            0 => Ok(Value::Binary(self.bin(n)?)),
            -1 if ext8 => {
                if n != 12 {
                    return Err(DecodeError::BadExtension(offset));
                }
                let ns = self.u32()?;
                let hi = i32::from_be_bytes(self.array()?);
                let lo = self.u32()?;
                Ok(Value::Date(date::from_ts96(ns, hi, lo)))
            }
            t => Ok(tagged(t, self.bin(n)?)),
        }
    }

    /// fixext 1/2/4/8/16 (`d4`..`d8`).
    fn fixext(&mut self, n: usize) -> Result<Option<Value>, DecodeError> {
        let t = self.i8()?;
        let v = match (n, t) {
            (1, 0) => {
                self.take(1)?;
                return Ok(None);
            }
            (4, -1) => Value::Date(date::from_ts32(self.u32()?)),
            (8, -1) => {
                let hi = self.u32()?;
                Value::Date(date::from_ts64(hi, self.u32()?))
            }
            (8, 0) => {
                let hi = i32::from_be_bytes(self.array()?);
                Value::Date(date::from_legacy_ms(hi, self.u32()?))
            }
            _ => tagged(t, self.bin(n)?),
        };
        Ok(Some(v))
    }
}

/// notepack's `[type, Buffer]` for extension types it does not know.
fn tagged(t: i8, data: Bytes) -> Value {
    Value::Array(vec![Value::Int(t.into()), Value::Binary(data)])
}

//! msgpack encoder that reproduces notepack.io 3.0.1 byte for byte.
//!
//! notepack's choices (contract section 3.4), all reproduced here:
//! - every integral finite number is an integer in its **smallest** form:
//!   positive fixint, `uint8..uint64` for values `>= 0` (including `-0`),
//!   negative fixint, `int8..int64` below zero; a value's sign alone picks
//!   the family (`-1` is `0xff`, `200` is `cc c8`, never `int16`);
//! - every other number (fractional, NaN, ±Infinity) is float64 `0xcb`,
//!   never float32;
//! - strings use fixstr / **str8** / str16 / str32 by UTF-8 byte length;
//!   binary bin8 / bin16 / bin32; arrays fixarray / array16 / array32;
//!   maps fixmap / map16 / map32, keys in insertion order;
//! - `Date` uses the timestamp extension (see [`crate::date`]).
//!
//! One deliberate difference: notepack corrupts integral numbers of
//! magnitude `>= 2^64` (`1e300` becomes `cf 00..00`, i.e. `0`); this
//! encoder writes them as float64, which every msgpack decoder (notepack
//! included) reads back as the same number. Node never produces them on
//! the wire as integers worth preserving.
//!
//! # Invariants
//! - `encode(&decode(b)?)? == b` for every `b` notepack can produce.
//! - Output is deterministic: the same [`Value`] always gives the same bytes.
//! - Recursion is bounded by [`Limits::DEFAULT`]`.max_depth`.

use bytes::Bytes;

use crate::{date, EncodeError, Limits, Value};

/// Encodes `value` as notepack would.
pub fn encode(value: &Value) -> Result<Bytes, EncodeError> {
    let mut out = Vec::new();
    encode_into(value, &mut out)?;
    Ok(Bytes::from(out))
}

/// Appends notepack's encoding of `value` to `out`. On error `out` may hold
/// a partial encoding; discard it.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write(value, out, 1)
}

fn write(value: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), EncodeError> {
    let max = Limits::DEFAULT.max_depth;
    match value {
        Value::Nil => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Int(i) => write_int(*i, out),
        Value::UInt(u) => write_uint(*u, out),
        Value::Float(f) => write_number(*f, out),
        Value::Str(s) => write_str(s, out)?,
        Value::Binary(b) => {
            write_len(b.len(), [0xc4, 0xc5, 0xc6], out, "binary")?;
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            if depth > max {
                return Err(EncodeError::TooDeep(max));
            }
            write_container_len(items.len(), 0x90, [0xdc, 0xdd], out, "array")?;
            for item in items {
                write(item, out, depth + 1)?;
            }
        }
        Value::Map(entries) => {
            if depth > max {
                return Err(EncodeError::TooDeep(max));
            }
            write_container_len(entries.len(), 0x80, [0xde, 0xdf], out, "map")?;
            for (key, v) in entries {
                write_str(key, out)?;
                write(v, out, depth + 1)?;
            }
        }
        Value::Date(t) => date::encode(*t, out),
    }
    Ok(())
}

/// A JS number: integer forms when integral and finite, else float64.
fn write_number(f: f64, out: &mut Vec<u8>) {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    if f.is_finite() && f.floor() == f {
        // `-0.0 >= 0.0` holds, so `-0` is `0x00` as in notepack.
        if (0.0..TWO_64).contains(&f) {
            return write_uint(f as u64, out);
        }
        if (-TWO_63..0.0).contains(&f) {
            return write_int(f as i64, out);
        }
    }
    out.push(0xcb);
    out.extend_from_slice(&f.to_bits().to_be_bytes());
}

/// A msgpack unsigned integer in its shortest form (positive fixint, uint
/// 8/16/32/64), as notepack writes it. Also used by the Socket.IO msgpack
/// parser in `ringcast-proto`.
pub fn write_uint(u: u64, out: &mut Vec<u8>) {
    match u {
        0..=0x7f => out.push(u as u8),
        0x80..=0xff => out.extend_from_slice(&[0xcc, u as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        }
        _ => {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    }
}

/// A msgpack signed integer in its shortest form (non-negative values as
/// [`write_uint`]; negative fixint, int 8/16/32/64).
pub fn write_int(i: i64, out: &mut Vec<u8>) {
    if let Ok(u) = u64::try_from(i) {
        return write_uint(u, out);
    }
    if i >= -0x20 {
        out.push(i as u8);
    } else if let Ok(b) = i8::try_from(i) {
        out.extend_from_slice(&[0xd0, b as u8]);
    } else if let Ok(h) = i16::try_from(i) {
        out.push(0xd1);
        out.extend_from_slice(&h.to_be_bytes());
    } else if let Ok(w) = i32::try_from(i) {
        out.push(0xd2);
        out.extend_from_slice(&w.to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if s.len() < 32 {
        out.push(0xa0 | s.len() as u8);
    } else {
        write_len(s.len(), [0xd9, 0xda, 0xdb], out, "string")?;
    }
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// 8 / 16 / 32-bit length prefixes (`markers` in that order).
fn write_len(
    len: usize,
    markers: [u8; 3],
    out: &mut Vec<u8>,
    what: &'static str,
) -> Result<(), EncodeError> {
    if let Ok(b) = u8::try_from(len) {
        out.extend_from_slice(&[markers[0], b]);
    } else if let Ok(h) = u16::try_from(len) {
        out.push(markers[1]);
        out.extend_from_slice(&h.to_be_bytes());
    } else if let Ok(w) = u32::try_from(len) {
        out.push(markers[2]);
        out.extend_from_slice(&w.to_be_bytes());
    } else {
        return Err(EncodeError::TooLarge(what));
    }
    Ok(())
}

/// fix (4-bit) / 16 / 32-bit element counts.
fn write_container_len(
    len: usize,
    fix: u8,
    markers: [u8; 2],
    out: &mut Vec<u8>,
    what: &'static str,
) -> Result<(), EncodeError> {
    if len < 16 {
        out.push(fix | len as u8);
    } else if let Ok(h) = u16::try_from(len) {
        out.push(markers[0]);
        out.extend_from_slice(&h.to_be_bytes());
    } else if let Ok(w) = u32::try_from(len) {
        out.push(markers[1]);
        out.extend_from_slice(&w.to_be_bytes());
    } else {
        return Err(EncodeError::TooLarge(what));
    }
    Ok(())
}

/// Fails if `v` nests deeper than the default limit (checked before a
/// recursive conversion such as [`crate::to_json`]).
pub(crate) fn check_depth(v: &Value) -> Result<(), EncodeError> {
    fn walk(v: &Value, depth: usize, max: usize) -> Result<(), EncodeError> {
        let children: &mut dyn Iterator<Item = &Value> = match v {
            Value::Array(items) => &mut items.iter(),
            Value::Map(entries) => &mut entries.iter().map(|(_, v)| v),
            _ => return Ok(()),
        };
        if depth > max {
            return Err(EncodeError::TooDeep(max));
        }
        for c in children {
            walk(c, depth + 1, max)?;
        }
        Ok(())
    }
    walk(v, 1, Limits::DEFAULT.max_depth)
}

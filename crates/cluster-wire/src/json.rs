//! Conversions between [`Value`] and ringcast's JSON representation.
//!
//! ringcast keeps Socket.IO payloads as `serde_json::Value` in which binary
//! is replaced by placeholders `{"_placeholder":true,"num":N}`, with the
//! buffers alongside in a `Vec<Bytes>` (exactly what a BINARY_EVENT carries
//! to clients). On the Redis side binary stays raw msgpack `bin`.
//!
//! - [`to_placeholders`] / [`from_placeholders`]: the two directions, as
//!   `socket.io-parser`'s `deconstructPacket` / `reconstructPacket` do it:
//!   placeholders are numbered depth first in traversal order (array
//!   elements in order, object entries in key order).
//! - [`to_json`] / [`from_json`]: plain JSON with no placeholders, as
//!   `JSON.stringify` / `JSON.parse` would see the value (a `Buffer` becomes
//!   `{"type":"Buffer","data":[..]}`); used for the JSON requests and
//!   responses of the adapter.
//!
//! # Invariants
//! - Numbers print as JavaScript would: an integral float below 2^53 in
//!   magnitude becomes a JSON integer (`2.0` -> `2`, `-0` -> `0`); NaN and
//!   ±Infinity become `null`.
//! - A `Date` becomes its ISO string (`Date.prototype.toJSON`), `null` if
//!   invalid. `from_*` never produce dates.
//! - Duplicate map keys resolve as in a JavaScript object: the first
//!   position, the last value; only surviving binaries get a placeholder.
//! - `from_placeholders(&to_placeholders(v))` gives back `v` for every `v`
//!   without dates, non-finite floats, duplicate keys or maps that look
//!   like placeholders.
//! - Recursion depth equals the value's depth: bounded by the decoder's
//!   [`crate::Limits::max_depth`] and serde_json's parse limit of 128.

use bytes::Bytes;
use serde_json::{Map, Number, Value as Json};

use crate::{date, Value};

/// Replaces every binary in `value` by a placeholder; returns the JSON and
/// the attachments in placeholder order.
pub fn to_placeholders(value: &Value) -> (Json, Vec<Bytes>) {
    let mut attachments = Vec::new();
    let json = placeholders_into(value, &mut attachments);
    (json, attachments)
}

/// [`to_placeholders`] continuing the numbering after `attachments`.
pub(crate) fn placeholders_into(value: &Value, attachments: &mut Vec<Bytes>) -> Json {
    convert(value, &mut |b: &Bytes| {
        let num = attachments.len();
        attachments.push(b.clone());
        placeholder(num)
    })
}

/// The inverse of [`to_placeholders`]: each well-formed placeholder whose
/// `num` indexes `attachments` becomes [`Value::Binary`]. Other objects,
/// including placeholders with a bad `num` (which ringcast's Socket.IO
/// decoder already rejects), stay maps.
pub fn from_placeholders(json: &Json, attachments: &[Bytes]) -> Value {
    back(json, Some(attachments))
}

/// `JSON.stringify` semantics: a binary becomes Node's `Buffer.toJSON()`
/// form `{"type":"Buffer","data":[bytes..]}`.
pub fn to_json(value: &Value) -> Json {
    convert(value, &mut |b: &Bytes| {
        let mut m = Map::with_capacity(2);
        m.insert("type".to_owned(), Json::from("Buffer"));
        m.insert(
            "data".to_owned(),
            Json::Array(b.iter().map(|&x| Json::from(x)).collect()),
        );
        Json::Object(m)
    })
}

/// Plain JSON to [`Value`] (no placeholder is interpreted).
pub fn from_json(json: &Json) -> Value {
    back(json, None)
}

/// The JSON number a JavaScript number `f` prints as.
pub fn js_number(f: f64) -> Json {
    const TWO_53: f64 = 9_007_199_254_740_992.0;
    if f.fract() == 0.0 && f.abs() < TWO_53 {
        Json::from(f as i64)
    } else {
        Number::from_f64(f).map_or(Json::Null, Json::Number)
    }
}

fn placeholder(num: usize) -> Json {
    let mut m = Map::with_capacity(2);
    m.insert("_placeholder".to_owned(), Json::Bool(true));
    m.insert("num".to_owned(), Json::from(num));
    Json::Object(m)
}

fn convert(value: &Value, bin: &mut dyn FnMut(&Bytes) -> Json) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => Json::from(*u),
        Value::Float(f) => js_number(*f),
        Value::Str(s) => Json::String(s.clone()),
        Value::Binary(b) => bin(b),
        Value::Array(items) => Json::Array(items.iter().map(|v| convert(v, bin)).collect()),
        Value::Map(entries) => {
            let mut m = Map::with_capacity(entries.len());
            for (k, v) in js_entries(entries) {
                m.insert(k.to_owned(), convert(v, bin));
            }
            Json::Object(m)
        }
        Value::Date(t) => date::to_iso_string(*t).map_or(Json::Null, Json::String),
    }
}

/// The entries of a JavaScript object built from `entries` by assignment:
/// each key at its first position with its last value.
pub(crate) fn js_entries(entries: &[(String, Value)]) -> Vec<(&str, &Value)> {
    let mut out: Vec<(&str, &Value)> = Vec::with_capacity(entries.len());
    if entries.len() <= 16 {
        for (k, v) in entries {
            match out.iter_mut().find(|(seen, _)| *seen == k.as_str()) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
    } else {
        let mut index = std::collections::HashMap::with_capacity(entries.len());
        for (k, v) in entries {
            match index.get(k.as_str()) {
                Some(&i) => out[i] = (k.as_str(), v),
                None => {
                    index.insert(k.as_str(), out.len());
                    out.push((k, v));
                }
            }
        }
    }
    out
}

fn back(json: &Json, attachments: Option<&[Bytes]>) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(|j| back(j, attachments)).collect()),
        Json::Object(m) => {
            if let Some(bin) = attachments.and_then(|a| placeholder_target(m, a)) {
                return Value::Binary(bin.clone());
            }
            Value::Map(
                m.iter()
                    .map(|(k, j)| (k.clone(), back(j, attachments)))
                    .collect(),
            )
        }
    }
}

/// The attachment a placeholder object refers to, if it is one.
fn placeholder_target<'a>(m: &Map<String, Json>, attachments: &'a [Bytes]) -> Option<&'a Bytes> {
    if m.get("_placeholder") != Some(&Json::Bool(true)) {
        return None;
    }
    let num = usize::try_from(m.get("num")?.as_u64()?).ok()?;
    attachments.get(num)
}

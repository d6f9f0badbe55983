//! Crate-private helpers: read typed fields out of a decoded [`Value`] map
//! and turn a payload (JSON or msgpack) into a [`Value`].
//!
//! Leniency follows what the Node adapter tolerates: an absent (or `null`)
//! room list is empty (`new Set(undefined)`), an absent `close` is false,
//! room names that are integers become their decimal string (JavaScript
//! rooms may be numbers). Anything else of the wrong type is a
//! [`DecodeError::Field`].

use bytes::Bytes;

use crate::decode::check_size;
use crate::{decode_with, json, DecodeError, Limits, Value};

/// Decodes a request / response payload: JSON when the first byte is `{`,
/// msgpack otherwise (the adapter's rule). The result must be a map.
pub(crate) fn payload_map(payload: &Bytes, limits: &Limits) -> Result<Value, DecodeError> {
    check_size(payload, limits)?;
    let v = if payload[0] == b'{' {
        // Node parses `msg.toString()`: invalid UTF-8 becomes U+FFFD.
        let text = String::from_utf8_lossy(payload);
        let j: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| DecodeError::Json(e.to_string()))?;
        json::from_json(&j)
    } else {
        decode_with(payload, limits)?
    };
    match v {
        Value::Map(_) => Ok(v),
        _ => Err(DecodeError::field("<message>", "a map")),
    }
}

/// `map[key]`, treating `null` as absent.
pub(crate) fn get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_nil())
}

/// A required map (`null` counts as missing).
pub(crate) fn map<'a>(
    v: &'a Value,
    key: &str,
    field: &'static str,
) -> Result<&'a Value, DecodeError> {
    match get(v, key) {
        Some(m @ Value::Map(_)) => Ok(m),
        _ => Err(DecodeError::field(field, "a map")),
    }
}

/// A required string.
pub(crate) fn string(v: &Value, key: &str, field: &'static str) -> Result<String, DecodeError> {
    opt_string(v, key, field)?.ok_or(DecodeError::field(field, "a string"))
}

/// An optional string (absent or `null` is `None`).
pub(crate) fn opt_string(
    v: &Value,
    key: &str,
    field: &'static str,
) -> Result<Option<String>, DecodeError> {
    match get(v, key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(DecodeError::field(field, "a string")),
    }
}

/// A boolean; absent or `null` is `false`.
pub(crate) fn flag(v: &Value, key: &str, field: &'static str) -> Result<bool, DecodeError> {
    match get(v, key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(DecodeError::field(field, "a boolean")),
    }
}

/// The message's `type` as an integer.
pub(crate) fn type_num(v: &Value) -> Result<i64, DecodeError> {
    get(v, "type")
        .and_then(Value::as_i64)
        .ok_or(DecodeError::field("type", "an integer"))
}

/// A room name: a string, or an integer as its decimal string.
pub(crate) fn room(v: &Value, field: &'static str) -> Result<String, DecodeError> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        Value::Int(i) => Ok(i.to_string()),
        Value::UInt(u) => Ok(u.to_string()),
        _ => Err(DecodeError::field(field, "an array of strings")),
    }
}

/// A list of rooms; absent or `null` is empty.
pub(crate) fn rooms(v: &Value, key: &str, field: &'static str) -> Result<Vec<String>, DecodeError> {
    match get(v, key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|r| room(r, field)).collect(),
        Some(_) => Err(DecodeError::field(field, "an array of strings")),
    }
}

/// A JSON array of strings.
pub(crate) fn json_strings(items: &[String]) -> serde_json::Value {
    serde_json::Value::Array(
        items
            .iter()
            .map(|s| serde_json::Value::from(s.as_str()))
            .collect(),
    )
}

/// Serializes a JSON object to the payload bytes (compact, key order kept).
pub(crate) fn json_bytes(map: serde_json::Map<String, serde_json::Value>) -> Bytes {
    // Serializing a `serde_json::Value` to a Vec cannot fail.
    Bytes::from(serde_json::to_vec(&serde_json::Value::Object(map)).unwrap_or_default())
}

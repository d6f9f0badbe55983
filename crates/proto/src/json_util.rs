//! Crate-private helper: serialize JSON straight into a `String`.
//!
//! serde_json writes bytes; the `String`'s buffer is borrowed as a `Vec<u8>`
//! for the duration and validated once at the end (serde_json only emits
//! UTF-8, so the check never fails in practice; no `unsafe` needed). This is
//! ~3x faster than validating each of serde_json's many small writes.

use serde::Serialize;

/// Appends the compact JSON encoding of `value` to `out`.
///
/// Serializing a `serde_json::Value` or a `str` cannot fail; for other types
/// a serialization error leaves `out` unchanged.
pub(crate) fn write_json<T: Serialize + ?Sized>(out: &mut String, value: &T) {
    let mut buf = std::mem::take(out).into_bytes();
    let before = buf.len();
    if serde_json::to_writer(&mut buf, value).is_err() {
        debug_assert!(false, "JSON serialization failed");
        buf.truncate(before);
    }
    *out = String::from_utf8(buf).unwrap_or_else(|e| {
        // Unreachable with serde_json; keep the valid prefix if it ever happens.
        let mut bytes = e.into_bytes();
        bytes.truncate(before);
        String::from_utf8(bytes).unwrap_or_default()
    });
}

/// Rewrites floats that JavaScript would print as integers (`1e3`, `2.0`,
/// `-0`) as integers, so re-encoded JSON matches what Node sends back
/// (`JSON.stringify(JSON.parse("1e3")) === "1000"`).
pub(crate) fn normalize_js_numbers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64() {
                // 2^53: beyond it JavaScript integers are no longer exact.
                if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                    *v = Value::from(f as i64);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalize_js_numbers),
        Value::Object(o) => o.values_mut().for_each(normalize_js_numbers),
        _ => {}
    }
}

/// Whether JSON text may hold a float that [`normalize_js_numbers`] changes.
pub(crate) fn may_hold_float(text: &str) -> bool {
    text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) || text.contains("-0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_strings_and_values() {
        let mut s = String::from("x");
        write_json(&mut s, "a\"b\n\u{1}é");
        assert_eq!(s, "x\"a\\\"b\\n\\u0001é\"");
        let mut s = String::new();
        write_json(&mut s, &serde_json::json!({"b":1,"a":[true,null,"x"]}));
        assert_eq!(s, r#"{"b":1,"a":[true,null,"x"]}"#);
    }

    #[test]
    fn js_number_normalization() {
        let mut v: serde_json::Value = serde_json::from_str("[1e3,2.0,-0,1.5,[3E0]]").unwrap();
        normalize_js_numbers(&mut v);
        assert_eq!(v.to_string(), "[1000,2,0,1.5,[3]]");
    }
}

//! Crate-private helper: serialize JSON straight into a `String`.
//!
//! serde_json writes through `io::Write`; its compact formatter only ever
//! emits complete UTF-8 sequences per `write` call (serde_json's own
//! `Display for Value` relies on that). We still re-check each chunk with
//! `str::from_utf8` so no `unsafe` is needed: a violation would surface as a
//! serialization error, and the output is rolled back.

use std::io;

use serde::Serialize;

struct StrWriter<'a>(&'a mut String);

impl io::Write for StrWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let s =
            std::str::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.0.push_str(s);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Appends the compact JSON encoding of `value` to `out`.
///
/// Serializing a `serde_json::Value` or a `str` cannot fail; for other types
/// a serialization error leaves `out` unchanged.
pub(crate) fn write_json<T: Serialize + ?Sized>(out: &mut String, value: &T) {
    let before = out.len();
    if serde_json::to_writer(StrWriter(out), value).is_err() {
        debug_assert!(false, "JSON serialization failed");
        out.truncate(before);
    }
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

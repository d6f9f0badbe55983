//! Crate-private helpers: serialize JSON straight into a `String`.
//!
//! serde_json writes bytes. They go to a reused per-thread buffer, are
//! validated there once (serde_json only emits UTF-8, so the check never
//! fails in practice; no `unsafe` needed) and appended: the cost is the
//! value's own length, however long `out` already is (validating `out`
//! whole after each value made a packet of many arguments quadratic), and
//! ~3x less than validating each of serde_json's many small writes.

use std::cell::RefCell;

use serde::Serialize;

thread_local! {
    /// serde_json's output before it is appended (its capacity is kept).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The scratch buffer keeps at most this much capacity between calls.
const SCRATCH_KEEP: usize = 64 * 1024;

/// Appends the compact JSON encoding of `value` to `out`.
///
/// Serializing a `serde_json::Value` or a `str` cannot fail; for other types
/// a serialization error leaves `out` unchanged.
pub(crate) fn write_json<T: Serialize + ?Sized>(out: &mut String, value: &T) {
    SCRATCH.with(|scratch| {
        // A value's `Serialize` may itself write JSON (re-entrant): then
        // the inner call uses a buffer of its own.
        let Ok(mut buf) = scratch.try_borrow_mut() else {
            return write_json_with(out, value, &mut Vec::new());
        };
        write_json_with(out, value, &mut buf);
        if buf.capacity() > SCRATCH_KEEP {
            *buf = Vec::new();
        }
    });
}

fn write_json_with<T: Serialize + ?Sized>(out: &mut String, value: &T, buf: &mut Vec<u8>) {
    buf.clear();
    if serde_json::to_writer(&mut *buf, value).is_err() {
        debug_assert!(false, "JSON serialization failed");
        return;
    }
    match std::str::from_utf8(buf) {
        Ok(text) => out.push_str(text),
        // Unreachable with serde_json.
        Err(_) => debug_assert!(false, "serde_json wrote invalid UTF-8"),
    }
}

/// Appends `s` as a JSON string. Text that needs no escape (no `"`, `\`
/// or control character: event names, ids, most messages) is copied
/// between quotes as it is; anything else goes through serde_json.
pub(crate) fn write_json_str(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        write_json(out, s);
    }
}

/// Appends `n` in decimal. `write!(out, "{n}")` goes through
/// `core::fmt` (a formatter, a trait object, padding checks): a
/// measurable share of encoding a small ACK, which every packet id takes.
pub(crate) fn push_decimal(out: &mut String, mut n: u64) {
    // u64::MAX has 20 digits.
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
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
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for text in [
            "",
            "auth",
            "a b/c~é\u{7f}",
            "a\"b",
            "a\\b",
            "\n",
            "\u{1f}",
            "x\u{0}y",
        ] {
            let mut fast = String::from("[");
            write_json_str(&mut fast, text);
            assert_eq!(
                fast,
                format!("[{}", serde_json::to_string(text).unwrap()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_value_that_writes_json_itself_is_written_whole() {
        struct Nested;
        impl Serialize for Nested {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut inner = String::new();
                write_json(&mut inner, &[1, 2]);
                s.serialize_str(&inner)
            }
        }
        let mut s = String::from("x");
        write_json(&mut s, &[Nested]);
        assert_eq!(s, r#"x["[1,2]"]"#);
    }

    #[test]
    fn js_number_normalization() {
        let mut v: serde_json::Value = serde_json::from_str("[1e3,2.0,-0,1.5,[3E0]]").unwrap();
        normalize_js_numbers(&mut v);
        assert_eq!(v.to_string(), "[1000,2,0,1.5,[3]]");
    }
}

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
}

//! A request's header fields, kept in one allocation.
//!
//! A request head has a dozen fields or so and the server reads few of them
//! (most go to the application's handshake record as they are), so they
//! are stored as text, `name: value` lines, rather than as a pair of
//! strings per field: one allocation per request instead of two per field,
//! and the handshake record is one copy of it.
//!
//! Invariant: a line never holds `\n` but as its end (httparse rejects
//! CR and LF inside a field), and a name never holds `:` or a space (a
//! token), so the first `": "` of a line ends its name.

/// Where a field's value is in a [`Headers`]' text (from [`Headers::push`]).
///
/// Offsets are `u32`: a request head keeps five of these, and at 12 bytes
/// (with its `Option`) rather than 24 they save 60 bytes of every request's
/// future (docs/benchmarks.md, "The request's future and glibc's
/// consolidation"). A head is at most [`super::MAX_HEAD_BYTES`], so the
/// offsets fit unless bytes that are not UTF-8 grew the text (each becomes
/// a 3-byte U+FFFD); a field past `u32::MAX` is not given a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

/// Header fields in order (duplicates kept), names lower-cased, values
/// trimmed; bytes that are not UTF-8 become U+FFFD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(String);

impl Headers {
    /// Appends one field (`name` lower-cased here) and returns the name as
    /// stored (lower-case) and where its value is in [`Headers::as_str`]
    /// (for [`Headers::at`]): `None` when the value was not UTF-8 (it is
    /// kept with U+FFFD in place of the bad bytes, which is not the
    /// client's value).
    pub(crate) fn push(&mut self, name: &str, value: &[u8]) -> (&str, Option<Span>) {
        let start = self.0.len();
        self.0.push_str(name);
        self.0[start..].make_ascii_lowercase();
        let name_end = self.0.len();
        self.0.push_str(": ");
        let at = self.0.len();
        let value = value.trim_ascii();
        let span = match std::str::from_utf8(value) {
            Ok(v) => {
                self.0.push_str(v);
                // Both fit (the head's bound, above). Were they not, the
                // field would be taken for one that is not UTF-8: a header
                // the server reads then fails the request as malformed.
                match (u32::try_from(at), u32::try_from(self.0.len())) {
                    (Ok(start), Ok(end)) => Some(Span { start, end }),
                    _ => None,
                }
            }
            Err(_) => {
                self.0.push_str(&String::from_utf8_lossy(value));
                None
            }
        };
        self.0.push('\n');
        (&self.0[start..name_end], span)
    }

    /// The value [`Headers::push`] stored at `span`.
    pub(crate) fn at(&self, span: Span) -> &str {
        // A span comes from `push` on this value, and fields are only
        // appended: it is in bounds, at char boundaries (the ends of a
        // pushed `&str`).
        &self.0[span.start as usize..span.end as usize]
    }

    /// Room for `fields` with `bytes` of names and values in all.
    pub(crate) fn with_capacity(fields: usize, bytes: usize) -> Self {
        Self(String::with_capacity(bytes + 3 * fields))
    }

    /// Every field in order: (lower-case name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .split_terminator('\n')
            .filter_map(|l| l.split_once(": "))
    }

    /// The first value of the field `name` (lower-case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|&(k, _)| k == name).map(|(_, v)| v)
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.0.bytes().filter(|&b| b == b'\n').count()
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a field `name` (lower-case) is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The fields as text: a `name: value\n` line each.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// [`Headers::as_str`], owned (no copy: the head sizes its text
    /// exactly, so this does not reallocate either).
    pub fn into_boxed_str(self) -> Box<str> {
        self.0.into_boxed_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_order_and_duplicates() {
        let mut h = Headers::default();
        h.push("Host", b"x");
        h.push("Accept-Encoding", b" gzip ");
        h.push("accept-encoding", b"br");
        h.push("X-Empty", b"");
        h.push("X-Colon", b"a: b");
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [
                ("host", "x"),
                ("accept-encoding", "gzip"),
                ("accept-encoding", "br"),
                ("x-empty", ""),
                ("x-colon", "a: b")
            ]
        );
        assert_eq!(h.get("accept-encoding"), Some("gzip"));
        assert_eq!(h.get("x-colon"), Some("a: b"));
        assert!(h.contains("x-empty"));
        assert_eq!(h.len(), 5);
        assert!(!h.is_empty() && Headers::default().is_empty());
        assert!(!h.contains("origin"));
        assert_eq!(
            h.as_str(),
            "host: x\naccept-encoding: gzip\naccept-encoding: br\nx-empty: \nx-colon: a: b\n"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_become_replacement_characters() {
        let mut h = Headers::default();
        h.push("User-Agent", b"\xff");
        assert_eq!(h.get("user-agent"), Some("\u{fffd}"));
    }
}

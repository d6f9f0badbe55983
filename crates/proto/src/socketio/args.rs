//! Event arguments that are parsed only when someone looks at them.
//!
//! An EVENT's arguments are usually passed on untouched: an echo answers
//! with them, a relay forwards them to a room. [`Args`] keeps what the
//! decoder validated as the JSON text of the list (`1,"two",{"x":[]}`,
//! without the brackets) and builds `serde_json::Value`s only when code
//! dereferences it; encoding writes the text back as it came. Arguments
//! built by the application are plain `Value`s.
//!
//! # Invariants
//! - Raw text is only created by [`super::Packet::decode_event`], which
//!   admits text that serde_json parses into `Value`s that
//!   `normalize_js_numbers` leaves unchanged (no fractions, exponents, `-0`
//!   or long digit runs, no `\u` escapes, at most [`MAX_RAW_OPENS`]
//!   brackets): parsing it later cannot fail, and writing the text back is
//!   what encoding the parsed values would send, up to insignificant
//!   whitespace and escapes (`"\n"` stays `"\n"`, `"\/"` stays `"\/"`).
//! - Mutable access ([`DerefMut`]) turns raw text into values for good, so
//!   while arguments are raw their text is authoritative (parsed values, if
//!   built, are a cache of it): reads of single arguments and typed parsing
//!   use the text.

use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::json_util::write_json;

/// Most `[` and `{` raw argument text may hold: far below serde_json's
/// recursion limit (128), so parsing it later cannot fail on depth.
pub const MAX_RAW_OPENS: usize = 64;

/// Arguments of an event or an ack: JSON values, or the validated JSON text
/// they were received as (see the module docs). Dereferences to the values.
#[derive(Debug, Clone, Default)]
pub struct Args(Repr);

#[derive(Debug, Clone)]
enum Repr {
    Values(Vec<Value>),
    Raw {
        /// The list's text without its brackets; empty for no argument.
        text: Box<str>,
        /// Number of top-level elements in `text`.
        len: usize,
        /// The values, built on first dereference.
        parsed: OnceLock<Vec<Value>>,
    },
}

impl Default for Repr {
    fn default() -> Self {
        Self::Values(Vec::new())
    }
}

impl Args {
    /// Arguments from the validated text of a list without its brackets
    /// (crate-private: only the decoder can vouch for the text).
    pub(crate) fn raw(text: &str, len: usize) -> Self {
        Self(Repr::Raw {
            text: text.into(),
            len,
            parsed: OnceLock::new(),
        })
    }

    /// Number of arguments (no parsing).
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Values(v) => v.len(),
            Repr::Raw { len, .. } => *len,
        }
    }

    /// Whether there is no argument (no parsing).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the arguments are still the received text (not yet turned
    /// into values for good). For tests and benchmarks.
    pub fn is_raw(&self) -> bool {
        matches!(self.0, Repr::Raw { .. })
    }

    #[cfg(test)]
    fn parsed_len(&self) -> usize {
        match &self.0 {
            Repr::Raw { parsed, .. } => parsed.get().map_or(0, Vec::len),
            Repr::Values(v) => v.len(),
        }
    }

    /// The arguments as owned values.
    pub fn into_vec(self) -> Vec<Value> {
        match self.0 {
            Repr::Values(v) => v,
            Repr::Raw { text, parsed, .. } => {
                parsed.into_inner().unwrap_or_else(|| parse_list(&text))
            }
        }
    }

    /// The arguments deserialized as `T` (a tuple or a sequence for several
    /// arguments), straight from the received text when there is one.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match &self.0 {
            Repr::Raw { text, .. } => serde_json::from_str(&bracketed(text)),
            Repr::Values(v) => T::deserialize(Value::Array(v.clone())),
        }
    }

    /// Appends the arguments as the inside of a JSON list (`1,"two"`).
    pub fn write_list(&self, out: &mut String) {
        match &self.0 {
            Repr::Raw { text, .. } => out.push_str(text),
            Repr::Values(v) => write_values(out, v),
        }
    }

    /// Argument `i` as a string, if it is one, without parsing the others:
    /// borrowed from the received text when it has no escape.
    pub fn str_at(&self, i: usize) -> Option<&str> {
        if let Repr::Raw { text, .. } = &self.0 {
            let element = element(text, i)?;
            let inner = element.strip_prefix('"')?.strip_suffix('"')?;
            if !inner.contains('\\') {
                return Some(inner);
            }
        }
        self.get(i).and_then(Value::as_str)
    }

    /// The received JSON text of argument `i` (`None` when the arguments
    /// are values, or there is no argument `i`).
    pub fn text_at(&self, i: usize) -> Option<&str> {
        match &self.0 {
            Repr::Raw { text, .. } => element(text, i),
            Repr::Values(_) => None,
        }
    }

    /// Keeps only argument `i` (none if it is absent), as text when it is
    /// text: for relaying `(room, event, data)` requests as `data` alone.
    pub fn keep(&mut self, i: usize) {
        if let Repr::Raw { text, .. } = &self.0 {
            let kept = element(text, i);
            *self = Self::raw(kept.unwrap_or(""), usize::from(kept.is_some()));
            return;
        }
        let args = &mut **self;
        let kept = (i < args.len()).then(|| args.swap_remove(i));
        args.clear();
        args.extend(kept);
    }
}

/// Element `i` of validated list text (see the module docs: no whitespace
/// outside strings, so elements are exactly the text between top-level
/// commas).
fn element(text: &str, i: usize) -> Option<&str> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut index = 0;
    let mut start = 0;
    let mut at = 0;
    while at < b.len() {
        match b[at] {
            b'"' => {
                at += 1;
                while at < b.len() && b[at] != b'"' {
                    at += if b[at] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                if index == i {
                    return text.get(start..at);
                }
                index += 1;
                start = at + 1;
            }
            _ => {}
        }
        at += 1;
    }
    (index == i && start < b.len())
        .then(|| text.get(start..))
        .flatten()
}

/// An argument list the encoders can write: [`Args`] (its text when it
/// has one) or JSON values.
pub trait ArgList {
    /// Appends the arguments as the inside of a JSON list (`1,"two"`).
    fn write_list(&self, out: &mut String);
    /// The arguments as values (parsing raw text).
    fn values(&self) -> &[Value];
}

impl ArgList for Args {
    fn write_list(&self, out: &mut String) {
        Self::write_list(self, out)
    }
    fn values(&self) -> &[Value] {
        self
    }
}

impl ArgList for [Value] {
    fn write_list(&self, out: &mut String) {
        write_values(out, self)
    }
    fn values(&self) -> &[Value] {
        self
    }
}

impl ArgList for Vec<Value> {
    fn write_list(&self, out: &mut String) {
        write_values(out, self)
    }
    fn values(&self) -> &[Value] {
        self
    }
}

impl<const N: usize> ArgList for [Value; N] {
    fn write_list(&self, out: &mut String) {
        write_values(out, self)
    }
    fn values(&self) -> &[Value] {
        self
    }
}

impl Serialize for Args {
    /// As the list of values (parsing raw text).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.values().serialize(serializer)
    }
}

/// Appends `values` as the inside of a JSON list (`1,"two"`).
pub(crate) fn write_values(out: &mut String, values: &[Value]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json(out, v);
    }
}

fn bracketed(text: &str) -> String {
    let mut list = String::with_capacity(text.len() + 2);
    list.push('[');
    list.push_str(text);
    list.push(']');
    list
}

fn parse_list(text: &str) -> Vec<Value> {
    let parsed = serde_json::from_str(&bracketed(text));
    // Invariant (module docs): the decoder admitted this text only if it
    // parses; an empty list is the harmless answer if that were ever wrong.
    debug_assert!(parsed.is_ok(), "raw arguments failed to parse: {text}");
    parsed.unwrap_or_default()
}

impl Deref for Args {
    type Target = Vec<Value>;

    fn deref(&self) -> &Vec<Value> {
        match &self.0 {
            Repr::Values(v) => v,
            Repr::Raw { text, parsed, .. } => parsed.get_or_init(|| parse_list(text)),
        }
    }
}

impl DerefMut for Args {
    fn deref_mut(&mut self) -> &mut Vec<Value> {
        if let Repr::Raw { text, parsed, .. } = &mut self.0 {
            let values = parsed.take().unwrap_or_else(|| parse_list(text));
            self.0 = Repr::Values(values);
        }
        match &mut self.0 {
            Repr::Values(v) => v,
            // Just replaced by `Values` above.
            Repr::Raw { .. } => unreachable!("raw arguments were just converted"),
        }
    }
}

impl From<Vec<Value>> for Args {
    fn from(v: Vec<Value>) -> Self {
        Self(Repr::Values(v))
    }
}

impl From<Args> for Vec<Value> {
    fn from(a: Args) -> Self {
        a.into_vec()
    }
}

impl FromIterator<Value> for Args {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Self {
        Self(Repr::Values(iter.into_iter().collect()))
    }
}

impl IntoIterator for Args {
    type Item = Value;
    type IntoIter = std::vec::IntoIter<Value>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl PartialEq for Args {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl PartialEq<Vec<Value>> for Args {
    fn eq(&self, other: &Vec<Value>) -> bool {
        **self == *other
    }
}

impl Eq for Args {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn raw_text_is_written_back_as_received() {
        let a = Args::raw(r#"1,"two",{"x":[]}"#, 3);
        assert_eq!(a.len(), 3);
        let mut out = String::new();
        a.write_list(&mut out);
        assert_eq!(out, r#"1,"two",{"x":[]}"#);
        assert!(a.is_raw());
    }

    #[test]
    fn dereferencing_parses_once_and_keeps_the_text() {
        let a = Args::raw(r#"1,"two""#, 2);
        assert_eq!(a[1], json!("two"));
        assert!(a.is_raw());
        assert_eq!(a, vec![json!(1), json!("two")]);
    }

    #[test]
    fn mutation_drops_the_text() {
        let mut a = Args::raw(r#"1,"two""#, 2);
        a.push(json!(3));
        assert!(!a.is_raw());
        let mut out = String::new();
        a.write_list(&mut out);
        assert_eq!(out, r#"1,"two",3"#);
    }

    #[test]
    fn deserializes_from_text_or_values() {
        let raw = Args::raw(r#""a",2"#, 2);
        let t: (String, u32) = raw.parse().unwrap();
        assert_eq!(t, ("a".into(), 2));
        let values = Args::from(vec![json!("a"), json!(2)]);
        let t: (String, u32) = values.parse().unwrap();
        assert_eq!(t, ("a".into(), 2));
    }

    #[test]
    fn single_elements_without_parsing() {
        let text = r#""room","a\"b",{"k":["x,y",1]},[2,3],"tail""#;
        let mut a = Args::raw(text, 5);
        assert_eq!(a.str_at(0), Some("room"));
        assert!(a.is_raw() && a.parsed_len() == 0);
        assert_eq!(a.str_at(1), Some("a\"b"));
        assert_eq!(a.str_at(2), None);
        assert_eq!(a.str_at(9), None);
        assert_eq!(a.text_at(2), Some(r#"{"k":["x,y",1]}"#));
        assert_eq!(a.text_at(5), None);
        let mut kept = a.clone();
        kept.keep(2);
        assert!(kept.is_raw());
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0], json!({"k": ["x,y", 1]}));
        kept = Args::raw(text, 5);
        kept.keep(4);
        assert_eq!(kept, vec![json!("tail")]);
        kept = Args::raw(text, 5);
        kept.keep(5);
        assert!(kept.is_empty());
        a.keep(3);
        assert_eq!(a, vec![json!([2, 3])]);
        let mut values = Args::from(vec![json!(1), json!("s")]);
        assert_eq!(values.str_at(1), Some("s"));
        values.keep(0);
        assert_eq!(values, vec![json!(1)]);
    }

    #[test]
    fn empty_lists() {
        let a = Args::raw("", 0);
        assert!(a.is_empty());
        assert!(a.to_vec().is_empty());
        let mut out = String::new();
        Args::default().write_list(&mut out);
        assert_eq!(out, "");
    }
}

//! The request query string (`EIO=4&transport=polling&sid=…`).
//!
//! Decoding follows Node's `querystring.parse`: pairs split on `&`, key and
//! value on the first `=`, `+` is a space, `%XX` is a byte, and malformed
//! escapes are kept literally; bytes that are not UTF-8 become U+FFFD.
//! When a key repeats, the first occurrence wins (Node would produce an
//! array, which engine.io then rejects; a single value is simpler and never
//! ambiguous within this server).

use std::borrow::Cow;

/// The Engine.IO query parameters of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `EIO`: protocol version (`"4"`). The values a server expects are
    /// borrowed from static text (no allocation per request).
    pub eio: Option<Cow<'static, str>>,
    /// `transport`: `"polling"` or `"websocket"` (borrowed, as `eio`).
    pub transport: Option<Cow<'static, str>>,
    /// `sid`: session id (check with [`crate::sid::is_well_formed`]).
    pub sid: Option<String>,
    /// `b64`: present with a non-empty value (JS truthiness of the string).
    pub b64: bool,
    /// The raw query string, without the leading `?`.
    pub raw: String,
}

impl Query {
    /// Parses a raw query string (without `?`).
    pub fn parse(raw: &str) -> Self {
        let mut q = Self {
            raw: raw.to_owned(),
            ..Self::default()
        };
        let mut b64_seen = false;
        for (key, value) in pairs(raw) {
            let slot = match &*decode(key) {
                "EIO" => {
                    if q.eio.is_none() {
                        q.eio = Some(known(value, &["4", "3"]));
                    }
                    continue;
                }
                "transport" => {
                    if q.transport.is_none() {
                        q.transport = Some(known(value, &["websocket", "polling"]));
                    }
                    continue;
                }
                "sid" => &mut q.sid,
                "b64" => {
                    if !b64_seen {
                        b64_seen = true;
                        q.b64 = !value.is_empty();
                    }
                    continue;
                }
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(percent_decode(value));
            }
        }
        q
    }

    /// The decoded value of the first parameter named `key` (decoded), for
    /// parameters other than the Engine.IO ones (e.g. app handshake data).
    pub fn get(&self, key: &str) -> Option<String> {
        pairs(&self.raw)
            .find(|(k, _)| decode(k) == key)
            .map(|(_, v)| percent_decode(v))
    }
}

/// `value` decoded: one of the `expected` static strings when it is one
/// as it stands (no escape to decode), else a new `String`.
fn known(value: &str, expected: &[&'static str]) -> Cow<'static, str> {
    match expected.iter().find(|&&e| e == value) {
        Some(&e) => Cow::Borrowed(e),
        None => Cow::Owned(percent_decode(value)),
    }
}

/// Non-empty `key=value` pairs of a query string; a pair without `=` has an
/// empty value.
fn pairs(raw: &str) -> impl Iterator<Item = (&str, &str)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// Decodes `application/x-www-form-urlencoded` text leniently (see the
/// module docs). The output is at most three times the input length
/// (each undecodable byte becomes the 3-byte U+FFFD).
pub fn percent_decode(s: &str) -> String {
    decode(s).into_owned()
}

/// [`percent_decode`] without a copy when there is nothing to decode (the
/// keys compared in [`Query::parse`]: no allocation per parameter).
fn decode(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'%' || c == b'+') {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match (b.get(i + 1).and_then(hex), b.get(i + 2).and_then(hex)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn hex(c: &u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn engineio_params() {
        let q = Query::parse("EIO=4&transport=polling&t=N8hyd6w&sid=lv_VI97HAXpY6yYWAAAC");
        assert_eq!(q.eio.as_deref(), Some("4"));
        assert_eq!(q.transport.as_deref(), Some("polling"));
        assert_eq!(q.sid.as_deref(), Some("lv_VI97HAXpY6yYWAAAC"));
        assert!(!q.b64);
        assert_eq!(q.get("t").as_deref(), Some("N8hyd6w"));
        assert_eq!(q.get("missing"), None);
        assert_eq!(
            q.raw,
            "EIO=4&transport=polling&t=N8hyd6w&sid=lv_VI97HAXpY6yYWAAAC"
        );
    }

    #[test]
    fn expected_values_are_borrowed_others_decoded() {
        let q = Query::parse("EIO=4&transport=websocket");
        assert!(matches!(q.eio, Some(Cow::Borrowed("4"))));
        assert!(matches!(q.transport, Some(Cow::Borrowed("websocket"))));
        let q = Query::parse("EIO=%34&transport=long+poll&EIO=3");
        assert!(matches!(q.eio.as_deref(), Some("4")));
        assert_eq!(q.transport.as_deref(), Some("long poll"));
    }

    #[test]
    fn edge_cases() {
        assert_eq!(Query::parse(""), Query::default());
        let q = Query::parse("sid=a&sid=b&EIO&&transport=web%73ocket&b64=1");
        assert_eq!(q.sid.as_deref(), Some("a"));
        assert_eq!(q.eio.as_deref(), Some(""));
        assert_eq!(q.transport.as_deref(), Some("websocket"));
        assert!(q.b64);
        assert!(Query::parse("b64=0").b64);
        assert!(!Query::parse("b64=").b64);
        assert!(!Query::parse("b64").b64);
        let q = Query::parse("%73id=x%2By+z&name=%C3%A9&bad=%zz%4");
        assert_eq!(q.sid.as_deref(), Some("x+y z"));
        assert_eq!(q.get("name").as_deref(), Some("é"));
        assert_eq!(q.get("bad").as_deref(), Some("%zz%4"));
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        assert_eq!(percent_decode("a=b"), "a=b");
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,64}") {
            let q = Query::parse(&s);
            prop_assert_eq!(q.raw, s.clone());
            prop_assert!(percent_decode(&s).len() <= s.len() * 3);
        }
    }
}

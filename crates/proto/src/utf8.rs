//! [`Utf8Bytes`]: shared bytes known to be UTF-8.
//!
//! Text arrives as bytes (a WebSocket text frame, a polling body) and is
//! read as `&str` by several layers above (Engine.IO, Socket.IO, the
//! application). Each used to check the UTF-8 again, three passes over
//! every byte of every request. A `Utf8Bytes` is checked once, where it is
//! made, and read as `&str` for free afterwards.
//!
//! # Invariant
//! The bytes inside are valid UTF-8. Every constructor checks it or starts
//! from a `str`, and the only way to cut one ([`Utf8Bytes::slice_from`])
//! cuts at a character boundary; [`Utf8Bytes::as_str`] relies on it.

use std::fmt;
use std::ops::Deref;
use std::str::Utf8Error;

use bytes::Bytes;

/// Shared bytes that are valid UTF-8 (see the module's invariant).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Text from a static string (no copy).
    pub const fn from_static(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }

    /// The text, without checking it again.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor of `Utf8Bytes` checked that the bytes
        // are UTF-8 (or started from a `str`), and `slice_from` only cuts at
        // character boundaries (the module's invariant).
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The bytes of the text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The shared bytes, giving up the UTF-8 guarantee.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The text from byte `at` on (shared, no copy); `None` when `at` is past
    /// the end or inside a character.
    pub fn slice_from(&self, at: usize) -> Option<Self> {
        self.as_str()
            .is_char_boundary(at)
            .then(|| Self(self.0.slice(at..)))
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = Utf8Error;

    /// Checks `bytes` once.
    fn try_from(bytes: Bytes) -> Result<Self, Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Self(bytes))
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Self(Bytes::from(s.into_bytes()))
    }
}

impl From<&str> for Utf8Bytes {
    /// Copies `s`.
    fn from(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl Deref for Utf8Bytes {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_once_where_made() {
        let t = Utf8Bytes::try_from(Bytes::from_static("4hé".as_bytes())).unwrap();
        assert_eq!(t.as_str(), "4hé");
        assert_eq!(t, "4hé");
        assert!(Utf8Bytes::try_from(Bytes::from_static(b"4h\xff")).is_err());
        // A sequence cut short is not UTF-8 either.
        assert!(Utf8Bytes::try_from(Bytes::from_static(&"é".as_bytes()[..1])).is_err());
        assert_eq!(Utf8Bytes::from(String::from("x")), "x");
        assert_eq!(Utf8Bytes::from("y").into_bytes(), Bytes::from_static(b"y"));
        assert_eq!(format!("{:?}", Utf8Bytes::from_static("a\"")), "\"a\\\"\"");
    }

    #[test]
    fn cut_only_at_character_boundaries() {
        let t = Utf8Bytes::from_static("4é!");
        assert_eq!(t.slice_from(1).unwrap(), "é!");
        assert_eq!(t.slice_from(2), None, "inside é");
        assert_eq!(t.slice_from(3).unwrap(), "!");
        assert_eq!(t.slice_from(4).unwrap(), "");
        assert_eq!(t.slice_from(5), None, "past the end");
    }
}

//! Session and socket ids as hash-map keys, kept inline.
//!
//! Every session and every socket has an entry keyed by its id in a shard
//! table ([`super::Shard::sessions`], [`super::Shard::socket_ids`]). As a
//! `Box<str>` each key was an allocation of its own (a copy of the id the
//! session or socket holds), and each lookup or removal followed a pointer
//! to compare it, a cache miss in a table of ten thousand entries. The ids
//! this server makes are 20 characters (28 with a node tag), so they fit in
//! the key itself; a longer one (an Engine.IO v3 socket id, `nsp#sid`) is
//! kept on the heap.
//!
//! The same type holds the id in the session (`Session::sid`) and the
//! socket (`SocketState::id`) themselves: no allocation for either.
//!
//! Invariant: a key hashes and compares as the `&str` it was made from
//! (`Borrow<str>`), so tables are searched with a plain `&str`.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// Ids up to this length are kept inline.
const INLINE: usize = 30;

/// An id as a table key (32 bytes, no allocation up to [`INLINE`] bytes).
#[derive(Clone)]
pub enum IdKey {
    /// The id's bytes, `bytes[..len]`.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// A longer id.
    Heap(Box<str>),
}

const _: () = assert!(size_of::<IdKey>() == 32);

impl IdKey {
    /// The key of `id`.
    pub fn new(id: &str) -> Self {
        if id.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..id.len()].copy_from_slice(id.as_bytes());
            // `len <= INLINE < 256`.
            Self::Inline {
                len: id.len() as u8,
                bytes,
            }
        } else {
            Self::Heap(id.into())
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Inline { len, bytes } => {
                let bytes = &bytes[..usize::from(*len)];
                // SAFETY: `bytes` is a copy of the whole of a `&str` (`new`),
                // so it is UTF-8; the key is never changed afterwards.
                unsafe { std::str::from_utf8_unchecked(bytes) }
            }
            Self::Heap(s) => s,
        }
    }
}

impl From<&str> for IdKey {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl Borrow<str> for IdKey {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Hash for IdKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `str` hashes: `Borrow<str>` lookups find the key.
        self.as_str().hash(state);
    }
}

impl PartialEq for IdKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for IdKey {}

impl std::ops::Deref for IdKey {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for IdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for IdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ahash::AHashMap;

    #[test]
    fn a_table_of_keys_is_searched_by_str() {
        let long = "/a-namespace-name#lv_VI97HAXpY6yYWAAAC";
        let mut t = AHashMap::new();
        for (i, id) in ["", "lv_VI97HAXpY6yYWAAAC", &"x".repeat(INLINE), long]
            .into_iter()
            .enumerate()
        {
            let key = IdKey::new(id);
            assert_eq!(key.as_str(), id);
            assert_eq!(matches!(key, IdKey::Heap(_)), id.len() > INLINE);
            t.insert(key, i);
        }
        assert_eq!(t.get("lv_VI97HAXpY6yYWAAAC"), Some(&1));
        assert_eq!(t.get(long), Some(&3));
        assert_eq!(t.get(&*"x".repeat(INLINE)), Some(&2));
        assert_eq!(t.get(""), Some(&0));
        assert_eq!(t.get("lv_VI97HAXpY6yYWAAAD"), None);
        assert_eq!(t.remove(long), Some(3));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn a_key_reads_as_its_id() {
        let long = "/a-namespace-name#lv_VI97HAXpY6yYWAAAC";
        for id in ["lv_VI97HAXpY6yYWAAAC", long] {
            let key = IdKey::from(id);
            assert_eq!(&*key, id);
            assert_eq!(key.to_string(), id);
            assert_eq!(format!("{key:?}"), format!("{id:?}"));
            assert!(key.starts_with("lv_") || key.starts_with('/'));
        }
    }

    #[test]
    fn server_made_ids_are_kept_inline() {
        // `random_id` and `new_sid` without a node tag: 20 characters.
        assert!(matches!(
            super::super::engine::random_id(),
            IdKey::Inline { len: 20, .. }
        ));
    }
}

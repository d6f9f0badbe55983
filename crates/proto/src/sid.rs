//! Engine.IO session ids and the pure routing function [`shard_for`].
//!
//! A session id is what Node's `base64id` produces: 15 random bytes encoded
//! as base64url without padding, i.e. exactly 20 characters from
//! `[A-Za-z0-9_-]`. The randomness comes from the caller (this crate reads
//! no entropy source), so [`encode_sid`] is a pure function.
//!
//! Every sid that arrives from the network (query string `sid=`) is hostile:
//! [`is_well_formed`] rejects anything that could not have been produced by
//! [`encode_sid`] before it reaches a table lookup or a log line.
//!
//! [`shard_for`] maps a sid to the shard (core) that owns the session. It is
//! a fixed function of the sid bytes (FNV-1a 64) so that every shard, and
//! every process, routes a given sid to the same place without coordination.
//!
//! # Node tags (forwarding between ringcast nodes)
//! A ringcast node that forwards requests across a cluster appends its
//! *node tag* to every sid it creates: 8 base64url characters (48 random
//! bits drawn once per process), so a cluster sid is [`CLUSTER_SID_LEN`]
//! (28) characters: 120 random bits followed by the tag. Any node reads the
//! owner from the sid alone ([`node_tag`]), without a lookup per request;
//! the random part keeps the sid unguessable. A 20-character sid (Node's
//! `base64id`, or a ringcast node without forwarding) has no tag: it is
//! served where it lands. Clients treat sids as opaque strings.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Length in characters of every session id produced by [`encode_sid`].
pub const SID_LEN: usize = 20;

/// Length in characters of a node tag ([`encode_node_tag`]).
pub const NODE_TAG_LEN: usize = 8;

/// Length in characters of a sid carrying a node tag: [`SID_LEN`] random
/// characters, then the tag.
pub const CLUSTER_SID_LEN: usize = SID_LEN + NODE_TAG_LEN;

/// Encodes 15 random bytes as a Node-style session id (20 base64url chars,
/// no padding).
pub fn encode_sid(random: &[u8; 15]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// A session id drawn on the stack: [`encode_sid`]'s text, then a node
/// tag if any, without an allocation. A shard draws ids until one routes
/// to it ([`shard_for`]; half of them with two shards), so only the one it
/// keeps is copied to the heap.
#[derive(Clone, Copy)]
pub struct SidText {
    bytes: [u8; CLUSTER_SID_LEN],
    len: usize,
}

impl SidText {
    /// The id of 15 random bytes, followed by `tag` (a node tag from
    /// [`encode_node_tag`]; a longer one is cut to [`NODE_TAG_LEN`]
    /// characters at a character boundary).
    pub fn new(random: &[u8; 15], tag: Option<&str>) -> Self {
        let mut bytes = [0u8; CLUSTER_SID_LEN];
        let n = URL_SAFE_NO_PAD
            .encode_slice(random, &mut bytes[..SID_LEN])
            .expect("15 bytes encode to 20 characters");
        debug_assert_eq!(n, SID_LEN);
        let mut len = SID_LEN;
        if let Some(tag) = tag {
            let mut take = tag.len().min(NODE_TAG_LEN);
            while !tag.is_char_boundary(take) {
                take -= 1;
            }
            bytes[SID_LEN..SID_LEN + take].copy_from_slice(&tag.as_bytes()[..take]);
            len += take;
        }
        Self { bytes, len }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // base64url characters, then a prefix of a `&str` cut at a char
        // boundary: UTF-8 by construction.
        std::str::from_utf8(&self.bytes[..self.len]).expect("sid text is UTF-8")
    }
}

/// Encodes 6 random bytes as a node tag (8 base64url chars).
pub fn encode_node_tag(random: &[u8; 6]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// A sid owned by the node tagged `tag`: the 20 random characters, then
/// the tag (which the caller took from [`encode_node_tag`]).
pub fn encode_cluster_sid(random: &[u8; 15], tag: &str) -> String {
    let mut s = encode_sid(random);
    s.push_str(tag);
    s
}

/// The node tag of a well-formed cluster sid; `None` for a plain sid (or
/// anything that is not a well-formed sid).
pub fn node_tag(sid: &str) -> Option<&str> {
    if sid.len() == CLUSTER_SID_LEN && is_well_formed(sid) {
        sid.get(SID_LEN..)
    } else {
        None
    }
}

/// Whether `tag` could be a node tag: [`NODE_TAG_LEN`] base64url characters.
pub fn is_node_tag(tag: &str) -> bool {
    tag.len() == NODE_TAG_LEN && tag.bytes().all(is_b64url)
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// FNV-1a 64-bit hash of `bytes` (offset basis `0xcbf29ce484222325`, prime
/// `0x100000001b3`). Stable across processes, platforms and versions.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Returns the shard in `0..n` that owns `sid`: `fnv1a64(sid) % n`.
///
/// `n` must be at least 1; `n == 0` is a caller bug and returns 0 (never
/// panics) so that a misconfiguration cannot be turned into a crash.
pub fn shard_for(sid: &str, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    // usize -> u64 is lossless on every supported target (<= 64-bit); the
    // remainder is < n so it converts back without loss.
    (fnv1a64(sid.as_bytes()) % n as u64) as usize
}

/// Cheap syntactic check of a sid from the network: exactly [`SID_LEN`]
/// (plain) or [`CLUSTER_SID_LEN`] (with a node tag) characters from the
/// base64url alphabet.
pub fn is_well_formed(sid: &str) -> bool {
    (sid.len() == SID_LEN || sid.len() == CLUSTER_SID_LEN) && sid.bytes().all(is_b64url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sid_text_is_the_encoded_sid() {
        let raw = *b"0123456789abcde";
        let tag = encode_node_tag(b"\x01\x02\x03\x04\x05\x06");
        assert_eq!(SidText::new(&raw, None).as_str(), encode_sid(&raw));
        assert_eq!(
            SidText::new(&raw, Some(&tag)).as_str(),
            encode_cluster_sid(&raw, &tag)
        );
        assert_eq!(
            SidText::new(&raw, Some(&tag)).as_str().len(),
            CLUSTER_SID_LEN
        );
        // Never past its room, and never inside a character.
        assert_eq!(
            SidText::new(&raw, Some("abcdefgé")).as_str().len(),
            SID_LEN + 7
        );
    }

    #[test]
    fn encode_known_vector() {
        let sid = encode_sid(&[0u8; 15]);
        assert_eq!(sid, "AAAAAAAAAAAAAAAAAAAA");
        let sid = encode_sid(&[0xff; 15]);
        assert_eq!(sid, "____________________");
        let sid = encode_sid(&[0xfb, 0xef, 0xbe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&sid[..4], "----");
    }

    #[test]
    fn well_formed() {
        assert!(is_well_formed("lv_VI97HAXpY6yYWAAAC"));
        assert!(is_well_formed("oSO0OpakMV_3jnilAAAA"));
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("lv_VI97HAXpY6yYWAAA"));
        assert!(!is_well_formed("lv_VI97HAXpY6yYWAAACx"));
        assert!(!is_well_formed("lv_VI97HAXpY6yYWAA/C"));
        assert!(!is_well_formed("lv_VI97HAXpY6yYWAA=C"));
        assert!(!is_well_formed("lv_VI97HAXpY6yYWAAé"));
        assert!(is_well_formed("lv_VI97HAXpY6yYWAAACabcd-_12"));
        assert!(!is_well_formed("lv_VI97HAXpY6yYWAAACabcd-_1"));
        assert!(!is_well_formed("lv_VI97HAXpY6yYWAAACabcd-_1/"));
    }

    #[test]
    fn node_tags() {
        let tag = encode_node_tag(&[0xff; 6]);
        assert_eq!(tag, "________");
        assert!(is_node_tag(&tag));
        assert!(!is_node_tag("_______"));
        assert!(!is_node_tag("_______/"));
        let sid = encode_cluster_sid(&[0; 15], "abcd-_12");
        assert_eq!(sid, "AAAAAAAAAAAAAAAAAAAAabcd-_12");
        assert_eq!(node_tag(&sid), Some("abcd-_12"));
        assert_eq!(node_tag("AAAAAAAAAAAAAAAAAAAA"), None);
        assert_eq!(node_tag("AAAAAAAAAAAAAAAAAAAAabcd-_1é"), None);
    }

    #[test]
    fn fnv_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn shard_is_stable_and_in_range() {
        assert_eq!(shard_for("lv_VI97HAXpY6yYWAAAC", 1), 0);
        assert_eq!(shard_for("x", 0), 0);
        let a = shard_for("lv_VI97HAXpY6yYWAAAC", 7);
        assert_eq!(a, shard_for("lv_VI97HAXpY6yYWAAAC", 7));
        assert_eq!(
            a as u64,
            fnv1a64(b"lv_VI97HAXpY6yYWAAAC") % 7,
            "routing must be exactly fnv1a64 % n"
        );
    }

    proptest! {
        #[test]
        fn encoded_sids_are_well_formed(bytes in any::<[u8; 15]>()) {
            let sid = encode_sid(&bytes);
            prop_assert!(is_well_formed(&sid));
        }

        #[test]
        fn cluster_sids_carry_their_tag(bytes in any::<[u8; 15]>(), t in any::<[u8; 6]>()) {
            let tag = encode_node_tag(&t);
            let sid = encode_cluster_sid(&bytes, &tag);
            prop_assert!(is_well_formed(&sid));
            prop_assert_eq!(node_tag(&sid), Some(tag.as_str()));
        }

        #[test]
        fn node_tag_never_panics(s in ".*") {
            let _ = node_tag(&s);
        }

        #[test]
        fn shard_in_range(s in ".*", n in 1usize..64) {
            prop_assert!(shard_for(&s, n) < n);
            let _ = is_well_formed(&s);
        }
    }
}

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

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Length in characters of every session id produced by [`encode_sid`].
pub const SID_LEN: usize = 20;

/// Encodes 15 random bytes as a Node-style session id (20 base64url chars,
/// no padding).
pub fn encode_sid(random: &[u8; 15]) -> String {
    URL_SAFE_NO_PAD.encode(random)
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
/// characters from the base64url alphabet.
pub fn is_well_formed(sid: &str) -> bool {
    sid.len() == SID_LEN
        && sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        fn shard_in_range(s in ".*", n in 1usize..64) {
            prop_assert!(shard_for(&s, n) < n);
            let _ = is_well_formed(&s);
        }
    }
}

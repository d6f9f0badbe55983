//! The WebSocket opening handshake key (RFC 6455 §4.2.2).
//!
//! `Sec-WebSocket-Accept` is `base64(sha1(key + GUID))`. The key is checked
//! to be the base64 encoding of 16 bytes before the server answers 101.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest as _, Sha1};

/// The GUID appended to the client key.
pub const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only `Sec-WebSocket-Version` this server speaks.
pub const SUPPORTED_VERSION: &str = "13";

/// A `Sec-WebSocket-Accept` value: the base64 of a SHA-1 digest, 28
/// characters, kept inline (no allocation per handshake).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AcceptKey([u8; 28]);

impl AcceptKey {
    /// The value as text.
    pub fn as_str(&self) -> &str {
        // Base64 output is ASCII.
        std::str::from_utf8(&self.0).expect("base64 is ASCII")
    }
}

impl std::fmt::Debug for AcceptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

impl std::fmt::Display for AcceptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (already trimmed
/// of surrounding whitespace by the HTTP parser).
pub fn accept_key(sec_websocket_key: &[u8]) -> AcceptKey {
    let mut h = Sha1::new();
    h.update(sec_websocket_key);
    h.update(ACCEPT_GUID.as_bytes());
    let mut out = [0u8; 28];
    // 20 bytes encode to exactly 28 characters (padded).
    let n = STANDARD
        .encode_slice(h.finalize(), &mut out)
        .expect("28 bytes hold the base64 of 20");
    debug_assert_eq!(n, 28);
    AcceptKey(out)
}

/// True when `key` is the padded base64 encoding of exactly 16 bytes.
pub fn is_valid_key(key: &[u8]) -> bool {
    // 24 characters decode to at most 18 bytes.
    let mut raw = [0u8; 18];
    key.len() == 24 && STANDARD.decode_slice(key, &mut raw) == Ok(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_vector() {
        // RFC 6455 §1.3. (A value circulating in notes,
        // "s3pPLMBiTxaQ9kYGOzzOo1+oS3I=", is wrong: it is not the SHA-1 of
        // key + GUID.)
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ==").as_str(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn key_validity() {
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(is_valid_key(b"AAAAAAAAAAAAAAAAAAAAAA=="));
        assert!(!is_valid_key(b""));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ"));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=")); // 23 chars
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ==="));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZ!=="));
        assert!(!is_valid_key(b"AAAAAAAAAAAAAAAAAAAAAAAA")); // 18 bytes
    }
}

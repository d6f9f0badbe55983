//! The WebSocket opening handshake key (RFC 6455 §4.2.2).
//!
//! `Sec-WebSocket-Accept` is `base64(sha1(key + GUID))`. The key is checked
//! to be the base64 encoding of 16 bytes before the server answers 101.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// The GUID appended to the client key.
pub const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only `Sec-WebSocket-Version` this server speaks.
pub const SUPPORTED_VERSION: &str = "13";

/// `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (already trimmed
/// of surrounding whitespace by the HTTP parser).
pub fn accept_key(sec_websocket_key: &[u8]) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(sec_websocket_key);
    h.update(ACCEPT_GUID.as_bytes());
    STANDARD.encode(h.digest().bytes())
}

/// True when `key` is the padded base64 encoding of exactly 16 bytes.
pub fn is_valid_key(key: &[u8]) -> bool {
    key.len() == 24 && STANDARD.decode(key).is_ok_and(|k| k.len() == 16)
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
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
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

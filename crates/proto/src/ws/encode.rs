//! Server frame encoding and masking.
//!
//! Server frames are FIN, unmasked, with the shortest length encoding
//! (7-bit, 16-bit or 64-bit). The output depends only on the opcode and the
//! payload, so every receiver of a broadcast shares one byte sequence.

use bytes::{BufMut, BytesMut};

use super::opcode;

/// Size of the header [`encode_frame_header`] writes for `len` payload
/// bytes: 2, 4 or 10.
pub fn frame_header_len(len: usize) -> usize {
    match len {
        0..=125 => 2,
        126..=0xffff => 4,
        _ => 10,
    }
}

/// Writes a FIN, unmasked frame header for `len` payload bytes (the caller
/// appends or streams the payload).
pub fn encode_frame_header(opcode: u8, len: usize, out: &mut BytesMut) {
    out.reserve(frame_header_len(len));
    out.put_u8(0x80 | (opcode & 0x0f));
    match len {
        // The match arms bound `len`, so the casts are lossless.
        0..=125 => out.put_u8(len as u8),
        126..=0xffff => {
            out.put_u8(126);
            out.put_u16(len as u16);
        }
        _ => {
            out.put_u8(127);
            out.put_u64(len as u64);
        }
    }
}

/// Writes a complete FIN, unmasked frame.
pub fn encode_frame(opcode: u8, payload: &[u8], out: &mut BytesMut) {
    encode_frame_header(opcode, payload.len(), out);
    out.extend_from_slice(payload);
}

/// Writes a close frame with `code` and `reason`. The reason is truncated
/// (at a character boundary) to 123 bytes so the frame stays within the
/// 125-byte control frame limit.
pub fn encode_close(code: u16, reason: &str, out: &mut BytesMut) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = &reason.as_bytes()[..end];
    encode_frame_header(opcode::CLOSE, 2 + reason.len(), out);
    out.put_u16(code);
    out.extend_from_slice(reason);
}

/// XORs `data` with the 4-byte `mask` (masking and unmasking are the same
/// operation). Processes 16 bytes at a time so the compiler vectorizes it.
pub fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    let mut wide = [0u8; 16];
    for (i, b) in wide.iter_mut().enumerate() {
        *b = mask[i & 3];
    }
    let mut chunks = data.chunks_exact_mut(16);
    for chunk in &mut chunks {
        for (b, m) in chunk.iter_mut().zip(wide.iter()) {
            *b ^= m;
        }
    }
    for (b, m) in chunks.into_remainder().iter_mut().zip(wide.iter()) {
        *b ^= m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(op: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_frame(op, payload, &mut out);
        out.to_vec()
    }

    #[test]
    fn rfc_examples() {
        // RFC 6455 §5.7: unmasked "Hello" and an unmasked Pong.
        assert_eq!(
            frame(opcode::TEXT, b"Hello"),
            [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
        assert_eq!(
            frame(opcode::PONG, b"Hello"),
            [0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        );
        // 256 bytes binary: 16-bit length.
        let f = frame(opcode::BINARY, &[0u8; 256]);
        assert_eq!(&f[..4], [0x82, 0x7e, 0x01, 0x00]);
        assert_eq!(f.len(), 4 + 256);
        // 65536 bytes binary: 64-bit length.
        let f = frame(opcode::BINARY, &vec![0u8; 65536]);
        assert_eq!(&f[..10], [0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
        assert_eq!(f.len(), 10 + 65536);
    }

    #[test]
    fn header_len_boundaries() {
        for (len, want) in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
            assert_eq!(frame_header_len(len), want);
            let mut out = BytesMut::new();
            encode_frame_header(opcode::TEXT, len, &mut out);
            assert_eq!(out.len(), want, "len {len}");
        }
    }

    #[test]
    fn close_frames() {
        let mut out = BytesMut::new();
        encode_close(1000, "", &mut out);
        assert_eq!(&out[..], [0x88, 0x02, 0x03, 0xe8]);
        let mut out = BytesMut::new();
        encode_close(1009, "too big", &mut out);
        assert_eq!(&out[..], b"\x88\x09\x03\xf1too big");
        let long = "é".repeat(100);
        let mut out = BytesMut::new();
        encode_close(1000, &long, &mut out);
        assert_eq!(out[1], 2 + 122);
        assert!(std::str::from_utf8(&out[4..]).is_ok());
    }

    #[test]
    fn masking() {
        // RFC 6455 §5.7: masked "Hello" with key 37 fa 21 3d.
        let mut data = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(&data, b"Hello");
        let orig: Vec<u8> = (0..100u8).collect();
        let mut d = orig.clone();
        apply_mask(&mut d, [1, 2, 3, 4]);
        for (i, (a, b)) in d.iter().zip(&orig).enumerate() {
            assert_eq!(*a, b ^ [1, 2, 3, 4][i % 4]);
        }
    }
}

//! Helpers shared by the fuzz targets in `fuzz_targets/`.

/// Splits `data` into consecutive non-empty chunks whose sizes come from a
/// small PRNG seeded by `seed`, so the fuzzer controls how a byte stream
/// is cut into socket reads (one byte at a time, a few bytes, whole
/// frames...). Concatenating the chunks gives `data` back.
pub fn chunks(data: &[u8], seed: u8) -> Vec<&[u8]> {
    // xorshift32; the state must never be zero.
    let mut state = 0x9e37_79b9_u32 ^ u32::from(seed).wrapping_mul(0x0100_0193);
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let r = state >> 8;
        let len = match state & 3 {
            0 => 1,
            1 => 1 + (r % 8) as usize,
            2 => 1 + (r % 64) as usize,
            _ => 1 + (r % 1024) as usize,
        };
        let (head, tail) = rest.split_at(len.min(rest.len()));
        out.push(head);
        rest = tail;
    }
    out
}

/// Checks that `encoded` (the encoding of a decoded message) decodes, and
/// that encoding is a fixed point after at most one more round trip:
/// `encode(decode(encoded)) == encode(decode(encode(decode(encoded))))`.
///
/// One round trip may legitimately normalize, because the codec mirrors
/// notepack's lossy corners: an invalid `Date` (NaN) encodes as timestamp
/// 96 zeros, which decodes as the epoch; integral numbers at or above 2^64
/// encode as notepack corrupts them (docs/contracts/redis-cluster.md 3.4).
pub fn check_reencoding<T, E1: std::fmt::Debug, E2: std::fmt::Debug>(
    encoded: &bytes::Bytes,
    decode: impl Fn(&bytes::Bytes) -> Result<T, E1>,
    encode: impl Fn(&T) -> Result<bytes::Bytes, E2>,
) {
    let v2 = decode(encoded).expect("encoded value does not decode");
    let e2 = encode(&v2).expect("re-decoded value does not encode");
    let v3 = decode(&e2).expect("second encoding does not decode");
    let e3 = encode(&v3).expect("second re-decoded value does not encode");
    assert_eq!(e3, e2, "encoding not stable after one round trip");
}

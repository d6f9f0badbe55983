//! Incremental `Transfer-Encoding: chunked` body decoder (RFC 9112 §7.1).
//!
//! Sans-IO: feed whatever bytes arrived; decoded data is appended to the
//! caller's output buffer and consumed input is removed from the input
//! buffer. Bytes after the end of the body stay in the input (pipelining).
//!
//! # Invariants
//! - A chunk's size is checked against `max_body` as soon as its size line
//!   is complete, before any of its data is copied.
//! - Line endings are strict CRLF (a bare LF is a known smuggling vector);
//!   chunk sizes are 1 to 16 hex digits; chunk extensions are skipped but
//!   bounded ([`MAX_EXTENSION`]); trailers are skipped but bounded
//!   ([`MAX_TRAILERS`]).

use bytes::{Buf, BytesMut};

use super::HttpError;

/// Longest chunk extension accepted (bytes after `;` on a size line).
pub const MAX_EXTENSION: usize = 1024;
/// Largest total size of trailer fields accepted.
pub const MAX_TRAILERS: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size.
    Size { value: u64, digits: u8 },
    /// Skipping a chunk extension up to CR.
    Extension { len: usize, size: u64 },
    /// Saw CR after a size line; expecting LF.
    SizeLf { size: u64 },
    /// Copying chunk data.
    Data { remaining: u64 },
    /// Expecting CR after chunk data.
    DataCr,
    /// Expecting LF after chunk data.
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer line.
    TrailerLine,
    /// Saw CR inside or at the end of a trailer line; expecting LF.
    TrailerLf { empty: bool },
    /// The body is complete.
    Done,
}

/// Decodes a chunked request body incrementally.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    max_body: u64,
    body_len: u64,
    trailer_len: usize,
}

impl ChunkedDecoder {
    /// A decoder that rejects bodies larger than `max_body` bytes.
    pub fn new(max_body: usize) -> Self {
        Self {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            // usize -> u64 is lossless on all supported targets.
            max_body: max_body as u64,
            body_len: 0,
            trailer_len: 0,
        }
    }

    /// Decoded body bytes so far.
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// Consumes chunked framing from `buf`, appending data to `out`.
    /// Returns `Ok(true)` once the terminating chunk and trailers have been
    /// consumed, `Ok(false)` when more input is needed.
    pub fn decode(&mut self, buf: &mut BytesMut, out: &mut BytesMut) -> Result<bool, HttpError> {
        let mut i = 0;
        let result = self.run(buf, &mut i, out);
        buf.advance(i);
        result
    }

    fn run(&mut self, buf: &[u8], i: &mut usize, out: &mut BytesMut) -> Result<bool, HttpError> {
        use State::*;
        while self.state != Done {
            if let Data { remaining } = self.state {
                let avail = buf.len() - *i;
                // `n <= avail`, a usize, so the conversions are lossless.
                let n = remaining.min(avail as u64) as usize;
                out.extend_from_slice(&buf[*i..*i + n]);
                *i += n;
                let remaining = remaining - n as u64;
                self.state = if remaining == 0 {
                    DataCr
                } else {
                    Data { remaining }
                };
                if remaining > 0 {
                    return Ok(false);
                }
                continue;
            }
            let Some(&c) = buf.get(*i) else {
                return Ok(false);
            };
            *i += 1;
            self.state = match self.state {
                Size { value, digits } => match (hex(c), c) {
                    (Some(d), _) if digits < 16 => Size {
                        value: value << 4 | u64::from(d),
                        digits: digits + 1,
                    },
                    (Some(_), _) => return Err(HttpError::Malformed),
                    (None, b';') if digits > 0 => Extension {
                        len: 0,
                        size: value,
                    },
                    (None, b'\r') if digits > 0 => SizeLf { size: value },
                    _ => return Err(HttpError::Malformed),
                },
                Extension { len, size } => match c {
                    b'\r' => SizeLf { size },
                    b'\n' => return Err(HttpError::Malformed),
                    _ if len >= MAX_EXTENSION => return Err(HttpError::Malformed),
                    _ => Extension { len: len + 1, size },
                },
                SizeLf { size } => match c {
                    b'\n' if size == 0 => TrailerStart,
                    b'\n' => {
                        if size > self.max_body - self.body_len {
                            return Err(HttpError::BodyTooLarge);
                        }
                        self.body_len += size;
                        Data { remaining: size }
                    }
                    _ => return Err(HttpError::Malformed),
                },
                DataCr if c == b'\r' => DataLf,
                DataLf if c == b'\n' => Size {
                    value: 0,
                    digits: 0,
                },
                DataCr | DataLf => return Err(HttpError::Malformed),
                TrailerStart | TrailerLine => {
                    let empty = self.state == TrailerStart;
                    self.trailer_len += 1;
                    if self.trailer_len > MAX_TRAILERS {
                        return Err(HttpError::HeadTooLarge);
                    }
                    match c {
                        b'\r' => TrailerLf { empty },
                        b'\n' => return Err(HttpError::Malformed),
                        _ => TrailerLine,
                    }
                }
                TrailerLf { empty } => match c {
                    b'\n' if empty => Done,
                    b'\n' => TrailerStart,
                    _ => return Err(HttpError::Malformed),
                },
                // Handled above / loop condition.
                Data { .. } | Done => return Err(HttpError::Malformed),
            };
        }
        Ok(true)
    }
}

fn hex(c: u8) -> Option<u8> {
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

    fn run(max: usize, input: &[u8]) -> (Result<bool, HttpError>, Vec<u8>, Vec<u8>) {
        let mut d = ChunkedDecoder::new(max);
        let mut buf = BytesMut::from(input);
        let mut out = BytesMut::new();
        let r = d.decode(&mut buf, &mut out);
        (r, out.to_vec(), buf.to_vec())
    }

    #[test]
    fn rfc_example() {
        let body = b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\nNEXT";
        let (r, out, rest) = run(1024, body);
        assert_eq!(r, Ok(true));
        assert_eq!(out, b"Wikipedia in\r\n\r\nchunks.");
        assert_eq!(rest, b"NEXT");
    }

    #[test]
    fn extensions_and_trailers() {
        let body = b"3;name=val\r\nabc\r\n0;x\r\nExpires: never\r\nX: y\r\n\r\n";
        assert_eq!(run(1024, body), (Ok(true), b"abc".to_vec(), vec![]));
        assert_eq!(run(1024, b"0\r\n\r\n"), (Ok(true), vec![], vec![]));
        assert_eq!(
            run(1024, b"000A\r\n0123456789\r\n0\r\n\r\n").1,
            b"0123456789"
        );
    }

    #[test]
    fn byte_by_byte() {
        let body = b"4\r\nWiki\r\n5;e\r\npedia\r\n0\r\nT: 1\r\n\r\n";
        let mut d = ChunkedDecoder::new(64);
        let mut buf = BytesMut::new();
        let mut out = BytesMut::new();
        for (n, &b) in body.iter().enumerate() {
            buf.extend_from_slice(&[b]);
            let done = d.decode(&mut buf, &mut out).unwrap();
            assert_eq!(done, n + 1 == body.len());
            assert!(buf.is_empty());
        }
        assert_eq!(&out[..], b"Wikipedia");
        assert_eq!(d.body_len(), 9);
        assert_eq!(d.decode(&mut buf, &mut out), Ok(true));
    }

    #[test]
    fn rejections() {
        let m = Err(HttpError::Malformed);
        for bad in [
            &b"\r\n"[..],
            b"g\r\n",
            b"4\nWiki\r\n",
            b"4\r\nWikiX\r\n",
            b"4\r\nWiki\n",
            b" 4\r\n",
            b"4 \r\n",
            b";\r\n",
            b"-1\r\n",
            b"0\r\n\n",
            b"0\r\nX: y\n",
            b"0\r\n\r\r",
            b"4;a\nb",
            b"00000000000000001\r\n",
        ] {
            assert_eq!(run(1 << 20, bad).0, m, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(run(8, b"9\r\n").0, Err(HttpError::BodyTooLarge));
        assert_eq!(
            run(8, b"4\r\nabcd\r\n5\r\n").0,
            Err(HttpError::BodyTooLarge)
        );
        assert_eq!(run(8, b"4\r\nabcd\r\n4\r\nabcd\r\n0\r\n\r\n").0, Ok(true));
        assert_eq!(run(usize::MAX, b"ffffffffffffffff\r\n").0, Ok(false));
        assert_eq!(
            run(8, b"ffffffffffffffff\r\n").0,
            Err(HttpError::BodyTooLarge)
        );
        let long_ext = [&b"1;"[..], &[b'a'; MAX_EXTENSION + 1]].concat();
        assert_eq!(run(8, &long_ext).0, m);
        let long_trailer = [&b"0\r\n"[..], &[b'a'; MAX_TRAILERS + 1]].concat();
        assert_eq!(run(8, &long_trailer).0, Err(HttpError::HeadTooLarge));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128), max in 0usize..64, split in 0usize..128) {
            let mut d = ChunkedDecoder::new(max);
            let mut out = BytesMut::new();
            let split = split.min(bytes.len());
            let mut buf = BytesMut::from(&bytes[..split]);
            if d.decode(&mut buf, &mut out).is_ok() {
                buf.extend_from_slice(&bytes[split..]);
                let _ = d.decode(&mut buf, &mut out);
            }
            prop_assert!(out.len() <= max);
        }

        #[test]
        fn roundtrip(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..20), 0..5)) {
            let mut wire = Vec::new();
            for c in &chunks {
                wire.extend(format!("{:x}\r\n", c.len()).bytes());
                wire.extend(c);
                wire.extend(b"\r\n");
            }
            wire.extend(b"0\r\n\r\n");
            let (r, out, rest) = run(1024, &wire);
            prop_assert_eq!(r, Ok(true));
            prop_assert_eq!(out, chunks.concat());
            prop_assert!(rest.is_empty());
        }
    }
}

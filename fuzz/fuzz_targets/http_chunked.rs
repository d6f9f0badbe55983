//! `http::ChunkedDecoder`: an incremental `Transfer-Encoding: chunked`
//! request body (`4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n`).
//!
//! Input: one config byte (low two bits pick `max_body`: 0, 16, 1024 or
//! 1 MiB), one seed byte for how the body is cut into reads, then the body.
//!
//! Checks: never panics; decoding the body in one call or fed in
//! seed-sized reads gives the same result, the same data and the same
//! leftover bytes (pipelining); data never exceeds `max_body`, and a
//! complete body's `body_len` is its length.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use ringcast_fuzz::chunks;
use ringcast_proto::http::{ChunkedDecoder, HttpError};

#[derive(Debug, PartialEq)]
struct Outcome {
    result: Result<bool, HttpError>,
    out: Vec<u8>,
    /// Unconsumed input; only meaningful when decoding did not fail.
    rest: Option<Vec<u8>>,
}

fn finish(
    d: &ChunkedDecoder,
    result: Result<bool, HttpError>,
    out: BytesMut,
    buf: BytesMut,
    max: usize,
) -> Outcome {
    assert!(out.len() <= max, "{} bytes > max_body {max}", out.len());
    // `body_len` counts each chunk's declared size once its size line is
    // read, so it runs ahead of `out` while a chunk's data is in flight.
    assert!(d.body_len() <= max as u64 && d.body_len() >= out.len() as u64);
    if result == Ok(true) {
        assert_eq!(d.body_len(), out.len() as u64);
    }
    Outcome {
        rest: result.is_ok().then(|| buf.to_vec()),
        result,
        out: out.to_vec(),
    }
}

fn whole(max: usize, body: &[u8]) -> Outcome {
    let mut d = ChunkedDecoder::new(max);
    let mut buf = BytesMut::from(body);
    let mut out = BytesMut::new();
    let r = d.decode(&mut buf, &mut out);
    finish(&d, r, out, buf, max)
}

fn split(max: usize, body: &[u8], seed: u8) -> Outcome {
    let mut d = ChunkedDecoder::new(max);
    let mut buf = BytesMut::new();
    let mut out = BytesMut::new();
    let mut r = Ok(false);
    for c in chunks(body, seed) {
        buf.extend_from_slice(c);
        if r == Ok(false) {
            r = d.decode(&mut buf, &mut out);
            if r.is_err() {
                break;
            }
        }
    }
    finish(&d, r, out, buf, max)
}

fuzz_target!(|data: &[u8]| {
    let [cfg, seed, body @ ..] = data else {
        return;
    };
    let max = [0, 16, 1024, 1 << 20][usize::from(cfg & 3)];
    let a = whole(max, body);
    let b = split(max, body, *seed);
    assert_eq!(a, b);
});

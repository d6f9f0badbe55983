//! `http::parse_request`: an HTTP/1.1 request head (polling requests and
//! WebSocket upgrades), and `http::ChunkedDecoder` on the body that follows
//! a `Transfer-Encoding: chunked` head.
//!
//! Input: raw request bytes (head, then body), e.g.
//! `POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: a\r\n...`.
//!
//! Checks, under the default limits, tiny limits and more than 64 header
//! slots: never panics; a complete head lies within the input and within
//! `max_head_bytes` and parses the same on its own; `chunked` excludes
//! `content_length`; HTTP/1.1 has a Host; a prefix of a head that parses
//! (as read from a slow socket) is reported incomplete, never rejected.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use ringcast_fuzz::chunks;
use ringcast_proto::http::{parse_request, ChunkedDecoder, Limits};

fn check(data: &[u8], limits: &Limits) {
    let result = parse_request(data, limits);
    let Ok(Some((head, len))) = result else {
        return;
    };
    assert!(len <= data.len() && len <= limits.max_head_bytes);
    assert!(!(head.chunked && head.content_length.is_some()));
    assert!(head.version_minor == 0 || head.host().is_some());
    assert!(head.headers.len() <= limits.max_headers);
    // Every field reads back as one line: a lower-case name, then its value.
    assert_eq!(head.headers.iter().count(), head.headers.len());
    for (name, value) in head.headers.iter() {
        assert!(!name.bytes().any(|b| b.is_ascii_uppercase() || b == b':' || b == b'\n'));
        assert!(!value.contains('\n'));
    }
    // The fields the server reads are spans of those lines: the first of
    // each name (Host and Sec-WebSocket-Key appear once at most).
    assert_eq!(head.host(), head.headers.get("host"));
    assert_eq!(head.origin(), head.headers.get("origin"));
    assert_eq!(head.ws_key(), head.headers.get("sec-websocket-key"));
    assert_eq!(head.ws_version(), head.headers.get("sec-websocket-version"));
    assert_eq!(
        head.access_control_request_headers(),
        head.headers.get("access-control-request-headers")
    );
    assert_eq!(
        parse_request(&data[..len], limits),
        Ok(Some((head.clone(), len)))
    );

    // The server re-parses its growing read buffer after every read.
    let mut end = 0;
    for c in chunks(&data[..len], data.len() as u8).into_iter().take(32) {
        end += c.len();
        if end < len {
            assert_eq!(
                parse_request(&data[..end], limits),
                Ok(None),
                "prefix {end} of {len}"
            );
        }
    }

    if head.chunked {
        let mut buf = BytesMut::from(&data[len..]);
        let mut out = BytesMut::new();
        let mut d = ChunkedDecoder::new(1 << 20);
        if d.decode(&mut buf, &mut out) == Ok(true) {
            assert_eq!(d.body_len(), out.len() as u64);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data, &Limits::default());
    check(
        data,
        &Limits {
            max_head_bytes: 256,
            max_headers: 4,
        },
    );
    check(
        data,
        &Limits {
            max_head_bytes: 16 << 10,
            max_headers: 100,
        },
    );
});

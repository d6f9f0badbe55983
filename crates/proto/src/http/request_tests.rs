//! Request head vectors: Engine.IO handshakes, WebSocket upgrades, framing
//! and smuggling rejections, limits, fuzzing.

use super::*;
use proptest::prelude::*;

fn parse(s: &str) -> Result<Option<(RequestHead, usize)>, HttpError> {
    parse_request(s.as_bytes(), &Limits::default())
}

fn head(s: &str) -> RequestHead {
    match parse(s) {
        Ok(Some((h, n))) => {
            assert_eq!(n, s.find("\r\n\r\n").unwrap() + 4);
            h
        }
        other => panic!("{s:?} -> {other:?}"),
    }
}

fn err(s: &str) -> HttpError {
    match parse(s) {
        Err(e) => e,
        other => panic!("{s:?} -> {other:?}"),
    }
}

#[test]
fn polling_handshake() {
    let h = head(
        "GET /socket.io/?EIO=4&transport=polling&t=N8hyd6w HTTP/1.1\r\nHost: localhost:3000\r\n\
         Origin: http://localhost:8080\r\nUser-Agent: test\r\n\r\n",
    );
    assert_eq!(h.method, Method::Get);
    assert_eq!(h.path, "/socket.io/");
    assert_eq!(h.query.eio.as_deref(), Some("4"));
    assert_eq!(h.query.transport.as_deref(), Some("polling"));
    assert_eq!(h.query.sid, None);
    assert_eq!(h.version_minor, 1);
    assert_eq!(h.host(), Some("localhost:3000"));
    assert_eq!(h.origin(), Some("http://localhost:8080"));
    assert!(!h.upgrade_websocket);
    assert!(h.keep_alive);
    assert_eq!(h.content_length, None);
    assert!(!h.chunked);
    let names: Vec<&str> = h.headers.iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["host", "origin", "user-agent"]);
    assert_eq!(h.headers.get("user-agent"), Some("test"));
}

#[test]
fn fields_and_query_taken_for_a_handshake() {
    let mut h = head(
        "GET /socket.io/?EIO=4&transport=websocket&token=a%20b HTTP/1.1\r\nHost: x\r\n\
         Origin: http://o\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    let text = h.headers.as_str().to_owned();
    let (headers, raw) = h.take_fields_and_query();
    assert_eq!(&*headers.into_boxed_str(), text);
    assert_eq!(raw, "EIO=4&transport=websocket&token=a%20b");
    // Nothing refers into the text the head gave away.
    assert!(h.headers.is_empty());
    assert_eq!(h.query.raw, "");
    assert_eq!(
        (h.host(), h.origin(), h.ws_key(), h.ws_version()),
        (None, None, None, None)
    );
    assert_eq!(h.access_control_request_headers(), None);
    // The parsed parameters stay.
    assert_eq!(h.query.transport.as_deref(), Some("websocket"));
}

#[test]
fn post_with_body() {
    let req = "POST /socket.io/?EIO=4&transport=polling&sid=lv_VI97HAXpY6yYWAAAC HTTP/1.1\r\n\
               Host: x\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 6\r\n\r\n4hello";
    let (h, n) = parse(req).unwrap().unwrap();
    assert_eq!(h.method, Method::Post);
    assert_eq!(h.content_length, Some(6));
    assert_eq!(&req[n..], "4hello");
    assert_eq!(h.query.sid.as_deref(), Some("lv_VI97HAXpY6yYWAAAC"));
    let h = head("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert!(h.chunked);
    let h = head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\ncontent-length: 5, 5\r\n\r\n");
    assert_eq!(h.content_length, Some(5));
}

#[test]
fn websocket_upgrade() {
    let h = head(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: server.example.com\r\n\
         Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert!(h.upgrade_websocket);
    assert_eq!(h.ws_key(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(h.ws_version(), Some("13"));
    let h = head("GET / HTTP/1.1\r\nHost: x\r\nupgrade: WebSocket\r\nconnection: UPGRADE\r\n\r\n");
    assert!(h.upgrade_websocket);
    let h = head("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n");
    assert!(!h.upgrade_websocket, "Connection: upgrade is required");
    let h = head("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n");
    assert!(!h.upgrade_websocket);
}

#[test]
fn keep_alive_rules() {
    assert!(!head("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive);
    assert!(!head("GET / HTTP/1.0\r\n\r\n").keep_alive);
    assert!(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
    assert!(!head("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
    assert_eq!(head("GET / HTTP/1.0\r\n\r\n").version_minor, 0);
}

#[test]
fn other_fields() {
    let h = head(
        "OPTIONS /socket.io/ HTTP/1.1\r\nHost: x\r\nAccess-Control-Request-Headers: content-type\r\n\r\n",
    );
    assert_eq!(h.method, Method::Options);
    assert_eq!(h.access_control_request_headers(), Some("content-type"));
    assert_eq!(
        head("PUT / HTTP/1.1\r\nHost: x\r\n\r\n").method,
        Method::Other
    );
    assert_eq!(
        head("get / HTTP/1.1\r\nHost: x\r\n\r\n").method,
        Method::Other
    );
    let h = head("GET http://example.com/socket.io/?EIO=4 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(h.path, "/socket.io/");
    assert_eq!(h.query.eio.as_deref(), Some("4"));
    let h = head("GET HTTP://example.com?EIO=4 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(h.path, "/");
    assert_eq!(h.query.raw, "EIO=4");
    assert_eq!(
        head("GET http://example.com HTTP/1.1\r\nHost: x\r\n\r\n").path,
        "/"
    );
    assert_eq!(
        head("GET /a HTTP/1.1\r\nHost:   padded  \r\n\r\n").host(),
        Some("padded")
    );
}

#[test]
fn framing_and_smuggling_rejections() {
    use HttpError::*;
    assert_eq!(err("GET / HTTP/1.1\r\n\r\n"), MissingHost);
    assert_eq!(
        err("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        Malformed
    );
    // Field names are matched lower-cased: a duplicate in another case is
    // the same field.
    assert_eq!(
        err("GET / HTTP/1.1\r\nHOST: a\r\nhost: b\r\n\r\n"),
        Malformed
    );
    for cl in [
        "-1",
        "abc",
        "1 2",
        "",
        "+5",
        "0x10",
        "99999999999999999999999",
    ] {
        let r = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {cl}\r\n\r\n");
        assert_eq!(err(&r), BadContentLength, "{cl:?}");
    }
    assert_eq!(
        err("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
        BadContentLength
    );
    assert_eq!(
        err("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n"),
        BadContentLength
    );
    assert_eq!(
        err(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        ),
        ContentLengthAndChunked
    );
    for te in ["gzip", "gzip, chunked", "chunked, chunked", "identity", ""] {
        let r = format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {te}\r\n\r\n");
        assert_eq!(err(&r), UnsupportedTransferEncoding, "{te:?}");
    }
    assert_eq!(
        err("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
        UnsupportedTransferEncoding
    );
    assert_eq!(
        err("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Malformed
    );
    assert_eq!(err("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), Malformed);
    assert_eq!(
        err("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"),
        Malformed
    );
    assert_eq!(err("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), Malformed);
    assert_eq!(err("GET /\r\n\r\n"), Malformed);
    assert_eq!(err("\x00GET / HTTP/1.1\r\n\r\n"), Malformed);
    assert_eq!(
        err("GET / HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: a\r\nSec-WebSocket-Key: b\r\n\r\n"),
        Malformed
    );
    assert_eq!(HeadTooLarge.status(), 431);
    assert_eq!(UnsupportedTransferEncoding.status(), 501);
    assert_eq!(BodyTooLarge.status(), 413);
    assert_eq!(MissingHost.status(), 400);
}

#[test]
fn non_utf8_values() {
    let mut req = b"GET / HTTP/1.1\r\nHost: x\r\nOrigin: \xff\r\n\r\n".to_vec();
    assert_eq!(
        parse_request(&req, &Limits::default()),
        Err(HttpError::Malformed)
    );
    // Unused headers are not decoded.
    req = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: \xff\r\n\r\n".to_vec();
    let (h, _) = parse_request(&req, &Limits::default()).unwrap().unwrap();
    assert_eq!(h.headers.iter().nth(1), Some(("user-agent", "\u{fffd}")));
}

#[test]
fn incomplete_and_limits() {
    let full = "GET /socket.io/?EIO=4 HTTP/1.1\r\nHost: x\r\n\r\n";
    for cut in 0..full.len() {
        assert_eq!(parse(&full[..cut]), Ok(None), "cut {cut}");
    }
    let limits = Limits {
        max_head_bytes: 32,
        max_headers: 64,
    };
    assert_eq!(
        parse_request(full.as_bytes(), &limits),
        Err(HttpError::HeadTooLarge)
    );
    assert_eq!(parse_request(&full.as_bytes()[..31], &limits), Ok(None));
    assert_eq!(
        parse_request(&full.as_bytes()[..32], &limits),
        Err(HttpError::HeadTooLarge)
    );
    let exact = Limits {
        max_head_bytes: full.len(),
        max_headers: 1,
    };
    assert!(parse_request(full.as_bytes(), &exact).unwrap().is_some());
    let none = Limits {
        max_head_bytes: 8192,
        max_headers: 0,
    };
    assert_eq!(
        parse_request(full.as_bytes(), &none),
        Err(HttpError::TooManyHeaders)
    );
    let mut many = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..100 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(parse(&many), Err(HttpError::TooManyHeaders));
    let big = Limits {
        max_head_bytes: 8192,
        max_headers: 200,
    };
    let (h, _) = parse_request(many.as_bytes(), &big).unwrap().unwrap();
    // Slots past the stack's 64 come from the heap, every field kept.
    assert_eq!(h.headers.len(), 101);
    assert_eq!(h.headers.get("x-99"), Some("v"));
    // A limit past what a head's `u32` offsets reach reads as that bound:
    // no overflow, the fields the server reads are where they were.
    let unbounded = Limits {
        max_head_bytes: usize::MAX,
        max_headers: 64,
    };
    let (h, _) = parse_request(
        b"GET /socket.io/ HTTP/1.1\r\nHost: example.com\r\nOrigin: https://a.b\r\n\r\n",
        &unbounded,
    )
    .unwrap()
    .unwrap();
    assert_eq!(h.host(), Some("example.com"));
    assert_eq!(h.origin(), Some("https://a.b"));
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_request(&bytes, &Limits::default());
        let _ = parse_request(&bytes, &Limits { max_head_bytes: 16, max_headers: 2 });
    }

    #[test]
    fn random_headers_never_panic(
        target in "[ -~]{0,40}",
        headers in proptest::collection::vec(("(?i)(host|connection|upgrade|content-length|transfer-encoding|origin|x)", "[ -~]{0,20}"), 0..6),
    ) {
        let mut s = format!("GET {target} HTTP/1.1\r\n");
        for (n, v) in headers { s.push_str(&format!("{n}: {v}\r\n")); }
        s.push_str("\r\n");
        let _ = parse(&s);
    }
}

//! Writing HTTP/1.1 responses.
//!
//! The head is `HTTP/1.1 <status> <reason>`, the caller's headers, then
//! `Content-Length` (omitted for 1xx, 204 and 304, where RFC 9110 forbids
//! it) and `Connection: keep-alive` / `close`. CR and LF are dropped from
//! header names and values so a reflected request value cannot inject
//! headers.

use bytes::{BufMut, BytesMut};

/// A complete response with an in-memory body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    /// Status code.
    pub status: u16,
    /// Extra headers (`Content-Type`, CORS, ...), written in order.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
    /// Whether the connection stays open (`Connection: keep-alive`).
    pub keep_alive: bool,
}

impl Response<'_> {
    /// Appends the full response (head and body) to `out`.
    pub fn write(&self, out: &mut BytesMut) {
        write_head(
            self.status,
            self.headers,
            self.body.len(),
            self.keep_alive,
            out,
        );
        out.extend_from_slice(self.body);
    }
}

/// Appends a response head announcing `content_length` body bytes; the
/// caller writes the body separately.
pub fn write_head(
    status: u16,
    headers: &[(&str, &str)],
    content_length: usize,
    keep_alive: bool,
    out: &mut BytesMut,
) {
    let reason = reason_phrase(status);
    out.reserve(
        64 + reason.len()
            + headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 4)
                .sum::<usize>(),
    );
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.to_string().as_bytes());
    out.put_u8(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        put_header(out, name, value);
    }
    if !matches!(status, 100..=199 | 204 | 304) {
        put_header(out, "Content-Length", &content_length.to_string());
    }
    put_header(
        out,
        "Connection",
        if keep_alive { "keep-alive" } else { "close" },
    );
    out.extend_from_slice(b"\r\n");
}

/// Appends the `101 Switching Protocols` response accepting a WebSocket
/// upgrade with the given `Sec-WebSocket-Accept` value.
pub fn write_switching_protocols(accept_key: &str, out: &mut BytesMut) {
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    put_clean(out, accept_key);
    out.extend_from_slice(b"\r\n\r\n");
}

fn put_header(out: &mut BytesMut, name: &str, value: &str) {
    put_clean(out, name);
    out.extend_from_slice(b": ");
    put_clean(out, value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `s` without CR / LF bytes.
fn put_clean(out: &mut BytesMut, s: &str) {
    for part in s.as_bytes().split(|&b| b == b'\r' || b == b'\n') {
        out.extend_from_slice(part);
    }
}

/// The standard reason phrase for `status` (Node's `http.STATUS_CODES`
/// wording), or `""` for unknown codes.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(out: &BytesMut) -> &str {
        std::str::from_utf8(out).unwrap()
    }

    #[test]
    fn full_response() {
        let mut out = BytesMut::new();
        Response {
            status: 200,
            headers: &[("Content-Type", "text/plain; charset=UTF-8")],
            body: b"4hello",
            keep_alive: true,
        }
        .write(&mut out);
        assert_eq!(
            s(&out),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 6\r\nConnection: keep-alive\r\n\r\n4hello"
        );
        let mut out = BytesMut::new();
        Response {
            status: 400,
            headers: &[],
            body: br#"{"code":0,"message":"Transport unknown"}"#,
            keep_alive: false,
        }
        .write(&mut out);
        assert!(s(&out).starts_with(
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 40\r\nConnection: close\r\n\r\n{"
        ));
    }

    #[test]
    fn head_only_and_no_length_statuses() {
        let mut out = BytesMut::new();
        write_head(200, &[], 1234, false, &mut out);
        assert_eq!(
            s(&out),
            "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nConnection: close\r\n\r\n"
        );
        let mut out = BytesMut::new();
        write_head(
            204,
            &[("Access-Control-Allow-Origin", "*")],
            0,
            true,
            &mut out,
        );
        assert_eq!(
            s(&out),
            "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\nConnection: keep-alive\r\n\r\n"
        );
        let mut out = BytesMut::new();
        write_head(599, &[], 0, true, &mut out);
        assert!(s(&out).starts_with("HTTP/1.1 599 \r\n"));
    }

    #[test]
    fn header_injection_is_neutralized() {
        let mut out = BytesMut::new();
        write_head(
            200,
            &[("Access-Control-Allow-Origin", "http://a\r\nSet-Cookie: x=1")],
            0,
            true,
            &mut out,
        );
        assert!(s(&out).contains("Access-Control-Allow-Origin: http://aSet-Cookie: x=1\r\n"));
        assert_eq!(s(&out).matches("\r\n").count(), 5);
    }

    #[test]
    fn switching_protocols() {
        let mut out = BytesMut::new();
        write_switching_protocols("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", &mut out);
        assert_eq!(
            s(&out),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
        assert_eq!(reason_phrase(431), "Request Header Fields Too Large");
    }
}

//! Parsing a backend's HTTP/1.1 response, sans IO: bytes in, a verdict out.
//!
//! Every byte is hostile: a malformed head, a body larger than
//! [`MAX_BODY`], a bad chunk size or a framing the client does not support
//! is a [`Malformed`] answer, never a panic. The caller feeds the bytes
//! read so far to [`parse`]; `Ok(None)` means "read more".
//!
//! Framing (RFC 9112 §6.3): `Transfer-Encoding: chunked` (trailers
//! skipped), else `Content-Length`, else the body runs to the end of the
//! connection ([`parse`] with `eof`). 1xx interim responses are skipped.
//! The connection may be reused only when the body was delimited, the
//! version is 1.1 and the server did not say `Connection: close`.

/// The largest head (status line and headers) accepted.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// The largest body accepted.
pub(crate) const MAX_BODY: usize = 1024 * 1024;
/// The most headers accepted.
const MAX_HEADERS: usize = 64;

/// A complete response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Response {
    /// The status code.
    pub(crate) status: u16,
    /// The decoded body.
    pub(crate) body: Vec<u8>,
    /// Whether the connection may carry another request.
    pub(crate) reusable: bool,
}

/// The response cannot be understood; the caller counts a failure and
/// drops the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

/// How the body is delimited.
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// Parses `buf` (everything read so far on this request); `eof` says the
/// peer closed. `Ok(None)`: incomplete, read more.
pub(crate) fn parse(buf: &[u8], eof: bool) -> Result<Option<Response>, Malformed> {
    let mut start = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut head = httparse::Response::new(&mut headers);
        let rest = &buf[start..];
        let head_len = match head.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if rest.len() > MAX_HEAD => {
                return Err(Malformed("response head too large"))
            }
            Ok(httparse::Status::Partial) if eof => {
                return Err(Malformed("connection closed before the response head"))
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(Malformed("invalid response head")),
        };
        if head_len > MAX_HEAD {
            return Err(Malformed("response head too large"));
        }
        // Invariant: a complete head has a status code (httparse fills it).
        let status = head.code.unwrap_or(0);
        if (100..200).contains(&status) {
            // An interim response (100 Continue): the real one follows.
            start += head_len;
            continue;
        }
        let mut close = head.version != Some(1);
        let mut framing = Framing::UntilClose;
        let mut length: Option<usize> = None;
        for h in head.headers.iter() {
            if h.name.eq_ignore_ascii_case("transfer-encoding") {
                let value = std::str::from_utf8(h.value).map_err(|_| Malformed("bad header"))?;
                if value.trim().eq_ignore_ascii_case("chunked") {
                    framing = Framing::Chunked;
                } else {
                    return Err(Malformed("unsupported transfer-encoding"));
                }
            } else if h.name.eq_ignore_ascii_case("content-length") {
                let n = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or(Malformed("invalid content-length"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(Malformed("conflicting content-length"));
                }
                length = Some(n);
            } else if h.name.eq_ignore_ascii_case("connection") {
                let value = String::from_utf8_lossy(h.value);
                if value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("close"))
                {
                    close = true;
                }
            }
        }
        match (length, &framing) {
            (Some(n), Framing::UntilClose) => framing = Framing::Length(n),
            // Both framings: chunked wins, and the connection is not
            // reused (RFC 9112 §6.3: the server may be out of step).
            (Some(_), Framing::Chunked) => close = true,
            _ => {}
        }
        let body_bytes = &rest[head_len..];
        // 204 and 304 have no body whatever the headers say.
        if status == 204 || status == 304 {
            framing = Framing::Length(0);
        }
        return match framing {
            Framing::Length(n) if n > MAX_BODY => Err(Malformed("response body too large")),
            Framing::Length(n) if body_bytes.len() >= n => Ok(Some(Response {
                status,
                body: body_bytes[..n].to_vec(),
                // Extra bytes after the body: the server is confused.
                reusable: !close && body_bytes.len() == n,
            })),
            Framing::Length(_) if eof => Err(Malformed("connection closed inside the body")),
            Framing::Length(_) => Ok(None),
            Framing::Chunked => match dechunk(body_bytes)? {
                Some((body, used)) => Ok(Some(Response {
                    status,
                    body,
                    reusable: !close && used == body_bytes.len(),
                })),
                None if eof => Err(Malformed("connection closed inside the body")),
                None => Ok(None),
            },
            Framing::UntilClose if body_bytes.len() > MAX_BODY => {
                Err(Malformed("response body too large"))
            }
            Framing::UntilClose if eof => Ok(Some(Response {
                status,
                body: body_bytes.to_vec(),
                reusable: false,
            })),
            Framing::UntilClose => Ok(None),
        };
    }
}

/// Decodes a chunked body: `Some((body, bytes used))` once the last chunk
/// and the trailers are in, `None` to read more.
fn dechunk(mut buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, Malformed> {
    let total = buf.len();
    let mut body = Vec::new();
    loop {
        let (size, size_len) = match httparse::parse_chunk_size(buf) {
            Ok(httparse::Status::Complete((n, size))) => (size, n),
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(Malformed("invalid chunk size")),
        };
        let size = usize::try_from(size).map_err(|_| Malformed("chunk too large"))?;
        if size > MAX_BODY.saturating_sub(body.len()) {
            return Err(Malformed("response body too large"));
        }
        buf = &buf[size_len..];
        if size == 0 {
            // Trailers: header lines up to an empty line.
            loop {
                let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
                    return if buf.len() > MAX_HEAD {
                        Err(Malformed("trailers too large"))
                    } else {
                        Ok(None)
                    };
                };
                buf = &buf[end + 2..];
                if end == 0 {
                    return Ok(Some((body, total - buf.len())));
                }
            }
        }
        if buf.len() < size + 2 {
            return Ok(None);
        }
        if &buf[size..size + 2] != b"\r\n" {
            return Err(Malformed("chunk not followed by CRLF"));
        }
        body.extend_from_slice(&buf[..size]);
        buf = &buf[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(text: &[u8]) -> Response {
        match parse(text, false) {
            Ok(Some(r)) => r,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    #[test]
    fn content_length() {
        let r = done(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        assert_eq!(
            (r.status, r.body.as_slice(), r.reusable),
            (200, &b"ok"[..], true)
        );
        let r = done(b"HTTP/1.1 403 No\r\ncontent-length: 0\r\nConnection: close\r\n\r\n");
        assert_eq!((r.status, r.reusable), (403, false));
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok", false),
            Ok(None)
        );
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok", true).is_err());
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\nContent-Le", false), Ok(None));
    }

    #[test]
    fn chunked_and_interim() {
        let r = done(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
        );
        assert_eq!(
            (r.status, r.body.as_slice(), r.reusable),
            (200, &b"abcde"[..], true)
        );
        let both = done(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        );
        assert_eq!(
            (both.body.as_slice(), both.reusable),
            (&b"ok"[..], false),
            "chunked wins over Content-Length, and the connection is dropped"
        );
        let partial = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab";
        assert_eq!(parse(partial, false), Ok(None));
        assert!(parse(partial, true).is_err());
    }

    #[test]
    fn until_close() {
        let text = b"HTTP/1.0 200 OK\r\n\r\n{\"ack\":1}";
        assert_eq!(parse(text, false), Ok(None));
        let r = parse(text, true).expect("valid").expect("complete");
        assert_eq!(
            (r.body.as_slice(), r.reusable),
            (&b"{\"ack\":1}"[..], false)
        );
    }

    #[test]
    fn hostile_bytes_are_malformed() {
        for bad in [
            &b"garbage\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc",
        ] {
            assert!(
                parse(bad, false).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let huge = vec![b'a'; MAX_HEAD + 10];
        assert!(parse(&huge, false).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512), eof: bool) {
            let _ = parse(&bytes, eof);
            let mut text = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            text.extend_from_slice(&bytes);
            let _ = parse(&text, eof);
        }
    }
}

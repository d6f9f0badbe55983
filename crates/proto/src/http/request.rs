//! Request head parsing with `httparse`, plus the header semantics the
//! Engine.IO server needs (RFC 9110 / 9112).
//!
//! Header values that are stored are trimmed of surrounding whitespace and
//! must be UTF-8 (else [`HttpError::Malformed`]); headers we do not use are
//! never decoded. Token lists (`Connection`, `Upgrade`,
//! `Transfer-Encoding`) are comma separated, case-insensitive, and may be
//! spread over several header lines.

use std::mem::MaybeUninit;

use super::headers::Span;
use super::{Headers, HttpError, Limits, Method, Query};

/// Header slots kept on the stack; larger `max_headers` use the heap.
const STACK_HEADERS: usize = 64;

/// The parts of a request head the server uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// Request method.
    pub method: Method,
    /// Target path without the query (`/socket.io/`), not percent-decoded.
    /// An absolute-form target (`http://host/p?q`) is reduced to its path.
    pub path: String,
    /// Parsed query string.
    pub query: Query,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub version_minor: u8,
    /// `Host` (required for HTTP/1.1; duplicates are rejected).
    host: Option<Span>,
    /// `Origin`, for CORS (the first).
    origin: Option<Span>,
    /// `Upgrade` lists `websocket` and `Connection` lists `upgrade`.
    pub upgrade_websocket: bool,
    /// `Sec-WebSocket-Key` (duplicates are rejected).
    ws_key: Option<Span>,
    /// `Sec-WebSocket-Version` (the first).
    ws_version: Option<Span>,
    /// `Content-Length`, if present (all copies agree).
    pub content_length: Option<u64>,
    /// `Transfer-Encoding: chunked` (the only coding accepted).
    pub chunked: bool,
    /// Whether the connection persists after this request: HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    pub keep_alive: bool,
    /// `Access-Control-Request-Headers`, for CORS preflights (the first).
    access_control_request_headers: Option<Span>,
    /// Every header field in order (duplicates kept), names lower-cased,
    /// values trimmed; non-UTF-8 bytes become U+FFFD. Bounded by the head
    /// limits. Exposed to applications as the Socket.IO handshake headers.
    pub headers: Headers,
}

/// The header fields the server reads, as slices of
/// [`RequestHead::headers`] (no allocation of their own). Each is trimmed
/// and was UTF-8 on the wire (else the request was
/// [`HttpError::Malformed`]).
impl RequestHead {
    /// `Host` (required for HTTP/1.1; duplicates are rejected).
    pub fn host(&self) -> Option<&str> {
        self.host.map(|s| self.headers.at(s))
    }

    /// `Origin`, for CORS (the first one).
    pub fn origin(&self) -> Option<&str> {
        self.origin.map(|s| self.headers.at(s))
    }

    /// `Sec-WebSocket-Key` (duplicates are rejected).
    pub fn ws_key(&self) -> Option<&str> {
        self.ws_key.map(|s| self.headers.at(s))
    }

    /// `Sec-WebSocket-Version` (the first one).
    pub fn ws_version(&self) -> Option<&str> {
        self.ws_version.map(|s| self.headers.at(s))
    }

    /// `Access-Control-Request-Headers`, for CORS preflights (the first).
    pub fn access_control_request_headers(&self) -> Option<&str> {
        self.access_control_request_headers
            .map(|s| self.headers.at(s))
    }

    /// Takes the header fields and the raw query string out of the head
    /// (for a session's handshake record, without copying them). The head
    /// keeps no field afterwards: [`RequestHead::headers`] is empty and
    /// every field accessor (`host`, `origin`, the websocket key…) answers
    /// `None`; the parsed query parameters stay.
    pub fn take_fields_and_query(&mut self) -> (Headers, String) {
        self.host = None;
        self.origin = None;
        self.ws_key = None;
        self.ws_version = None;
        self.access_control_request_headers = None;
        (
            std::mem::take(&mut self.headers),
            std::mem::take(&mut self.query.raw),
        )
    }
}

/// Parses a request head from the start of `buf`.
///
/// `Ok(None)`: incomplete (and fewer than `max_head_bytes` bytes so far).
/// `Ok(Some((head, head_len)))`: the body (if any) starts at `head_len`.
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(RequestHead, usize)>, HttpError> {
    let max_head_bytes = limits.max_head_bytes.min(super::MAX_HEAD_BYTES);
    let window = buf.get(..max_head_bytes).unwrap_or(buf);
    // Slots left uninitialized (httparse writes those it fills): 64 slots
    // are 2 KiB, which zeroing cost on every request.
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
    let mut heap = Vec::new();
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if limits.max_headers <= STACK_HEADERS {
        &mut stack[..limits.max_headers]
    } else {
        // Sized by configuration, not by input.
        heap.resize_with(limits.max_headers, MaybeUninit::uninit);
        &mut heap
    };
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(window, slots) {
        Ok(httparse::Status::Complete(len)) => build(&req).map(|head| Some((head, len))),
        Ok(httparse::Status::Partial) if buf.len() >= max_head_bytes => {
            Err(HttpError::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HttpError::TooManyHeaders),
        Err(_) => Err(HttpError::Malformed),
    }
}

fn build(req: &httparse::Request<'_, '_>) -> Result<RequestHead, HttpError> {
    let method = match req.method {
        Some("GET") => Method::Get,
        Some("POST") => Method::Post,
        Some("OPTIONS") => Method::Options,
        _ => Method::Other,
    };
    let version_minor = req.version.ok_or(HttpError::Malformed)?;
    let target = strip_authority(req.path.ok_or(HttpError::Malformed)?);
    let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));

    let mut head = RequestHead {
        method,
        path: if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        },
        query: Query::parse(raw_query),
        version_minor,
        host: None,
        origin: None,
        upgrade_websocket: false,
        ws_key: None,
        ws_version: None,
        content_length: None,
        chunked: false,
        keep_alive: false,
        access_control_request_headers: None,
        headers: Headers::with_capacity(
            req.headers.len(),
            req.headers
                .iter()
                .map(|h| h.name.len() + h.value.len())
                .sum(),
        ),
    };
    let (mut conn_close, mut conn_keep_alive, mut conn_upgrade, mut upgrade_ws) =
        (false, false, false, false);
    let mut te_seen = false;
    let mut te_codings = 0usize;

    for h in req.headers.iter() {
        let (name, span) = head.headers.push(h.name, h.value);
        // `name` is lower-cased: a plain match (length, then bytes).
        match name {
            "host" => set_once(&mut head.host, span)?,
            "origin" => set_first(&mut head.origin, span)?,
            "upgrade" => {
                upgrade_ws |= tokens(h.value).any(|t| t.eq_ignore_ascii_case(b"websocket"));
            }
            "connection" => {
                for t in tokens(h.value) {
                    conn_close |= t.eq_ignore_ascii_case(b"close");
                    conn_keep_alive |= t.eq_ignore_ascii_case(b"keep-alive");
                    conn_upgrade |= t.eq_ignore_ascii_case(b"upgrade");
                }
            }
            "sec-websocket-key" => set_once(&mut head.ws_key, span)?,
            "sec-websocket-version" => set_first(&mut head.ws_version, span)?,
            "content-length" => {
                for v in h.value.split(|&b| b == b',') {
                    let n = parse_content_length(v)?;
                    if head.content_length.is_some_and(|prev| prev != n) {
                        return Err(HttpError::BadContentLength);
                    }
                    head.content_length = Some(n);
                }
            }
            "transfer-encoding" => {
                te_seen = true;
                for t in tokens(h.value) {
                    te_codings += 1;
                    if !t.eq_ignore_ascii_case(b"chunked") {
                        return Err(HttpError::UnsupportedTransferEncoding);
                    }
                }
            }
            "access-control-request-headers" => {
                set_first(&mut head.access_control_request_headers, span)?;
            }
            _ => {}
        }
    }

    if te_seen {
        // RFC 9112 §6.1: a 1.0 request with Transfer-Encoding is faulty.
        if version_minor == 0 {
            return Err(HttpError::Malformed);
        }
        if te_codings != 1 {
            return Err(HttpError::UnsupportedTransferEncoding);
        }
        if head.content_length.is_some() {
            return Err(HttpError::ContentLengthAndChunked);
        }
        head.chunked = true;
    }
    if version_minor >= 1 && head.host.is_none() {
        return Err(HttpError::MissingHost);
    }
    head.upgrade_websocket = upgrade_ws && conn_upgrade;
    head.keep_alive = !conn_close && (version_minor >= 1 || conn_keep_alive);
    Ok(head)
}

/// Reduces an absolute-form target (`http://host/p?q`) to `/p?q` (the
/// caller maps an empty path, as in `http://host?q`, to `/`).
fn strip_authority(target: &str) -> &str {
    let lower_starts = |p: &str| {
        target
            .get(..p.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    let rest = if lower_starts("http://") {
        &target[7..]
    } else if lower_starts("https://") {
        &target[8..]
    } else {
        return target;
    };
    // `find` returns the index of an ASCII byte, a char boundary.
    rest.find(['/', '?']).map_or("/", |i| &rest[i..])
}

/// Comma-separated, trimmed, non-empty tokens of a header value.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(|t| t.trim_ascii())
        .filter(|t| !t.is_empty())
}

/// Keeps the first occurrence of a header (its `span` in the head's
/// `Headers`); later ones are ignored. A header the server reads must be
/// UTF-8 (`span` is `None` when it was not).
fn set_first(slot: &mut Option<Span>, span: Option<Span>) -> Result<(), HttpError> {
    if slot.is_none() {
        *slot = Some(span.ok_or(HttpError::Malformed)?);
    }
    Ok(())
}

/// Keeps a header that must appear at most once (UTF-8, as in
/// [`set_first`]).
fn set_once(slot: &mut Option<Span>, span: Option<Span>) -> Result<(), HttpError> {
    if slot.is_some() {
        return Err(HttpError::Malformed);
    }
    *slot = Some(span.ok_or(HttpError::Malformed)?);
    Ok(())
}

/// `1*DIGIT` (surrounding whitespace allowed), fitting in u64.
fn parse_content_length(v: &[u8]) -> Result<u64, HttpError> {
    let v = v.trim_ascii();
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(HttpError::BadContentLength);
    }
    v.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)
            .and_then(|a| a.checked_add(u64::from(d - b'0')))
            .ok_or(HttpError::BadContentLength)
    })
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;

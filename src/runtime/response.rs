//! HTTP answers of the IO shell, in one place: status lines, CORS headers
//! (as Node's `cors` middleware sends them), keep-alive (kept only when the
//! request left no unread body) and the one conversion of an
//! [`EngineError`] into a response.

use bytes::BytesMut;
use ringcast_proto::engineio::EngineError;
use ringcast_proto::http::{self, RequestHead};

use super::conn::Next;
use super::io::Conn;
use crate::shard::Shard;
use crate::Cors;

/// CORS headers for a response, per `Config::cors` and
/// `Config::cors_credentials`, as the `cors` npm package sends them on
/// every answer: `*` for any origin (the origin itself with credentials:
/// never `*` with credentials), the origin itself plus `Vary: Origin` for a
/// list or reflection (no `Access-Control-Allow-Origin` for an origin not
/// in the list), then `Access-Control-Allow-Credentials: true` whatever the
/// origin (Node sends it to refused origins too).
pub(crate) fn cors_headers<'a>(shard: &Shard, head: &'a RequestHead) -> CorsHeaders<'a> {
    let config = &shard.config;
    let mut headers = CorsHeaders::new();
    if config.cors == Cors::Off {
        return headers;
    }
    match (&config.cors, config.cors_credentials) {
        (Cors::Off, _) => return headers,
        (Cors::Any, false) => headers.push(("Access-Control-Allow-Origin", "*")),
        (cors, _) => {
            if let Some(origin) = cors.allow(head.origin()) {
                headers.push(("Access-Control-Allow-Origin", origin));
            }
            headers.push(("Vary", "Origin"));
        }
    }
    if config.cors_credentials {
        headers.push(("Access-Control-Allow-Credentials", "true"));
    }
    headers
}

/// The CORS headers of one answer: inline (at most three, and the preflight's
/// five), so an answer allocates no list for them.
pub(crate) type CorsHeaders<'a> = smallvec::SmallVec<[(&'static str, &'a str); 6]>;

/// Answers an Engine.IO error like Node (the one place an engine error
/// becomes a response): status 400 (403 for Forbidden)
/// with `{"code":N,"message":"…"}`; on a websocket upgrade request, Node's
/// plain `text/html` message and the connection closes.
pub(crate) async fn send_engine_error(
    shard: &Shard,
    conn: &mut Conn,
    head: &RequestHead,
    err: EngineError,
) -> Next {
    if head.upgrade_websocket {
        let headers = [("Content-type", "text/html")];
        let body = err.message().as_bytes();
        let next = send_response(conn, err.http_status(), &headers, body, false).await;
        return drain_unread(shard, conn, head, next).await;
    }
    let body = err.to_json();
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend(cors_headers(shard, head).iter().copied());
    let keep_alive = head.keep_alive && !has_body(head);
    let next = send_response(
        conn,
        err.http_status(),
        &headers,
        body.as_bytes(),
        keep_alive,
    )
    .await;
    drain_unread(shard, conn, head, next).await
}

/// Writes a complete response. The connection is kept (and its read buffer
/// released) only when `keep_alive` and the write succeeded.
pub(crate) async fn send_response(
    conn: &mut Conn,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    keep_alive: bool,
) -> Next {
    let mut out = BytesMut::with_capacity(256 + body.len());
    http::Response {
        status,
        headers,
        body,
        keep_alive,
    }
    .write(&mut out);
    if conn.write_all(&out).await.is_err() || !keep_alive {
        return Next::Close;
    }
    conn.compact();
    Next::KeepAlive
}

/// After an answer that closes the connection with the request's body
/// left unread, a lingering close ([`Conn::linger`]): closing at once would
/// send a RST that can make the client's stack drop the answer (a 413, a
/// 400) while it is still sending the body.
async fn drain_unread(shard: &Shard, conn: &mut Conn, head: &RequestHead, next: Next) -> Next {
    if matches!(next, Next::Close) && (has_body(head) || !conn.rbuf.is_empty()) {
        conn.linger(shard).await;
    }
    next
}

/// Whether the request announced a body (which an early answer leaves unread,
/// so the connection cannot be reused).
fn has_body(head: &RequestHead) -> bool {
    head.chunked || head.content_length.is_some_and(|n| n > 0)
}

/// The CORS preflight (`OPTIONS`) answer: `204` with the allowed methods
/// and headers, as the `cors` npm package sends them.
pub(crate) async fn preflight(shard: &Shard, conn: &mut Conn, head: &RequestHead) -> Next {
    let max_age = shard.config.cors_max_age.map(|d| d.as_secs().to_string());
    let mut headers = cors_headers(shard, head);
    if shard.config.cors != Cors::Off {
        let vary_origin = headers.iter().any(|(k, _)| *k == "Vary");
        headers.retain(|(k, _)| *k != "Vary");
        headers.push((
            "Access-Control-Allow-Methods",
            "GET,HEAD,PUT,PATCH,POST,DELETE",
        ));
        if let Some(h) = head.access_control_request_headers() {
            headers.push(("Access-Control-Allow-Headers", h));
        }
        if let Some(age) = &max_age {
            headers.push(("Access-Control-Max-Age", age));
        }
        let vary = if vary_origin {
            "Origin, Access-Control-Request-Headers"
        } else {
            "Access-Control-Request-Headers"
        };
        headers.push(("Vary", vary));
    }
    headers.push(("Content-Length", "0"));
    let keep_alive = head.keep_alive && !has_body(head);
    let next = send_response(conn, 204, &headers, b"", keep_alive).await;
    drain_unread(shard, conn, head, next).await
}

/// `404 Not Found` for a path that is no endpoint.
pub(crate) async fn not_found(shard: &Shard, conn: &mut Conn, head: &RequestHead) -> Next {
    let (status, body) = (404, "Not Found");
    let keep_alive = head.keep_alive && !has_body(head);
    let headers = [("Content-Type", "text/plain")];
    let next = send_response(conn, status, &headers, body.as_bytes(), keep_alive).await;
    drain_unread(shard, conn, head, next).await
}

/// A `200`-style answer of a session request, with CORS and keep-alive.
pub(crate) async fn respond(
    shard: &Shard,
    conn: &mut Conn,
    head: &RequestHead,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> Next {
    respond_with(shard, conn, head, status, content_type, body, &[]).await
}

/// [`respond`] with `extra` headers after the CORS ones (the handshake's
/// `Set-Cookie`).
pub(crate) async fn respond_with(
    shard: &Shard,
    conn: &mut Conn,
    head: &RequestHead,
    status: u16,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> Next {
    let mut headers = vec![
        ("Content-Type", content_type),
        ("Cache-Control", "no-store"),
    ];
    headers.extend(cors_headers(shard, head).iter().copied());
    headers.extend_from_slice(extra);
    send_response(conn, status, &headers, body, head.keep_alive).await
}

/// An answer that closes the connection (a request body left unread).
pub(crate) async fn respond_close(
    shard: &Shard,
    conn: &mut Conn,
    head: &RequestHead,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Next {
    let mut headers: Vec<(&str, &str)> = content_type
        .map(|c| ("Content-Type", c))
        .into_iter()
        .collect();
    headers.extend(cors_headers(shard, head).iter().copied());
    let next = send_response(conn, status, &headers, body, false).await;
    drain_unread(shard, conn, head, next).await
}

//! The per-connection task: HTTP/1.1 requests (keep-alive) routed to the
//! Engine.IO handshake, long-polling, or a websocket upgrade.
//!
//! Routing across shards: a request naming a session owned by another shard
//! (`sid::shard_for`) is not proxied; the connection itself moves. The task
//! duplicates the descriptor, sends it with the unconsumed bytes to the
//! owner ([`ShardMsg::Adopt`]) and ends; the owner serves the request (and
//! the rest of the keep-alive connection, or the upgraded websocket).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::rc::Rc;

use bytes::BytesMut;
use ringcast_proto::engineio::EngineError;
use ringcast_proto::http::{self, Method, RequestHead};
use ringcast_proto::sid;

use super::io::Conn;
use super::{polling, websocket};
use crate::shard::mesh::ShardMsg;
use crate::shard::session::{SessionKind, Transport};
use crate::shard::Shard;
use crate::Cors;

/// What the connection does after a request.
pub(crate) enum Next {
    /// Read the next request (keep-alive).
    KeepAlive,
    /// Close the connection.
    Close,
    /// Move the connection to shard `.0` with the request unconsumed.
    Handoff(usize),
    /// The connection is now this session's websocket (101 sent). The
    /// request head is dropped before the connection loop runs, so a
    /// long-lived websocket keeps none of it.
    WebSocket(Rc<crate::shard::session::Session>),
    /// The 101 for an upgrade of this polling session was sent; probe next.
    Upgrade(Rc<crate::shard::session::Session>),
}

/// Serves one TCP connection until it closes or moves to another shard.
pub(crate) async fn serve(shard: Rc<Shard>, mut conn: Conn) {
    loop {
        let head = match glommio::timer::timeout(
            shard.config.http_head_timeout,
            read_head(&shard, &mut conn),
        )
        .await
        {
            Ok(Some(h)) => h,
            Ok(None) => return,
            Err(glommio::GlommioError::IoError(e))
                if e.kind() == std::io::ErrorKind::InvalidData =>
            {
                return;
            }
            Err(_) => return,
        };
        let (head, head_len) = head;
        match route(&shard, &mut conn, head, head_len).await {
            Next::KeepAlive => continue,
            Next::Close => return,
            Next::Handoff(owner) => return handoff(&shard, conn, owner),
            Next::WebSocket(session) => return websocket::run(&shard, &mut conn, &session).await,
            Next::Upgrade(session) => {
                return websocket::probe_then_run(&shard, &mut conn, session).await
            }
        }
    }
}

/// Reads until a complete request head is buffered. `Ok(None)`: the client
/// closed (or sent a bad head, already answered).
async fn read_head(
    shard: &Shard,
    conn: &mut Conn,
) -> glommio::Result<Option<(RequestHead, usize)>, ()> {
    let limits = http::Limits {
        max_head_bytes: shard.config.max_http_head_bytes,
        ..http::Limits::default()
    };
    loop {
        if !conn.rbuf.is_empty() {
            match http::parse_request(&conn.rbuf, &limits) {
                Ok(Some(h)) => return Ok(Some(h)),
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "bad HTTP request head");
                    let mut out = BytesMut::new();
                    http::Response {
                        status: e.status(),
                        headers: &[("Content-Type", "text/plain")],
                        body: e.to_string().as_bytes(),
                        keep_alive: false,
                    }
                    .write(&mut out);
                    let _ = conn.write_all(&out).await;
                    return Ok(None);
                }
            }
        }
        match conn.fill(shard).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
    }
}

fn handoff(shard: &Shard, conn: Conn, owner: usize) {
    // SAFETY: dup of a descriptor we own; the duplicate is owned by the
    // message from here on and closed by whoever drops it.
    let fd = unsafe { libc::dup(conn.stream.as_raw_fd()) };
    if fd < 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "dup failed; dropping connection");
        return;
    }
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    shard.stats.handoffs.set(shard.stats.handoffs.get() + 1);
    let buffered = conn.rbuf.to_vec();
    drop(conn);
    shard.mesh.send(owner, ShardMsg::Adopt { fd, buffered });
}

/// The endpoint a path maps to.
fn endpoint(shard: &Shard, path: &str) -> Option<SessionKind> {
    if path == shard.config.path || path.strip_suffix('/') == shard.config.path.strip_suffix('/') {
        return Some(SessionKind::SocketIo);
    }
    shard
        .config
        .engine_paths
        .iter()
        .position(|p| path == p || path.strip_suffix('/') == p.strip_suffix('/'))
        .map(|i| SessionKind::Engine(i as u16))
}

/// CORS headers for a response, per `Config::cors` (as the `cors` npm
/// package sends them: `*` for any origin, the origin itself for a list).
pub(crate) fn cors_headers<'a>(
    shard: &Shard,
    head: &'a RequestHead,
) -> Vec<(&'static str, &'a str)> {
    match &shard.config.cors {
        Cors::Off => Vec::new(),
        Cors::Any => vec![("Access-Control-Allow-Origin", "*")],
        Cors::List(_) => match shard.config.cors.allow(head.origin.as_deref()) {
            Some(origin) => vec![("Access-Control-Allow-Origin", origin), ("Vary", "Origin")],
            None => vec![("Vary", "Origin")],
        },
    }
}

/// Answers an Engine.IO error like Node: status 400 (403 for Forbidden)
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
        return send_response(conn, err.http_status(), &headers, body, false).await;
    }
    let body = err.to_json();
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend(cors_headers(shard, head));
    let keep_alive = head.keep_alive && !has_body(head);
    send_response(
        conn,
        err.http_status(),
        &headers,
        body.as_bytes(),
        keep_alive,
    )
    .await
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

/// Whether the request announced a body (which an early answer leaves unread,
/// so the connection cannot be reused).
fn has_body(head: &RequestHead) -> bool {
    head.chunked || head.content_length.is_some_and(|n| n > 0)
}

async fn route(shard: &Rc<Shard>, conn: &mut Conn, head: RequestHead, head_len: usize) -> Next {
    let Some(kind) = endpoint(shard, &head.path) else {
        let _ = conn.rbuf.split_to(head_len);
        return send_plain(conn, &head, 404, "Not Found").await;
    };
    // Route by session owner before anything is consumed.
    if let Some(id) = head.query.sid.as_deref() {
        if shard.nshards > 1 && sid::is_well_formed(id) {
            let owner = sid::shard_for(id, shard.nshards);
            if owner != shard.id {
                return Next::Handoff(owner);
            }
        }
    }
    let _ = conn.rbuf.split_to(head_len);
    if head.method == Method::Options {
        return preflight(shard, conn, &head).await;
    }
    let transport = match head.query.transport.as_deref() {
        Some("polling") if shard.config.transports.polling => Transport::Polling,
        Some("websocket") if shard.config.transports.websocket => Transport::WebSocket,
        _ => return send_engine_error(shard, conn, &head, EngineError::UnknownTransport).await,
    };
    if head.upgrade_websocket && transport != Transport::WebSocket {
        return send_engine_error(shard, conn, &head, EngineError::BadRequest).await;
    }
    if let Some(id) = head.query.sid.clone() {
        let Some(session) = shard.session(&id) else {
            return send_engine_error(shard, conn, &head, EngineError::UnknownSid).await;
        };
        if head.upgrade_websocket && transport == Transport::WebSocket {
            return websocket::upgrade(shard, conn, &head, session).await;
        }
        let current = session.st.borrow().transport;
        if current != transport || transport != Transport::Polling {
            return send_engine_error(shard, conn, &head, EngineError::BadRequest).await;
        }
        return match head.method {
            Method::Get => polling::handle_get(shard, conn, &head, session).await,
            Method::Post => polling::handle_post(shard, conn, &head, session).await,
            _ => send_engine_error(shard, conn, &head, EngineError::BadRequest).await,
        };
    }
    // Handshake.
    if head.method != Method::Get {
        return send_engine_error(shard, conn, &head, EngineError::BadHandshakeMethod).await;
    }
    if head.query.eio.as_deref() != Some("4") {
        return send_engine_error(shard, conn, &head, EngineError::UnsupportedProtocolVersion)
            .await;
    }
    if let Some(next) = super::ip_limit::refuse_over_cap(shard, conn, &head).await {
        return next;
    }
    match transport {
        Transport::Polling => polling::handshake(shard, conn, &head, kind).await,
        Transport::WebSocket if head.upgrade_websocket => {
            websocket::open(shard, conn, &head, kind).await
        }
        Transport::WebSocket => {
            send_engine_error(shard, conn, &head, EngineError::BadRequest).await
        }
    }
}

async fn preflight(shard: &Shard, conn: &mut Conn, head: &RequestHead) -> Next {
    let mut headers = cors_headers(shard, head);
    if shard.config.cors != Cors::Off {
        headers.retain(|(k, _)| *k != "Vary");
        headers.push((
            "Access-Control-Allow-Methods",
            "GET,HEAD,PUT,PATCH,POST,DELETE",
        ));
        if let Some(h) = head.access_control_request_headers.as_deref() {
            headers.push(("Access-Control-Allow-Headers", h));
        }
        let vary = if matches!(shard.config.cors, Cors::List(_)) {
            "Origin, Access-Control-Request-Headers"
        } else {
            "Access-Control-Request-Headers"
        };
        headers.push(("Vary", vary));
    }
    headers.push(("Content-Length", "0"));
    let keep_alive = head.keep_alive && !has_body(head);
    send_response(conn, 204, &headers, b"", keep_alive).await
}

async fn send_plain(conn: &mut Conn, head: &RequestHead, status: u16, body: &str) -> Next {
    let keep_alive = head.keep_alive && !has_body(head);
    let headers = [("Content-Type", "text/plain")];
    send_response(conn, status, &headers, body.as_bytes(), keep_alive).await
}

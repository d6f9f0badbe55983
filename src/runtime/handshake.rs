//! The Engine.IO handshake: a new session (its id, timing, handshake
//! record and timer) and its open packet, answered on long-polling or as
//! the first frame after a websocket's `101 Switching Protocols`.
//!
//! Before a session exists the `allow_request` hook may refuse the request
//! (engine.io's `allowRequest`: 403 `{"code":4,…}`); the answer that
//! creates the session carries the `cookie` (engine.io's `io=<sid>`), only
//! there, as Node sets it on the initial request only.

use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use ringcast_proto::engineio::payload::PayloadWriter;
use ringcast_proto::engineio::session::SessionConfig;
use ringcast_proto::engineio::{EngineError, Format, Protocol};
use ringcast_proto::http::{self, RequestHead};
use ringcast_proto::ws;
use ringcast_proto::ws::deflate::Negotiated;

use super::conn::Next;
use super::io::Conn;
use super::response::{cors_headers, respond_with, send_response};
use crate::shard::session::{CloseReason, Handshake, Session, SessionKind, Transport};
use crate::shard::Shard;
use crate::HandshakeRequest;

/// Runs `Config::allow_request`; `Some(next)` when the handshake was
/// refused (the answer is sent, as engine.io's `abortRequest` /
/// `abortUpgrade` write it).
async fn refused_by_hook(shard: &Shard, conn: &mut Conn, head: &RequestHead) -> Option<Next> {
    let hook = shard.config.allow_request.as_ref()?;
    let request = HandshakeRequest {
        head,
        address: conn.peer_addr().map(|a| a.ip()),
    };
    let message = hook.check(&request).await.err()?;
    let err = EngineError::Forbidden;
    let message = message.unwrap_or_else(|| err.message().to_owned());
    if head.upgrade_websocket {
        let headers = [("Content-type", "text/html")];
        return Some(send_response(conn, 403, &headers, message.as_bytes(), false).await);
    }
    let body = serde_json::json!({"code": err.code(), "message": message}).to_string();
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend(cors_headers(shard, head).iter().copied());
    let keep_alive = head.keep_alive && !head.chunked && head.content_length.unwrap_or(0) == 0;
    Some(send_response(conn, 403, &headers, body.as_bytes(), keep_alive).await)
}

/// The handshake details a Socket.IO handler can read, from the first
/// request (copied: the request is answered after the session opens).
pub(crate) fn handshake_info(head: &RequestHead, conn: &Conn) -> Handshake {
    handshake_of(head.headers.as_str().into(), head.query.raw.clone(), conn)
}

/// [`handshake_info`] of a request that is done with its head (a
/// websocket's: the 101 is written): the header text and the query string
/// move into the record instead of being copied.
fn handshake_taken(head: &mut RequestHead, conn: &Conn) -> Handshake {
    let (headers, query) = head.take_fields_and_query();
    handshake_of(headers.into_boxed_str(), query, conn)
}

fn handshake_of(raw_headers: Box<str>, query: String, conn: &Conn) -> Handshake {
    Handshake {
        raw_headers,
        query,
        address: conn
            .peer_addr()
            .map(|a| ip_text(a.ip()))
            .unwrap_or_default(),
        issued: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        secure: false,
    }
}

/// An address as text, as `Display` writes it; an IPv4 address without
/// the formatting machinery (callgrind: 1,300 instructions per connection
/// through `Display`).
fn ip_text(ip: std::net::IpAddr) -> String {
    let std::net::IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut s = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if octet >= 100 {
            s.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            s.push(char::from(b'0' + octet / 10 % 10));
        }
        s.push(char::from(b'0' + octet % 10));
    }
    s
}

/// Creates and registers a session; its heartbeat and connect deadline are
/// scheduled on the shard's deadline heap.
///
/// An Engine.IO v3 Socket.IO session is connected to `/` right away
/// (Node: protocol v4 clients send no CONNECT for the main namespace); the
/// CONNECT reply is queued behind the open packet.
pub(crate) fn new_session(
    shard: &Rc<Shard>,
    handshake: Handshake,
    kind: SessionKind,
    transport: Transport,
    protocol: Protocol,
) -> Rc<Session> {
    let session = create_session(shard, kind, transport, protocol, handshake, Instant::now());
    if protocol.is_v3() && kind == SessionKind::SocketIo {
        shard.handle_v3_open(&session);
    }
    session
}

/// Creates and registers a session opened at `now` (the IO-free part of
/// [`new_session`], shared with the simulation tests, which drive the
/// shard's deadlines with their own clock).
pub(crate) fn create_session(
    shard: &Rc<Shard>,
    kind: SessionKind,
    transport: Transport,
    protocol: Protocol,
    handshake: Handshake,
    now: Instant,
) -> Rc<Session> {
    let config = &shard.config;
    let timing = SessionConfig {
        ping_interval: config.ping_interval,
        ping_timeout: config.ping_timeout,
        // A v3 client is connected to `/` by the server: no connect deadline
        // (Node sets none for protocol 3).
        connect_timeout: (kind == SessionKind::SocketIo && !protocol.is_v3())
            .then_some(config.connect_timeout),
        max_buffered_bytes: config.max_buffered_bytes,
        protocol,
    };
    let session = Session::new(shard.new_sid(), kind, transport, handshake, timing, now);
    shard.insert_session(session.clone());
    session
}

/// The open packet's text (`0{…}`) of a websocket session (no upgrade)
/// or, with `polling`, of a polling one.
pub(crate) fn open_packet(shard: &Shard, sid: &str, polling: bool) -> String {
    let templates = &shard.open_templates;
    let template = if polling {
        &templates.polling
    } else {
        &templates.websocket
    };
    let mut text = String::with_capacity(128 + sid.len());
    text.push('0');
    template.write_json(sid, &mut text);
    text
}

/// GET without sid: opens a polling session; the open packet is the answer.
pub(crate) async fn open_polling(
    shard: &Rc<Shard>,
    conn: &mut Conn,
    head: &RequestHead,
    kind: SessionKind,
    protocol: Protocol,
) -> Next {
    if let Some(next) = refused_by_hook(shard, conn, head).await {
        return next;
    }
    // After the hook's `.await`s: the check and the count below are in one
    // turn of the shard (see `ip_limit`).
    if let Some(next) = super::ip_limit::refuse_over_cap(shard, conn, head).await {
        return next;
    }
    let handshake = handshake_info(head, conn);
    let session = new_session(shard, handshake, kind, Transport::Polling, protocol);
    let mut body = polling_open_body(shard, &session.sid);
    if protocol.is_v3() {
        // A v3 payload of one packet: `<length>:0{…}`.
        let mut out = BytesMut::new();
        PayloadWriter::with_format(&mut out, Format::V3Text).push_encoded(body.as_bytes());
        body = String::from_utf8_lossy(&out).into_owned();
    }
    let cookie = shard
        .config
        .cookie
        .as_ref()
        .map(|c| c.header_value(&session.sid));
    let extra: Vec<(&str, &str)> = cookie.iter().map(|c| ("Set-Cookie", c.as_str())).collect();
    respond_with(
        shard,
        conn,
        head,
        200,
        "text/plain; charset=UTF-8",
        body.as_bytes(),
        &extra,
    )
    .await
}

/// The answer to a polling handshake: the open packet, offering the
/// websocket upgrade when that transport is enabled.
pub(crate) fn polling_open_body(shard: &Shard, sid: &str) -> String {
    open_packet(shard, sid, true)
}

/// Adds `headers` to a complete response head in `out` (before its final
/// empty line).
fn append_headers<K: AsRef<str>, V: AsRef<str>>(out: &mut BytesMut, headers: &[(K, V)]) {
    if headers.is_empty() || !out.ends_with(b"\r\n\r\n") {
        return;
    }
    out.truncate(out.len() - 2);
    for (k, v) in headers {
        out.extend_from_slice(k.as_ref().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_ref().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Validates the websocket handshake headers and returns the 101 response
/// (not yet written, so a caller can send its first frame in the same write)
/// and the permessage-deflate parameters it agreed to (`deflate.rs`).
pub(crate) fn accept(
    shard: &Shard,
    head: &RequestHead,
) -> Result<(BytesMut, Option<Negotiated>), EngineError> {
    let key = head.ws_key().filter(|k| ws::is_valid_key(k.as_bytes()));
    let (Some(key), Some("13")) = (key, head.ws_version()) else {
        return Err(EngineError::BadRequest);
    };
    // Room for the 101, its extra headers and the open packet's frame.
    let mut out = BytesMut::with_capacity(512);
    http::write_switching_protocols(ws::accept_key(key.as_bytes()).as_str(), &mut out);
    // Node's engine.io runs its CORS middleware on upgrades too.
    append_headers(&mut out, &cors_headers(shard, head));
    let deflate = super::deflate::negotiate(&shard.config, head);
    if let Some(n) = &deflate {
        super::deflate::add_header(n, &mut out);
    }
    Ok((out, deflate))
}

/// A websocket without sid: a new session whose only transport is this one.
pub(crate) async fn open_websocket(
    shard: &Rc<Shard>,
    conn: &mut Conn,
    head: &mut RequestHead,
    kind: SessionKind,
    protocol: Protocol,
) -> Result<Next, EngineError> {
    if let Some(next) = refused_by_hook(shard, conn, head).await {
        return Ok(next);
    }
    // As on polling: no `.await` between the check and the count.
    if let Some(next) = super::ip_limit::refuse_over_cap(shard, conn, head).await {
        return Ok(next);
    }
    let (mut out, deflate) = accept(shard, head)?;
    conn.deflate = deflate;
    // The head is not read again: its text moves into the handshake record.
    let handshake = handshake_taken(head, conn);
    let session = new_session(shard, handshake, kind, Transport::WebSocket, protocol);
    if let Some(cookie) = &shard.config.cookie {
        append_headers(
            &mut out,
            &[("Set-Cookie", cookie.header_value(&session.sid))],
        );
    }
    // The 101 and the open packet's frame in one write; the packet's text
    // is written in the thread's scratch buffer, not a `String` of its own.
    crate::shard::encode::with_scratch(|text| {
        text.push('0');
        shard
            .open_templates
            .websocket
            .write_json(&session.sid, text);
        ws::encode_frame(ws::opcode::TEXT, text.as_bytes(), &mut out);
    });
    if conn.write_all(&out).await.is_err() {
        shard.close_session(&session, CloseReason::TransportClose);
        return Ok(Next::Close);
    }
    Ok(Next::WebSocket(session))
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    #[test]
    fn an_address_reads_as_display_writes_it() {
        for text in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "255.255.255.255",
            "1.100.9.10",
            "::1",
            "fe80::1",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(super::ip_text(ip), ip.to_string());
        }
    }
}

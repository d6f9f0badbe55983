//! HTTP long-polling: the handshake GET, the long-poll GET that drains a
//! session's queue, and the POST that carries client packets.

use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use ringcast_proto::engineio::session::{GetAnswer, SessionConfig};
use ringcast_proto::engineio::{payload, EngineError, OpenPacket};
use ringcast_proto::http::{self, ChunkedDecoder, RequestHead};

use super::conn::{cors_headers, send_engine_error, send_response, Next};
use super::io::Conn;
use super::tasks;
use crate::shard::msg::Control;
use crate::shard::session::{CloseReason, Handshake, Session, SessionKind, Transport};
use crate::shard::Shard;

/// Most packets accepted in one POST body.
const MAX_PACKETS_PER_POST: usize = 4096;

/// The handshake details a Socket.IO handler can read, from the first request.
pub(crate) fn handshake_info(head: &RequestHead, conn: &Conn) -> Handshake {
    Handshake {
        raw_headers: Handshake::pack_headers(
            head.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ),
        query: head.query.raw.clone(),
        address: conn
            .stream
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
        issued: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        secure: false,
    }
}

/// Creates and registers a session, with its heartbeat and connect timer.
pub(crate) fn new_session(
    shard: &Rc<Shard>,
    head: &RequestHead,
    conn: &Conn,
    kind: SessionKind,
    transport: Transport,
) -> Rc<Session> {
    let config = &shard.config;
    let timing = SessionConfig {
        ping_interval: config.ping_interval,
        ping_timeout: config.ping_timeout,
        connect_timeout: (kind == SessionKind::SocketIo).then_some(config.connect_timeout),
        max_buffered_bytes: config.max_buffered_bytes,
    };
    let session = Session::new(
        shard.new_sid(),
        kind,
        transport,
        handshake_info(head, conn),
        timing,
        Instant::now(),
    );
    shard.insert_session(session.clone());
    tasks::spawn_session_timer(shard, &session);
    session
}

/// The open packet's text (`0{…}`).
pub(crate) fn open_packet(shard: &Shard, sid: &str, upgrades: &[&str]) -> String {
    let json = OpenPacket {
        sid,
        upgrades,
        ping_interval: shard.config.ping_interval.as_millis() as u64,
        ping_timeout: shard.config.ping_timeout.as_millis() as u64,
        max_payload: shard.config.max_http_buffer_size as u64,
    }
    .to_json();
    format!("0{json}")
}

/// GET without sid: opens a polling session.
pub(crate) async fn handshake(
    shard: &Rc<Shard>,
    conn: &mut Conn,
    head: &RequestHead,
    kind: SessionKind,
) -> Next {
    let session = new_session(shard, head, conn, kind, Transport::Polling);
    let upgrades: &[&str] = if shard.config.transports.websocket {
        &["websocket"]
    } else {
        &[]
    };
    let body = open_packet(shard, &session.sid, upgrades);
    respond(
        shard,
        conn,
        head,
        200,
        "text/plain; charset=UTF-8",
        body.as_bytes(),
    )
    .await
}

/// The long-poll GET: waits until packets are queued (or the session
/// closes), then answers them all joined by `0x1e`.
pub(crate) async fn handle_get(
    shard: &Rc<Shard>,
    conn: &mut Conn,
    head: &RequestHead,
    session: Rc<Session>,
) -> Next {
    let refused = session.st.borrow_mut().eio.handle_get();
    if refused.is_err() {
        // Node: "data request overlap from client": 400, session closed,
        // and the pending GET is answered with a close packet.
        shard.close_session(&session, CloseReason::TransportError);
        return send_engine_error(shard, conn, head, EngineError::BadRequest).await;
    }
    let answer = poll_fn(|cx| {
        {
            let mut st = session.st.borrow_mut();
            if let Some(answer) = st.eio.poll_get() {
                return Poll::Ready(Some(answer));
            }
            st.writer = Some(cx.waker().clone());
        }
        // Watch the connection: a client that goes away ends the session.
        match conn.poll_fill(cx, shard) {
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => Poll::Ready(None),
            Poll::Ready(Ok(_)) | Poll::Pending => Poll::Pending,
        }
    })
    .await;
    session.st.borrow_mut().eio.handle_get_done();
    let body: &[u8] = match answer {
        None => {
            shard.close_session(&session, CloseReason::TransportClose);
            return Next::Close;
        }
        Some(GetAnswer::Closed) => Control::Close.text(),
        // The websocket took over: release this poll, never touch its queue.
        Some(GetAnswer::Upgraded) => Control::Noop.text(),
        Some(GetAnswer::Data) => {
            let mut body = BytesMut::new();
            session.st.borrow_mut().eio.poll_payload(&mut body);
            return respond(shard, conn, head, 200, "text/plain; charset=UTF-8", &body).await;
        }
    };
    respond(shard, conn, head, 200, "text/plain; charset=UTF-8", body).await
}

/// The POST: reads the body (bounded by `maxHttpBufferSize`), hands each
/// packet to the shard and answers `ok`.
pub(crate) async fn handle_post(
    shard: &Rc<Shard>,
    conn: &mut Conn,
    head: &RequestHead,
    session: Rc<Session>,
) -> Next {
    let max = shard.config.max_http_buffer_size;
    if session.st.borrow_mut().eio.handle_post().is_err() {
        shard.close_session(&session, CloseReason::TransportError);
        return send_engine_error(shard, conn, head, EngineError::BadRequest).await;
    }
    let octet = head
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("application/octet-stream"));
    if octet {
        // Engine.IO v4 polling carries binary as base64 text only (Node: 400).
        session.st.borrow_mut().eio.handle_post_done();
        shard.close_session(&session, CloseReason::TransportError);
        return respond_close(shard, conn, head, 400, None, b"").await;
    }
    if head.content_length.is_some_and(|n| n > max as u64) {
        session.st.borrow_mut().eio.handle_post_done();
        shard.close_session(&session, CloseReason::TransportError);
        return respond_close(shard, conn, head, 413, None, b"").await;
    }
    let deadline = shard.config.http_body_timeout;
    let body = glommio::timer::timeout(deadline, async {
        Ok(read_body(shard, conn, head, max).await)
    })
    .await
    .unwrap_or(Err(BodyError::Closed));
    session.st.borrow_mut().eio.handle_post_done();
    let body = match body {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            shard.close_session(&session, CloseReason::TransportError);
            return respond_close(shard, conn, head, 413, None, b"").await;
        }
        Err(BodyError::Malformed) => {
            shard.close_session(&session, CloseReason::TransportError);
            return respond_close(shard, conn, head, 400, None, b"").await;
        }
        Err(BodyError::Closed) => {
            shard.close_session(&session, CloseReason::TransportClose);
            return Next::Close;
        }
    };
    match payload::decode(&body, MAX_PACKETS_PER_POST) {
        Ok(packets) => {
            let now = Instant::now();
            for p in packets {
                shard.handle_engine_packet(&session, now, p);
            }
        }
        Err(e) => {
            tracing::debug!(sid = %session.sid, error = %e, "invalid polling payload");
            shard.close_session(&session, CloseReason::ParseError);
        }
    }
    respond(shard, conn, head, 200, "text/html", b"ok").await
}

enum BodyError {
    TooLarge,
    Malformed,
    Closed,
}

async fn read_body(
    shard: &Shard,
    conn: &mut Conn,
    head: &RequestHead,
    max: usize,
) -> Result<Bytes, BodyError> {
    if head.chunked {
        let mut dec = ChunkedDecoder::new(max);
        let mut out = BytesMut::new();
        loop {
            match dec.decode(&mut conn.rbuf, &mut out) {
                Ok(true) => return Ok(out.freeze()),
                Ok(false) => {}
                Err(http::HttpError::BodyTooLarge) => return Err(BodyError::TooLarge),
                Err(_) => return Err(BodyError::Malformed),
            }
            match conn.fill(shard).await {
                Ok(0) | Err(_) => return Err(BodyError::Closed),
                Ok(_) => {}
            }
        }
    }
    let len = head.content_length.unwrap_or(0) as usize;
    while conn.rbuf.len() < len {
        match conn.fill(shard).await {
            Ok(0) | Err(_) => return Err(BodyError::Closed),
            Ok(_) => {}
        }
    }
    let body = conn.rbuf.split_to(len).freeze();
    conn.compact();
    Ok(body)
}

async fn respond(
    shard: &Shard,
    conn: &mut Conn,
    head: &RequestHead,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> Next {
    let mut headers = vec![
        ("Content-Type", content_type),
        ("Cache-Control", "no-store"),
    ];
    headers.extend(cors_headers(shard, head));
    send_response(conn, status, &headers, body, head.keep_alive).await
}

async fn respond_close(
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
    headers.extend(cors_headers(shard, head));
    send_response(conn, status, &headers, body, false).await
}

//! HTTP long-polling: the long-poll GET that drains a session's queue and
//! the POST that carries client packets, driving the session's protocol
//! state (`handle_get` / `poll_get` / `poll_payload`, `handle_post`). The
//! handshake GET is in `handshake`.

use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use ringcast_proto::engineio::session::GetAnswer;
use ringcast_proto::engineio::{payload, v3, EngineError, Format, Protocol};
use ringcast_proto::http::{self, ChunkedDecoder, RequestHead};

use super::conn::Next;
use super::io::Conn;
use super::response::{respond, respond_close};
use crate::shard::closed::control_answer;
use crate::shard::msg::Control;
use crate::shard::session::{CloseReason, Session};
use crate::shard::Shard;

/// Most packets accepted in one POST body.
const MAX_PACKETS_PER_POST: usize = 4096;

/// The long-poll GET: waits until packets are queued (or the session
/// closes), then answers them all joined by `0x1e`.
///
/// A GET relayed by another ringcast node (it carries
/// [`super::forward::HOP_HEADER`]) travels over a node-to-node connection:
/// that connection closing means the relaying node died (or dropped it),
/// not that the client left, so it ends this GET and leaves the session to
/// its heartbeat; and a newer GET of the session takes its place instead
/// of being refused as an overlap (the load balancer retried the GET on
/// another node: `begin_get_via`).
pub(crate) async fn handle_get(
    shard: &Rc<Shard>,
    conn: &mut Conn,
    head: &RequestHead,
    session: Rc<Session>,
) -> Result<Next, EngineError> {
    let relayed = head.headers.contains(super::forward::HOP_HEADER);
    let gen = begin_get_via(shard, &session, relayed)?;
    let parked = poll_fn(|cx| {
        {
            let mut st = session.st.borrow_mut();
            if st.get_gen != gen {
                return Poll::Ready(Parked::Superseded);
            }
            if let Some(answer) = st.eio.poll_get() {
                return Poll::Ready(Parked::Answer(answer));
            }
            st.writer = Some(cx.waker().clone());
        }
        // Watch the connection: a client that goes away ends the session.
        match conn.poll_fill(cx, shard) {
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => Poll::Ready(Parked::Gone),
            Poll::Ready(Ok(_)) | Poll::Pending => Poll::Pending,
        }
    })
    .await;
    let answer = match parked {
        Parked::Answer(answer) => answer,
        Parked::Superseded => {
            // The newer GET owns the session's GET state; this connection
            // is most likely dead already: a noop if it is not.
            let body = Control::Noop.text();
            return Ok(respond(shard, conn, head, 200, "text/plain; charset=UTF-8", body).await);
        }
        Parked::Gone => {
            session.st.borrow_mut().eio.handle_get_done();
            if !relayed {
                shard.close_session(&session, CloseReason::TransportClose);
            }
            return Ok(Next::Close);
        }
    };
    session.st.borrow_mut().eio.handle_get_done();
    let (body, format) = get_body(&session, answer);
    let content_type = content_type(format);
    if let Some(next) =
        super::deflate::respond_compressed(shard, conn, head, &body, content_type).await
    {
        return Ok(next);
    }
    Ok(respond(shard, conn, head, 200, content_type, &body).await)
}

/// How a parked GET ended.
enum Parked {
    /// `poll_get` answered.
    Answer(GetAnswer),
    /// A newer GET of the session replaced this relayed one.
    Superseded,
    /// The connection closed.
    Gone,
}

/// A long-poll GET starts on the session. Node: "data request overlap
/// from client": a second GET is refused (400) and closes the session, so
/// the pending one is answered with a close packet. `relayed` when the GET
/// came from another ringcast node; returns the GET's number (`State::get_gen`). A GET parked through
/// another node is replaced by a newer GET rather than refused: the
/// node-to-node connection under it is what failed when a load balancer
/// retries a GET elsewhere (the relaying node died), and its close may
/// reach this node after the retried GET does.
pub(crate) fn begin_get_via(
    shard: &Rc<Shard>,
    session: &Rc<Session>,
    relayed: bool,
) -> Result<u32, EngineError> {
    let mut st = session.st.borrow_mut();
    if st.get_relayed && st.eio.is_get_active() {
        st.eio.handle_get_done();
        st.get_gen = st.get_gen.wrapping_add(1);
        if let Some(w) = st.writer.take() {
            w.wake();
        }
    }
    if st.eio.handle_get().is_err() {
        drop(st);
        shard.close_session(session, CloseReason::TransportError);
        return Err(EngineError::BadRequest);
    }
    st.get_relayed = relayed;
    st.get_gen = st.get_gen.wrapping_add(1);
    Ok(st.get_gen)
}

/// A POST starts being read on the session; an overlapping POST is
/// refused (400) and closes the session, as Node does.
pub(crate) fn begin_post(shard: &Rc<Shard>, session: &Rc<Session>) -> Result<(), EngineError> {
    if session.st.borrow_mut().eio.handle_post().is_err() {
        shard.close_session(session, CloseReason::TransportError);
        return Err(EngineError::BadRequest);
    }
    Ok(())
}

/// The body answering a parked GET, as `poll_get` decided, and its
/// payload format: the queue drained through the codec's payload writer
/// (`Session::poll_payload`, text packets copied once from their shared
/// frames), or a lone `1` / `6` (static for v4, `1:1` / `1:6` for v3).
pub(crate) fn get_body(session: &Session, answer: GetAnswer) -> (Bytes, Format) {
    let control = match answer {
        GetAnswer::Closed => Control::Close,
        // The websocket took over: release this poll, never touch its queue.
        GetAnswer::Upgraded => Control::Noop,
        GetAnswer::Data => {
            let mut body = BytesMut::new();
            let mut st = session.st.borrow_mut();
            let format = st.eio.payload_format();
            st.eio.poll_payload(&mut body);
            return (body.freeze(), format);
        }
    };
    (control_body(session.protocol, control), Format::V4)
}

/// A lone control packet as a payload of `protocol`.
fn control_body(protocol: Protocol, control: Control) -> Bytes {
    control_answer(protocol, control).0
}

/// The content type of a polling answer in `format` (Node's: binary only
/// for the v3 binary framing).
pub(crate) fn content_type(format: Format) -> &'static str {
    match format {
        Format::V3Binary => "application/octet-stream",
        Format::V4 | Format::V3Text => "text/plain; charset=UTF-8",
    }
}

/// A long-poll GET naming a session that is gone: when it closed over
/// polling moments ago with no GET parked (`shard::closed`), the answer
/// that GET would have got from Node (the noop `6` after a client's close;
/// the last packets and `1` after the server's), for the first such GET
/// only; else None (the caller answers 400 `Session ID unknown`).
pub(crate) async fn handle_get_after_close(
    shard: &Rc<Shard>,
    conn: &mut Conn,
    head: &RequestHead,
) -> Option<Next> {
    let sid = head.query.sid.as_deref()?;
    let polling_get = head.method == http::Method::Get
        && !head.upgrade_websocket
        && head.query.transport.as_deref() == Some("polling");
    if !polling_get {
        return None;
    }
    let (body, format) = shard.closed_polls.borrow_mut().take(sid, Instant::now())?;
    Some(respond(shard, conn, head, 200, content_type(format), &body).await)
}

/// The POST: reads the body (bounded by `maxHttpBufferSize`), hands each
/// packet to the shard and answers `ok`.
pub(crate) async fn handle_post(
    shard: &Rc<Shard>,
    conn: &mut Conn,
    head: &RequestHead,
    session: Rc<Session>,
) -> Result<Next, EngineError> {
    let max = shard.config.max_http_buffer_size;
    begin_post(shard, &session)?;
    let octet = head
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("application/octet-stream"));
    if octet && !session.protocol.is_v3() {
        // Engine.IO v4 polling carries binary as base64 text only (Node: 400).
        session.st.borrow_mut().eio.handle_post_done();
        shard.close_session(&session, CloseReason::TransportError);
        return Ok(respond_close(shard, conn, head, 400, None, b"").await);
    }
    if head.content_length.is_some_and(|n| n > max as u64) {
        session.st.borrow_mut().eio.handle_post_done();
        shard.close_session(&session, CloseReason::TransportError);
        return Ok(respond_close(shard, conn, head, 413, None, b"").await);
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
            return Ok(respond_close(shard, conn, head, 413, None, b"").await);
        }
        Err(BodyError::Malformed) => {
            shard.close_session(&session, CloseReason::TransportError);
            return Ok(respond_close(shard, conn, head, 400, None, b"").await);
        }
        Err(BodyError::Closed) => {
            shard.close_session(&session, CloseReason::TransportClose);
            return Ok(Next::Close);
        }
    };
    handle_post_body(shard, &session, &body, octet, Instant::now());
    Ok(respond(shard, conn, head, 200, "text/html", b"ok").await)
}

/// A polling POST body read at `now`: each packet goes to the shard; a
/// body that does not decode closes the session ("parse error"). The
/// answer is `ok` either way (Node's). A v3 body is `<length>:<packet>`
/// text, or the binary framing when sent as `application/octet-stream`
/// (`octet`).
pub(crate) fn handle_post_body(
    shard: &Rc<Shard>,
    session: &Rc<Session>,
    body: &Bytes,
    octet: bool,
    now: Instant,
) {
    let decoded = match (session.protocol, octet) {
        (Protocol::V4, _) => payload::decode(body, MAX_PACKETS_PER_POST),
        (Protocol::V3 { .. }, false) => v3::decode_payload_text(body, MAX_PACKETS_PER_POST),
        (Protocol::V3 { .. }, true) => v3::decode_payload_binary(body, MAX_PACKETS_PER_POST),
    };
    match decoded {
        Ok(packets) => {
            let get_parked = session.st.borrow().eio.is_get_active();
            for p in packets {
                shard.handle_engine_packet(session, now, p);
            }
            // Only the client's close packet ends a session with
            // `TransportClose` while a POST is processed. A parked GET got
            // the noop; else the client's GET may still be on its way.
            let closed = session.st.borrow().eio.closed();
            if closed == Some(CloseReason::TransportClose) && !get_parked {
                let noop = control_answer(session.protocol, Control::Noop);
                shard
                    .closed_polls
                    .borrow_mut()
                    .handle_close(&session.sid, now, noop);
            }
        }
        Err(e) => {
            tracing::debug!(sid = %session.sid, error = %e, "invalid polling payload");
            shard.close_session(session, CloseReason::ParseError);
        }
    }
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

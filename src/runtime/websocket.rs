//! WebSocket transport: the polling → websocket upgrade (`2probe` /
//! `3probe` / `5`, decided by the session's protocol state) and the
//! connection loop that reads frames and drains the session's queue. The
//! websocket handshake of a new session is in `handshake`.
//!
//! One task per connection does both directions: it polls the socket for
//! input and, when this connection is the session's transport, writes the
//! queue with gathered sends. Nothing is buffered per idle connection.

use std::future::{poll_fn, Future};

use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use bytes::BytesMut;
use glommio::timer::Timer;
use ringcast_proto::engineio::{EngineError, Packet};
use ringcast_proto::http::RequestHead;
use ringcast_proto::ws::deflate::Negotiated;
use ringcast_proto::ws::{self, FrameDecoder, Message};

use super::conn::Next;
use super::handshake::accept;
use super::io::Conn;
use crate::shard::msg::{Control, OutItem};
use crate::shard::session::{CloseReason, Session, Transport};
use crate::shard::Shard;

/// A close frame with status 1000 and no reason, the one the server sends
/// most (`ws::encode_close(1000, "")`, checked by a test).
const CLOSE_NORMAL: [u8; 4] = [0x88, 0x02, 0x03, 0xe8];

/// A websocket naming a polling session: the upgrade.
pub(crate) async fn upgrade(
    shard: &Rc<Shard>,
    conn: &mut Conn,
    head: &RequestHead,
    session: Rc<Session>,
) -> Result<Next, EngineError> {
    // A bad websocket handshake is refused (400) first, as the `ws`
    // library does before engine.io sees the socket.
    match begin_upgrade(shard, head, &session)? {
        UpgradeStart::Busy(out) => {
            tracing::debug!(sid = %session.sid, "second websocket upgrade: 101, then closed");
            let _ = conn.write_all(&out).await;
            Ok(Next::Close)
        }
        UpgradeStart::Probe(out, deflate) => {
            conn.deflate = deflate;
            if conn.write_all(&out).await.is_err() {
                session.st.borrow_mut().eio.handle_upgrade_failed();
                return Ok(Next::Close);
            }
            Ok(Next::Upgrade(session))
        }
    }
}

/// What an upgrade request gets ([`begin_upgrade`]).
#[derive(Debug)]
pub(crate) enum UpgradeStart {
    /// The `101` to write, and the permessage-deflate parameters it agreed
    /// to; the session is now upgrading (the probe follows).
    Probe(BytesMut, Option<Negotiated>),
    /// The session is busy (already upgrading or upgraded): Node's engine.io
    /// accepts the websocket (101), then closes it at once (`onWebSocket`:
    /// "transport had already been upgraded" / "has already been trying to
    /// upgrade", `websocket.close()`: a close frame without a status code).
    /// The bytes are the `101` and that close frame; the session and its
    /// current transport are untouched.
    Busy(BytesMut),
}

/// The IO-free part of [`upgrade`]: validates the websocket headers (400
/// when bad), answers a busy session with 101 + close, else marks the
/// session upgrading and returns the `101` to write.
pub(crate) fn begin_upgrade(
    shard: &Shard,
    head: &RequestHead,
    session: &Session,
) -> Result<UpgradeStart, EngineError> {
    let (mut out, deflate) = accept(shard, head)?;
    let busy = {
        let st = session.st.borrow();
        st.eio.transport() != Transport::Polling || st.eio.is_upgrading()
    };
    if busy {
        out.extend_from_slice(&[0x88, 0x00]);
        return Ok(UpgradeStart::Busy(out));
    }
    if session
        .st
        .borrow_mut()
        .eio
        .handle_upgrade_request(!head.query.b64)
        .is_err()
    {
        return Err(EngineError::BadRequest);
    }
    Ok(UpgradeStart::Probe(out, deflate))
}

/// What one websocket message does during the probe ([`probe_message`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ProbeStep {
    /// `2probe`: write this answer (`3probe`) on the new websocket, then
    /// wake the session's writer (a noop may be queued for a parked GET).
    Answer(Control),
    /// `5`: the websocket is the transport from now on (the writer, maybe a
    /// parked GET, was woken).
    Upgraded,
    /// Anything else (or the session closed meanwhile): the upgrade fails.
    Failed,
}

/// One message of the probe phase, decided by the session's protocol state.
pub(crate) fn probe_message(session: &Session, msg: Message) -> ProbeStep {
    let Message::Text(text) = msg else {
        return ProbeStep::Failed;
    };
    match Packet::decode_utf8(text) {
        Ok(Packet::Ping(data)) if &data[..] == b"probe" => {
            ProbeStep::Answer(session.st.borrow_mut().eio.handle_probe())
        }
        Ok(Packet::Upgrade) => {
            if !session.st.borrow_mut().eio.handle_upgrade() {
                return ProbeStep::Failed;
            }
            // A GET still parked is released by the transport change.
            session.wake_writer();
            ProbeStep::Upgraded
        }
        _ => ProbeStep::Failed,
    }
}

/// Runs the probe; on success the connection becomes the session's transport.
/// The probe's state is boxed (freed once it ends), so the connection's
/// long-lived task holds only the loop's (see `conn::serve`).
pub(crate) async fn probe_then_run(shard: &Rc<Shard>, conn: &mut Conn, session: Rc<Session>) {
    let deadline = Timer::new(shard.config.upgrade_timeout);
    if Box::pin(probe(shard, conn, &session, deadline)).await {
        return run(shard, conn, &session).await;
    }
    session.st.borrow_mut().eio.handle_upgrade_failed();
    let _ = conn.write_all(&CLOSE_NORMAL).await;
}

/// The probe phase: `2probe` → `3probe` (and a noop to any pending GET so
/// the client can pause polling), then `5` makes this the transport.
/// Returns false when the upgrade failed (timeout, bad packet, close).
async fn probe(
    shard: &Rc<Shard>,
    conn: &mut Conn,
    session: &Rc<Session>,
    mut deadline: Timer,
) -> bool {
    let mut dec =
        FrameDecoder::new(shard.config.max_http_buffer_size).with_deflate(conn.deflate.as_ref());
    loop {
        loop {
            let msg = match dec.decode(&mut conn.rbuf) {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(_) => return false,
            };
            match probe_message(session, msg) {
                ProbeStep::Answer(answer) => {
                    // `3probe` here; a noop queued for a parked GET goes out
                    // once it is written (the writer is woken after).
                    if conn.write_all(answer.ws_frame()).await.is_err() {
                        return false;
                    }
                    session.wake_writer();
                }
                ProbeStep::Upgraded => {
                    shard.app.handle_upgrade(shard, session);
                    return true;
                }
                ProbeStep::Failed => return false,
            }
        }
        conn.compact();
        let closed = session.is_closed();
        if closed {
            return false;
        }
        let r = poll_fn(|cx| {
            if session.is_closed() {
                return Poll::Ready(Err(()));
            }
            if std::pin::Pin::new(&mut deadline).poll(cx).is_ready() {
                return Poll::Ready(Err(()));
            }
            match conn.poll_fill(cx, shard) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => Poll::Ready(Err(())),
                Poll::Ready(Ok(n)) => Poll::Ready(Ok(n)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        if r.is_err() {
            return false;
        }
    }
}

enum Wake {
    Input,
    Eof,
    Closed,
    Error,
}

/// The websocket connection loop for an active session transport.
///
/// Its state lives in the connection task's future for the connection's
/// lifetime, so it holds only the decoder and its arguments (128 bytes,
/// `-Zprint-type-sizes`): a plain `fn` returning an `async move` block (an
/// `async fn` keeps its arguments twice, rust-lang/rust#62958), the decoding
/// in a plain function ([`decode_input`]) and the error path boxed
/// ([`fail`]).
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would keep its arguments twice (see above)"
)]
pub(crate) fn run<'a>(
    shard: &'a Rc<Shard>,
    conn: &'a mut Conn,
    session: &'a Rc<Session>,
) -> impl Future<Output = ()> + 'a {
    async move {
        let mut dec = FrameDecoder::new(shard.config.max_http_buffer_size)
            .with_deflate(conn.deflate.as_ref());
        conn.write_offset = 0;
        // The peer sent its close frame: it sends nothing more, so the close
        // needs no lingering (see `finish`).
        let mut peer_closed = false;
        loop {
            let decoded = match decode_input(shard, conn, session, &mut dec, &mut peer_closed) {
                Input::Decoded(decoded) => decoded,
                // Boxed, as `finish` below: only a failing connection needs
                // the close frame's buffer and the error across its awaits.
                Input::Failed(e) => return Box::pin(fail(shard, conn, session, e)).await,
            };
            if decoded && !session.st.borrow().eio.queued().is_empty() {
                // The replies go out once the other connections made ready in
                // this turn have run (see `io::yield_to_turn_end`).
                super::io::yield_to_turn_end().await;
            }
            let wake = poll_fn(|cx| {
                match conn.poll_flush_ws(cx, shard, session) {
                    Poll::Ready(Err(_)) => return Poll::Ready(Wake::Error),
                    Poll::Ready(Ok(())) | Poll::Pending => {}
                }
                {
                    let mut st = session.st.borrow_mut();
                    if st.eio.is_closed() {
                        return Poll::Ready(Wake::Closed);
                    }
                    // Registered whether or not the queue is empty: a session
                    // closed while its socket is full (a slow consumer, a
                    // heartbeat timeout) must wake this task, which would
                    // otherwise wait for a writability that never comes and
                    // hold the descriptor forever. Pushes wake it only into an
                    // empty queue (`Session::push`).
                    if !st.writer.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        st.writer = Some(cx.waker().clone());
                    }
                }
                match conn.poll_fill(cx, shard) {
                    Poll::Ready(Ok(0)) => Poll::Ready(Wake::Eof),
                    Poll::Ready(Err(_)) => Poll::Ready(Wake::Error),
                    Poll::Ready(Ok(_)) => Poll::Ready(Wake::Input),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await;
            match wake {
                Wake::Input => {}
                Wake::Eof => {
                    shard.close_session(session, CloseReason::TransportClose);
                    return;
                }
                Wake::Error => {
                    shard.close_session(session, CloseReason::TransportError);
                    return;
                }
                Wake::Closed => {
                    // Boxed, as `fail` above: the loop's state lives as long
                    // as the connection, the closing writes only at its end.
                    Box::pin(finish(shard, conn, session, peer_closed)).await;
                    return;
                }
            }
        }
    }
}

/// What [`decode_input`] found in the buffered input.
enum Input {
    /// Every complete message was handled (true: there was at least one).
    Decoded(bool),
    /// A protocol error: the connection fails ([`fail`]).
    Failed(ws::WsError),
}

/// Decodes and handles every complete message in `conn.rbuf`. A plain
/// function, so that none of its locals (the decoder's result, the set
/// aside waker) takes room in the connection task's future.
///
/// The writer's waker is set aside meanwhile: the task flushes right after,
/// so a reply queued by a handler need not wake it (a wake while it runs
/// would poll it once more for nothing). Nothing else runs until it yields.
fn decode_input(
    shard: &Rc<Shard>,
    conn: &mut Conn,
    session: &Rc<Session>,
    dec: &mut FrameDecoder,
    peer_closed: &mut bool,
) -> Input {
    let now = Instant::now();
    let writer = session.st.borrow_mut().writer.take();
    let mut decoded = false;
    loop {
        match dec.decode(&mut conn.rbuf) {
            Ok(Some(msg)) => {
                decoded = true;
                *peer_closed |= matches!(msg, Message::Close(..));
                if !handle_message(shard, session, now, msg) {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return Input::Failed(e),
        }
    }
    conn.compact();
    let mut st = session.st.borrow_mut();
    if st.writer.is_none() {
        st.writer = writer;
    }
    Input::Decoded(decoded)
}

/// A websocket protocol error: the session closes, and the close frame
/// with the error's code is sent before the connection ends.
async fn fail(shard: &Rc<Shard>, conn: &mut Conn, session: &Rc<Session>, e: ws::WsError) {
    tracing::debug!(sid = %session.sid, error = %e, "websocket protocol error");
    shard.close_session(session, CloseReason::TransportError);
    let mut out = BytesMut::new();
    ws::encode_close(e.close_code(), "", &mut out);
    // Lingers like a normal close: a peer still sending the rest of an
    // oversized frame would otherwise get a RST and lose the close frame
    // (and its 1009).
    if conn.write_all(&out).await.is_ok() {
        conn.linger(shard).await;
    }
}

/// Handles one websocket message; false when the session ended.
pub(crate) fn handle_message(
    shard: &Rc<Shard>,
    session: &Rc<Session>,
    now: Instant,
    msg: Message,
) -> bool {
    let v3 = session.protocol.is_v3();
    match msg {
        Message::Text(text) => {
            let packet = if v3 {
                Packet::decode_utf8_v3(text)
            } else {
                Packet::decode_utf8(text)
            };
            match packet {
                Ok(p) => shard.handle_engine_packet(session, now, p),
                Err(_) => shard.close_session(session, CloseReason::ParseError),
            }
        }
        // A v3 binary frame starts with its packet type (`0x04`).
        Message::Binary(data) if v3 => match Packet::decode_binary_v3(data) {
            Ok(p) => shard.handle_engine_packet(session, now, p),
            Err(_) => shard.close_session(session, CloseReason::ParseError),
        },
        Message::Binary(data) => {
            shard.handle_engine_packet(session, now, Packet::decode_binary(data))
        }
        Message::Ping(data) => {
            let mut out = BytesMut::new();
            ws::encode_frame(ws::opcode::PONG, &data, &mut out);
            session.push(OutItem::Raw(Box::new(out.freeze())), false);
        }
        Message::Pong(_) => {}
        Message::Close(..) => shard.close_session(session, CloseReason::TransportClose),
    }
    !session.is_closed()
}

/// Flushes what the server queued before closing (a DISCONNECT, say) and
/// sends the close frame. A close the server starts lingers (the peer may
/// still be sending); a close the peer started is answered and the socket
/// closed at once, as `ws` ends it, and as RFC 6455 §7.1.1 asks of a
/// server: after its close frame the peer sends no more data, so no unread
/// input can turn the close into a RST. That saves a `shutdown`, a read
/// and a timer per connection a client closes.
async fn finish(shard: &Shard, conn: &mut Conn, session: &Rc<Session>, peer_closed: bool) {
    let flush = session.st.borrow().eio.flushes_on_close();
    if flush {
        // Best effort, bounded: a peer that does not read is not waited for
        // (the timer is only created when the socket is full).
        let flushed = poll_fn(|cx| conn.poll_flush_ws(cx, shard, session));
        let _ = super::io::within(std::time::Duration::from_secs(1), flushed).await;
    }
    session.st.borrow_mut().eio.clear_queue();
    if conn.write_all(&CLOSE_NORMAL).await.is_ok() && !peer_closed {
        conn.linger(shard).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_normal_close_frame_is_what_encode_close_writes() {
        let mut out = bytes::BytesMut::new();
        ringcast_proto::ws::encode_close(1000, "", &mut out);
        assert_eq!(&out[..], &super::CLOSE_NORMAL[..]);
    }
}

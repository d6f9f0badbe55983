//! Long-polling sessions that closed while no long-poll GET was parked,
//! remembered for a short while on their owner shard with the answer the
//! next GET gets (one GET only).
//!
//! Two closes leave an answer behind:
//! - **The client closed** (a POST carrying the close packet `1`): Node
//!   answers the GET that is parked at that moment with a noop `6`, and
//!   engine.io-client has such a GET in flight when it closes. Here that
//!   GET may reach the owner shard later than the POST even when the client
//!   sent it first: a request landing on another shard moves there through
//!   the mesh (`ToShard::Adopt`), while a POST landing on the owner is
//!   served at once. Without this the late GET finds no session and gets
//!   400 (`Session ID unknown`); with it, it gets the `6` it would have
//!   had, whichever shard each request landed on.
//! - **The server closed the connection** (`socket.disconnect(true)`, a
//!   sustained event flood, shutdown): what was queued for the client (the
//!   DISCONNECT packets above all), or the close packet `1` once that is
//!   taken, as Node's `Socket.close()` lets the next GET drain its buffer
//!   and answers the GET after it with `1`. Without this the client would
//!   not see the DISCONNECT, take the 400 for a lost transport and
//!   reconnect on its own.
//!
//! A GET sent after the one that took the answer gets the 400, as from
//! Node. When a GET was parked at the close, it took the answer itself and
//! nothing is remembered.
//!
//! Bounded: at most [`CAPACITY`] sessions and [`MAX_BYTES`] of answers per
//! shard, each for [`RETENTION`] (the oldest go first), so a close storm
//! costs a fixed amount of memory; a session past a bound gets the 400,
//! which a client tolerates after a close.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytes::{Bytes, BytesMut};
use ringcast_proto::engineio::payload::PayloadWriter;
use ringcast_proto::engineio::session::{
    CloseReason, Control, Session as EngineSession, Transport,
};
use ringcast_proto::engineio::{Format, Protocol};

use super::msg::OutItem;

/// Most sessions remembered per shard.
pub const CAPACITY: usize = 1024;
/// Most bytes of answers kept per shard.
pub const MAX_BYTES: usize = 4 << 20;
/// How long a session is remembered: far longer than a connection's move
/// between shards or a client's next long-poll takes.
pub const RETENTION: Duration = Duration::from_secs(10);

/// The answer a late long-poll GET gets: the body and its payload format.
pub type LastAnswer = (Bytes, Format);

/// A lone control packet as the answer to a GET of a `protocol` session
/// (static for v4, `1:1` / `1:6` for v3).
pub fn control_answer(protocol: Protocol, control: Control) -> LastAnswer {
    if !protocol.is_v3() {
        return (Bytes::from_static(control.text()), Format::V4);
    }
    let mut body = BytesMut::new();
    PayloadWriter::with_format(&mut body, Format::V3Text).push_encoded(control.text());
    (body.freeze(), Format::V3Text)
}

/// What the next long-poll GET of a `protocol` session the server closed
/// for `reason` gets once the session is gone: Node's `Socket.close()` lets
/// a GET drain the buffer, then answers the one after it with the close
/// packet. A GET parked now takes the buffer (or the close packet when the
/// buffer is empty) itself. Only graceful server closes leave an answer.
pub fn last_answer(
    protocol: Protocol,
    eio: &mut EngineSession<OutItem>,
    reason: CloseReason,
) -> Option<LastAnswer> {
    let graceful = matches!(
        reason,
        CloseReason::ForcedServerClose | CloseReason::ServerShutdown
    );
    if !graceful || eio.transport() != Transport::Polling {
        return None;
    }
    let close = || control_answer(protocol, Control::Close);
    match (eio.is_get_active(), eio.queued().is_empty()) {
        // The parked GET takes the close packet.
        (true, true) => None,
        // The parked GET takes the buffer; or there is nothing to drain.
        (true, false) | (false, true) => Some(close()),
        (false, false) => {
            let format = eio.payload_format();
            let mut body = BytesMut::new();
            eio.poll_payload(&mut body);
            Some((body.freeze(), format))
        }
    }
}

/// The sessions, in closing order, with their expiry and answers.
#[derive(Debug, Default)]
pub struct ClosedPolls {
    order: VecDeque<(Box<str>, Instant)>,
    answers: AHashMap<Box<str>, LastAnswer>,
    bytes: usize,
}

impl ClosedPolls {
    /// Remembers `sid`, closed at `now`, with the answer its next GET gets.
    /// An answer larger than [`MAX_BYTES`] is not kept.
    pub fn handle_close(&mut self, sid: &str, now: Instant, answer: LastAnswer) {
        self.expire(now);
        let len = answer.0.len();
        if len > MAX_BYTES || self.answers.contains_key(sid) {
            return;
        }
        while self.order.len() >= CAPACITY || self.bytes + len > MAX_BYTES {
            self.evict_oldest();
        }
        self.bytes += len;
        self.answers.insert(sid.into(), answer);
        self.order.push_back((sid.into(), now + RETENTION));
    }

    /// The answer for `sid`, if it closed within [`RETENTION`] of `now`
    /// and no GET took it yet; forgets it (one GET only).
    pub fn take(&mut self, sid: &str, now: Instant) -> Option<LastAnswer> {
        self.expire(now);
        // Its entry in `order` stays until it expires (sids are unique).
        let answer = self.answers.remove(sid)?;
        self.bytes -= answer.0.len();
        Some(answer)
    }

    fn evict_oldest(&mut self) {
        if let Some((old, _)) = self.order.pop_front() {
            if let Some((body, _)) = self.answers.remove(&old) {
                self.bytes -= body.len();
            }
        }
    }

    fn expire(&mut self, now: Instant) {
        while self.order.front().is_some_and(|(_, until)| *until <= now) {
            self.evict_oldest();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop() -> LastAnswer {
        (Bytes::from_static(b"6"), Format::V4)
    }

    #[test]
    fn sessions_expire_and_stay_bounded() {
        let t0 = Instant::now();
        let mut c = ClosedPolls::default();
        c.handle_close("a", t0, noop());
        c.handle_close("z", t0, (Bytes::from_static(b"41\x1e1"), Format::V4));
        assert_eq!(c.take("a", t0 + Duration::from_secs(1)), Some(noop()));
        assert_eq!(
            c.take("a", t0 + Duration::from_secs(1)),
            None,
            "one GET only"
        );
        assert_eq!(c.take("b", t0), None);
        assert_eq!(c.take("z", t0 + RETENTION), None, "expired");
        assert_eq!(c.bytes, 0);
        for i in 0..CAPACITY + 10 {
            c.handle_close(&format!("s{i}"), t0, noop());
        }
        assert_eq!(c.order.len(), CAPACITY);
        assert_eq!(c.answers.len(), CAPACITY);
        assert_eq!(c.take("s0", t0), None);
        assert!(c.take(&format!("s{}", CAPACITY + 9), t0).is_some());
    }

    #[test]
    fn control_answers_in_each_protocol() {
        let v3 = Protocol::V3 { binary: true };
        assert_eq!(
            control_answer(Protocol::V4, Control::Close),
            (Bytes::from_static(b"1"), Format::V4)
        );
        assert_eq!(
            control_answer(v3, Control::Close),
            (Bytes::from_static(b"1:1"), Format::V3Text)
        );
        assert_eq!(control_answer(v3, Control::Noop).0, "1:6");
    }

    #[test]
    fn answers_stay_within_the_byte_bound() {
        let t0 = Instant::now();
        let mut c = ClosedPolls::default();
        let big = || (Bytes::from(vec![b'x'; MAX_BYTES / 2]), Format::V4);
        c.handle_close("a", t0, big());
        c.handle_close("b", t0, big());
        c.handle_close("c", t0, big());
        assert_eq!(c.take("a", t0), None, "the oldest made room");
        assert!(c.take("b", t0).is_some() && c.take("c", t0).is_some());
        c.handle_close(
            "huge",
            t0,
            (Bytes::from(vec![0; MAX_BYTES + 1]), Format::V4),
        );
        assert_eq!(c.take("huge", t0), None, "larger than the bound: not kept");
        assert_eq!(c.bytes, 0);
    }
}

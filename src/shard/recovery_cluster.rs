//! Connection state recovery across the nodes of a cluster (conformance
//! part 2, 8.7): a client whose connection dropped on node A reconnects to
//! node B and recovers there, with what it missed on every node.
//!
//! **Shared offsets.** An offset names its node, origin shard and seq
//! (`recovery::Offset`). A broadcast published to Redis carries its offset
//! in the adapter packet's `opts.flags` (`cluster::core`, stripped from the
//! packet's arguments so Node nodes see the packet they expect), and every
//! ringcast node with recovery on appends it again and keeps the packet
//! under that same offset. Redis pub/sub on one connection is FIFO and
//! each origin publishes from one queue, so every shard of every node sees
//! one origin's packets in seq order, as the mesh gives within a node.
//!
//! **Session record.** When A persists a session and a bridge publishes,
//! it also publishes a [`SessionRecord`] (`SET ringcast:session:<pid> ..
//! PX max_disconnection_duration`): sid, namespace, rooms, data as JSON,
//! A's watermark `W` (the highest seq A's shard had handled per origin)
//! and the *tail*: the last packets of A's store that reach the session
//! (offset and bytes, at most [`TAIL_MAX`] / [`TAIL_BYTES`]), in A's order.
//!
//! **Recovery on B.** The `pid` names its node; a CONNECT on B with A's
//! pid asks the bridge for `GETDEL` of the record (async, the namespace
//! counting as `connecting`). The client's offset `o` must be in the tail
//! ([`SessionRecord::recover`]); the missed packets are the tail after `o`
//! (what A delivered after `o`, in A's order) followed, when the socket is
//! attached, by the packets of B's store with `seq > W[origin]` that reach
//! the session (`RecoveryStore::replay_after`, B's order), then live ones.
//!
//! **Exactly once, in order.** Take any packet P reaching the session.
//! If A had handled P at the disconnect then `seq(P) <= W[origin(P)]`; A
//! handled it either before `o` in A's order (the client received it) or
//! after (it is in the tail suffix after `o`, since the tail is a suffix of
//! A's order that contains `o`). If A had not handled it, `seq(P) > W`
//! (per-origin FIFO): B's store has it at attach time (B's addition) or it
//! arrives at B later and is delivered live, never both, since the attach
//! and the scan are one synchronous step on B's shard. Each origin's
//! packets come in seq order in every part, and the parts are in time
//! order. Anything that breaks the argument fails cleanly (new session):
//! `o` not in the tail (too old, or the tail bounds), B having evicted
//! something above `W`, an unknown or expired pid, Redis unreachable (the
//! bridge answers "none" after [`TAKE_TIMEOUT`]).
//!
//! Limits (documented in docs/architecture.md): packets that never reach
//! B cannot be replayed there: A's `local` broadcasts, broadcasts from Node
//! nodes or the emitter (they carry no offset), packets lost by the bridge
//! (queue full, Redis outage) or published before B subscribed (B started
//! or restarted meanwhile): missed silently, as by a live socket. Per-origin order needs one subscribed
//! connection: classic pub/sub on one Redis server.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::msg::Msg;
use super::recovery::{Miss, Offset, Recovered, Watermark};

/// Most packets of a session's tail.
pub const TAIL_MAX: usize = 256;
/// About the most wire bytes of a session's tail.
pub const TAIL_BYTES: usize = 256 << 10;
/// Most stored packets scanned for a tail (a socket in a quiet room of a
/// busy server gets a short tail, and may fail to recover on another node).
pub const TAIL_SCAN: usize = 8192;
/// How long a shard waits for the bridge's `GETDEL` before connecting the
/// client as new (Redis unreachable).
pub const TAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// The Redis key of session `pid`.
pub fn session_key(pid: &str) -> String {
    format!("ringcast:session:{pid}")
}

/// A session as published to Redis by its owner, and as read back by the
/// node a client reconnects to.
#[derive(Debug)]
pub struct SessionRecord {
    /// Private session id.
    pub pid: Box<str>,
    /// Socket id.
    pub sid: Box<str>,
    /// Namespace (this node's index).
    pub nsp: u16,
    /// Rooms, own id included.
    pub rooms: Vec<Box<str>>,
    /// `socket.data` as JSON.
    pub data: Option<Value>,
    /// The owner shard's watermark at the disconnect.
    pub watermark: Watermark,
    /// The last packets of the owner's store reaching the session, in the
    /// owner's order.
    pub tail: Vec<(Offset, Arc<Msg>)>,
    /// How long Redis keeps it (`max_disconnection_duration`).
    pub ttl: Duration,
    /// The node that wrote it (where the socket last lived); None in a
    /// record without it.
    pub writer: Option<u32>,
}

impl SessionRecord {
    /// Recovers the session for a client whose last offset is `offset`,
    /// connecting to namespace `nsp`: the tail after it are the missed
    /// packets A delivered; the caller adds its own above the watermark.
    pub fn recover(self, offset: &str, nsp: u16) -> Result<Recovered, Miss> {
        if self.nsp != nsp {
            return Err(Miss::UnknownSession);
        }
        let o = Offset::parse(offset).ok_or(Miss::UnknownOffset)?;
        let pos = self
            .tail
            .iter()
            .position(|(x, _)| *x == o)
            .ok_or(Miss::UnknownOffset)?;
        Ok(Recovered {
            sid: self.sid,
            pid: self.pid,
            rooms: self.rooms,
            data_json: self.data,
            missed: self
                .tail
                .into_iter()
                .skip(pos + 1)
                .map(|(_, m)| m)
                .collect(),
            watermark: self.watermark,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::recovery::{Persisted, RecoveryConfig, RecoveryStore};
    use super::*;

    fn cfg(node: u32) -> RecoveryConfig {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(10),
            skip_middlewares: true,
            max_bytes: 1 << 20,
            node,
        }
    }

    fn msg(text: &str) -> Arc<Msg> {
        Msg::socketio(text, &[])
    }

    fn texts(m: &[Arc<Msg>]) -> Vec<String> {
        m.iter()
            .map(|m| String::from_utf8_lossy(&m.frames[0].payload()[1..]).into_owned())
            .collect()
    }

    fn rooms(r: &[&str]) -> Vec<Box<str>> {
        r.iter().map(|s| (*s).into()).collect()
    }

    /// What node A would publish for session `S` (rooms `S`, `r`).
    fn record(a: &RecoveryStore) -> SessionRecord {
        let rooms = rooms(&["S", "r"]);
        SessionRecord {
            pid: "0.a.x".into(),
            sid: "S".into(),
            nsp: 0,
            tail: a.tail(0, &rooms, TAIL_MAX, TAIL_BYTES),
            rooms,
            data: Some(serde_json::json!({"k": 1})),
            watermark: a.watermark(),
            ttl: Duration::from_secs(10),
            writer: Some(0),
        }
    }

    /// Node A (owner) and node B see the packets of origins A and B in
    /// different interleavings; the client received up to `a1`. B recovers
    /// exactly the rest: A's tail after `a1`, then B's packets above A's
    /// watermark, each once.
    #[test]
    fn another_node_recovers_tail_then_its_own_above_the_watermark() {
        let now = Instant::now();
        let mut a = RecoveryStore::new(&cfg(0xa));
        let mut b = RecoveryStore::new(&cfg(0xb));
        let both = |a: &mut RecoveryStore, b: &mut RecoveryStore, o, r: &[&str], t| {
            a.handle_packet(o, 0, &rooms(r), &[], &msg(t), now);
            b.handle_packet(o, 0, &rooms(r), &[], &msg(t), now);
        };
        let a1 = a.next_offset(0);
        both(&mut a, &mut b, a1, &["r"], "a1");
        // Delivered by A after the client's last offset (lost in flight).
        let b1 = b.next_offset(0);
        b.handle_packet(b1, 0, &rooms(&["r"]), &[], &msg("b1"), now);
        a.handle_packet(b1, 0, &rooms(&["r"]), &[], &msg("b1"), now);
        // Not for the session.
        let a2 = a.next_offset(0);
        both(&mut a, &mut b, a2, &["other"], "a2");
        // A direct emit on A (kept as a packet to the socket's own room).
        let a3 = a.next_offset(0);
        a.handle_packet(a3, 0, &rooms(&["S"]), &[], &msg("a3"), now);
        let rec = record(&a);
        a.persist(
            "0.a.x".into(),
            Persisted {
                sid: "S".into(),
                nsp: 0,
                rooms: rooms(&["S", "r"]),
                data: None,
                at: now,
            },
        );
        // After the disconnect: A's broadcast reaches B, B broadcasts.
        let a4 = a.next_offset(1);
        both(&mut a, &mut b, a4, &[], "a4");
        let b2 = b.next_offset(0);
        b.handle_packet(b2, 0, &rooms(&["r"]), &[], &msg("b2"), now);

        let r = rec.recover(&a1.encode(), 0).expect("offset in the tail");
        assert_eq!(r.sid.as_ref(), "S");
        assert_eq!(r.data_json, Some(serde_json::json!({"k": 1})));
        assert_eq!(texts(&r.missed), ["b1", "a3"]);
        let more = b
            .replay_after(&r.watermark, 0, &r.rooms)
            .expect("nothing evicted");
        assert_eq!(texts(&more), ["a4", "b2"]);
    }

    #[test]
    fn offset_outside_the_tail_or_other_namespace_fails() {
        let now = Instant::now();
        let mut a = RecoveryStore::new(&cfg(0xa));
        let o = a.next_offset(0);
        a.handle_packet(o, 0, &[], &[], &msg("x"), now);
        assert_eq!(
            record(&a).recover("a.0.99", 0).err(),
            Some(Miss::UnknownOffset)
        );
        assert_eq!(
            record(&a).recover("garbage", 0).err(),
            Some(Miss::UnknownOffset)
        );
        assert_eq!(
            record(&a).recover(&o.encode(), 1).err(),
            Some(Miss::UnknownSession)
        );
        assert!(record(&a).recover(&o.encode(), 0).is_ok());
    }

    #[test]
    fn tail_is_a_bounded_suffix_in_order() {
        let now = Instant::now();
        let mut a = RecoveryStore::new(&cfg(0xa));
        for i in 0..10 {
            let o = a.next_offset(0);
            let r = if i % 2 == 0 {
                rooms(&["r"])
            } else {
                rooms(&["x"])
            };
            a.handle_packet(o, 0, &r, &[], &msg(&format!("{i}")), now);
        }
        let t = a.tail(0, &rooms(&["r"]), 3, usize::MAX);
        let seqs: Vec<u64> = t.iter().map(|(o, _)| o.seq).collect();
        assert_eq!(seqs, [5, 7, 9]);
        assert_eq!(a.tail(0, &rooms(&["r"]), 10, 1).len(), 1);
    }
}

//! Connection state recovery (Node's `connectionStateRecovery`): the
//! packets a shard delivered and the sessions of sockets that vanished, kept
//! for `max_disconnection_duration`.
//!
//! **Offsets.** Every stored packet gets an offset `<origin>.<seq>` (hex):
//! the shard that encoded it and that shard's own counter. The offset is in
//! the encoded bytes (one extra last argument), so it is the same for every
//! receiver and a broadcast is still encoded once. The mesh is FIFO per
//! pair of shards, so every shard sees one origin's packets in `seq` order;
//! packets of different origins may interleave differently on two shards.
//!
//! **Store.** Each shard keeps, in delivery order, every stored packet it
//! handled (its own emits and every broadcast it received), with the rooms
//! and except filters of the emission. The store is bounded in bytes
//! (`max_bytes`, counted from the wire size plus the filters) and in time;
//! the oldest packets go first, and `evicted[origin]` remembers the highest
//! `seq` dropped so a recovery that would need it fails instead of missing
//! a packet.
//!
//! **Sessions** are persisted on the shard where the socket lived; the
//! `pid` names that shard (`<shard>.<random>`). Recovery on the owner: the
//! packets after the client's offset in this shard's order, filtered by the
//! session's rooms, are exactly those the client missed. Recovery on
//! another shard X (the new Engine.IO session landed there): X asks the
//! owner Y through the mesh; Y answers with its replay and its watermark
//! (`received[origin]`, the highest seq it had handled per origin); X adds
//! the packets of its own store Y had not handled yet (`seq > watermark`),
//! then attaches the socket, all in one synchronous step: every packet is
//! either in Y's replay, in X's addition, or delivered live, exactly once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use serde_json::Value;

use super::app::SocketData;
use super::msg::Msg;

/// Connection state recovery settings (Node's `connectionStateRecovery`).
#[derive(Debug, Clone)]
pub struct RecoveryConfig {
    /// How long a disconnected session and each stored packet are kept
    /// (Node's `maxDisconnectionDuration`, default 2 minutes).
    pub max_disconnection_duration: Duration,
    /// Skip the namespace middlewares on a successful recovery (Node's
    /// `skipMiddlewares`, default true).
    pub skip_middlewares: bool,
    /// Most bytes of packets one shard keeps (ours; Node keeps all).
    pub max_bytes: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_bytes: 64 << 20,
        }
    }
}

/// A stored packet's offset: origin shard and its sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset {
    /// The shard that encoded the packet.
    pub origin: u16,
    /// That shard's counter.
    pub seq: u64,
}

impl Offset {
    /// The string sent to clients: `<process>.<origin>.<seq>`, where
    /// `process` ([`process_tag`]) keeps another process's offset (a
    /// broadcast from another node of a cluster) from matching one of ours.
    pub fn encode(self, process: u32) -> String {
        format!("{process:x}.{:x}.{:x}", self.origin, self.seq)
    }

    /// Parses a client's offset issued by process `process`; `None` for
    /// anything malformed or issued elsewhere.
    pub fn parse(s: &str, process: u32) -> Option<Self> {
        let (p, rest) = s.split_once('.')?;
        if p.len() > 8 || u32::from_str_radix(p, 16).ok()? != process {
            return None;
        }
        let (o, q) = rest.split_once('.')?;
        if o.is_empty() || q.is_empty() || o.len() > 4 || q.len() > 16 {
            return None;
        }
        Some(Self {
            origin: u16::from_str_radix(o, 16).ok()?,
            seq: u64::from_str_radix(q, 16).ok()?,
        })
    }
}

/// A random tag of this process, part of every offset it issues.
pub fn process_tag() -> u32 {
    static TAG: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *TAG.get_or_init(rand::random)
}

/// Builds a `pid` owned by `shard`.
pub fn new_pid(shard: usize) -> Box<str> {
    format!("{shard:x}.{}", super::engine::random_id()).into_boxed_str()
}

/// The shard that owns `pid`, when well formed.
pub fn pid_owner(pid: &str) -> Option<usize> {
    let (s, rest) = pid.split_once('.')?;
    if s.is_empty() || s.len() > 4 || rest.is_empty() {
        return None;
    }
    usize::from_str_radix(s, 16).ok()
}

/// Bytes counted per stored packet beyond its wire size and filters.
const ENTRY_OVERHEAD: usize = 96;

struct Entry {
    offset: Offset,
    at: Instant,
    nsp: u16,
    rooms: Vec<Box<str>>,
    except: Vec<Box<str>>,
    msg: Arc<Msg>,
    bytes: usize,
}

impl Entry {
    fn reaches(&self, nsp: u16, rooms: &[Box<str>]) -> bool {
        self.nsp == nsp
            && (self.rooms.is_empty() || self.rooms.iter().any(|r| rooms.contains(r)))
            && !self.except.iter().any(|r| rooms.contains(r))
    }
}

/// A disconnected socket's session, kept on the shard it lived on.
pub struct Persisted {
    /// Socket id.
    pub sid: Box<str>,
    /// Namespace.
    pub nsp: u16,
    /// Rooms joined, the socket's own id included.
    pub rooms: Vec<Box<str>>,
    /// `socket.data`.
    pub data: Option<Box<dyn SocketData>>,
    /// When it disconnected.
    pub at: Instant,
}

/// What a successful recovery hands to the shard that attaches the socket.
#[derive(Debug)]
pub struct Recovered {
    /// Socket id (unchanged).
    pub sid: Box<str>,
    /// Private session id (unchanged).
    pub pid: Box<str>,
    /// Rooms, own id included.
    pub rooms: Vec<Box<str>>,
    /// `socket.data` as JSON, when it came from another shard (the value
    /// itself stays on its shard: it is not `Send`).
    pub data_json: Option<Value>,
    /// The missed packets, in order.
    pub missed: Vec<Arc<Msg>>,
    /// Highest seq the owner had handled, per origin shard.
    pub watermark: Vec<u64>,
}

/// Why a recovery failed (the client gets a new session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// No such session (unknown pid, expired, restarted).
    UnknownSession,
    /// The offset is malformed or no longer kept.
    UnknownOffset,
}

/// One shard's recovery store.
pub struct RecoveryStore {
    ttl: Duration,
    max_bytes: usize,
    entries: VecDeque<Entry>,
    bytes: usize,
    next_seq: u64,
    received: Vec<u64>,
    evicted: Vec<u64>,
    sessions: AHashMap<Box<str>, Persisted>,
    session_bytes: usize,
}

/// Bytes counted for a kept session: ids, rooms and a fixed overhead
/// (`socket.data` is the application's and not measured).
fn session_size(pid: &str, s: &Persisted) -> usize {
    ENTRY_OVERHEAD + pid.len() + s.sid.len() + s.rooms.iter().map(|r| r.len() + 16).sum::<usize>()
}

impl std::fmt::Debug for RecoveryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryStore")
            .field("packets", &self.entries.len())
            .field("bytes", &self.bytes)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl RecoveryStore {
    /// An empty store for a process of `nshards` shards.
    pub fn new(config: &RecoveryConfig, nshards: usize) -> Self {
        Self {
            ttl: config.max_disconnection_duration,
            max_bytes: config.max_bytes,
            entries: VecDeque::new(),
            bytes: 0,
            next_seq: 0,
            received: vec![0; nshards],
            evicted: vec![0; nshards],
            sessions: AHashMap::new(),
            session_bytes: 0,
        }
    }

    /// Bytes of packets kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Packets kept.
    pub fn packets(&self) -> usize {
        self.entries.len()
    }

    /// Sessions kept.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Bytes of sessions kept ([`session_size`]).
    pub fn session_bytes(&self) -> usize {
        self.session_bytes
    }

    /// The next offset of a packet encoded on shard `origin` (this shard).
    pub fn next_offset(&mut self, origin: u16) -> Offset {
        self.next_seq += 1;
        Offset {
            origin,
            seq: self.next_seq,
        }
    }

    /// Keeps a delivered packet.
    pub fn handle_packet(
        &mut self,
        offset: Offset,
        nsp: u16,
        rooms: &[Box<str>],
        except: &[Box<str>],
        msg: &Arc<Msg>,
        now: Instant,
    ) {
        let bytes = ENTRY_OVERHEAD
            + msg.wire_len
            + rooms
                .iter()
                .chain(except)
                .map(|r| r.len() + 16)
                .sum::<usize>();
        if let Some(r) = self.received.get_mut(offset.origin as usize) {
            *r = (*r).max(offset.seq);
        }
        self.entries.push_back(Entry {
            offset,
            at: now,
            nsp,
            rooms: rooms.to_vec(),
            except: except.to_vec(),
            msg: msg.clone(),
            bytes,
        });
        self.bytes += bytes;
        self.expire(now);
    }

    /// Drops packets and sessions past their time, and the oldest packets
    /// while over the byte bound.
    pub fn expire(&mut self, now: Instant) {
        while let Some(e) = self.entries.front() {
            let old = now.saturating_duration_since(e.at) > self.ttl;
            if !old && self.bytes <= self.max_bytes {
                break;
            }
            if let Some(e) = self.entries.pop_front() {
                self.bytes -= e.bytes;
                if let Some(v) = self.evicted.get_mut(e.offset.origin as usize) {
                    *v = (*v).max(e.offset.seq);
                }
            }
        }
        let ttl = self.ttl;
        let mut freed = 0;
        self.sessions.retain(|pid, s| {
            let keep = now.saturating_duration_since(s.at) <= ttl;
            if !keep {
                freed += session_size(pid, s);
            }
            keep
        });
        self.session_bytes -= freed;
    }

    /// Keeps the session of a socket that vanished.
    pub fn persist(&mut self, pid: Box<str>, session: Persisted) {
        self.expire(session.at);
        if let Some(old) = self.sessions.get(&pid) {
            // A pid is unique per socket; counted out all the same.
            self.session_bytes -= session_size(&pid, old);
        }
        self.session_bytes += session_size(&pid, &session);
        self.sessions.insert(pid, session);
    }

    /// Takes session `pid` of namespace `nsp` whose client last received
    /// `offset`, with the packets it missed (this shard's order) and its
    /// `socket.data`.
    pub fn take(
        &mut self,
        pid: &str,
        offset: &str,
        nsp: u16,
        now: Instant,
    ) -> Result<(Recovered, Option<Box<dyn SocketData>>), Miss> {
        self.expire(now);
        if self.sessions.get(pid).is_none_or(|s| s.nsp != nsp) {
            return Err(Miss::UnknownSession);
        }
        let Some(session) = self.sessions.remove(pid) else {
            return Err(Miss::UnknownSession);
        };
        self.session_bytes -= session_size(pid, &session);
        let pos = Offset::parse(offset, process_tag())
            .and_then(|o| self.entries.iter().position(|e| e.offset == o))
            .ok_or(Miss::UnknownOffset)?;
        let missed = self
            .entries
            .iter()
            .skip(pos + 1)
            .filter(|e| e.reaches(nsp, &session.rooms))
            .map(|e| e.msg.clone())
            .collect();
        let recovered = Recovered {
            sid: session.sid,
            pid: pid.into(),
            rooms: session.rooms,
            data_json: None,
            missed,
            watermark: self.received.clone(),
        };
        Ok((recovered, session.data))
    }

    /// The packets of this store another shard had not handled by
    /// `watermark` that reach `rooms` in `nsp`; `None` when some of them
    /// were already evicted.
    pub fn replay_after(
        &self,
        watermark: &[u64],
        nsp: u16,
        rooms: &[Box<str>],
    ) -> Option<Vec<Arc<Msg>>> {
        let seen = |o: Offset| watermark.get(o.origin as usize).copied().unwrap_or(0);
        for (origin, &ev) in self.evicted.iter().enumerate() {
            if ev > watermark.get(origin).copied().unwrap_or(0) {
                return None;
            }
        }
        Some(
            self.entries
                .iter()
                .filter(|e| e.offset.seq > seen(e.offset) && e.reaches(nsp, rooms))
                .map(|e| e.msg.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(max_bytes: usize) -> RecoveryConfig {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(10),
            skip_middlewares: true,
            max_bytes,
        }
    }

    fn msg(text: &str) -> Arc<Msg> {
        Msg::socketio(text, &[])
    }

    fn rooms(r: &[&str]) -> Vec<Box<str>> {
        r.iter().map(|s| (*s).into()).collect()
    }

    fn persisted(now: Instant) -> Persisted {
        Persisted {
            sid: "S".into(),
            nsp: 0,
            rooms: rooms(&["S", "a"]),
            data: None,
            at: now,
        }
    }

    fn texts(m: &[Arc<Msg>]) -> Vec<String> {
        m.iter()
            .map(|m| String::from_utf8_lossy(&m.frames[0].payload()[1..]).into_owned())
            .collect()
    }

    #[test]
    fn offsets_round_trip_and_reject_garbage() {
        let o = Offset {
            origin: 3,
            seq: 0xabc,
        };
        let tag = process_tag();
        assert_eq!(Offset::parse(&o.encode(tag), tag), Some(o));
        assert_eq!(Offset::parse(&o.encode(tag ^ 1), tag), None);
        for bad in ["", ".", "1.", ".1", "x.1", "1.1.1", "11111.1", "1.zz"] {
            let bad = format!("{tag:x}.{bad}");
            assert_eq!(Offset::parse(&bad, tag), None, "{bad}");
        }
        assert_eq!(pid_owner(&new_pid(5)), Some(5));
        assert_eq!(pid_owner("nope"), None);
    }

    #[test]
    fn replays_after_offset_filtered_by_rooms_in_order() {
        let now = Instant::now();
        let mut s = RecoveryStore::new(&cfg(1 << 20), 1);
        let mut offs = Vec::new();
        for (text, r, ex) in [
            ("2[1]", vec![], vec![]),
            ("2[2]", rooms(&["a"]), vec![]),
            ("2[3]", rooms(&["b"]), vec![]),
            ("2[4]", vec![], rooms(&["S"])),
            ("2[5]", rooms(&["S"]), vec![]),
            ("2[6]", vec![], vec![]),
        ] {
            let o = s.next_offset(0);
            s.handle_packet(o, 0, &r, &ex, &msg(text), now);
            offs.push(o);
        }
        s.persist("p".into(), persisted(now));
        let (r, _) = s
            .take("p", &offs[0].encode(process_tag()), 0, now)
            .expect("recovers");
        assert_eq!(r.sid.as_ref(), "S");
        assert_eq!(texts(&r.missed), ["2[2]", "2[5]", "2[6]"]);
        assert_eq!((s.sessions(), s.session_bytes()), (0, 0));
        // Taken: a second attempt fails.
        assert_eq!(
            s.take("p", &offs[0].encode(process_tag()), 0, now).err(),
            Some(Miss::UnknownSession)
        );
    }

    #[test]
    fn unknown_offset_or_expired_session_fails() {
        let now = Instant::now();
        let mut s = RecoveryStore::new(&cfg(1 << 20), 1);
        let o = s.next_offset(0);
        s.handle_packet(o, 0, &[], &[], &msg("2[1]"), now);
        s.persist("p".into(), persisted(now));
        assert_eq!(
            s.take("p", &format!("{:x}.0.99", process_tag()), 0, now)
                .err(),
            Some(Miss::UnknownOffset)
        );
        s.persist("q".into(), persisted(now));
        let later = now + Duration::from_secs(11);
        assert_eq!(
            s.take("q", &o.encode(process_tag()), 0, later).err(),
            Some(Miss::UnknownSession)
        );
        assert_eq!(s.packets(), 0);
        assert_eq!(s.bytes(), 0);
        assert_eq!((s.sessions(), s.session_bytes()), (0, 0));
    }

    #[test]
    fn byte_bound_evicts_oldest_and_counts() {
        let now = Instant::now();
        let one = ENTRY_OVERHEAD + msg("2[1]").wire_len;
        let mut s = RecoveryStore::new(&cfg(one * 3), 1);
        let mut offs = Vec::new();
        for i in 0..10 {
            let o = s.next_offset(0);
            s.handle_packet(o, 0, &[], &[], &msg(&format!("2[{i}]")), now);
            offs.push(o);
            assert!(s.bytes() <= one * 3);
        }
        assert_eq!(s.packets(), 3);
        assert_eq!(s.bytes(), one * 3);
        s.persist("p".into(), persisted(now));
        // The offset was evicted: clean failure.
        assert_eq!(
            s.take("p", &offs[2].encode(process_tag()), 0, now).err(),
            Some(Miss::UnknownOffset)
        );
        s.persist("p".into(), persisted(now));
        let (r, _) = s
            .take("p", &offs[7].encode(process_tag()), 0, now)
            .expect("kept");
        assert_eq!(texts(&r.missed), ["2[8]", "2[9]"]);
    }

    #[test]
    fn other_shard_adds_what_the_owner_had_not_seen() {
        let now = Instant::now();
        // Shard 1 owns the session; shard 0 attaches the socket.
        let mut owner = RecoveryStore::new(&cfg(1 << 20), 2);
        let mut here = RecoveryStore::new(&cfg(1 << 20), 2);
        let a1 = here.next_offset(0);
        let b1 = owner.next_offset(1);
        // Owner handled b1 then a1; here handled a1, b1, then a2 which the
        // owner had not received yet when it answered.
        owner.handle_packet(b1, 0, &[], &[], &msg("b1"), now);
        owner.handle_packet(a1, 0, &[], &[], &msg("a1"), now);
        here.handle_packet(a1, 0, &[], &[], &msg("a1"), now);
        here.handle_packet(b1, 0, &[], &[], &msg("b1"), now);
        let a2 = here.next_offset(0);
        here.handle_packet(a2, 0, &[], &[], &msg("a2"), now);
        owner.persist("p".into(), persisted(now));
        let (r, _) = owner
            .take("p", &b1.encode(process_tag()), 0, now)
            .expect("recovers");
        assert_eq!(texts(&r.missed), ["a1"]);
        let more = here
            .replay_after(&r.watermark, 0, &r.rooms)
            .expect("nothing evicted");
        assert_eq!(texts(&more), ["a2"]);
    }
}

//! Connection state recovery (Node's `connectionStateRecovery`): the
//! packets a shard delivered and the sessions of sockets that vanished, kept
//! for `max_disconnection_duration`.
//!
//! **Offsets.** Every stored packet gets an offset `<node>.<origin>.<seq>`
//! (hex): the node and shard that encoded it (its *origin*) and that
//! shard's own counter. The offset is in
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
//! Across nodes the same argument holds with the owner's replay replaced
//! by the tail it published to Redis (`recovery_cluster`).
//!
//! A recovered socket keeps its pid (Node's), which may name another
//! shard Y than the one it now lives on, X. When it vanishes again, X hands
//! Y a [`SessionRecord`] (X's tail and watermark, as published across
//! nodes; [`RecoveryStore::keep_record`]) through the mesh, so the next
//! recovery, routed by the pid to Y, finds it there and X's tail replaces
//! Y's replay in the argument above. A socket recovered from another node
//! keeps nothing locally: only its copy in Redis can be found again.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use serde_json::Value;

use super::app::SocketData;
use super::msg::Msg;
use super::recovery_cluster::SessionRecord;

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
    /// This node's part of every offset and pid: drawn at random by
    /// `runtime::start` (a value given here is replaced), so offsets of
    /// two nodes of a cluster, or of two servers in one process, differ.
    pub node: u32,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_bytes: 64 << 20,
            node: 0,
        }
    }
}

/// Where stored packets come from: a node ([`RecoveryConfig::node`]) and
/// one of its shards. Each origin numbers its packets 1, 2, 3, ...
pub type Origin = (u32, u16);

/// A stored packet's offset: its origin and that origin's sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Offset {
    /// The node that encoded the packet.
    pub node: u32,
    /// The shard of that node.
    pub origin: u16,
    /// That shard's counter.
    pub seq: u64,
}

impl Offset {
    /// The string sent to clients: `<node>.<origin>.<seq>` (hex). Every
    /// node keeps a packet under the offset its origin gave it (a
    /// broadcast published to Redis carries it, `cluster::core`).
    pub fn encode(self) -> String {
        format!("{:x}.{:x}.{:x}", self.node, self.origin, self.seq)
    }

    /// Parses an offset; `None` for anything malformed.
    pub fn parse(s: &str) -> Option<Self> {
        let (n, rest) = s.split_once('.')?;
        let (o, q) = rest.split_once('.')?;
        let ok = |x: &str, max: usize| !x.is_empty() && x.len() <= max;
        if !ok(n, 8) || !ok(o, 4) || !ok(q, 16) {
            return None;
        }
        Some(Self {
            node: u32::from_str_radix(n, 16).ok()?,
            origin: u16::from_str_radix(o, 16).ok()?,
            seq: u64::from_str_radix(q, 16).ok()?,
        })
    }

    fn key(self) -> Origin {
        (self.node, self.origin)
    }
}

/// Builds a `pid` owned by `shard` of `node`: `<shard>.<node>.<random>`.
pub fn new_pid(node: u32, shard: usize) -> Box<str> {
    format!("{shard:x}.{node:x}.{}", super::engine::random_id()).into_boxed_str()
}

/// The node and shard that own `pid`, when well formed.
pub fn pid_owner(pid: &str) -> Option<(u32, usize)> {
    let (s, rest) = pid.split_once('.')?;
    let (n, rest) = rest.split_once('.')?;
    if s.is_empty() || s.len() > 4 || n.is_empty() || n.len() > 8 || rest.is_empty() {
        return None;
    }
    Some((
        u32::from_str_radix(n, 16).ok()?,
        usize::from_str_radix(s, 16).ok()?,
    ))
}

/// Per origin, the highest seq a shard had handled (a plain list: it
/// crosses threads and nodes).
pub type Watermark = Vec<(Origin, u64)>;

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
    /// Highest seq the owner had handled, per origin.
    pub watermark: Watermark,
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
    node: u32,
    entries: VecDeque<Entry>,
    bytes: usize,
    next_seq: u64,
    /// Per origin: the highest seq handled, and when its last packet came.
    received: AHashMap<Origin, (u64, Instant)>,
    evicted: AHashMap<Origin, u64>,
    /// When [`Self::prune_origins`] last ran.
    pruned_at: Option<Instant>,
    sessions: AHashMap<Box<str>, Persisted>,
    /// Sessions this shard owns (their pid names it) whose socket lived on
    /// another shard of this node after a recovery there: kept as that
    /// shard's record (tail and watermark, `recovery_cluster`), with when
    /// it came.
    records: AHashMap<Box<str>, (SessionRecord, Instant)>,
    session_bytes: usize,
}

/// Bytes counted for a kept session: ids, rooms and a fixed overhead
/// (`socket.data` is the application's and not measured).
fn session_size(pid: &str, s: &Persisted) -> usize {
    ENTRY_OVERHEAD + pid.len() + s.sid.len() + s.rooms.iter().map(|r| r.len() + 16).sum::<usize>()
}

/// Bytes counted for a kept record: as a session, plus its watermark and
/// tail entries (the packets themselves are shared with the stores).
fn record_size(pid: &str, r: &SessionRecord) -> usize {
    ENTRY_OVERHEAD
        + pid.len()
        + r.sid.len()
        + r.rooms.iter().map(|x| x.len() + 16).sum::<usize>()
        + (r.watermark.len() + r.tail.len()) * 24
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
    /// An empty store of a shard of node `config.node`.
    pub fn new(config: &RecoveryConfig) -> Self {
        Self {
            ttl: config.max_disconnection_duration,
            max_bytes: config.max_bytes,
            node: config.node,
            entries: VecDeque::new(),
            bytes: 0,
            next_seq: 0,
            received: AHashMap::new(),
            evicted: AHashMap::new(),
            pruned_at: None,
            sessions: AHashMap::new(),
            records: AHashMap::new(),
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

    /// Sessions kept (records included).
    pub fn sessions(&self) -> usize {
        self.sessions.len() + self.records.len()
    }

    /// Bytes of sessions kept ([`session_size`]).
    pub fn session_bytes(&self) -> usize {
        self.session_bytes
    }

    /// This node's id ([`RecoveryConfig::node`]).
    pub fn node(&self) -> u32 {
        self.node
    }

    /// The next offset of a packet encoded on shard `origin` (this shard).
    pub fn next_offset(&mut self, origin: u16) -> Offset {
        self.next_seq += 1;
        Offset {
            node: self.node,
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
        let r = self.received.entry(offset.key()).or_insert((0, now));
        *r = (r.0.max(offset.seq), now);
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
                let v = self.evicted.entry(e.offset.key()).or_insert(0);
                *v = (*v).max(e.offset.seq);
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
        self.records.retain(|pid, (r, at)| {
            let keep = now.saturating_duration_since(*at) <= ttl;
            if !keep {
                freed += record_size(pid, r);
            }
            keep
        });
        self.session_bytes -= freed;
        self.prune_origins(now);
    }

    /// Forgets the origins silent for twice the session lifetime (checked
    /// every quarter of it): a restarted node's shards are new origins, so
    /// without this the watermark, and every session record carrying it,
    /// would grow with each restart in the cluster (or with offsets forged
    /// in Redis). Safe for exactly-once: an origin silent that long has no
    /// packet left in any store with the same lifetime, and every session
    /// still kept was persisted after its last packet, so no watermark or
    /// eviction of it is needed to replay correctly. (A node that has not
    /// pruned it yet may still refuse such a recovery for its eviction of
    /// that origin: a clean failure, within a quarter lifetime.)
    fn prune_origins(&mut self, now: Instant) {
        let window = self.ttl.saturating_mul(2);
        if self
            .pruned_at
            .is_some_and(|at| now.saturating_duration_since(at) < self.ttl / 4)
        {
            return;
        }
        self.pruned_at = Some(now);
        let before = self.received.len();
        self.received
            .retain(|_, (_, at)| now.saturating_duration_since(*at) <= window);
        if self.received.len() < before {
            let live = &self.received;
            self.evicted.retain(|k, _| live.contains_key(k));
        }
    }

    /// Keeps the session of a socket this shard owns (its pid names this
    /// shard) that vanished from another shard of this node: `record` is
    /// that shard's view (tail and watermark), as published to other nodes.
    pub fn keep_record(&mut self, record: SessionRecord, now: Instant) {
        self.expire(now);
        let pid = record.pid.clone();
        if let Some((old, _)) = self.records.get(&pid) {
            self.session_bytes -= record_size(&pid, old);
        }
        self.session_bytes += record_size(&pid, &record);
        self.records.insert(pid, (record, now));
    }

    /// Forgets session `pid` (kept or recorded), if this shard has it.
    pub fn forget(&mut self, pid: &str) {
        if let Some((record, _)) = self.records.remove(pid) {
            self.session_bytes -= record_size(pid, &record);
        }
        if let Some(session) = self.sessions.remove(pid) {
            self.session_bytes -= session_size(pid, &session);
        }
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
        if self.records.get(pid).is_some_and(|(r, _)| r.nsp == nsp) {
            let Some((record, _)) = self.records.remove(pid) else {
                return Err(Miss::UnknownSession);
            };
            self.session_bytes -= record_size(pid, &record);
            let mut r = record.recover(offset, nsp)?;
            let data = r
                .data_json
                .take()
                .map(|v| Box::new(v) as Box<dyn SocketData>);
            return Ok((r, data));
        }
        if self.sessions.get(pid).is_none_or(|s| s.nsp != nsp) {
            return Err(Miss::UnknownSession);
        }
        let Some(session) = self.sessions.remove(pid) else {
            return Err(Miss::UnknownSession);
        };
        self.session_bytes -= session_size(pid, &session);
        let pos = Offset::parse(offset)
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
            watermark: self.watermark(),
        };
        Ok((recovered, session.data))
    }

    /// The highest seq this shard handled, per origin.
    pub fn watermark(&self) -> Watermark {
        self.received.iter().map(|(&k, &(v, _))| (k, v)).collect()
    }

    /// The packets of this store another shard (or node) had not handled
    /// by `watermark` that reach `rooms` in `nsp`; `None` when some of
    /// them were already evicted.
    pub fn replay_after(
        &self,
        watermark: &[(Origin, u64)],
        nsp: u16,
        rooms: &[Box<str>],
    ) -> Option<Vec<Arc<Msg>>> {
        let seen: AHashMap<Origin, u64> = watermark.iter().copied().collect();
        let seen = |k: Origin| seen.get(&k).copied().unwrap_or(0);
        if self.evicted.iter().any(|(&k, &ev)| ev > seen(k)) {
            return None;
        }
        Some(
            self.entries
                .iter()
                .filter(|e| e.offset.seq > seen(e.offset.key()) && e.reaches(nsp, rooms))
                .map(|e| e.msg.clone())
                .collect(),
        )
    }

    /// The last packets of this store that reach `rooms` in `nsp`, in
    /// order, with their offsets: at most `max` of them and about
    /// `max_bytes` of wire size (a session published to other nodes
    /// carries them, `recovery_cluster`).
    pub fn tail(
        &self,
        nsp: u16,
        rooms: &[Box<str>],
        max: usize,
        max_bytes: usize,
    ) -> Vec<(Offset, Arc<Msg>)> {
        let mut out = Vec::new();
        let mut bytes = 0;
        let scan = super::recovery_cluster::TAIL_SCAN;
        for e in self.entries.iter().rev().take(scan) {
            if out.len() >= max || bytes >= max_bytes {
                break;
            }
            if e.reaches(nsp, rooms) {
                bytes += e.msg.wire_len;
                out.push((e.offset, e.msg.clone()));
            }
        }
        out.reverse();
        out
    }
}

#[cfg(test)]
#[path = "recovery_tests.rs"]
mod tests;

//! Broadcast delivery: resolve targets on this shard, queue the shared
//! message, and forward the same `Arc` to every other shard.
//!
//! A broadcast is encoded once by the shard that starts it ([`Msg`]); each
//! shard resolves its own members (union of `rooms`, minus the members of
//! `except`) and pushes a reference-counted handle to each receiver's queue.
//! Per receiver: one `Arc` clone and one waker call; no allocation, no copy.
//!
//! Broadcasts with acks (Node's `io.to(room).timeout(ms).emit(ev, cb)`): the
//! packet carries one namespace-wide ack id (as in Node's in-memory adapter,
//! so the bytes stay shared); each shard reports how many sockets it reached
//! and forwards every reply to the origin shard, which completes the callback
//! when all replies arrived or the timeout fires.

use std::rc::Rc;
use std::sync::Arc;

use ahash::{AHashMap, AHashSet};
use bytes::Bytes;
use serde_json::Value;

use super::msg::Msg;
use super::port::{ToCluster, ToShard};
use super::socket::{AckError, PendingAck};
use super::{Shard, SocketKey};

/// A broadcast request, shared by all shards.
#[derive(Debug)]
pub struct Broadcast {
    /// Namespace index.
    pub nsp: u16,
    /// Target rooms (union); empty = every socket of the namespace.
    pub rooms: Vec<Box<str>>,
    /// Rooms (or socket ids) whose members are excluded.
    pub except: Vec<Box<str>>,
    /// Drop for receivers that cannot take it right now.
    pub volatile: bool,
    /// The encoded packet.
    pub msg: Arc<Msg>,
    /// For a broadcast with acks: where counts and replies go, and the
    /// packet id every receiver answers with.
    pub ack: Option<BroadcastAck>,
    /// This node only (Node's `io.local`): never handed to the cluster bridge.
    /// Also set on broadcasts that came from another node.
    pub local: bool,
    /// For a broadcast with acks: the timeout (published as `flags.timeout`).
    pub timeout: Option<std::time::Duration>,
    /// Connection state recovery: the offset appended to the packet, which
    /// every shard keeps it under (`recovery` module).
    pub offset: Option<super::recovery::Offset>,
}

/// The ack part of a broadcast with acks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BroadcastAck {
    /// Where receiver counts and client replies go.
    pub origin: AckOrigin,
    /// The packet id (one namespace-wide id shared by every receiver).
    pub id: u64,
}

/// Who aggregates the answers of a broadcast with acks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckOrigin {
    /// An emit on shard `shard` of this process: its aggregation `req`.
    Shard {
        /// The shard that started the broadcast.
        shard: usize,
        /// Its aggregation id ([`Shard::start_aggregate`]).
        req: u64,
    },
    /// Another node's broadcast with acks: the cluster bridge answers it,
    /// under its own `key`.
    Bridge {
        /// The bridge's key of that request.
        key: u64,
    },
}

/// A client's acknowledgement arguments.
#[derive(Debug, Clone)]
pub struct AckReply {
    /// The arguments (placeholders index `attachments`).
    pub args: Vec<Value>,
    /// Binary attachments.
    pub attachments: Vec<Bytes>,
}

/// Callback of a broadcast with acks: every reply, or a timeout with the
/// replies received so far.
pub type AggregateCallback = Box<dyn FnOnce(Result<Vec<AckReply>, (AckError, Vec<AckReply>)>)>;

struct Aggregate {
    /// Shards that have not reported their receiver count yet.
    shards_pending: usize,
    /// Replies still expected from the reported receivers.
    expected: usize,
    replies: Vec<AckReply>,
    callback: Option<AggregateCallback>,
}

/// Broadcast-with-ack aggregations started on this shard.
#[derive(Default)]
pub struct AckAggregates {
    next: u64,
    pending: AHashMap<u64, Aggregate>,
}

impl std::fmt::Debug for AckAggregates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckAggregates")
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl AckAggregates {
    /// Aggregations waiting for replies (for `/metrics`).
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }
}

/// How many receivers ahead of the one being pushed to
/// [`prefetch_receiver`] starts loading a session. A push takes about
/// 20 ns with its data in cache and a cache miss costs about as much as
/// several pushes, so the loads have to start a few receivers early.
const PREFETCH_AHEAD: usize = 8;

/// Starts loading, ahead of the push loop of [`Shard::deliver_local`], what
/// the pushes to later receivers read: the socket state of receiver
/// `i + 2 * PREFETCH_AHEAD` and the session of receiver `i + PREFETCH_AHEAD`
/// (its state was requested `PREFETCH_AHEAD` receivers earlier).
///
/// With thousands of sessions per shard each push is otherwise a chain of
/// three or four dependent cache misses (socket state, session, queue
/// slot, writer task): `perf` showed `Session::push` stalled on the
/// session's first load as the top user-space symbol of deep fan-out.
/// Hints only: nothing is read through them, so a stale or missing entry
/// costs nothing but the hint. Measured (`benches/fanout.rs`,
/// `shard_deliver_local`, 2-vCPU EPYC VM): 10k receivers 620-850 µs ->
/// 440-470 µs; 1k receivers (all in cache) 19-21 -> 21-22 µs. A third
/// stage (the queue's free slot and the writer task, read through the
/// session) cost more than it saved, and so did distances of 4 and 16.
#[inline(always)]
fn prefetch_receiver(
    sockets: &slab::Slab<Rc<super::socket::SocketState>>,
    targets: &[SocketKey],
    i: usize,
) {
    let state = |j: usize| targets.get(j).and_then(|&k| sockets.get(k as usize));
    if let Some(s) = state(i + 2 * PREFETCH_AHEAD) {
        prefetch(Rc::as_ptr(s).cast());
    }
    if let Some(s) = state(i + PREFETCH_AHEAD) {
        let session: *const u8 = Rc::as_ptr(&s.session).cast();
        // `Session::push` reads the `RefCell` flag, the writer and the
        // queue's header and byte count: the session's first two lines.
        prefetch(session);
        prefetch(session.wrapping_add(64));
    }
}

/// Asks the CPU to start loading the cache line holding `p`.
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` requires SSE, which every x86_64 CPU has (it
    // is part of the target's baseline features). A prefetch is a hint:
    // it never faults and reads nothing into the program, whatever `p` is
    // (dangling, one past the end, or null), so no pointer invariant applies.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl Shard {
    /// Starts a broadcast: delivers locally, then forwards to every shard.
    pub fn broadcast(self: &Rc<Self>, b: Broadcast) {
        self.stats.ops.count_broadcast();
        let b = Arc::new(b);
        if !b.local && self.mesh.publishes() {
            // Other nodes: the bridge publishes it (never blocks; a full
            // queue drops it and counts). With acks, the aggregation also
            // waits for the bridge's one count of the remote receivers.
            let acked = match b.ack.map(|a| a.origin) {
                Some(AckOrigin::Shard { shard, req }) if shard == self.id => Some(req),
                _ => None,
            };
            if let Some(req) = acked {
                if let Some(a) = self.acks.borrow_mut().pending.get_mut(&req) {
                    a.shards_pending += 1;
                }
            }
            if !self.mesh.to_cluster(ToCluster::Broadcast(b.clone())) {
                if let Some(req) = acked {
                    if let Some(a) = self.acks.borrow_mut().pending.get_mut(&req) {
                        a.shards_pending -= 1;
                    }
                }
            }
        }
        for peer in 0..self.nshards {
            if peer != self.id {
                self.mesh.send(peer, ToShard::Broadcast(b.clone()));
            }
        }
        self.handle_broadcast(&b);
    }

    /// Delivers a broadcast to this shard's members and, with acks, reports
    /// how many sockets it reached to the aggregation's origin (this shard,
    /// another shard, or the cluster bridge).
    pub fn handle_broadcast(self: &Rc<Self>, b: &Broadcast) {
        let count = self.deliver_local(b);
        match b.ack.map(|a| a.origin) {
            None => {}
            Some(AckOrigin::Shard { shard, req }) if shard == self.id => {
                self.handle_ack_count(req, count);
            }
            Some(AckOrigin::Shard { shard, req }) => {
                self.mesh.send(shard, ToShard::AckCount { req, count });
            }
            Some(AckOrigin::Bridge { key }) => {
                self.mesh.to_cluster(ToCluster::AckCount { key, count });
            }
        }
    }

    /// Delivers a broadcast to this shard's members; returns how many
    /// sockets received it.
    pub fn deliver_local(self: &Rc<Self>, b: &Broadcast) -> usize {
        use super::msg::OutItem;
        use super::session::Push;
        if let (Some(offset), Some(store)) = (b.offset, &self.recovery) {
            store.borrow_mut().handle_packet(
                offset,
                b.nsp,
                &b.rooms,
                &b.except,
                &b.msg,
                std::time::Instant::now(),
            );
        }
        let targets = self.resolve(b.nsp, &b.rooms, &b.except);
        let local: super::msg::LocalMsg = Rc::new(b.msg.clone());
        let mut n = 0;
        // Sessions whose queue overflowed: closed after the loop, since
        // closing mutates the tables borrowed here. Rare, so no allocation
        // in the common case.
        let mut overflowed = Vec::new();
        {
            let sockets = self.sockets.borrow();
            for (i, &key) in targets.iter().enumerate() {
                prefetch_receiver(&sockets, &targets, i);
                let Some(state) = sockets.get(key as usize) else {
                    continue;
                };
                if let Some(ack) = b.ack {
                    state
                        .acks
                        .borrow_mut()
                        .insert(ack.id, PendingAck::Aggregate(ack.origin));
                }
                match state.session.push(OutItem::Msg(local.clone()), b.volatile) {
                    Push::Queued => n += 1,
                    r => {
                        if let Some(ack) = b.ack {
                            state.acks.borrow_mut().remove(&ack.id);
                        }
                        match r {
                            Push::Overflow => overflowed.push(state.session.clone()),
                            Push::Dropped => self
                                .stats
                                .volatile_dropped
                                .set(self.stats.volatile_dropped.get() + 1),
                            Push::Queued | Push::Closed => {}
                        }
                    }
                }
            }
        }
        self.stats
            .deliveries
            .set(self.stats.deliveries.get() + n as u64);
        self.stats.ops.count_receivers(n);
        for session in overflowed {
            self.handle_overflow(&session);
        }
        n
    }

    /// The sockets of namespace `nsp` on this shard in any of `rooms` (all
    /// when empty) and in none of `except`, each once.
    pub fn resolve(&self, nsp: u16, rooms: &[Box<str>], except: &[Box<str>]) -> Vec<SocketKey> {
        let tables = self.rooms.borrow();
        // No table: a dynamic namespace's child with no socket here yet.
        let Some(table) = tables.get(nsp as usize) else {
            return Vec::new();
        };
        let ids = self.socket_ids.borrow();
        let sockets = self.sockets.borrow();
        // A socket id names a room holding that socket, if it is in `nsp`.
        let own = |room: &str| {
            ids.get(room)
                .copied()
                .filter(|k| sockets.get(*k as usize).is_some_and(|s| s.nsp == nsp))
        };
        let mut excluded: AHashSet<SocketKey> = AHashSet::new();
        for room in except {
            if let Some(m) = table.members(room) {
                excluded.extend(m.iter().copied());
            }
            excluded.extend(own(room));
        }
        let mut out = Vec::new();
        match rooms {
            [] => out.extend(
                table
                    .all()
                    .iter()
                    .copied()
                    .filter(|k| !excluded.contains(k)),
            ),
            [room] => {
                let members = table.members(room);
                if let Some(m) = members {
                    out.reserve(m.len());
                    out.extend(m.iter().copied().filter(|k| !excluded.contains(k)));
                }
                // The socket-id room, unless that socket also joined `room` by name.
                if let Some(k) = own(room) {
                    if !excluded.contains(&k) && !members.is_some_and(|m| m.contains(&k)) {
                        out.push(k);
                    }
                }
            }
            _ => {
                let mut seen = excluded;
                for room in rooms {
                    if let Some(m) = table.members(room) {
                        out.extend(m.iter().copied().filter(|k| seen.insert(*k)));
                    }
                    if let Some(k) = own(room) {
                        if seen.insert(k) {
                            out.push(k);
                        }
                    }
                }
            }
        }
        out
    }

    /// Registers an aggregation and returns its id; `callback` runs once.
    pub fn start_aggregate(&self, callback: AggregateCallback) -> u64 {
        let mut acks = self.acks.borrow_mut();
        acks.next += 1;
        let req = acks.next;
        acks.pending.insert(
            req,
            Aggregate {
                shards_pending: self.nshards,
                expected: 0,
                replies: Vec::new(),
                callback: Some(callback),
            },
        );
        req
    }

    /// A shard reported it reached `count` sockets for aggregation `req`.
    pub fn handle_ack_count(self: &Rc<Self>, req: u64, count: usize) {
        if let Some(a) = self.acks.borrow_mut().pending.get_mut(&req) {
            a.shards_pending = a.shards_pending.saturating_sub(1);
            a.expected += count;
        }
        self.maybe_complete(req);
    }

    /// A reply for aggregation `req` arrived (possibly from another shard).
    pub fn handle_ack_reply(self: &Rc<Self>, req: u64, reply: AckReply) {
        if let Some(a) = self.acks.borrow_mut().pending.get_mut(&req) {
            a.replies.push(reply);
        }
        self.maybe_complete(req);
    }

    /// Routes a reply to the aggregation's origin.
    pub fn route_ack_reply(self: &Rc<Self>, origin: AckOrigin, reply: AckReply) {
        match origin {
            AckOrigin::Shard { shard, req } if shard == self.id => {
                self.handle_ack_reply(req, reply);
            }
            AckOrigin::Shard { shard, req } => {
                self.mesh.send(shard, ToShard::AckReply { req, reply });
            }
            AckOrigin::Bridge { key } => {
                self.mesh.to_cluster(ToCluster::AckReply { key, reply });
            }
        }
    }

    /// Times out aggregation `req` (called by its timer).
    pub fn expire_aggregate(&self, req: u64) {
        let a = self.acks.borrow_mut().pending.remove(&req);
        if let Some(mut a) = a {
            self.stats.ops.count_ack_timeout();
            if let Some(cb) = a.callback.take() {
                cb(Err((AckError::Timeout, a.replies)));
            }
        }
    }

    fn maybe_complete(&self, req: u64) {
        let done = {
            let acks = self.acks.borrow();
            acks.pending
                .get(&req)
                .is_some_and(|a| a.shards_pending == 0 && a.replies.len() >= a.expected)
        };
        if done {
            let a = self.acks.borrow_mut().pending.remove(&req);
            if let Some(mut a) = a {
                if let Some(cb) = a.callback.take() {
                    cb(Ok(a.replies));
                }
            }
        }
    }
}

//! The bridge core: one thread owning all cluster state of the node.
//!
//! It never blocks on Redis or on a shard: everything it sends goes through
//! bounded queues with `try_send` (full: dropped, counted, logged). It wakes
//! for queued events and at least every [`TICK`] to expire requests.
//!
//! Requester side (an operation started here): the local part is gathered
//! from every shard, the request is published after `PUBSUB NUMSUB` on the
//! request channel (both in one pipeline), and `NUMSUB - 1` answers are
//! awaited for [`super::REQUESTS_TIMEOUT`] (Node's `requestsTimeout`).
//! Responder side: every request of another uid (or of the emitter) is
//! applied or answered exactly once, also with an empty answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ahash::{AHashMap, AHashSet};
use bytes::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use ringcast_cluster_wire::{
    from_json, to_json, BroadcastMessage, BroadcastOpts, ChannelKind, Channels, FetchedSocket,
    Flags, OptsOrder, Request, RequestBody, RequestType, Response, RoomFilter, ShardedBody,
    ShardedMessage, SubscriptionMode, Value,
};
use serde_json::Value as Json;

use super::convert::{first_arg, msg_to_packet, packet_to_msg};
use super::redis_io::{random_id, Publisher};
use super::{
    bump, Apply, Counters, Event, Op, OpResult, Part, Query, ShardPort, Target, ToBridge, ToShard,
    REQUESTS_TIMEOUT,
};
use crate::shard::deliver::{AckReply, Broadcast, BRIDGE};
use crate::shard::App;

const TICK: Duration = Duration::from_millis(50);
/// Ack ids of broadcasts other nodes requested start here (shards use
/// `counter * nshards + shard`, far below).
const BRIDGE_ACK_BASE: u64 = 1 << 40;

/// Why a cluster operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// Not every node answered in time (Node's message).
    #[error("timeout reached: only {received} responses received out of {expected}")]
    Timeout {
        /// Answers received.
        received: usize,
        /// Answers expected (other nodes).
        expected: usize,
    },
    /// The bridge could not take the operation (queue full or stopped).
    #[error("cluster bridge unavailable")]
    Unavailable,
}

enum Then {
    /// The local part of a request this node started.
    Request(String),
    /// Answer another node's request.
    Answer {
        nsp: u16,
        /// The requester's uid (sharded mode answers on its channel).
        to: Option<String>,
        kind: RequestType,
        request_id: String,
    },
}

struct Gather {
    remaining: usize,
    parts: Vec<Part>,
    then: Then,
}

/// A request this node published and waits answers for.
struct Pending {
    kind: RequestType,
    origin: usize,
    /// The shard's token (or its aggregation id for type 7).
    token: u64,
    expected: Option<usize>,
    answers: usize,
    local_done: bool,
    sockets: Vec<FetchedSocket>,
    rooms: AHashSet<String>,
    acks: Vec<Json>,
    remote_clients: usize,
    count_sent: bool,
    deadline: Instant,
}

/// A broadcast-with-ack another node requested, delivered here.
struct RemoteAck {
    nsp: u16,
    /// The requester's uid (sharded mode answers on its channel).
    to: Option<String>,
    request_id: String,
    remaining: usize,
    total: usize,
    deadline: Instant,
}

pub(crate) struct Core {
    uid: String,
    nsps: Vec<(String, Channels)>,
    shards: Vec<ShardPort>,
    publisher: Option<Publisher>,
    counters: Arc<Counters>,
    next: u64,
    round_robin: usize,
    gathers: AHashMap<u64, Gather>,
    requests: AHashMap<String, Pending>,
    numsub: AHashMap<u64, String>,
    remote_acks: AHashMap<u64, RemoteAck>,
    node_name: Option<String>,
    /// Sharded mode (`createShardedAdapter`): SPUBLISH / SSUBSCRIBE.
    sharded: bool,
    /// Sharded mode: the adapter's `subscriptionMode` (where single-room
    /// broadcasts are published).
    mode: SubscriptionMode,
    /// Sharded mode: shards holding each room (the room's channel is
    /// SSUBSCRIBEd while the count is above zero).
    room_refs: AHashMap<(u16, Box<str>), usize>,
    /// Sharded mode: requester uid of serverSideEmit requests awaiting a
    /// local ack (responses go to the requester's channel).
    requesters: AHashMap<String, (String, Instant)>,
}

impl Core {
    pub(crate) fn new(
        app: &dyn App,
        key: &str,
        shards: Vec<ShardPort>,
        publisher: Option<Publisher>,
        counters: Arc<Counters>,
        node_name: Option<String>,
    ) -> Self {
        let nsps = (0..app.namespace_count())
            .map(|i| {
                let name = app.namespace_name(i as u16).to_owned();
                let c = Channels::new(key, &name);
                (name, c)
            })
            .collect();
        let uid = publisher.as_ref().map_or_else(random_id, |p| p.uid.clone());
        let sharded = publisher.as_ref().is_some_and(|p| p.subs.is_some());
        let mode = publisher.as_ref().map_or_else(Default::default, |p| p.mode);
        Self {
            uid,
            nsps,
            shards,
            publisher,
            counters,
            next: 0,
            round_robin: 0,
            gathers: AHashMap::new(),
            requests: AHashMap::new(),
            numsub: AHashMap::new(),
            remote_acks: AHashMap::new(),
            node_name,
            sharded,
            mode,
            room_refs: AHashMap::new(),
            requesters: AHashMap::new(),
        }
    }

    pub(crate) fn run(mut self, rx: Receiver<Event>) {
        tracing::info!(
            uid = %self.uid,
            node = self.node_name.as_deref().unwrap_or(""),
            redis = self.publisher.is_some(),
            sharded = self.sharded,
            subscription_mode = %self.mode,
            "cluster bridge started"
        );
        let mut next_tick = Instant::now() + TICK;
        loop {
            if self.idle() {
                // Nothing can expire: sleep until the next event instead of
                // waking every tick.
                match rx.recv() {
                    Ok(ev) => self.event(ev),
                    Err(_) => return,
                }
            } else {
                let wait = next_tick.saturating_duration_since(Instant::now());
                match rx.recv_timeout(wait) {
                    Ok(ev) => self.event(ev),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                self.expire(now);
                next_tick = now + TICK;
            }
        }
    }

    fn id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn to_all(&self, make: impl Fn() -> ToShard) {
        for s in &self.shards {
            s.send(make());
        }
    }

    fn event(&mut self, ev: Event) {
        match ev {
            Event::Shard(m) => self.shard_msg(m),
            Event::Incoming { channel, payload } => self.incoming(&channel, &payload),
            Event::Numsub { token, count } => {
                if let Some(rid) = self.numsub.remove(&token) {
                    if let Some(p) = self.requests.get_mut(&rid) {
                        // Node counts its own subscription; the others answer.
                        p.expected = count.map(|n| n.saturating_sub(1));
                    }
                    self.check(&rid);
                }
            }
        }
    }

    // ----- publishing -----------------------------------------------------

    fn publish(&self, channel: String, payload: Bytes) {
        if let Some(p) = &self.publisher {
            p.publish(channel, payload);
        }
    }

    /// Sharded mode: publishes `body` as the sharded adapter would.
    fn publish_sharded(&self, nsp: u16, body: ShardedBody) {
        let (name, channels) = &self.nsps[nsp as usize];
        let channel = match &body {
            ShardedBody::Response(_) => None,
            _ => Some(channels.sharded_channel(&body, self.mode)),
        };
        let m = ShardedMessage {
            uid: Some(self.uid.clone()),
            nsp: Some(name.clone()),
            body,
        };
        match (m.encode(), channel) {
            (Ok(Some(b)), Some(channel)) => self.publish(channel, b),
            (Ok(_), _) => {}
            (Err(e), _) => tracing::warn!(error = %e, "cannot encode cluster message"),
        }
    }

    fn publish_request(&mut self, nsp: u16, body: RequestBody) {
        if self.sharded {
            return self.publish_sharded(nsp, ShardedBody::Request(body));
        }
        let req = Request {
            uid: Some(self.uid.clone()),
            body,
        };
        match req.encode() {
            Ok(b) => self.publish(self.nsps[nsp as usize].1.request().to_owned(), b),
            Err(e) => tracing::warn!(error = %e, "cannot encode cluster request"),
        }
    }

    /// Answers the node with uid `to` (sharded mode: on its own channel;
    /// classic: on the namespace's response channel).
    fn publish_response(&self, nsp: u16, to: Option<&str>, resp: &Response) {
        if self.sharded {
            let Some(to) = to else { return };
            let (name, channels) = &self.nsps[nsp as usize];
            let m = ShardedMessage {
                uid: Some(self.uid.clone()),
                nsp: Some(name.clone()),
                body: ShardedBody::Response(resp.clone()),
            };
            match m.encode() {
                Ok(Some(b)) => self.publish(channels.sharded_response(to), b),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot encode cluster response"),
            }
            return;
        }
        match resp.encode() {
            Ok(b) => self.publish(self.nsps[nsp as usize].1.response().to_owned(), b),
            Err(e) => tracing::warn!(error = %e, "cannot encode cluster response"),
        }
    }

    /// Registers a request, asks NUMSUB, then publishes it (one pipeline).
    fn start_request(
        &mut self,
        nsp: u16,
        mut p: Pending,
        body: impl FnOnce(String) -> RequestBody,
    ) {
        let rid = random_id() + &random_id();
        let body = body(rid.clone());
        let token = self.id();
        match &self.publisher {
            Some(publ) => {
                self.numsub.insert(token, rid.clone());
                let c = &self.nsps[nsp as usize].1;
                // Sharded: every node SSUBSCRIBEs the namespace channel once.
                let channel = if self.sharded {
                    c.broadcast()
                } else {
                    c.request()
                };
                publ.numsub(channel.to_owned(), token);
            }
            None => p.expected = Some(0),
        }
        self.requests.insert(rid.clone(), p);
        if self.publisher.is_some() {
            self.publish_request(nsp, body);
        }
        self.check(&rid);
    }

    fn pending(kind: RequestType, origin: usize, token: u64, timeout: Duration) -> Pending {
        Pending {
            kind,
            origin,
            token,
            expected: None,
            answers: 0,
            local_done: true,
            sockets: Vec::new(),
            rooms: AHashSet::new(),
            acks: Vec::new(),
            remote_clients: 0,
            count_sent: false,
            deadline: Instant::now() + timeout,
        }
    }

    fn gather(&mut self, query: Query, then: Then) {
        let g = self.id();
        self.gathers.insert(
            g,
            Gather {
                remaining: self.shards.len(),
                parts: Vec::new(),
                then,
            },
        );
        self.to_all(|| ToShard::Gather {
            gather: g,
            query: query.clone(),
        });
    }

    // ----- from shards ----------------------------------------------------

    fn shard_msg(&mut self, m: ToBridge) {
        match m {
            ToBridge::Broadcast(b) => self.publish_broadcast(&b),
            ToBridge::AckCount { key, count } => {
                let done = self.remote_acks.get_mut(&key).and_then(|r| {
                    r.remaining = r.remaining.saturating_sub(1);
                    r.total += count;
                    (r.remaining == 0).then(|| (r.nsp, r.to.clone(), r.request_id.clone(), r.total))
                });
                if let Some((nsp, to, request_id, total)) = done {
                    self.publish_response(
                        nsp,
                        to.as_deref(),
                        &Response::BroadcastClientCount {
                            request_id,
                            client_count: total as u64,
                        },
                    );
                }
            }
            ToBridge::AckReply { key, reply } => {
                if let Some(r) = self.remote_acks.get(&key) {
                    let resp = Response::BroadcastAck {
                        request_id: r.request_id.clone(),
                        packet: first_arg(&reply.args, &reply.attachments),
                    };
                    self.publish_response(r.nsp, r.to.as_deref(), &resp);
                }
            }
            ToBridge::Room { nsp, room, created } => self.room_changed(nsp, room, created),
            ToBridge::Op { origin, token, op } => self.op(origin, token, op),
            ToBridge::Part { gather, part } => {
                let done = match self.gathers.get_mut(&gather) {
                    Some(g) => {
                        g.parts.push(part);
                        g.remaining -= 1;
                        g.remaining == 0
                    }
                    None => false,
                };
                if done {
                    if let Some(g) = self.gathers.remove(&gather) {
                        self.gathered(g);
                    }
                }
            }
            ToBridge::ServerSideAck {
                nsp,
                request_id,
                data,
            } => {
                let to = self.requesters.remove(&request_id).map(|(uid, _)| uid);
                self.publish_response(
                    nsp,
                    to.as_deref(),
                    &Response::ServerSideEmit {
                        request_id,
                        data: from_json(&data),
                    },
                );
            }
        }
    }

    fn publish_broadcast(&mut self, b: &Broadcast) {
        let Some((name, channels)) = self.nsps.get(b.nsp as usize) else {
            return;
        };
        let Some(packet) = msg_to_packet(name, &b.msg) else {
            return;
        };
        let mut flags = Flags::default();
        if b.volatile {
            flags.set("volatile", Value::Bool(true));
        }
        let rooms: Vec<String> = b.rooms.iter().map(|r| r.to_string()).collect();
        let except: Vec<String> = b.except.iter().map(|r| r.to_string()).collect();
        match b.ack {
            None if self.sharded => {
                let body = ShardedBody::Broadcast {
                    packet,
                    opts: BroadcastOpts {
                        rooms,
                        except,
                        flags,
                        order: OptsOrder::Adapter,
                    },
                };
                self.publish_sharded(b.nsp, body);
            }
            None => {
                let channel = channels.for_rooms(&rooms).into_owned();
                let m = BroadcastMessage {
                    uid: Some(self.uid.clone()),
                    packet,
                    opts: BroadcastOpts {
                        rooms,
                        except,
                        flags,
                        order: OptsOrder::Adapter,
                    },
                };
                match m.encode() {
                    Ok(bytes) => self.publish(channel, bytes),
                    Err(e) => tracing::warn!(error = %e, "cannot encode broadcast"),
                }
            }
            Some((origin, req, _)) => {
                let timeout = b.timeout.unwrap_or(REQUESTS_TIMEOUT);
                flags.set("timeout", Value::Int(timeout.as_millis() as i64));
                let nsp = b.nsp;
                let p = Self::pending(
                    RequestType::Broadcast,
                    origin,
                    req,
                    timeout + Duration::from_secs(1),
                );
                self.start_request(nsp, p, |request_id| RequestBody::Broadcast {
                    request_id,
                    packet,
                    opts: BroadcastOpts {
                        rooms,
                        except,
                        flags,
                        order: OptsOrder::Adapter,
                    },
                });
            }
        }
    }

    fn op(&mut self, origin: usize, token: u64, op: Op) {
        match op {
            Op::Fetch(t) => {
                let nsp = t.nsp;
                let mut p =
                    Self::pending(RequestType::RemoteFetch, origin, token, REQUESTS_TIMEOUT);
                p.local_done = false;
                let opts = RoomFilter {
                    rooms: t.rooms.clone(),
                    except: t.except.clone(),
                };
                let rid = self.start_request_id(nsp, p, |request_id| RequestBody::RemoteFetch {
                    request_id,
                    opts,
                });
                self.gather(Query::Fetch(t), Then::Request(rid));
            }
            Op::AllRooms(nsp) if self.sharded => {
                // The sharded adapter has no allRooms request: local rooms.
                let g = self.id();
                let mut p = Self::pending(RequestType::AllRooms, origin, token, REQUESTS_TIMEOUT);
                p.local_done = false;
                p.expected = Some(0);
                let rid = format!("local-{g}");
                self.requests.insert(rid.clone(), p);
                self.gather(Query::Rooms(nsp), Then::Request(rid));
            }
            Op::AllRooms(nsp) => {
                let mut p = Self::pending(RequestType::AllRooms, origin, token, REQUESTS_TIMEOUT);
                p.local_done = false;
                let rid = self
                    .start_request_id(nsp, p, |request_id| RequestBody::AllRooms { request_id });
                self.gather(Query::Rooms(nsp), Then::Request(rid));
            }
            Op::Join(t, rooms) => {
                self.to_all(|| ToShard::Apply(Apply::Join(t.clone(), rooms.clone())));
                let opts = filter(&t);
                self.publish_request(t.nsp, RequestBody::RemoteJoin { opts, rooms });
            }
            Op::Leave(t, rooms) => {
                self.to_all(|| ToShard::Apply(Apply::Leave(t.clone(), rooms.clone())));
                let opts = filter(&t);
                self.publish_request(t.nsp, RequestBody::RemoteLeave { opts, rooms });
            }
            Op::Disconnect(t, close) => {
                self.to_all(|| ToShard::Apply(Apply::Disconnect(t.clone(), close)));
                let opts = filter(&t);
                self.publish_request(t.nsp, RequestBody::RemoteDisconnect { opts, close });
            }
            Op::ServerSideEmit { nsp, data, ack } => {
                let data: Vec<Value> = data.iter().map(from_json).collect();
                if ack {
                    let p =
                        Self::pending(RequestType::ServerSideEmit, origin, token, REQUESTS_TIMEOUT);
                    self.start_request(nsp, p, |request_id| RequestBody::ServerSideEmit {
                        request_id: Some(request_id),
                        data,
                    });
                } else {
                    self.publish_request(
                        nsp,
                        RequestBody::ServerSideEmit {
                            request_id: None,
                            data,
                        },
                    );
                }
            }
        }
    }

    fn start_request_id(
        &mut self,
        nsp: u16,
        p: Pending,
        body: impl FnOnce(String) -> RequestBody,
    ) -> String {
        let mut rid = String::new();
        self.start_request(nsp, p, |r| {
            rid = r.clone();
            body(r)
        });
        rid
    }

    fn gathered(&mut self, g: Gather) {
        match g.then {
            Then::Request(rid) => {
                if let Some(p) = self.requests.get_mut(&rid) {
                    for part in g.parts {
                        match part {
                            Part::Sockets(s) => p.sockets.extend(s),
                            Part::Rooms(r) => p.rooms.extend(r),
                            Part::Ids(_) => {}
                        }
                    }
                    p.local_done = true;
                }
                self.check(&rid);
            }
            Then::Answer {
                nsp,
                to,
                kind,
                request_id,
            } => {
                let resp = match kind {
                    RequestType::RemoteFetch => Response::RemoteFetch {
                        request_id,
                        sockets: g
                            .parts
                            .into_iter()
                            .flat_map(|p| match p {
                                Part::Sockets(s) => s,
                                _ => Vec::new(),
                            })
                            .collect(),
                    },
                    RequestType::AllRooms => {
                        let mut set = AHashSet::new();
                        let mut rooms = Vec::new();
                        for p in g.parts {
                            if let Part::Rooms(r) = p {
                                for room in r {
                                    if set.insert(room.clone()) {
                                        rooms.push(room);
                                    }
                                }
                            }
                        }
                        Response::AllRooms { request_id, rooms }
                    }
                    _ => Response::Sockets {
                        request_id,
                        sockets: g
                            .parts
                            .into_iter()
                            .flat_map(|p| match p {
                                Part::Ids(s) => s,
                                _ => Vec::new(),
                            })
                            .collect(),
                    },
                };
                self.publish_response(nsp, to.as_deref(), &resp);
            }
        }
    }

    /// Completes request `rid` when every answer (and the local part) is in.
    fn check(&mut self, rid: &str) {
        let Some(p) = self.requests.get_mut(rid) else {
            return;
        };
        let Some(expected) = p.expected else {
            return;
        };
        if p.answers < expected || !p.local_done {
            return;
        }
        if p.kind == RequestType::Broadcast {
            if !p.count_sent {
                p.count_sent = true;
                let (origin, req, count) = (p.origin, p.token, p.remote_clients);
                self.send_to(origin, ToShard::AckCount { req, count });
            }
            // Kept until its deadline: the acks are still coming.
            return;
        }
        if let Some(p) = self.requests.remove(rid) {
            let result = match p.kind {
                RequestType::RemoteFetch => OpResult::Sockets(Ok(p.sockets)),
                RequestType::AllRooms => OpResult::Rooms(Ok(p.rooms.into_iter().collect())),
                _ => OpResult::Acks(Ok(p.acks)),
            };
            self.send_to(
                p.origin,
                ToShard::Done {
                    token: p.token,
                    result,
                },
            );
        }
    }

    fn send_to(&self, shard: usize, m: ToShard) {
        if let Some(s) = self.shards.get(shard) {
            s.send(m);
        }
    }

    /// Whether no request, remote ack or requester is waiting on a deadline.
    fn idle(&self) -> bool {
        self.requests.is_empty() && self.remote_acks.is_empty() && self.requesters.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .requests
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for rid in expired {
            let Some(p) = self.requests.remove(&rid) else {
                continue;
            };
            let err = ClusterError::Timeout {
                received: p.answers,
                expected: p.expected.unwrap_or(p.answers + 1),
            };
            let result = match p.kind {
                RequestType::Broadcast => continue,
                RequestType::RemoteFetch => OpResult::Sockets(Err(err)),
                RequestType::AllRooms => OpResult::Rooms(Err(err)),
                _ => OpResult::Acks(Err((err, p.acks))),
            };
            self.send_to(
                p.origin,
                ToShard::Done {
                    token: p.token,
                    result,
                },
            );
        }
        self.remote_acks.retain(|_, r| r.deadline > now);
        self.requesters.retain(|_, (_, t)| *t > now);
        if self.gathers.len() > 10_000 {
            // Shards answer every gather; this only guards against a shard
            // that stopped answering (its queue overflowed).
            self.gathers.clear();
        }
    }

    // ----- from Redis ---------------------------------------------------

    /// Sharded mode: a message on `<key>#<nsp>#[<x>#]` (namespace channel,
    /// room channel or this node's response channel).
    fn incoming_sharded(&mut self, channel: &str, payload: &Bytes) {
        let Some(nsp) = self
            .nsps
            .iter()
            .position(|(_, c)| c.classify(channel).is_some())
        else {
            return;
        };
        let nsp = nsp as u16;
        let m = match ShardedMessage::decode(payload) {
            Ok(m) => m,
            Err(e) => return self.decode_error("sharded message", &e),
        };
        if m.uid.as_deref() == Some(self.uid.as_str()) {
            return;
        }
        if m.nsp
            .as_deref()
            .is_some_and(|n| n != self.nsps[nsp as usize].0)
        {
            return;
        }
        match m.body {
            ShardedBody::Broadcast { packet, opts } => self.deliver_broadcast(
                nsp,
                BroadcastMessage {
                    uid: m.uid,
                    packet,
                    opts,
                },
            ),
            ShardedBody::Request(body) => {
                if let (
                    RequestBody::ServerSideEmit {
                        request_id: Some(id),
                        ..
                    },
                    Some(uid),
                ) = (&body, &m.uid)
                {
                    let deadline = Instant::now() + REQUESTS_TIMEOUT + Duration::from_secs(1);
                    self.requesters.insert(id.clone(), (uid.clone(), deadline));
                }
                self.handle_request(nsp, Request { uid: m.uid, body });
            }
            ShardedBody::Response(resp) => {
                let kind = self.requests.get(resp.request_id()).map(|p| p.kind);
                let fits = matches!(
                    (kind, &resp),
                    (Some(RequestType::RemoteFetch), Response::RemoteFetch { .. })
                        | (
                            Some(RequestType::ServerSideEmit),
                            Response::ServerSideEmit { .. }
                        )
                        | (
                            Some(RequestType::Broadcast),
                            Response::BroadcastClientCount { .. } | Response::BroadcastAck { .. }
                        )
                );
                if fits {
                    self.handle_response(resp);
                }
            }
            ShardedBody::Other(_) => {}
        }
    }

    /// Sharded mode: a shard created / deleted `room`; the room channel is
    /// held while some shard has the room.
    fn room_changed(&mut self, nsp: u16, room: Box<str>, created: bool) {
        let Some(subs) = self.publisher.as_ref().and_then(|p| p.subs.as_ref()) else {
            return;
        };
        let Some((_, channels)) = self.nsps.get(nsp as usize) else {
            return;
        };
        let channel = channels.room(&room);
        if *room == *self.uid {
            // `<key>#<nsp>#<uid>#` is this node's response channel: held
            // for good, never dropped with a room of that name.
            return;
        }
        let key = (nsp, room);
        if created {
            let n = self.room_refs.entry(key).or_insert(0);
            *n += 1;
            if *n == 1 {
                subs.subscribe(&channel);
            }
        } else if let Some(n) = self.room_refs.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.room_refs.remove(&key);
                subs.unsubscribe(&channel);
            }
        }
    }

    fn incoming(&mut self, channel: &str, payload: &Bytes) {
        if self.sharded {
            return self.incoming_sharded(channel, payload);
        }
        enum Kind {
            Broadcast,
            Request,
            Response,
        }
        let found = self.nsps.iter().enumerate().find_map(|(i, (_, c))| {
            let kind = match c.classify(channel)? {
                ChannelKind::Request => Kind::Request,
                ChannelKind::Response(_) => Kind::Response,
                ChannelKind::Broadcast | ChannelKind::Room(_) => Kind::Broadcast,
            };
            Some((i as u16, kind))
        });
        match found {
            Some((nsp, Kind::Request)) => self.request(nsp, payload),
            Some((_, Kind::Response)) => self.response(payload),
            Some((nsp, Kind::Broadcast)) => self.broadcast(nsp, payload),
            None => {}
        }
    }

    fn decode_error(&self, what: &str, e: &dyn std::fmt::Display) {
        let n = bump(&self.counters.decode_errors);
        if n.is_power_of_two() {
            tracing::warn!(error = %e, errors = n, "undecodable cluster {what} dropped");
        }
    }

    fn broadcast(&mut self, nsp: u16, payload: &Bytes) {
        match BroadcastMessage::decode(payload) {
            Ok(m) => self.deliver_broadcast(nsp, m),
            Err(e) => self.decode_error("broadcast", &e),
        }
    }

    /// Decoded once here; the same encoded `Broadcast` goes to every shard.
    fn deliver_broadcast(&mut self, nsp: u16, m: BroadcastMessage) {
        if m.uid.as_deref() == Some(self.uid.as_str()) {
            return;
        }
        let name = &self.nsps[nsp as usize].0;
        if !m.is_for(name) || m.opts.flags.local() {
            return;
        }
        let Some(msg) = packet_to_msg(name, &m.packet, None) else {
            return;
        };
        let b = Arc::new(Broadcast {
            nsp,
            rooms: m.opts.rooms.iter().map(|r| r.as_str().into()).collect(),
            except: m.opts.except.iter().map(|r| r.as_str().into()).collect(),
            volatile: m.opts.flags.volatile(),
            msg,
            ack: None,
            local: true,
            timeout: None,
        });
        self.to_all(|| ToShard::Deliver(b.clone()));
    }

    fn request(&mut self, nsp: u16, payload: &Bytes) {
        match Request::decode(payload) {
            Ok(r) => self.handle_request(nsp, r),
            Err(e) => self.decode_error("request", &e),
        }
    }

    fn handle_request(&mut self, nsp: u16, req: Request) {
        if req.uid.as_deref() == Some(self.uid.as_str()) {
            return;
        }
        let target = |f: RoomFilter| Target {
            nsp,
            rooms: f.rooms,
            except: f.except,
        };
        match req.body {
            RequestBody::Sockets { request_id, rooms } => self.gather(
                Query::Ids(Target {
                    nsp,
                    rooms,
                    except: Vec::new(),
                }),
                Then::Answer {
                    nsp,
                    to: req.uid.clone(),
                    kind: RequestType::Sockets,
                    request_id,
                },
            ),
            RequestBody::AllRooms { request_id } => self.gather(
                Query::Rooms(nsp),
                Then::Answer {
                    nsp,
                    to: req.uid.clone(),
                    kind: RequestType::AllRooms,
                    request_id,
                },
            ),
            RequestBody::RemoteFetch { request_id, opts } => self.gather(
                Query::Fetch(target(opts)),
                Then::Answer {
                    nsp,
                    to: req.uid.clone(),
                    kind: RequestType::RemoteFetch,
                    request_id,
                },
            ),
            RequestBody::RemoteJoin { opts, rooms } => {
                let t = target(opts);
                self.to_all(|| ToShard::Apply(Apply::Join(t.clone(), rooms.clone())));
            }
            RequestBody::RemoteLeave { opts, rooms } => {
                let t = target(opts);
                self.to_all(|| ToShard::Apply(Apply::Leave(t.clone(), rooms.clone())));
            }
            RequestBody::RemoteDisconnect { opts, close } => {
                let t = target(opts);
                self.to_all(|| ToShard::Apply(Apply::Disconnect(t.clone(), close)));
            }
            RequestBody::LegacyJoin { sid, room, .. } => {
                let t = target(RoomFilter {
                    rooms: vec![sid],
                    except: Vec::new(),
                });
                self.to_all(|| ToShard::Apply(Apply::Join(t.clone(), vec![room.clone()])));
            }
            RequestBody::LegacyLeave { sid, room, .. } => {
                let t = target(RoomFilter {
                    rooms: vec![sid],
                    except: Vec::new(),
                });
                self.to_all(|| ToShard::Apply(Apply::Leave(t.clone(), vec![room.clone()])));
            }
            RequestBody::LegacyDisconnect { sid, close, .. } => {
                let t = target(RoomFilter {
                    rooms: vec![sid],
                    except: Vec::new(),
                });
                self.to_all(|| ToShard::Apply(Apply::Disconnect(t.clone(), close)));
            }
            RequestBody::ServerSideEmit { request_id, data } => {
                if self.shards.is_empty() {
                    return;
                }
                let args = data.iter().map(to_json).collect();
                self.round_robin = (self.round_robin + 1) % self.shards.len();
                self.shards[self.round_robin].send(ToShard::ServerSide {
                    nsp,
                    args,
                    request_id,
                });
            }
            RequestBody::Broadcast {
                request_id,
                packet,
                opts,
            } => {
                if self.requests.contains_key(&request_id) {
                    return;
                }
                let key = self.id();
                let ack_id = BRIDGE_ACK_BASE + key;
                let name = &self.nsps[nsp as usize].0;
                let Some(msg) = packet_to_msg(name, &packet, Some(ack_id)) else {
                    return;
                };
                let timeout = opts
                    .flags
                    .timeout()
                    .map_or(REQUESTS_TIMEOUT, Duration::from_millis);
                self.remote_acks.insert(
                    key,
                    RemoteAck {
                        nsp,
                        to: req.uid.clone(),
                        request_id,
                        remaining: self.shards.len(),
                        total: 0,
                        deadline: Instant::now() + timeout + Duration::from_secs(1),
                    },
                );
                let b = Arc::new(Broadcast {
                    nsp,
                    rooms: opts.rooms.iter().map(|r| r.as_str().into()).collect(),
                    except: opts.except.iter().map(|r| r.as_str().into()).collect(),
                    volatile: opts.flags.volatile(),
                    msg,
                    ack: Some((BRIDGE, key, ack_id)),
                    local: true,
                    timeout: None,
                });
                self.to_all(|| ToShard::Deliver(b.clone()));
            }
        }
    }

    fn response(&mut self, payload: &Bytes) {
        let requests = &self.requests;
        match Response::decode(payload, |id| requests.get(id).map(|p| p.kind)) {
            Ok(Some(r)) => self.handle_response(r),
            Ok(None) => {}
            Err(e) => self.decode_error("response", &e),
        }
    }

    fn handle_response(&mut self, resp: Response) {
        let rid = resp.request_id().to_owned();
        let Some(p) = self.requests.get_mut(&rid) else {
            return;
        };
        match resp {
            Response::RemoteFetch { sockets, .. } => {
                p.answers += 1;
                p.sockets.extend(sockets);
            }
            Response::AllRooms { rooms, .. } => {
                p.answers += 1;
                p.rooms.extend(rooms);
            }
            Response::ServerSideEmit { data, .. } => {
                p.answers += 1;
                p.acks.push(to_json(&data));
            }
            Response::BroadcastClientCount { client_count, .. } => {
                p.answers += 1;
                p.remote_clients += client_count as usize;
            }
            Response::BroadcastAck { packet, .. } => {
                let (json, attachments) = ringcast_cluster_wire::to_placeholders(&packet);
                let (origin, req) = (p.origin, p.token);
                self.send_to(
                    origin,
                    ToShard::AckReply {
                        req,
                        reply: AckReply {
                            args: vec![json],
                            attachments,
                        },
                    },
                );
                return;
            }
            Response::Sockets { .. } | Response::LegacyAck { .. } => {
                p.answers += 1;
            }
        }
        self.check(&rid);
    }
}

fn filter(t: &Target) -> RoomFilter {
    RoomFilter {
        rooms: t.rooms.clone(),
        except: t.except.clone(),
    }
}

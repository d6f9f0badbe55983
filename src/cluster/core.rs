//! The bridge core: one thread owning all cluster state of the node.
//!
//! It never blocks on Redis or on a shard: everything it sends goes through
//! bounded queues with `try_send` (full: dropped, counted, logged). It wakes
//! for queued events and, while something has a deadline, at least every
//! [`TICK`] to expire it.
//!
//! Sans-IO at its heart: [`Core::handle_event`] and [`Core::handle_timeout`]
//! take `now` (every deadline is computed from it) and queue [`Action`]s
//! (a message for a shard, a publish, a `NUMSUB`, a room (un)subscription)
//! that [`Core::poll_action`] returns in order. Only [`Core::run`], the
//! thread's loop, reads the clock and hands actions to the IO ([`Io`]: the
//! shards' queues, the Redis threads), so the decisions are unit-tested
//! with time advanced by hand (`tests`).
//!
//! Layout: this file holds the state, the loop and publishing;
//! [`from_shards`] what the shards ask for, [`from_redis`] what other nodes
//! published, [`io`] the actions and who performs them.
//!
//! Requester side (an operation started here): the local part is gathered
//! from every shard, the request is published after `PUBSUB NUMSUB` on the
//! request channel (both in one pipeline), and `NUMSUB - 1` answers are
//! awaited for [`super::REQUESTS_TIMEOUT`] (Node's `requestsTimeout`).
//! Responder side: every request of another uid (or of the emitter) is
//! applied or answered exactly once, also with an empty answer.

use std::cell::RefCell;
use std::collections::VecDeque;
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
    bump, Apply, ClusterError, Counters, Event, Op, OpResult, Part, Query, Target, ToCluster,
    ToShard, REQUESTS_TIMEOUT,
};
use crate::config::Parser;
use crate::shard::deliver::{AckOrigin, AckReply, Broadcast, BroadcastAck};
use crate::shard::App;
pub(crate) use io::{Action, Io};

mod from_redis;
mod from_shards;
mod io;
mod sessions;
#[cfg(test)]
mod tests;

const TICK: Duration = Duration::from_millis(50);
/// Ack ids of broadcasts other nodes requested start here (shards use
/// `counter * nshards + shard`, far below).
const BRIDGE_ACK_BASE: u64 = 1 << 40;

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
    /// Namespaces by index (the application's process-wide indices),
    /// grown when dynamic namespaces' children appear
    /// ([`Self::sync_namespaces`]).
    nsps: Vec<(String, Channels)>,
    app: Arc<dyn App>,
    key: String,
    /// Number of shards of this process.
    nshards: usize,
    /// Whether Redis is configured (requests are published and counted).
    redis: bool,
    /// Output for the IO, drained by [`Self::poll_action`]. A `RefCell`
    /// so that methods which only produce output keep taking `&self`.
    actions: RefCell<VecDeque<Action>>,
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
    /// The server's Socket.IO parser: events from other nodes are encoded
    /// once in it.
    parser: Parser,
    /// Connection state recovery is on: broadcasts from other ringcast
    /// nodes get their offset back ([`sessions`]).
    recovery: bool,
    /// Session `GETDEL`s waiting for Redis, by command token.
    takes: AHashMap<u64, sessions::Take>,
    /// The time of the event being handled ([`Self::handle_event`],
    /// [`Self::handle_timeout`]): decisions never read the clock.
    now: Instant,
}

impl Core {
    pub(crate) fn new(
        app: Arc<dyn App>,
        key: &str,
        nshards: usize,
        publisher: Option<&Publisher>,
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
        let uid = publisher.map_or_else(random_id, |p| p.uid.clone());
        let sharded = publisher.is_some_and(|p| p.subs.is_some());
        let mode = publisher.map_or_else(Default::default, |p| p.mode);
        Self {
            uid,
            nsps,
            app,
            key: key.to_owned(),
            nshards,
            redis: publisher.is_some(),
            actions: RefCell::new(VecDeque::new()),
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
            parser: Parser::Json,
            recovery: false,
            takes: AHashMap::new(),
            now: Instant::now(),
        }
    }

    /// Encodes events from other nodes for clients of `parser`.
    pub(crate) fn with_parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }

    /// Connection state recovery is on (offsets of other nodes' broadcasts
    /// are restored and kept).
    pub(crate) fn with_recovery(mut self, on: bool) -> Self {
        self.recovery = on;
        self
    }

    /// The thread's loop: events and ticks in, actions out to `io`.
    pub(crate) fn run(mut self, rx: Receiver<Event>, io: &Io) {
        tracing::info!(
            uid = %self.uid,
            node = self.node_name.as_deref().unwrap_or(""),
            redis = self.redis,
            sharded = self.sharded,
            subscription_mode = %self.mode,
            "cluster bridge started"
        );
        let mut next_tick = self.now + TICK;
        loop {
            if self.idle() {
                // Nothing can expire: sleep until the next event instead of
                // waking every tick.
                match rx.recv() {
                    Ok(ev) => self.handle_event(ev, Instant::now()),
                    Err(_) => {
                        self.drain(io);
                        return;
                    }
                }
            } else {
                let wait = next_tick.saturating_duration_since(Instant::now());
                match rx.recv_timeout(wait) {
                    Ok(ev) => self.handle_event(ev, Instant::now()),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                self.handle_timeout(now);
                next_tick = now + TICK;
            }
            self.drain(io);
        }
    }

    fn drain(&mut self, io: &Io) {
        while let Some(a) = self.poll_action() {
            io.perform(a);
        }
    }

    /// The next thing for the IO to do, in the order decided.
    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        self.actions.get_mut().pop_front()
    }

    fn act(&self, action: Action) {
        self.actions.borrow_mut().push_back(action);
    }

    /// Handles one event at `now` (the only clock the decisions see).
    pub(crate) fn handle_event(&mut self, ev: Event, now: Instant) {
        self.now = now;
        self.event(ev);
    }

    /// Expires every deadline at or before `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.expire(now);
    }

    fn id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn to_all(&self, make: impl Fn() -> ToShard) {
        for i in 0..self.nshards {
            self.act(Action::ToShard(i, make()));
        }
    }

    /// Adds the namespaces created since (dynamic namespaces' children):
    /// a shard registers a child before it sends any message naming its
    /// index ([`ToCluster::Namespace`] right after creating it), so after
    /// this every index in a shard's message is known. With Redis, each new
    /// child's channels are subscribed as the adapter does when Node
    /// creates a namespace: classic `SUBSCRIBE` request / response /
    /// specific response and `PSUBSCRIBE` the broadcast pattern; sharded
    /// `SSUBSCRIBE` the namespace channel and this node's response channel.
    /// Until then the child is not counted by `NUMSUB` on other nodes, so
    /// their requests do not wait for this node.
    fn sync_namespaces(&mut self) {
        for i in self.nsps.len()..self.app.namespace_count() {
            let name = self.app.namespace_name(i as u16).to_owned();
            let c = Channels::new(&self.key, &name);
            if self.redis {
                let (channels, patterns) = if self.sharded {
                    (
                        vec![c.broadcast().to_owned(), c.sharded_response(&self.uid)],
                        Vec::new(),
                    )
                } else {
                    (
                        vec![
                            c.request().to_owned(),
                            c.response().to_owned(),
                            c.specific_response(&self.uid),
                        ],
                        vec![c.broadcast_pattern()],
                    )
                };
                self.act(Action::SubscribeNamespace { channels, patterns });
            }
            self.nsps.push((name, c));
        }
    }

    fn event(&mut self, ev: Event) {
        match ev {
            Event::Shard(m) => {
                self.sync_namespaces();
                self.shard_msg(m)
            }
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
            Event::Reply { token, value } => self.handle_reply(token, value),
        }
    }

    // ----- publishing -----------------------------------------------------

    fn publish(&self, channel: String, payload: Bytes) {
        if self.redis {
            self.act(Action::Publish { channel, payload });
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
        if self.redis {
            self.numsub.insert(token, rid.clone());
            let c = &self.nsps[nsp as usize].1;
            // Sharded: every node SSUBSCRIBEs the namespace channel once.
            let channel = if self.sharded {
                c.broadcast()
            } else {
                c.request()
            };
            let channel = channel.to_owned();
            self.act(Action::Numsub { channel, token });
        } else {
            p.expected = Some(0);
        }
        self.requests.insert(rid.clone(), p);
        if self.redis {
            self.publish_request(nsp, body);
        }
        self.check(&rid);
    }

    fn pending(&self, kind: RequestType, origin: usize, token: u64, timeout: Duration) -> Pending {
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
            deadline: self.now + timeout,
        }
    }

    fn gather(&mut self, query: Query, then: Then) {
        let g = self.id();
        self.gathers.insert(
            g,
            Gather {
                remaining: self.nshards,
                parts: Vec::new(),
                then,
            },
        );
        self.to_all(|| ToShard::Gather {
            gather: g,
            query: query.clone(),
        });
    }
}

fn filter(t: &Target) -> RoomFilter {
    RoomFilter {
        rooms: t.rooms.clone(),
        except: t.except.clone(),
    }
}

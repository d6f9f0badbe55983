//! The shard's ports: the one message type into a shard ([`ToShard`]) and
//! what a shard hands to the cluster bridge ([`ToCluster`], through the
//! [`ClusterPort`] the bridge implements).
//!
//! Both directions are defined here, at the bottom of the stack, so the
//! shard never names the layers above it: the runtime's mesh carries
//! [`ToShard`] between shards, the cluster bridge sends the same type to
//! every shard and receives [`ToCluster`] through its [`ClusterPort`]. Every
//! [`ToShard`] is handled in one place, [`super::Shard::handle_inbound`].

use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::Arc;

use serde_json::Value;

use super::deliver::{AckReply, Broadcast};
use super::ops::{Apply, Op, OpResult, Part, Query};
use super::Shard;

/// Every message into a shard, from another shard of this process (mesh)
/// or from the cluster bridge.
#[derive(Debug)]
pub enum ToShard {
    /// Deliver a broadcast to this shard's members (from another shard, or
    /// from another node through the bridge); with acks, report the count
    /// to its [`super::deliver::AckOrigin`].
    Broadcast(Arc<Broadcast>),
    /// Take over a TCP connection whose request names a session owned by
    /// the receiving shard (mesh only); `buffered` holds the bytes already
    /// read (the request head is not consumed).
    Adopt {
        /// The connection (a duplicate of the sender's descriptor).
        fd: OwnedFd,
        /// Bytes read but not consumed.
        buffered: Vec<u8>,
    },
    /// Receivers reached for aggregation `req` started on this shard: by
    /// one shard of this process, or (once) by every other node together.
    AckCount {
        /// Aggregation id on the receiving (origin) shard.
        req: u64,
        /// Receivers counted.
        count: usize,
    },
    /// A client (of this process or of another node) acknowledged a
    /// broadcast of aggregation `req`.
    AckReply {
        /// Aggregation id on the receiving (origin) shard.
        req: u64,
        /// The client's arguments.
        reply: AckReply,
    },
    /// Answer a gather of the bridge with [`ToCluster::Part`].
    Gather {
        /// The gather.
        gather: u64,
        /// What to gather.
        query: Query,
    },
    /// Apply a join / leave / disconnect to the matching local sockets.
    Apply(Apply),
    /// Fire a server-side event (another node's serverSideEmit).
    ServerSide {
        /// Namespace.
        nsp: u16,
        /// `[event, ...args]`.
        args: Vec<Value>,
        /// Set when the sender waits for an ack.
        request_id: Option<String>,
    },
    /// The result of a cluster operation this shard started.
    OpDone {
        /// The token of [`ToCluster::Op`].
        token: u64,
        /// The result.
        result: OpResult,
    },
    /// Run a closure on the receiving shard (mesh only): rare cross-shard
    /// requests such as a metrics scrape, which answers the same way.
    Run(ShardTask),
}

/// The closure of a [`ShardTask`].
pub type ShardFn = dyn FnOnce(&Rc<Shard>) + Send;

/// A closure sent to another shard ([`ToShard::Run`]).
pub struct ShardTask(pub Box<ShardFn>);

impl std::fmt::Debug for ShardTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShardTask")
    }
}

/// A connection handed over by another shard ([`ToShard::Adopt`]): the
/// shard does no IO, so [`super::Shard::handle_inbound`] returns it for the
/// runtime to serve.
#[derive(Debug)]
pub struct Adoption {
    /// The connection.
    pub fd: OwnedFd,
    /// Bytes read but not consumed.
    pub buffered: Vec<u8>,
}

/// What a shard hands to the cluster bridge.
#[derive(Debug)]
pub enum ToCluster {
    /// A non-local broadcast to publish (with `ack`: a type-7 request).
    Broadcast(Arc<Broadcast>),
    /// Receivers reached on one shard for a broadcast-with-ack another node
    /// requested ([`super::deliver::AckOrigin::Bridge`]).
    AckCount {
        /// The bridge's key of that request.
        key: u64,
        /// Receivers on the reporting shard.
        count: usize,
    },
    /// A client answered such a broadcast.
    AckReply {
        /// The bridge's key of that request.
        key: u64,
        /// The client's arguments.
        reply: AckReply,
    },
    /// A cluster operation started by the API on shard `origin`.
    Op {
        /// The shard that waits for the result.
        origin: usize,
        /// Its token for the result ([`ToShard::OpDone`]).
        token: u64,
        /// The operation.
        op: Op,
    },
    /// A shard's part of a gather ([`ToShard::Gather`]).
    Part {
        /// The gather.
        gather: u64,
        /// The shard's answer.
        part: Part,
    },
    /// A room was created (`created`) or deleted on the reporting shard
    /// (sent only when [`ClusterPort::tracks_rooms`]): the bridge keeps a
    /// count per room over the shards and subscribes to the room's channel
    /// while some shard holds it.
    Room {
        /// Namespace.
        nsp: u16,
        /// The room.
        room: Box<str>,
        /// Created (true) or deleted.
        created: bool,
    },
    /// A dynamic namespace's child was created on the reporting shard
    /// (sent only when the bridge [`ClusterPort::publishes`]): the bridge
    /// learns its name and subscribes its Redis channels, so broadcasts and
    /// requests of other nodes reach it.
    Namespace {
        /// The child's process-wide index.
        nsp: u16,
    },
    /// Connection state recovery: publish a vanished socket's session for
    /// the other nodes (`SET .. PX`, `super::recovery_cluster`).
    KeepSession(Box<super::recovery_cluster::SessionRecord>),
    /// Connection state recovery: the session was taken on this node;
    /// delete the copy in Redis.
    DropSession(Box<str>),
    /// A server-side handler answered a request with an ack.
    ServerSideAck {
        /// Namespace.
        nsp: u16,
        /// The request's id.
        request_id: String,
        /// The ack argument.
        data: Value,
    },
}

/// A shard's handle on the cluster bridge, implemented by the bridge.
pub trait ClusterPort {
    /// Hands `msg` to the bridge; never blocks. False (and counted by the
    /// bridge) when its queue is full or it stopped.
    fn send(&self, msg: ToCluster) -> bool;
    /// Whether this node publishes its broadcasts (it has a Redis link).
    fn publishes(&self) -> bool;
    /// Whether shards report room creation / deletion
    /// ([`ToCluster::Room`]): sharded pub/sub subscribes per room.
    fn tracks_rooms(&self) -> bool;
    /// Whether shards also report each socket's own id room (on connect /
    /// disconnect): subscriptionMode `"dynamic-private"`.
    fn tracks_socket_rooms(&self) -> bool;
    /// Whether every node receives each origin's broadcasts in the order
    /// they were published (classic pub/sub on one Redis server, as last
    /// seen by the publisher): connection state recovery across nodes
    /// depends on it (`super::recovery_cluster`).
    fn ordered(&self) -> bool {
        false
    }
    /// The bridge's counters and link state, read when metrics are scraped.
    fn health(&self) -> BridgeHealth {
        BridgeHealth::default()
    }
}

/// The cluster bridge's state as the metrics report it (a snapshot of its
/// atomics; see `crate::cluster::Counters`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeHealth {
    /// A Redis URL is configured.
    pub redis: bool,
    /// The subscribed Redis connection is up (false without Redis).
    pub connected: bool,
    /// Messages published to Redis.
    pub published: u64,
    /// Messages received from Redis.
    pub received: u64,
    /// Broadcasts from other nodes handed to this node's shards (once per
    /// broadcast, whatever the number of shards or receivers).
    pub broadcasts_received: u64,
    /// Messages from shards dropped (bridge queue full).
    pub dropped_from_shards: u64,
    /// Messages to shards dropped (shard queue full).
    pub dropped_to_shards: u64,
    /// Publishes dropped (Redis slow or unreachable).
    pub dropped_publishes: u64,
    /// Incoming messages that failed to decode.
    pub decode_errors: u64,
    /// Times the subscribed connection was lost.
    pub reconnects: u64,
}

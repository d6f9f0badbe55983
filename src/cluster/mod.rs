//! The cluster bridge: ringcast nodes and Node socket.io nodes (with
//! `@socket.io/redis-adapter` 8.x) form one cluster over Redis pub/sub
//! (`docs/contracts/redis-cluster.md`). The wire codec is the sans-IO crate
//! `ringcast-cluster-wire`; this module is the IO and the coordination.
//!
//! # Threads
//! One bridge per process (not per shard), on plain threads beside the
//! glommio executors:
//! - the **core** ([`core`]) owns every piece of cluster state: pending
//!   requests, local gathers across shards, remote broadcast-with-ack
//!   bookkeeping. It decodes each incoming message once, converts it to
//!   ringcast's form (JSON with placeholders + attachments), encodes the
//!   Socket.IO packet once into a shared `Msg` and hands the same
//!   `Arc<Broadcast>` to every shard;
//! - the **publisher** ([`redis_io`]) owns the publishing connection:
//!   batches everything queued into one pipeline, runs `PUBSUB NUMSUB`,
//!   reconnects with backoff;
//! - the **subscriber** owns the subscribed connection: one PSUBSCRIBE per
//!   namespace for broadcasts, exactly one SUBSCRIBE to each request
//!   channel (Node counts servers with NUMSUB), the response channels;
//!   reconnects and re-subscribes by itself.
//!
//! In sharded mode (`Config::redis_sharded`, the adapter's
//! `createShardedAdapter`) the publisher uses `SPUBLISH` and
//! `PUBSUB SHARDNUMSUB`, and the subscriber ([`sharded_io`]) holds
//! `SSUBSCRIBE`s: the namespace channel, the
//! node's response channel, and (subscriptionMode `dynamic` /
//! `dynamic-private`) one channel per room some local socket is in
//! (shards report room creation / deletion, [`ToCluster::Room`]).
//!
//! # Redis Cluster
//! The URL may list several seeds. The publisher and the sharded
//! subscriber each detect the layout ([`topology`]: `CLUSTER SLOTS`,
//! refused on a single server) and route by key slot ([`slots`]): one
//! connection per master, opened lazily; `MOVED` / `ASK` / slot migrations
//! are followed ([`cluster_io`], [`sharded_io`]). Server counts are summed
//! over the masters. The classic subscriber needs no routing (the cluster
//! bus forwards `PUBLISH` everywhere).
//!
//! Every Redis connection uses one client: the sans-IO RESP2 codec
//! `ringcast_cluster_wire::resp` (two-phase reply decoding, pushes, URL
//! parsing) driven by blocking sockets ([`resp`]) on the threads above.
//!
//! Without a Redis URL only the core runs: the cluster API (fetch_sockets,
//! sockets_join, ...) then spans the shards of this process.
//!
//! # Channels
//! The bridge sits above the shard and speaks the shard's own types
//! (`crate::shard::port`): shards hand it [`ToCluster`] through [`Link`],
//! their [`ClusterPort`] (a bounded lock-free channel, `try_send`, never
//! blocks; when full the message is dropped and counted). The core reaches
//! each shard with [`ToShard`], the same inbound type the mesh carries,
//! through a bounded channel plus a wake-up byte on a socketpair that the
//! shard reads through glommio (a crossbeam channel alone does not wake a
//! parked executor); see `docs/decisions.md`.

mod cluster_io;
mod convert;
pub(crate) mod core;
pub(crate) mod nodes;
mod redis_io;
mod resp;
pub(crate) mod shard_side;
mod sharded_io;
mod slots;
mod topology;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::config::{Config, SubscriptionMode};
use crate::shard::port::{BridgeHealth, ClusterPort, ToCluster, ToShard};
use crate::shard::App;

use crate::shard::ops::{Apply, Op, OpResult, Part, Query, Target};
pub use crate::shard::ops::{ClusterError, FetchedSocket};

/// Node's `requestsTimeout`: how long a request waits for other nodes.
pub const REQUESTS_TIMEOUT: Duration = Duration::from_secs(5);

/// Counters of the bridge (drops are also logged).
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages from shards dropped because the bridge queue was full.
    pub dropped_from_shards: AtomicU64,
    /// Messages to shards dropped because a shard queue was full.
    pub dropped_to_shards: AtomicU64,
    /// Publishes dropped because the outgoing buffer was full (Redis slow
    /// or unreachable) or a pipeline failed.
    pub dropped_publishes: AtomicU64,
    /// Incoming messages that failed to decode.
    pub decode_errors: AtomicU64,
    /// Messages published.
    pub published: AtomicU64,
    /// Messages received from Redis.
    pub received: AtomicU64,
    /// Broadcasts of other nodes delivered to this node's shards.
    pub broadcasts_received: AtomicU64,
    /// The subscribed connection is up (all its subscriptions confirmed).
    pub connected: AtomicBool,
    /// Times the subscribed connection went from up to down.
    pub reconnects: AtomicU64,
    /// The publisher last saw a single Redis server in classic mode: each
    /// origin's broadcasts reach every node in order (one pipeline, one
    /// subscribed connection). Not on a Redis Cluster (one pipeline per
    /// master) nor in sharded mode (one subscription per master).
    pub ordered: AtomicBool,
}

impl Counters {
    /// Records the subscribed connection's state (read by `/readyz` and
    /// `ringcast_redis_connected`).
    pub(crate) fn set_connected(&self, up: bool) {
        if self.connected.swap(up, Ordering::Relaxed) && !up {
            self.reconnects.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn bump(c: &AtomicU64) -> u64 {
    c.fetch_add(1, Ordering::Relaxed) + 1
}

/// Events of the core's one queue.
#[derive(Debug)]
pub(crate) enum Event {
    /// From a shard.
    Shard(ToCluster),
    /// A message from Redis.
    Incoming {
        /// The channel it was published on.
        channel: String,
        /// Its payload.
        payload: Bytes,
    },
    /// The reply of an [`core::Action::Command`] with a token: a bulk
    /// string's bytes, None for nil, another reply or a failure.
    Reply {
        /// The token given with the command.
        token: u64,
        /// The value.
        value: Option<Bytes>,
    },
    /// The answer of a `PUBSUB NUMSUB` (None: Redis unreachable).
    Numsub {
        /// The token given with the query.
        token: u64,
        /// Subscribers of the request channel.
        count: Option<usize>,
    },
}

/// A shard's handle on the bridge: the bridge's side of the shard's
/// [`ClusterPort`] (inside [`crate::shard::mesh::Mesh`]).
#[derive(Debug, Clone)]
pub struct Link {
    tx: Sender<Event>,
    publish: bool,
    rooms: bool,
    socket_rooms: bool,
    counters: Arc<Counters>,
}

impl ClusterPort for Link {
    fn send(&self, msg: ToCluster) -> bool {
        match self.tx.try_send(Event::Shard(msg)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                let n = bump(&self.counters.dropped_from_shards);
                if n.is_power_of_two() {
                    tracing::warn!(dropped = n, "cluster bridge queue full; message dropped");
                }
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn publishes(&self) -> bool {
        self.publish
    }

    fn tracks_rooms(&self) -> bool {
        self.rooms
    }

    fn tracks_socket_rooms(&self) -> bool {
        self.socket_rooms
    }

    fn ordered(&self) -> bool {
        self.publish && self.counters.ordered.load(Ordering::Relaxed)
    }

    fn health(&self) -> BridgeHealth {
        let c = &self.counters;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        BridgeHealth {
            redis: self.publish,
            connected: c.connected.load(Ordering::Relaxed),
            published: n(&c.published),
            received: n(&c.received),
            broadcasts_received: n(&c.broadcasts_received),
            dropped_from_shards: n(&c.dropped_from_shards),
            dropped_to_shards: n(&c.dropped_to_shards),
            dropped_publishes: n(&c.dropped_publishes),
            decode_errors: n(&c.decode_errors),
            reconnects: n(&c.reconnects),
        }
    }
}

/// The core's handle on one shard: a bounded queue and a wake-up byte.
#[derive(Debug)]
pub(crate) struct ShardPort {
    tx: Sender<ToShard>,
    armed: Arc<AtomicBool>,
    wake: UnixStream,
    counters: Arc<Counters>,
}

impl ShardPort {
    /// Queues `msg` for the shard and wakes it; never blocks.
    pub(crate) fn send(&self, msg: ToShard) {
        match self.tx.try_send(msg) {
            Ok(()) => {
                if !self.armed.swap(true, Ordering::SeqCst) {
                    // Non-blocking; a full socket buffer already holds a wake-up.
                    let _ = (&self.wake).write(&[1]);
                }
            }
            Err(_) => {
                let n = bump(&self.counters.dropped_to_shards);
                if n.is_power_of_two() {
                    tracing::warn!(dropped = n, "shard queue full; cluster message dropped");
                }
            }
        }
    }
}

/// The shard end of a [`ShardPort`], handed to the shard at start.
#[derive(Debug)]
pub struct ShardEnd {
    pub(crate) rx: Receiver<ToShard>,
    pub(crate) armed: Arc<AtomicBool>,
    pub(crate) wake: UnixStream,
}

/// A started bridge: the link every shard gets and each shard's end.
#[derive(Debug)]
pub struct Started {
    /// The shards' handle on the bridge.
    pub link: Link,
    /// One end per shard, in shard order.
    pub ends: Vec<ShardEnd>,
    /// The counters.
    pub counters: Arc<Counters>,
}

/// Queue bound of the core's channels on a node without Redis.
const LOCAL_ONLY_BUFFER: usize = 1024;

/// Starts the bridge of this process for `nshards` shards: the core, and
/// with `config.redis_url` the publisher and the subscriber.
pub fn start(config: &Config, app: Arc<dyn App>, nshards: usize) -> std::io::Result<Started> {
    let counters = Arc::new(Counters::default());
    // crossbeam's array channel initializes every slot up front (~100 B
    // each), so without Redis, where only the in-process cluster API uses
    // the core, the queues stay small instead of costing ~20 MB of RSS.
    let cap = match config.redis_url {
        Some(_) => config.cluster_buffer,
        None => config.cluster_buffer.min(LOCAL_ONLY_BUFFER),
    };
    let (tx, rx) = crossbeam_channel::bounded(cap);
    let mut ports = Vec::with_capacity(nshards);
    let mut ends = Vec::with_capacity(nshards);
    for _ in 0..nshards {
        let (stx, srx) = crossbeam_channel::bounded(cap);
        let (a, b) = UnixStream::pair()?;
        a.set_nonblocking(true)?;
        let armed = Arc::new(AtomicBool::new(false));
        ports.push(ShardPort {
            tx: stx,
            armed: armed.clone(),
            wake: a,
            counters: counters.clone(),
        });
        ends.push(ShardEnd {
            rx: srx,
            armed,
            wake: b,
        });
    }
    let publisher = match &config.redis_url {
        Some(url) => Some(redis_io::start(
            url,
            &config.cluster_key,
            app.as_ref(),
            tx.clone(),
            cap,
            counters.clone(),
            config.redis_sharded,
            config.redis_subscription_mode,
        )?),
        None => None,
    };
    let publish = publisher.is_some();
    let core = core::Core::new(
        app.clone(),
        &config.cluster_key,
        nshards,
        publisher.as_ref(),
        counters.clone(),
        config.node_name.clone(),
    )
    .with_parser(config.parser)
    .with_recovery(config.connection_state_recovery.is_some());
    let io = core::Io::new(ports, publisher);
    std::thread::Builder::new()
        .name("ringcast-cluster".into())
        .spawn(move || core.run(rx, &io))?;
    Ok(Started {
        link: Link {
            tx,
            publish,
            rooms: publish && config.redis_sharded && config.redis_subscription_mode.is_dynamic(),
            socket_rooms: publish
                && config.redis_sharded
                && config.redis_subscription_mode == SubscriptionMode::DynamicPrivate,
            counters: counters.clone(),
        },
        ends,
        counters,
    })
}

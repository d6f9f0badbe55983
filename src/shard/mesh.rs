//! Cross-shard messages and the sending side of the shard mesh.
//!
//! Every pair of shards is connected at start by a bounded, lock-free
//! single-producer/single-consumer channel (glommio's `channel_mesh`, which
//! wakes a parked executor). Handlers emit synchronously, so sends go first
//! into a per-peer local queue that one forwarder task per peer drains into
//! the bounded channel: a full channel delays that peer's traffic (in order)
//! without blocking the shard. Per pair of shards, messages stay in order,
//! which keeps one sender's broadcasts in order at every receiver.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use glommio::channels::local_channel::LocalSender;

use super::deliver::{AckReply, Broadcast};

/// The one message type that crosses shards.
#[derive(Debug)]
pub enum ShardMsg {
    /// Deliver a broadcast to this shard's members.
    Broadcast(Arc<Broadcast>),
    /// Take over a TCP connection whose request names a session owned by
    /// the receiving shard; `buffered` holds the bytes already read (the
    /// request head is not consumed).
    Adopt {
        /// The connection (a duplicate of the sender's descriptor).
        fd: OwnedFd,
        /// Bytes read but not consumed.
        buffered: Vec<u8>,
    },
    /// A shard reached `count` sockets for aggregation `req`.
    AckCount {
        /// Aggregation id on the receiving (origin) shard.
        req: u64,
        /// Receivers on the sending shard.
        count: usize,
    },
    /// A client acknowledged a broadcast of aggregation `req`.
    AckReply {
        /// Aggregation id on the receiving (origin) shard.
        req: u64,
        /// The client's arguments.
        reply: AckReply,
    },
    /// Close every session (graceful shutdown).
    Shutdown,
}

/// Sending side: one local queue per peer (None for this shard itself),
/// and the link to the node's cluster bridge (`crate::cluster`).
#[derive(Debug)]
pub struct Mesh {
    peers: Vec<Option<LocalSender<ShardMsg>>>,
    bridge: Option<crate::cluster::Link>,
}

impl Mesh {
    /// A mesh from per-peer local queues.
    pub fn new(peers: Vec<Option<LocalSender<ShardMsg>>>) -> Self {
        Self {
            peers,
            bridge: None,
        }
    }

    /// The same mesh with a link to the node's cluster bridge.
    pub fn with_bridge(mut self, link: crate::cluster::Link) -> Self {
        self.bridge = Some(link);
        self
    }

    /// The link to the cluster bridge, if this node runs one.
    pub fn bridge(&self) -> Option<&crate::cluster::Link> {
        self.bridge.as_ref()
    }

    /// Whether non-local broadcasts are published to other nodes.
    pub fn publishes(&self) -> bool {
        self.bridge
            .as_ref()
            .is_some_and(crate::cluster::Link::publishes)
    }

    /// Hands `msg` to the cluster bridge without blocking; false when there
    /// is no bridge or its queue is full (the message is dropped and counted).
    pub fn to_bridge(&self, msg: crate::cluster::ToBridge) -> bool {
        self.bridge.as_ref().is_some_and(|b| b.send(msg))
    }

    /// Queues `msg` for shard `peer` (never blocks; order kept per peer).
    pub fn send(&self, peer: usize, msg: ShardMsg) {
        match self.peers.get(peer) {
            Some(Some(tx)) => {
                if tx.try_send(msg).is_err() {
                    tracing::error!(peer, "mesh queue closed; message dropped");
                }
            }
            _ => tracing::error!(peer, "no mesh queue for this peer"),
        }
    }
}

//! The sending side of the shard mesh (messages are [`ToShard`]).
//!
//! Every pair of shards is connected at start by a bounded, lock-free
//! single-producer/single-consumer channel (glommio's `channel_mesh`, which
//! wakes a parked executor). Handlers emit synchronously, so sends go first
//! into a per-peer local queue that one forwarder task per peer drains into
//! the bounded channel: a full channel delays that peer's traffic (in order)
//! without blocking the shard. Per pair of shards, messages stay in order,
//! which keeps one sender's broadcasts in order at every receiver.
//!
//! The simulation tests (`crate::sim`) build a mesh of in-memory queues
//! instead ([`Mesh::in_memory`]): same per-pair order, delivered by hand.

#[cfg(test)]
use std::{cell::RefCell, collections::VecDeque, rc::Rc};

use glommio::channels::local_channel::LocalSender;

use super::port::{ClusterPort, ToCluster, ToShard};

/// Sending side: one local queue per peer (None for this shard itself),
/// and the port to the node's cluster bridge ([`ClusterPort`], implemented
/// by the bridge).
pub struct Mesh {
    peers: Vec<Option<Peer>>,
    cluster: Option<Box<dyn ClusterPort>>,
}

/// The queue towards one peer.
enum Peer {
    /// The runtime's local queue, drained into the channel mesh.
    Channel(LocalSender<ToShard>),
    /// A simulation's in-memory queue, drained by the test.
    #[cfg(test)]
    Memory(Rc<RefCell<VecDeque<ToShard>>>),
}

impl std::fmt::Debug for Mesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mesh")
            .field("peers", &self.peers.len())
            .field("cluster", &self.cluster.is_some())
            .finish()
    }
}

impl Mesh {
    /// A mesh from per-peer local queues.
    pub fn new(peers: Vec<Option<LocalSender<ToShard>>>) -> Self {
        Self {
            peers: peers.into_iter().map(|p| p.map(Peer::Channel)).collect(),
            cluster: None,
        }
    }

    /// A mesh of in-memory queues (None for this shard itself), for the
    /// simulation tests: whoever holds the queues delivers the messages.
    #[cfg(test)]
    pub(crate) fn in_memory(peers: Vec<Option<Rc<RefCell<VecDeque<ToShard>>>>>) -> Self {
        Self {
            peers: peers.into_iter().map(|p| p.map(Peer::Memory)).collect(),
            cluster: None,
        }
    }

    /// The same mesh with a port to the node's cluster bridge.
    pub fn with_cluster(mut self, port: Box<dyn ClusterPort>) -> Self {
        self.cluster = Some(port);
        self
    }

    /// The port to the cluster bridge, if this node runs one.
    pub fn cluster(&self) -> Option<&dyn ClusterPort> {
        self.cluster.as_deref()
    }

    /// Whether non-local broadcasts are published to other nodes.
    pub fn publishes(&self) -> bool {
        self.cluster().is_some_and(ClusterPort::publishes)
    }

    /// Whether other nodes see each origin's broadcasts in publish order
    /// ([`ClusterPort::ordered`]).
    pub fn ordered(&self) -> bool {
        self.cluster().is_some_and(ClusterPort::ordered)
    }

    /// Hands `msg` to the cluster bridge without blocking; false when there
    /// is no bridge or its queue is full (the message is dropped and counted).
    pub fn to_cluster(&self, msg: ToCluster) -> bool {
        self.cluster().is_some_and(|c| c.send(msg))
    }

    /// Queues `msg` for shard `peer` (never blocks; order kept per peer).
    pub fn send(&self, peer: usize, msg: ToShard) {
        match self.peers.get(peer) {
            Some(Some(Peer::Channel(tx))) => {
                if tx.try_send(msg).is_err() {
                    tracing::error!(peer, "mesh queue closed; message dropped");
                }
            }
            #[cfg(test)]
            Some(Some(Peer::Memory(q))) => q.borrow_mut().push_back(msg),
            _ => tracing::error!(peer, "no mesh queue for this peer"),
        }
    }
}

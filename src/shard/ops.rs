//! Cluster operations as the shard sees them (Node's `fetchSockets`,
//! `socketsJoin`, `socketsLeave`, `disconnectSockets`, `serverSideEmit`,
//! `allRooms`): what the API asks the bridge for ([`Op`]), what the bridge
//! asks every shard for ([`Query`], [`Apply`]) and the answers ([`Part`],
//! [`OpResult`]). Plain data, defined here so the bridge above implements
//! them without the shard naming it.
//!
//! An operation's result arrives later, on the shard that started it, as
//! [`super::port::ToShard::OpDone`] carrying the token [`start_op`]
//! returned; the callback waiting for it lives in [`PendingOps`].

use ahash::AHashMap;
pub use ringcast_cluster_wire::FetchedSocket;
use serde_json::Value;

use super::port::ToCluster;
use super::Shard;

/// Why a cluster operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// Not every node answered in time (Node's message). The callback gets
    /// the answers received so far where the operation has any.
    #[error("timeout reached: only {received} responses received out of {expected}")]
    Timeout {
        /// Answers received.
        received: usize,
        /// Answers expected (other nodes).
        expected: usize,
    },
    /// The bridge could not take the operation (queue full or stopped);
    /// nothing was started, the caller may retry.
    #[error("cluster bridge unavailable")]
    Unavailable,
}

/// A cluster operation (the requester side).
#[derive(Debug, Clone)]
pub enum Op {
    /// `fetchSockets()`.
    Fetch(Target),
    /// `allRooms()`.
    AllRooms(u16),
    /// `socketsJoin(rooms)`.
    Join(Target, Vec<String>),
    /// `socketsLeave(rooms)`.
    Leave(Target, Vec<String>),
    /// `disconnectSockets(close)`.
    Disconnect(Target, bool),
    /// `serverSideEmit([event, ...args])`, with acks when `ack`.
    ServerSideEmit {
        /// Namespace.
        nsp: u16,
        /// `[event, ...args]` (plain JSON).
        data: Vec<Value>,
        /// Whether the caller waits for acks.
        ack: bool,
    },
    /// Connection state recovery: take (`GETDEL`) the session another
    /// node published under this pid (`super::recovery_cluster`).
    TakeSession(Box<str>),
}

/// Which sockets of a namespace an operation targets.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Namespace index.
    pub nsp: u16,
    /// Sockets in any of these rooms (empty: all).
    pub rooms: Vec<String>,
    /// Minus the sockets in any of these rooms.
    pub except: Vec<String>,
}

/// A shard's answer to a gather.
#[derive(Debug)]
pub enum Part {
    /// Matching sockets.
    Sockets(Vec<FetchedSocket>),
    /// Room names (socket ids included).
    Rooms(Vec<String>),
    /// Matching socket ids.
    Ids(Vec<String>),
}

/// What a shard gathers for the bridge.
#[derive(Debug, Clone)]
pub enum Query {
    /// Describe matching sockets.
    Fetch(Target),
    /// All room names of a namespace.
    Rooms(u16),
    /// Ids of matching sockets.
    Ids(Target),
}

/// A change applied to matching local sockets.
#[derive(Debug, Clone)]
pub enum Apply {
    /// Join rooms.
    Join(Target, Vec<String>),
    /// Leave rooms.
    Leave(Target, Vec<String>),
    /// Disconnect (and close the connection with `true`).
    Disconnect(Target, bool),
}

/// The result of an [`Op`] for the shard that started it.
#[derive(Debug)]
pub enum OpResult {
    /// fetchSockets.
    Sockets(Result<Vec<FetchedSocket>, ClusterError>),
    /// allRooms.
    Rooms(Result<Vec<String>, ClusterError>),
    /// serverSideEmit with acks: every answer, or an error with the answers so far.
    Acks(Result<Vec<Value>, (ClusterError, Vec<Value>)>),
    /// The session of [`Op::TakeSession`]; `None`: unknown, expired,
    /// undecodable, or Redis unreachable.
    Session(Option<Box<super::recovery_cluster::SessionRecord>>),
}

/// Callback of an operation, run on its shard with the result.
pub type OpCallback = Box<dyn FnOnce(OpResult)>;

/// Operations started on this shard that wait for a result.
#[derive(Default)]
pub struct PendingOps {
    next: u64,
    pending: AHashMap<u64, OpCallback>,
}

impl std::fmt::Debug for PendingOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingOps")
            .field("pending", &self.pending.len())
            .finish()
    }
}

/// Hands `op` to the cluster bridge from `shard`; `done` runs on that shard
/// with the result. False when there is no bridge or its queue is full
/// (`done` is dropped uncalled).
pub fn start_op(shard: &Shard, op: Op, done: Option<OpCallback>) -> bool {
    shard.start_op(op, done)
}

impl Shard {
    fn start_op(&self, op: Op, done: Option<OpCallback>) -> bool {
        let token = {
            let mut ops = self.ops.borrow_mut();
            ops.next += 1;
            let token = ops.next;
            if let Some(cb) = done {
                ops.pending.insert(token, cb);
            }
            token
        };
        let ok = self.mesh.to_cluster(ToCluster::Op {
            origin: self.id,
            token,
            op,
        });
        if !ok {
            self.ops.borrow_mut().pending.remove(&token);
        }
        ok
    }

    /// The result of operation `token` arrived: runs its callback.
    pub fn handle_op_done(&self, token: u64, result: OpResult) {
        let cb = self.ops.borrow_mut().pending.remove(&token);
        if let Some(cb) = cb {
            cb(result);
        }
    }
}

//! Cluster operations of the API (Node's `fetchSockets`, `socketsJoin`,
//! `socketsLeave`, `disconnectSockets`, `serverSideEmit`, `allRooms`).
//!
//! They span every shard of this process and, with a Redis URL, every node
//! of the cluster (ringcast or Node with `@socket.io/redis-adapter`).
//! Results arrive asynchronously on the calling shard; `sockets_join` and
//! friends return at once (their effect on other nodes is asynchronous, as
//! in Node).

use std::future::Future;

use serde_json::Value;

use super::ack;
use super::broadcast::BroadcastOperator;
use super::error::{check_event, EmitError};
use super::payload::Payload;
use crate::shard::ops::{start_op, ClusterError, FetchedSocket, Op, OpResult, Target};

/// A server-side event from another node (`io.serverSideEmit`).
pub struct ServerSideEvent {
    /// The event name.
    pub name: String,
    /// The arguments (plain JSON; binary arrives as Node's
    /// `{"type":"Buffer","data":[..]}`).
    pub args: Vec<Value>,
    pub(crate) ack: Option<Box<dyn FnOnce(Value)>>,
}

impl std::fmt::Debug for ServerSideEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSideEvent")
            .field("name", &self.name)
            .field("args", &self.args)
            .field("ack", &self.ack.is_some())
            .finish()
    }
}

impl ServerSideEvent {
    /// Whether the sender waits for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Answers the sender (its callback gets `value` from this node).
    pub fn ack(&mut self, value: Value) {
        if let Some(a) = self.ack.take() {
            a(value);
        }
    }
}

/// Answers of `server_side_emit_with_ack`: one per other node, or an error
/// with the answers received before the timeout.
pub type ServerSideAcks = Result<Vec<Value>, (ClusterError, Vec<Value>)>;

impl BroadcastOperator {
    fn target(&self) -> Target {
        Target {
            nsp: self.nsp,
            rooms: self.rooms.iter().map(|r| r.to_string()).collect(),
            except: self.except.iter().map(|r| r.to_string()).collect(),
        }
    }

    /// The matching sockets on every node (Node's `fetchSockets()`):
    /// `callback` runs on this shard with their descriptions, or an error
    /// when some node did not answer within 5 s.
    pub fn fetch_sockets(
        self,
        callback: impl FnOnce(Result<Vec<FetchedSocket>, ClusterError>) + 'static,
    ) {
        let op = Op::Fetch(self.target());
        let cb = Box::new(move |r: OpResult| {
            if let OpResult::Sockets(r) = r {
                callback(r);
            }
        });
        if !start_op(&self.shard, op, Some(cb)) {
            tracing::warn!("fetch_sockets: cluster bridge unavailable");
        }
    }

    /// Every room of the namespace on every node (Node's `allRooms()`).
    pub fn all_rooms(self, callback: impl FnOnce(Result<Vec<String>, ClusterError>) + 'static) {
        let cb = Box::new(move |r: OpResult| {
            if let OpResult::Rooms(r) = r {
                callback(r);
            }
        });
        start_op(&self.shard, Op::AllRooms(self.nsp), Some(cb));
    }

    /// The matching sockets of every node join `room` (Node's `socketsJoin`).
    pub fn sockets_join(self, room: &str) {
        let t = self.target();
        start_op(&self.shard, Op::Join(t, vec![room.to_owned()]), None);
    }

    /// The matching sockets of every node leave `room` (Node's `socketsLeave`).
    pub fn sockets_leave(self, room: &str) {
        let t = self.target();
        start_op(&self.shard, Op::Leave(t, vec![room.to_owned()]), None);
    }

    /// Disconnects the matching sockets of every node (Node's
    /// `disconnectSockets(close)`): clients get a DISCONNECT packet; with
    /// `close` the underlying connection closes too.
    pub fn disconnect_sockets(self, close: bool) {
        let t = self.target();
        start_op(&self.shard, Op::Disconnect(t, close), None);
    }

    /// Fires `event` on the **other** nodes of the cluster (Node's
    /// `serverSideEmit`; never on this node).
    ///
    /// A reserved event name is refused, as Node throws for it.
    pub fn server_side_emit(
        self,
        event: &str,
        payload: impl Into<Payload>,
    ) -> Result<(), EmitError> {
        check_event(event)?;
        let data = server_side_data(event, payload.into());
        let op = Op::ServerSideEmit {
            nsp: self.nsp,
            data,
            ack: false,
        };
        start_op(&self.shard, op, None);
        Ok(())
    }

    /// [`Self::server_side_emit`] waiting for one ack per other node (5 s).
    pub fn server_side_emit_with_ack(
        self,
        event: &str,
        payload: impl Into<Payload>,
        callback: impl FnOnce(ServerSideAcks) + 'static,
    ) -> Result<(), EmitError> {
        check_event(event)?;
        let data = server_side_data(event, payload.into());
        let op = Op::ServerSideEmit {
            nsp: self.nsp,
            data,
            ack: true,
        };
        let cb = Box::new(move |r: OpResult| {
            if let OpResult::Acks(r) = r {
                callback(r);
            }
        });
        start_op(&self.shard, op, Some(cb));
        Ok(())
    }
}

impl BroadcastOperator {
    /// [`Self::fetch_sockets`] as a future (Node's `await fetchSockets()`);
    /// [`ClusterError::Unavailable`] when the operation could not start.
    pub fn fetch_sockets_async(
        self,
    ) -> impl Future<Output = Result<Vec<FetchedSocket>, ClusterError>> {
        let (tx, rx) = ack::channel();
        self.fetch_sockets(move |r| tx.send(r));
        async move { rx.await.unwrap_or(Err(ClusterError::Unavailable)) }
    }

    /// [`Self::server_side_emit_with_ack`] as a future (Node's
    /// `io.serverSideEmitWithAck`): one answer per other node, or the error
    /// with the answers received before the timeout. Sent now; a reserved
    /// event name is refused.
    pub fn server_side_emit_with_ack_async(
        self,
        event: &str,
        payload: impl Into<Payload>,
    ) -> Result<impl Future<Output = ServerSideAcks>, EmitError> {
        let (tx, rx) = ack::channel();
        self.server_side_emit_with_ack(event, payload, move |r| tx.send(r))?;
        Ok(async move {
            rx.await
                .unwrap_or_else(|| Err((ClusterError::Unavailable, Vec::new())))
        })
    }
}

/// `[event, ...args]` as plain JSON (binary as Node's Buffer JSON).
fn server_side_data(event: &str, p: Payload) -> Vec<Value> {
    std::iter::once(Value::from(event))
        .chain(p.args.iter().map(|a| {
            ringcast_cluster_wire::to_json(&ringcast_cluster_wire::from_placeholders(
                a,
                &p.attachments,
            ))
        }))
        .collect()
}

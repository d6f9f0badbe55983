//! Socket.IO sockets: one per (session, namespace).
//!
//! A socket's id doubles as a room holding just that socket (Node's rule);
//! it is resolved through `Shard::socket_ids` instead of a stored room.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use ahash::AHashMap;
use bytes::Bytes;
use serde_json::Value;

use super::app::SocketData;
use super::deliver::{AckOrigin, AckReply};
use super::id_key::IdKey;
use super::msg::{Msg, OutItem};
use super::port::{ClusterPort, ToCluster};
use super::quota::{JoinError, Quota, SocketQuota};
use super::session::{CloseReason, Push, Session};
use super::{Shard, SocketKey};

/// What to do with an acknowledgement the server asked a client for.
pub enum PendingAck {
    /// Call this closure (emit with ack to one socket).
    Local(Box<dyn FnOnce(Result<AckReply, AckError>)>),
    /// Forward to a broadcast-with-ack aggregation (on a shard of this
    /// process or, for another node's broadcast, the cluster bridge).
    Aggregate(AckOrigin),
}

impl std::fmt::Debug for PendingAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local(_) => f.write_str("Local"),
            Self::Aggregate(origin) => write!(f, "Aggregate({origin:?})"),
        }
    }
}

/// The acks a socket waits for from its client, by packet id. Most sockets
/// never wait for one, so the map is allocated with the first: 8 bytes per
/// socket until then, not a 64-byte map (with its hasher's keys) each.
#[derive(Debug, Default)]
pub struct PendingAcks(Option<Box<AHashMap<u64, PendingAck>>>);

impl PendingAcks {
    /// Waits for the ack `id`.
    pub fn insert(&mut self, id: u64, ack: PendingAck) {
        self.0.get_or_insert_with(Default::default).insert(id, ack);
    }

    /// Stops waiting for the ack `id`, returning what was waiting.
    pub fn remove(&mut self, id: &u64) -> Option<PendingAck> {
        self.0.as_mut()?.remove(id)
    }

    /// Every pending ack.
    pub fn values(&self) -> impl Iterator<Item = &PendingAck> {
        self.0.iter().flat_map(|m| m.values())
    }
}

impl IntoIterator for PendingAcks {
    type Item = (u64, PendingAck);
    type IntoIter = std::iter::Flatten<std::option::IntoIter<AHashMap<u64, PendingAck>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.map(|m| *m).into_iter().flatten()
    }
}

/// Why an acknowledgement did not arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// The timeout elapsed first (Node: "operation has timed out").
    #[error("operation has timed out")]
    Timeout,
    /// The socket disconnected first.
    #[error("socket has been disconnected")]
    Disconnected,
}

/// One connected Socket.IO socket.
#[derive(Debug)]
pub struct SocketState {
    /// The socket id (20 chars, distinct from the Engine.IO sid).
    pub id: IdKey,
    /// Namespace index.
    pub nsp: u16,
    /// The carrying Engine.IO session.
    pub session: Rc<Session>,
    /// The CONNECT auth payload.
    pub auth: Value,
    /// Rooms joined (besides its own id).
    pub rooms: RefCell<Vec<Box<str>>>,
    /// Acks the server is waiting for, by packet id.
    pub acks: RefCell<PendingAcks>,
    /// False once disconnected.
    pub connected: Cell<bool>,
    /// The application's value for this socket (Node's `socket.data`),
    /// serialized by `fetchSockets`.
    pub data: RefCell<Option<Box<dyn SocketData>>>,
    /// The application layer's own per-socket bookkeeping (the server API
    /// keeps its queue of serial async handlers here).
    pub app_slot: RefCell<Option<Rc<dyn std::any::Any>>>,
    /// Event bucket and room-cap bookkeeping (`quota` module).
    pub quota: SocketQuota,
    /// Private session id (connection state recovery on).
    pub pid: RefCell<Option<Box<str>>>,
    /// A recovered session (`socket.recovered`).
    pub recovered: Cell<bool>,
}

impl Shard {
    /// Creates a socket for `session` in namespace `nsp` and indexes it.
    pub fn insert_socket(
        &self,
        session: &Rc<Session>,
        nsp: u16,
        id: IdKey,
        auth: Value,
    ) -> SocketKey {
        // The table's key is a copy kept inline (`id_key`), not a second
        // allocation.
        let id_key = id.clone();
        let state = Rc::new(SocketState {
            id,
            nsp,
            session: session.clone(),
            auth,
            rooms: RefCell::new(Vec::new()),
            acks: RefCell::new(PendingAcks::default()),
            connected: Cell::new(true),
            data: RefCell::new(None),
            app_slot: RefCell::new(None),
            quota: SocketQuota::default(),
            pid: RefCell::new(None),
            recovered: Cell::new(false),
        });
        self.ensure_namespace(nsp);
        let key = self.sockets.borrow_mut().insert(state) as SocketKey;
        self.socket_room_event(nsp, id_key.as_str(), true);
        self.socket_ids.borrow_mut().insert(id_key, key);
        self.rooms.borrow_mut()[nsp as usize].add_socket(key);
        session.st.borrow_mut().sockets.push((nsp, key));
        key
    }

    /// Tells the cluster bridge that a socket's own id room appeared or went
    /// away, when it subscribes to socket-id rooms too (Redis sharded
    /// pub/sub, subscriptionMode `"dynamic-private"`).
    fn socket_room_event(&self, nsp: u16, id: &str, created: bool) {
        self.report_room(nsp, id, created, |p| p.tracks_socket_rooms());
    }

    /// Removes a socket from every table, fails its pending acks and runs the
    /// disconnect handler. Idempotent.
    pub fn remove_socket(self: &Rc<Self>, key: SocketKey, reason: CloseReason) {
        let Some(state) = self.socket(key) else {
            return;
        };
        if !state.connected.replace(false) {
            return;
        }
        {
            let rooms = state.rooms.borrow();
            let mut tables = self.rooms.borrow_mut();
            let table = &mut tables[state.nsp as usize];
            table.remove_socket(key, rooms.iter().map(|r| &**r));
            if self.mesh.cluster().is_some_and(|p| p.tracks_rooms()) {
                for room in rooms.iter().filter(|r| table.members(r).is_none()) {
                    self.room_event(state.nsp, room, false);
                }
            }
        }
        self.socket_ids.borrow_mut().remove(&*state.id);
        self.socket_room_event(state.nsp, &state.id, false);
        state
            .session
            .st
            .borrow_mut()
            .sockets
            .retain(|&mut (_, k)| k != key);
        let acks = std::mem::take(&mut *state.acks.borrow_mut());
        self.app.handle_disconnect(self, key, reason);
        self.persist_session(&state, reason);
        for (_, ack) in acks {
            if let PendingAck::Local(cb) = ack {
                cb(Err(AckError::Disconnected));
            }
        }
        self.sockets.borrow_mut().try_remove(key as usize);
    }

    /// Adds socket `key` to `room`, within the room quotas (checked before
    /// anything is allocated; a refusal is counted and logged). A socket
    /// already in `room` stays in it, at the cap too. Joining for a socket
    /// that is gone is a no-op.
    pub fn join(self: &Rc<Self>, key: SocketKey, room: &str) -> Result<(), JoinError> {
        self.join_checked(key, room, false)
    }

    /// Adds socket `key` to a room the server joins on its behalf (such as
    /// `user:<sub>`): the name length is checked, the room cap is not, and
    /// the room does not use one of the socket's `max_rooms_per_socket`.
    pub fn join_exempt(self: &Rc<Self>, key: SocketKey, room: &str) -> Result<(), JoinError> {
        self.join_checked(key, room, true)
    }

    /// Refuses (counts and logs) a room name over `max_room_name_bytes`:
    /// for joins, and for a client's broadcast before anything is encoded.
    pub fn check_room_name(&self, room: &str) -> Result<(), JoinError> {
        let max = self.config.max_room_name_bytes;
        if max > 0 && room.len() > max {
            self.quota
                .refuse(Quota::RoomNameBytes, self.id, "room name too long");
            return Err(JoinError::NameTooLong);
        }
        Ok(())
    }

    fn join_checked(
        self: &Rc<Self>,
        key: SocketKey,
        room: &str,
        exempt: bool,
    ) -> Result<(), JoinError> {
        let Some(state) = self.socket(key) else {
            return Ok(());
        };
        if !state.connected.get() {
            return Ok(());
        }
        self.check_room_name(room)?;
        let mut tables = self.rooms.borrow_mut();
        let table = &mut tables[state.nsp as usize];
        let members = table.members(room);
        let max_rooms = self.config.max_rooms_per_socket;
        if !exempt && max_rooms > 0 {
            let counted = state.rooms.borrow().len() - state.quota.exempt_rooms.get() as usize;
            if counted >= max_rooms && !members.is_some_and(|m| m.contains(&key)) {
                self.quota
                    .refuse(Quota::RoomsPerSocket, self.id, "too many rooms");
                return Err(JoinError::TooManyRooms);
            }
        }
        let created = members.is_none();
        let joined = table.join(key, room);
        if joined {
            let mut rooms = state.rooms.borrow_mut();
            if exempt {
                // Exempt rooms stay at the front (see `SocketQuota::exempt_rooms`).
                let n = state.quota.exempt_rooms.get();
                rooms.insert(n as usize, room.into());
                state.quota.exempt_rooms.set(n + 1);
            } else {
                rooms.push(room.into());
            }
            if created {
                self.room_event(state.nsp, room, true);
            }
        }
        drop(tables);
        if joined {
            self.app.handle_room(self, key, room, true);
        }
        Ok(())
    }

    /// Tells the cluster bridge that `room` now exists (`created`) or no
    /// longer exists on this shard, when it subscribes per room (Redis
    /// sharded pub/sub).
    fn room_event(&self, nsp: u16, room: &str, created: bool) {
        self.report_room(nsp, room, created, |p| p.tracks_rooms());
    }

    /// Sends [`ToCluster::Room`] when the bridge `wants` such room events.
    fn report_room(
        &self,
        nsp: u16,
        room: &str,
        created: bool,
        wants: fn(&dyn ClusterPort) -> bool,
    ) {
        if let Some(port) = self.mesh.cluster().filter(|p| wants(*p)) {
            port.send(ToCluster::Room {
                nsp,
                room: room.into(),
                created,
            });
        }
    }

    /// Removes socket `key` from `room`.
    pub fn leave(self: &Rc<Self>, key: SocketKey, room: &str) {
        let Some(state) = self.socket(key) else {
            return;
        };
        let mut tables = self.rooms.borrow_mut();
        let table = &mut tables[state.nsp as usize];
        if table.leave(key, room) {
            let mut rooms = state.rooms.borrow_mut();
            if let Some(i) = rooms.iter().position(|r| &**r == room) {
                rooms.remove(i);
                let exempt = state.quota.exempt_rooms.get();
                if (i as u32) < exempt {
                    state.quota.exempt_rooms.set(exempt - 1);
                }
            }
            drop(rooms);
            if table.members(room).is_none() {
                self.room_event(state.nsp, room, false);
            }
            drop(tables);
            self.app.handle_room(self, key, room, false);
        }
    }

    /// Queues `msg` to one socket; handles overflow.
    pub fn send_to_socket(self: &Rc<Self>, key: SocketKey, msg: &Arc<Msg>, volatile: bool) -> Push {
        let Some(state) = self.socket(key) else {
            return Push::Closed;
        };
        self.push_to_session(&state.session, msg, volatile)
    }

    /// Queues `msg` to a session; closes it on overflow, counts volatile drops.
    pub fn push_to_session(
        self: &Rc<Self>,
        session: &Rc<Session>,
        msg: &Arc<Msg>,
        volatile: bool,
    ) -> Push {
        let r = session.push(OutItem::Own(msg.clone()), volatile);
        match r {
            Push::Overflow => self.handle_overflow(session),
            Push::Dropped => self
                .stats
                .volatile_dropped
                .set(self.stats.volatile_dropped.get() + 1),
            Push::Queued => self.stats.deliveries.set(self.stats.deliveries.get() + 1),
            Push::Closed => {}
        }
        r
    }

    /// A namespace-wide ack id, unique across shards (`counter * n + shard`).
    pub fn next_ack_id(&self, nsp: u16) -> u64 {
        self.ensure_namespace(nsp);
        let mut ids = self.next_ack_ids.borrow_mut();
        let c = &mut ids[nsp as usize];
        let id = *c * self.nshards as u64 + self.id as u64;
        *c += 1;
        id
    }

    /// Handles an ACK packet from the client for socket `key`.
    pub fn handle_ack(
        self: &Rc<Self>,
        key: SocketKey,
        id: u64,
        args: Vec<Value>,
        attachments: Vec<Bytes>,
    ) {
        let Some(state) = self.socket(key) else {
            return;
        };
        let Some(pending) = state.acks.borrow_mut().remove(&id) else {
            tracing::debug!(id, "ack for an unknown id ignored");
            return;
        };
        let reply = AckReply { args, attachments };
        match pending {
            PendingAck::Local(cb) => cb(Ok(reply)),
            PendingAck::Aggregate(origin) => self.route_ack_reply(origin, reply),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::{AckError, PendingAck, PendingAcks};

    #[test]
    fn pending_acks_allocate_with_the_first() {
        let mut acks = PendingAcks::default();
        assert!(acks.0.is_none());
        assert!(acks.remove(&1).is_none());
        assert_eq!(acks.values().count(), 0);
        let called = Rc::new(Cell::new(0));
        for id in [1, 2] {
            let called = called.clone();
            acks.insert(
                id,
                PendingAck::Local(Box::new(move |r| {
                    assert_eq!(r.err(), Some(AckError::Disconnected));
                    called.set(called.get() + 1);
                })),
            );
        }
        assert_eq!(acks.values().count(), 2);
        assert!(matches!(acks.remove(&1), Some(PendingAck::Local(_))));
        assert!(acks.remove(&1).is_none());
        for (id, ack) in std::mem::take(&mut acks) {
            assert_eq!(id, 2);
            if let PendingAck::Local(cb) = ack {
                cb(Err(AckError::Disconnected));
            }
        }
        assert_eq!(called.get(), 1);
        assert_eq!(acks.values().count(), 0);
    }
}

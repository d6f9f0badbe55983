//! The handle a handler gets for one connected socket, and incoming events.

use std::any::Any;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::ack;
use super::broadcast::BroadcastOperator;
use super::dispatch::{server_app, state_of};
use super::error::{check_event, EmitError};
use super::payload::Payload;
use crate::shard::deliver::AckReply;
use crate::shard::ops::FetchedSocket;
use crate::shard::quota::JoinError;
use crate::shard::session::{Handshake, Transport};
use crate::shard::socket::{AckError, PendingAck, SocketState};
use crate::shard::{Shard, SocketKey};

/// A connected Socket.IO socket. Cheap to clone; usable only on the shard
/// that owns it (it is `!Send`), where its handlers run.
#[derive(Clone, Debug)]
pub struct Socket {
    pub(crate) shard: Rc<Shard>,
    pub(crate) key: SocketKey,
    pub(crate) state: Rc<SocketState>,
}

impl Socket {
    pub(crate) fn new(shard: &Rc<Shard>, key: SocketKey) -> Option<Self> {
        let state = shard.socket(key)?;
        Some(Self {
            shard: shard.clone(),
            key,
            state,
        })
    }

    /// The socket id (also the name of a room holding only this socket).
    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// The namespace name.
    pub fn namespace(&self) -> &str {
        self.shard.app.namespace_name(self.state.nsp)
    }

    /// The CONNECT auth payload (`{}` when none was sent).
    pub fn auth(&self) -> &Value {
        &self.state.auth
    }

    /// Details of the request that opened the Engine.IO session.
    pub fn handshake(&self) -> &Handshake {
        &self.state.session.handshake
    }

    /// The Engine.IO session id.
    pub fn engine_sid(&self) -> &str {
        &self.state.session.sid
    }

    /// The transport its Engine.IO session uses now: `"polling"` or
    /// `"websocket"` (after an upgrade).
    pub fn transport(&self) -> &'static str {
        match self
            .state
            .session
            .st
            .try_borrow()
            .map(|st| st.eio.transport())
        {
            Ok(Transport::WebSocket) => "websocket",
            _ => "polling",
        }
    }

    /// The socket as `fetch_sockets` describes it (id, handshake, rooms,
    /// data).
    pub fn describe(&self) -> FetchedSocket {
        self.shard.describe(&self.state)
    }

    /// Whether the socket is still connected.
    pub fn connected(&self) -> bool {
        self.state.connected.get()
    }

    /// Joins `room`, within the room quotas (`Config::max_rooms_per_socket`,
    /// `Config::max_room_name_bytes`): a refused join leaves the socket as
    /// it was and says why.
    pub fn join(&self, room: &str) -> Result<(), JoinError> {
        self.shard.join(self.key, room)
    }

    /// Joins a room on the socket's behalf (such as `user:<sub>`) that does
    /// not count against `max_rooms_per_socket`; the name length still does.
    pub fn join_exempt(&self, room: &str) -> Result<(), JoinError> {
        self.shard.join_exempt(self.key, room)
    }

    /// Leaves `room`.
    pub fn leave(&self, room: &str) {
        self.shard.leave(self.key, room);
    }

    /// The rooms joined, the socket's own id first (as Node lists them).
    pub fn rooms(&self) -> Vec<String> {
        std::iter::once(self.id().to_owned())
            .chain(self.state.rooms.borrow().iter().map(|r| r.to_string()))
            .collect()
    }

    /// Emits `event` to this socket; a reserved event name is refused
    /// ([`EmitError::ReservedEvent`]) and nothing is sent.
    pub fn emit(&self, event: &str, payload: impl Into<Payload>) -> Result<(), EmitError> {
        check_event(event)?;
        let payload = payload.into();
        self.notify_outgoing(event, &payload);
        let (payload, offset) = super::recovery::with_offset(&self.shard, payload, false);
        let msg = payload.encode_event(self.shard.config.parser, self.namespace(), None, event);
        if let Some(offset) = offset {
            super::recovery::keep_direct(&self.shard, offset, self.state.nsp, self.id(), &msg);
        }
        self.shard.send_to_socket(self.key, &msg, false);
        Ok(())
    }

    /// Emits `event` and calls `callback` with the client's acknowledgement,
    /// or with [`AckError::Timeout`] after `timeout`. A reserved event name
    /// is refused and the callback is never called.
    pub fn emit_with_ack(
        &self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
        callback: impl FnOnce(Result<AckReply, AckError>) + 'static,
    ) -> Result<(), EmitError> {
        self.emit_acked(event, payload.into(), Some(timeout), Box::new(callback))
    }

    /// Emits `event` and returns a future of the client's acknowledgement
    /// (socket.io's `socket.emitWithAck` / `socket.timeout(ms).emitWithAck`):
    /// [`AckError::Timeout`] after `timeout` when one is given,
    /// [`AckError::Disconnected`] when the socket goes first. The packet is
    /// sent now, not when the future is first polled. A reserved event name
    /// is refused and nothing is sent.
    pub fn emit_with_ack_async(
        &self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Option<Duration>,
    ) -> Result<impl Future<Output = Result<AckReply, AckError>>, EmitError> {
        let (tx, rx) = ack::channel();
        self.emit_acked(
            event,
            payload.into(),
            timeout,
            Box::new(move |r| tx.send(r)),
        )?;
        Ok(async move { rx.await.unwrap_or(Err(AckError::Disconnected)) })
    }

    fn emit_acked(
        &self,
        event: &str,
        payload: Payload,
        timeout: Option<Duration>,
        callback: Box<dyn FnOnce(Result<AckReply, AckError>)>,
    ) -> Result<(), EmitError> {
        check_event(event)?;
        if !self.connected() {
            callback(Err(AckError::Disconnected));
            return Ok(());
        }
        self.notify_outgoing(event, &payload);
        let id = self.shard.next_ack_id(self.state.nsp);
        self.state
            .acks
            .borrow_mut()
            .insert(id, PendingAck::Local(callback));
        let msg = payload.encode_event(self.shard.config.parser, self.namespace(), Some(id), event);
        self.shard.send_to_socket(self.key, &msg, false);
        let Some(timeout) = timeout else {
            return Ok(());
        };
        let (state, shard) = (Rc::downgrade(&self.state), self.shard.clone());
        glommio::spawn_local(async move {
            glommio::timer::sleep(timeout).await;
            let Some(state) = state.upgrade() else { return };
            let pending = state.acks.borrow_mut().remove(&id);
            if let Some(PendingAck::Local(cb)) = pending {
                shard.stats.ops.count_ack_timeout();
                cb(Err(AckError::Timeout));
            }
        })
        .detach();
        Ok(())
    }

    /// Runs the namespace's `on_any_outgoing` listeners and the
    /// server-wide observers.
    fn notify_outgoing(&self, event: &str, payload: &Payload) {
        let Some(app) = server_app(&self.shard) else {
            return;
        };
        app.observe(self, super::observe::Lifecycle::EventSent(event, payload));
        let Some(ns) = app.namespace(self.state.nsp) else {
            return;
        };
        for h in &ns.outgoing {
            h(self, event, payload);
        }
    }

    /// Attaches `value` to the socket (Node's `socket.data = value`),
    /// replacing any earlier value (of any type). `fetch_sockets` reports
    /// it, serialized, as `data`.
    pub fn set_data<T: Serialize + 'static>(&self, value: T) {
        *self.state.data.borrow_mut() = Some(Box::new(value));
    }

    /// Runs `f` on the socket's data, if it is a `T` (None otherwise, or
    /// when called from inside another `with_data` of the same socket).
    /// The borrow ends with `f`, so it never spans an `.await`.
    pub fn with_data<T: 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut data = self.state.data.try_borrow_mut().ok()?;
        let value = data.as_mut()?.as_mut().as_any_mut().downcast_mut::<T>()?;
        Some(f(value))
    }

    /// A copy of the socket's data, if it is a `T`.
    pub fn data<T: Clone + 'static>(&self) -> Option<T> {
        self.with_data(|d: &mut T| d.clone())
    }

    /// The socket's data as JSON (`{}` when none, as Node's default).
    pub fn data_json(&self) -> Value {
        self.state
            .data
            .try_borrow()
            .ok()
            .and_then(|d| d.as_ref().map(|d| d.to_json()))
            .unwrap_or_else(|| Value::Object(Default::default()))
    }

    /// Application-wide state registered with [`super::Builder::state`].
    pub fn state<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        state_of::<T>(&self.shard)
    }

    /// A broadcast to `room`, excluding this socket (Node's `socket.to`).
    pub fn to(&self, room: &str) -> BroadcastOperator {
        BroadcastOperator::new(&self.shard, self.state.nsp)
            .to(room)
            .except(self.id())
    }

    /// A broadcast to every socket of the namespace but this one.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(&self.shard, self.state.nsp).except(self.id())
    }

    /// The namespace, for broadcasts that include this socket (`io.to`).
    pub fn nsp(&self) -> BroadcastOperator {
        BroadcastOperator::new(&self.shard, self.state.nsp)
    }

    /// Disconnects the socket (the client gets DISCONNECT); with `close`,
    /// the whole Engine.IO session closes too.
    pub fn disconnect(&self, close: bool) {
        if self.connected() {
            self.shard.disconnect_socket(self.key, close);
        }
    }
}

/// An event received from a client.
#[derive(Debug)]
pub struct Event {
    /// The event name.
    pub name: String,
    /// Arguments (without the trailing ack).
    pub payload: Payload,
    pub(crate) ack: Option<AckSender>,
}

impl Event {
    /// The arguments deserialized as `T` (a tuple for several arguments).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        self.payload.parse()
    }

    /// Argument `i` as a string, if it is one (received text: without
    /// parsing the other arguments).
    pub fn str_arg(&self, i: usize) -> Option<&str> {
        self.payload.args.str_at(i)
    }

    /// Whether the client asked for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Takes the acknowledgement responder (None when no ack was asked).
    pub fn take_ack(&mut self) -> Option<AckSender> {
        self.ack.take()
    }

    /// Binary attachment referenced by argument `i` (a top-level placeholder).
    pub fn binary_arg(&self, i: usize) -> Option<&Bytes> {
        let n = ringcast_proto::socketio::binary::is_placeholder(self.payload.args.get(i)?)?;
        self.payload.attachments.get(n)
    }
}

/// Answers one client acknowledgement.
#[derive(Debug)]
pub struct AckSender {
    pub(crate) socket: Socket,
    pub(crate) id: u64,
}

impl AckSender {
    /// Sends the acknowledgement with `payload`.
    pub fn send(self, payload: impl Into<Payload>) {
        let msg = payload.into().encode_ack(
            self.socket.shard.config.parser,
            self.socket.namespace(),
            self.id,
        );
        self.socket
            .shard
            .send_to_socket(self.socket.key, &msg, false);
    }
}

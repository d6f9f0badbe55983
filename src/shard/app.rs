//! The seam between the shard and user code.
//!
//! The shard calls these hooks; the `server` module implements them with the
//! handlers a user registered. Hooks run on the shard thread, with no shard
//! borrow held, so they may call back into the shard freely.
//!
//! Authorization may complete later ([`Authorization::Pending`]: an async
//! connect middleware awaiting a token lookup). The shard then runs the
//! future as a task on this shard and queues the CONNECT reply (or
//! CONNECT_ERROR) when it resolves; only that socket waits. While pending,
//! the namespace counts as joining for the session (a second CONNECT to it
//! is a protocol error, as a duplicate CONNECT is), and when the session
//! closes meanwhile the verdict is discarded: no socket is created and no
//! connect handler runs.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use bytes::Bytes;
use ringcast_proto::socketio::Args;
use ringcast_proto::Utf8Bytes;
use serde::Serialize;
use serde_json::Value;

use super::session::{CloseReason, Session};
use super::{Shard, SocketKey};

/// A namespace refused a connection: the client gets CONNECT_ERROR with
/// `{"message": message, "data": data}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// `err.message` on the client.
    pub message: String,
    /// `err.data` on the client, when present.
    pub data: Option<Value>,
}

impl Refusal {
    /// A refusal with a message only.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: None,
        }
    }
}

/// A future run on the shard that created it (`!Send`).
pub type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// The application's value attached to one socket (Node's `socket.data`).
/// The shard keeps it with the socket and serializes it for
/// `fetchSockets` (locally, across shards and through the cluster
/// adapter). Implemented for every `Serialize + 'static` type.
pub trait SocketData: Any {
    /// The value as JSON (`null` when it fails to serialize).
    fn to_json(&self) -> Value;
    /// For downcasting to the concrete type.
    fn as_any(&self) -> &dyn Any;
    /// For downcasting to the concrete type, mutably.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Serialize + 'static> SocketData for T {
    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl std::fmt::Debug for dyn SocketData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

/// The outcome of connect middleware: accepted, with the socket's initial
/// data (if the middleware set some), or refused.
pub type Verdict = Result<Option<Box<dyn SocketData>>, Refusal>;

/// What [`App::authorize`] answers.
pub enum Authorization {
    /// Decided now: the shard replies at once.
    Ready(Verdict),
    /// Decided later: the shard runs the future on this shard and replies
    /// when it resolves (see the module docs for closing meanwhile).
    Pending(LocalFuture<Verdict>),
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ready(Ok(_)) => f.write_str("Ready(Ok)"),
            Self::Ready(Err(r)) => write!(f, "Ready(Err({r:?}))"),
            Self::Pending(_) => f.write_str("Pending"),
        }
    }
}

/// What [`App::create_namespace`] answers.
pub enum Creation {
    /// Decided now.
    Ready(Option<u16>),
    /// Decided when the future resolves (an async predicate); the shard
    /// runs it on this shard, and the CONNECT counts against the session's
    /// namespaces meanwhile.
    Pending(LocalFuture<Option<u16>>),
}

impl std::fmt::Debug for Creation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ready(n) => write!(f, "Ready({n:?})"),
            Self::Pending(_) => f.write_str("Pending"),
        }
    }
}

/// An index no namespace has (an app has fewer than `u16::MAX`
/// namespaces): marks a CONNECT whose namespace is being created in
/// `State::connecting`.
pub const NO_NAMESPACE: u16 = u16::MAX;

/// An incoming EVENT (or its binary form), ready for a handler.
#[derive(Debug)]
pub struct Incoming {
    /// Event name (a number is rendered as its decimal text).
    pub event: String,
    /// Arguments after the name; binary appear as placeholders
    /// `{"_placeholder":true,"num":N}` indexing `attachments`. Usually
    /// still the received JSON text, parsed when dereferenced.
    pub args: Args,
    /// Binary attachments, in placeholder order.
    pub attachments: Vec<Bytes>,
    /// Ack id when the client asked for an acknowledgement.
    pub ack: Option<u64>,
}

/// A message received on a raw Engine.IO endpoint.
#[derive(Debug)]
pub enum EngineMessage {
    /// A text message (UTF-8, checked once on arrival).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

/// Application hooks called by the shard.
pub trait App: Send + Sync + 'static {
    /// The application as `Any`, so its own layer can reach its concrete
    /// type from a shard (`shard.app`).
    fn as_any(&self) -> &dyn Any;
    /// Number of namespaces known now; their indices are `0..count`.
    ///
    /// Invariant: indices are process-wide and stable. The count only
    /// grows (a dynamic namespace's child is appended when
    /// [`Self::create_namespace`] creates it, for every shard and the
    /// cluster bridge at once), and an index never changes its name, so an
    /// index in a message between shards or to the bridge names the same
    /// namespace everywhere. Per-namespace tables of a shard grow on
    /// demand (`Shard::ensure_namespace`).
    fn namespace_count(&self) -> usize;
    /// Index of namespace `name`, if it exists (created children included).
    fn namespace_index(&self, name: &str) -> Option<u16>;
    /// Name of namespace `idx`.
    fn namespace_name(&self, idx: u16) -> &str;
    /// A CONNECT to `name`, which [`Self::namespace_index`] does not know:
    /// the index of a namespace created for it (a dynamic namespace's
    /// child, Node's parent namespaces), now or later, or None to refuse it
    /// as `Invalid namespace`. `auth` is the CONNECT's payload (`{}` if
    /// none). Never [`NO_NAMESPACE`].
    fn create_namespace(&self, _name: &str, _auth: &Value) -> Creation {
        Creation::Ready(None)
    }
    /// Connect middleware: may refuse the connection, now or later. `id`
    /// is the id the socket will have if accepted (as in Node, where
    /// `socket.id` is set before `nsp.use` middleware runs; a recovered
    /// socket's old id).
    fn authorize(&self, nsp: u16, session: &Rc<Session>, id: &str, auth: &Value) -> Authorization;
    /// A socket connected (after the CONNECT reply was queued and the
    /// verdict's data attached to it).
    fn handle_connect(&self, shard: &Rc<Shard>, key: SocketKey);
    /// A socket received an event.
    fn handle_event(&self, shard: &Rc<Shard>, key: SocketKey, event: Incoming);
    /// A socket disconnected; it is still readable through `shard.socket(key)`
    /// but no longer in any room.
    fn handle_disconnect(&self, shard: &Rc<Shard>, key: SocketKey, reason: CloseReason);
    /// A message arrived on a raw Engine.IO endpoint.
    fn handle_engine_message(&self, shard: &Rc<Shard>, session: &Rc<Session>, msg: EngineMessage);
    /// Socket `key` joined (`joined`) or left `room`: only real changes
    /// (not a join of a room it is in), its own id room never, the rooms
    /// it leaves by disconnecting neither. Called after the room tables
    /// are updated and released (the hook may broadcast).
    fn handle_room(&self, _shard: &Rc<Shard>, _key: SocketKey, _room: &str, _joined: bool) {}
    /// A session's transport was upgraded from polling to websocket (its
    /// sockets are `session.st.sockets`).
    fn handle_upgrade(&self, _shard: &Rc<Shard>, _session: &Rc<Session>) {}
    /// The shard started (once per shard, on its thread, before it
    /// accepts connections): the place to spawn a shard's own tasks.
    fn handle_start(&self, _shard: &Rc<Shard>) {}
    /// Another node's `serverSideEmit` (cluster mode): `args[0]` is the
    /// event name; `ack`, when the sender expects one, takes the answer.
    fn handle_server_side(
        &self,
        _shard: &Rc<Shard>,
        _nsp: u16,
        _args: Vec<Value>,
        _ack: Option<Box<dyn FnOnce(Value)>>,
    ) {
    }
}

/// The smallest [`App`] for the shard's and the bridge's own unit tests:
/// one namespace, `/`, every connection accepted, every input ignored.
#[cfg(test)]
pub(crate) struct OneNamespace;

#[cfg(test)]
impl App for OneNamespace {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn namespace_count(&self) -> usize {
        1
    }
    fn namespace_index(&self, name: &str) -> Option<u16> {
        (name == "/").then_some(0)
    }
    fn namespace_name(&self, _idx: u16) -> &str {
        "/"
    }
    fn authorize(&self, _: u16, _: &Rc<Session>, _: &str, _: &Value) -> Authorization {
        Authorization::Ready(Ok(None))
    }
    fn handle_connect(&self, _: &Rc<Shard>, _: SocketKey) {}
    fn handle_event(&self, _: &Rc<Shard>, _: SocketKey, _: Incoming) {}
    fn handle_disconnect(&self, _: &Rc<Shard>, _: SocketKey, _: CloseReason) {}
    fn handle_engine_message(&self, _: &Rc<Shard>, _: &Rc<Session>, _: EngineMessage) {}
}

//! The seam between the shard and user code.
//!
//! The shard calls these hooks; the `server` module implements them with the
//! handlers a user registered. Hooks run on the shard thread, with no shard
//! borrow held, so they may call back into the shard freely.

use std::rc::Rc;

use bytes::Bytes;
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

/// An incoming EVENT (or its binary form), ready for a handler.
#[derive(Debug)]
pub struct Incoming {
    /// Event name (a number is rendered as its decimal text).
    pub event: String,
    /// Arguments after the name; binary appear as placeholders
    /// `{"_placeholder":true,"num":N}` indexing `attachments`.
    pub args: Vec<Value>,
    /// Binary attachments, in placeholder order.
    pub attachments: Vec<Bytes>,
    /// Ack id when the client asked for an acknowledgement.
    pub ack: Option<u64>,
}

/// A message received on a raw Engine.IO endpoint.
#[derive(Debug)]
pub enum EngineMessage {
    /// A text message.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

/// Application hooks called by the shard.
pub trait App: Send + Sync + 'static {
    /// Number of namespaces; their indices are `0..count`.
    fn namespace_count(&self) -> usize;
    /// Index of namespace `name`, if it exists.
    fn namespace_index(&self, name: &str) -> Option<u16>;
    /// Name of namespace `idx`.
    fn namespace_name(&self, idx: u16) -> &str;
    /// Connect middleware: may refuse the connection.
    fn authorize(&self, nsp: u16, session: &Rc<Session>, auth: &Value) -> Result<(), Refusal>;
    /// A socket connected (after the CONNECT reply was queued).
    fn handle_connect(&self, shard: &Rc<Shard>, key: SocketKey);
    /// A socket received an event.
    fn handle_event(&self, shard: &Rc<Shard>, key: SocketKey, event: Incoming);
    /// A socket disconnected; it is still readable through `shard.socket(key)`
    /// but no longer in any room.
    fn handle_disconnect(&self, shard: &Rc<Shard>, key: SocketKey, reason: CloseReason);
    /// A message arrived on a raw Engine.IO endpoint.
    fn handle_engine_message(&self, shard: &Rc<Shard>, session: &Rc<Session>, msg: EngineMessage);
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

//! What connect middleware sees: the CONNECT request of one socket, and
//! the data it attaches to the socket before it exists.
//!
//! Cheap to clone (an `Rc`): async middleware owns its copy across
//! `.await`s. The data set here becomes the socket's data when every
//! middleware accepted (see [`crate::shard::app::Authorization`]).

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::shard::app::SocketData;
use crate::shard::session::{Handshake, Session};

/// A socket asking to join a namespace (Node's `socket` in `nsp.use`).
#[derive(Clone)]
pub struct ConnectRequest {
    inner: Rc<Inner>,
}

struct Inner {
    namespace: Box<str>,
    id: Box<str>,
    auth: Value,
    session: Rc<Session>,
    data: RefCell<Option<Box<dyn SocketData>>>,
}

impl std::fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectRequest")
            .field("namespace", &self.inner.namespace)
            .field("auth", &self.inner.auth)
            .field("id", &self.inner.id)
            .field("sid", &self.inner.session.sid)
            .finish()
    }
}

impl ConnectRequest {
    pub(crate) fn new(namespace: &str, id: &str, auth: &Value, session: &Rc<Session>) -> Self {
        Self {
            inner: Rc::new(Inner {
                namespace: namespace.into(),
                id: id.into(),
                auth: auth.clone(),
                session: session.clone(),
                data: RefCell::new(None),
            }),
        }
    }

    /// The namespace name.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The CONNECT auth payload (`{}` when none).
    pub fn auth(&self) -> &Value {
        &self.inner.auth
    }

    /// The id the socket gets if every middleware accepts (Node's
    /// `socket.id` inside `nsp.use`): the one the CONNECT reply carries,
    /// a recovered socket's old id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The Engine.IO session id (shared by the client's namespaces).
    pub fn engine_sid(&self) -> &str {
        &self.inner.session.sid
    }

    /// The opening request.
    pub fn handshake(&self) -> &Handshake {
        &self.inner.session.handshake
    }

    /// Whether the client went away while middleware was running (its
    /// verdict will be discarded).
    pub fn closed(&self) -> bool {
        self.inner.session.is_closed()
    }

    /// Attaches `value` to the socket-to-be (Node's `socket.data = ...` in
    /// middleware), replacing any earlier value.
    pub fn set_data<T: Serialize + 'static>(&self, value: T) {
        *self.inner.data.borrow_mut() = Some(Box::new(value));
    }

    /// Runs `f` on the data set so far, if it is a `T`.
    pub fn with_data<T: 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut data = self.inner.data.try_borrow_mut().ok()?;
        let value = data.as_mut()?.as_mut().as_any_mut().downcast_mut::<T>()?;
        Some(f(value))
    }

    /// Application-wide state registered with
    /// [`super::Builder::state`].
    pub fn state<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        super::state::<T>()
    }

    /// The data to attach, once accepted.
    pub(crate) fn take_data(&self) -> Option<Box<dyn SocketData>> {
        self.inner.data.borrow_mut().take()
    }
}

//! The built application: the shard's hooks ([`App`]) dispatched to the
//! handlers of each namespace.
//!
//! Dispatch of an event: the `on_any` listeners, then the event's handler
//! (or the fallback). Synchronous handlers run inline; the futures of
//! async ones are chained into one and either spawned at once
//! ([`EventOrder::Concurrent`]: tasks start in arrival order, glommio's
//! run queue being FIFO) or queued on the socket's lane
//! ([`EventOrder::Serial`]).
//!
//! A lane is one task draining a queue of futures; it lives in the
//! socket's `app_slot` while busy and holds the socket (through the queued
//! futures) only until the queue is empty, so no cycle outlives it.

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use ahash::AHashMap;
use serde_json::Value;

use super::cluster::ServerSideEvent;
use super::connect::ConnectRequest;
use super::dynamic::{Children, Parent};
use super::namespace::{EventOrder, NamespaceBuilder, Spawned, Step};
use super::observe::Lifecycle;
use super::payload::Payload;
use super::socket::{AckSender, Event, Socket};
use super::{EngineHandler, EngineSocket, Hooks};
use crate::shard::app::{Authorization, Creation, EngineMessage, Incoming, LocalFuture};
use crate::shard::session::{CloseReason, Session, SessionKind};
use crate::shard::{App, Refusal, Shard, SocketKey};

/// A built application, ready for [`crate::runtime::start`].
pub struct ServerApp {
    namespaces: Vec<Arc<NamespaceBuilder>>,
    index: AHashMap<String, u16>,
    /// Parent (dynamic) namespaces, in registration order.
    parents: Vec<Parent>,
    /// Their children, indexed after the static namespaces.
    pub(super) children: Children,
    engine: Vec<Arc<EngineHandler>>,
    states: AHashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    hooks: Hooks,
}

impl ServerApp {
    pub(super) fn new(
        namespaces: Vec<NamespaceBuilder>,
        parents: Vec<Parent>,
        max_children: usize,
        engine: Vec<Arc<EngineHandler>>,
        states: AHashMap<TypeId, Arc<dyn Any + Send + Sync>>,
        hooks: Hooks,
    ) -> Self {
        let index = namespaces
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i as u16))
            .collect();
        let base = u16::try_from(namespaces.len()).unwrap_or(u16::MAX);
        Self {
            namespaces: namespaces.into_iter().map(Arc::new).collect(),
            index,
            parents,
            children: Children::new(base, max_children),
            engine,
            states,
            hooks,
        }
    }

    /// Runs the server-wide observers.
    pub(super) fn observe(&self, socket: &Socket, what: Lifecycle<'_>) {
        for o in &self.hooks.observers {
            o(socket, what);
        }
    }

    /// As the trait object the runtime takes.
    pub fn into_app(self) -> Arc<dyn App> {
        Arc::new(self)
    }

    /// The handlers of namespace `nsp`: its own, or its parent's for a child.
    pub(super) fn namespace(&self, nsp: u16) -> Option<&Arc<NamespaceBuilder>> {
        self.namespaces.get(nsp as usize).or_else(|| {
            let parent = self.children.parent(nsp)?;
            self.parents.get(parent).map(|p| &p.ns)
        })
    }

    /// Position of the parent labelled `label` (its regex pattern or its
    /// predicate's label).
    pub(super) fn parent_position(&self, label: &str) -> Option<usize> {
        self.parents.iter().position(|p| p.matcher.label() == label)
    }
}

/// The server application of `shard`, when it is one.
pub(super) fn server_app(shard: &Shard) -> Option<&ServerApp> {
    shard.app.as_any().downcast_ref::<ServerApp>()
}

/// Application-wide state `T` of `shard`'s application.
pub(super) fn state_of<T: Any + Send + Sync>(shard: &Shard) -> Option<Arc<T>> {
    let state = server_app(shard)?.states.get(&TypeId::of::<T>())?.clone();
    state.downcast::<T>().ok()
}

/// Runs the namespace's connect handlers on `socket`: the futures of the
/// async ones, in order, as one.
fn connect_handlers(ns: &NamespaceBuilder, socket: &Socket) -> Spawned {
    chain(ns.on_connect.iter().filter_map(|h| h(socket)).collect())
}

/// Several handlers' futures as one, run one after the other.
fn chain(futures: Vec<LocalFuture<()>>) -> Spawned {
    match futures.len() {
        0 => None,
        1 => futures.into_iter().next(),
        _ => Some(Box::pin(async move {
            for f in futures {
                f.await;
            }
        })),
    }
}

/// One socket's queue of async handlers (serial order).
#[derive(Default)]
struct Lane {
    busy: Cell<bool>,
    queue: RefCell<VecDeque<LocalFuture<()>>>,
}

/// Runs the handlers `call` starts for `socket`, in the namespace's order.
fn run(ns: &NamespaceBuilder, socket: &Socket, call: impl FnOnce(&Socket) -> Spawned + 'static) {
    if ns.order == EventOrder::Concurrent {
        if let Some(f) = call(socket) {
            glommio::spawn_local(f).detach();
        }
        return;
    }
    let lane = lane_of(socket);
    if lane.busy.get() {
        let s = socket.clone();
        lane.queue.borrow_mut().push_back(Box::pin(async move {
            if let Some(f) = call(&s) {
                f.await;
            }
        }));
        return;
    }
    let Some(first) = call(socket) else { return };
    lane.busy.set(true);
    glommio::spawn_local(async move {
        first.await;
        loop {
            let next = lane.queue.borrow_mut().pop_front();
            let Some(f) = next else { break };
            f.await;
        }
        lane.busy.set(false);
    })
    .detach();
}

fn lane_of(socket: &Socket) -> Rc<Lane> {
    let mut slot = socket.state.app_slot.borrow_mut();
    if let Some(lane) = slot.clone().and_then(|l| l.downcast::<Lane>().ok()) {
        return lane;
    }
    let lane = Rc::new(Lane::default());
    *slot = Some(lane.clone());
    lane
}

/// Every `on_any` listener, then the event's handler.
fn dispatch_event(ns: &NamespaceBuilder, socket: &Socket, event: Event) -> Spawned {
    let mut futures = Vec::new();
    for h in &ns.any {
        futures.extend(h(socket, &event));
    }
    if let Some(h) = ns.events.get(&event.name).or(ns.fallback.as_ref()) {
        futures.extend(h(socket, event));
    }
    chain(futures)
}

impl App for ServerApp {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn namespace_count(&self) -> usize {
        self.namespaces.len() + self.children.len()
    }

    fn namespace_index(&self, name: &str) -> Option<u16> {
        match self.index.get(name) {
            Some(&i) => Some(i),
            None if self.parents.is_empty() => None,
            None => self.children.index(name),
        }
    }

    fn namespace_name(&self, idx: u16) -> &str {
        match self.namespaces.get(idx as usize) {
            Some(n) => n.name.as_str(),
            None => self.children.name(idx).unwrap_or("/"),
        }
    }

    fn create_namespace(&self, name: &str, auth: &Value) -> Creation {
        if self.parents.is_empty() {
            return Creation::Ready(None);
        }
        if let Some(idx) = self.children.index(name) {
            return Creation::Ready(Some(idx));
        }
        for (i, p) in self.parents.iter().enumerate() {
            match p.matcher.matches_now(name, auth) {
                Some(true) => return Creation::Ready(self.children.register(i, name)),
                Some(false) => {}
                None => {
                    // An async predicate: it and the parents after it are
                    // asked in order once it answers, on this shard.
                    let (name, auth) = (name.to_owned(), auth.clone());
                    return Creation::Pending(Box::pin(async move {
                        let shard = Shard::current();
                        let app = server_app(&shard)?;
                        for (j, p) in app.parents.iter().enumerate().skip(i) {
                            if p.matcher.matches_later(&name, &auth).await {
                                return app.children.register(j, &name);
                            }
                        }
                        None
                    }));
                }
            }
        }
        Creation::Ready(None)
    }

    fn authorize(&self, nsp: u16, session: &Rc<Session>, id: &str, auth: &Value) -> Authorization {
        let Some(ns) = self.namespace(nsp) else {
            return Authorization::Ready(Err(Refusal::new("Invalid namespace")));
        };
        if ns.middleware.is_empty() {
            return Authorization::Ready(Ok(None));
        }
        let req = ConnectRequest::new(self.namespace_name(nsp), id, auth, session);
        for (i, m) in ns.middleware.iter().enumerate() {
            match m(&req) {
                Step::Done(Ok(())) => {}
                Step::Done(Err(r)) => return Authorization::Ready(Err(r)),
                Step::Later(first) => {
                    // The rest of the chain runs after this one resolves.
                    let rest = ns.middleware[i + 1..].to_vec();
                    return Authorization::Pending(Box::pin(async move {
                        first.await?;
                        for m in rest {
                            match m(&req) {
                                Step::Done(r) => r?,
                                Step::Later(f) => f.await?,
                            }
                        }
                        Ok(req.take_data())
                    }));
                }
            }
        }
        Authorization::Ready(Ok(req.take_data()))
    }

    fn handle_connect(&self, shard: &Rc<Shard>, key: SocketKey) {
        let Some(socket) = Socket::new(shard, key) else {
            return;
        };
        let Some(ns) = self.namespace(socket.state.nsp) else {
            return;
        };
        self.observe(&socket, Lifecycle::Connected);
        if ns.order == EventOrder::Concurrent {
            // As in `handle_event`: no closure, so no clone of the
            // namespace's `Arc` (an atomic increment and decrement per
            // connection on a count every shard shares).
            if let Some(f) = connect_handlers(ns, &socket) {
                glommio::spawn_local(f).detach();
            }
            return;
        }
        let handlers = ns.clone();
        run(ns, &socket, move |s| connect_handlers(&handlers, s));
    }

    fn handle_event(&self, shard: &Rc<Shard>, key: SocketKey, ev: Incoming) {
        let Some(socket) = Socket::new(shard, key) else {
            return;
        };
        let Some(ns) = self.namespace(socket.state.nsp) else {
            return;
        };
        let ack = ev.ack.map(|id| AckSender {
            socket: socket.clone(),
            id,
        });
        let event = Event {
            name: ev.event,
            payload: Payload::from_parts(ev.args, ev.attachments),
            ack,
        };
        self.observe(
            &socket,
            Lifecycle::EventReceived(&event.name, &event.payload),
        );
        if ns.order == EventOrder::Concurrent {
            // The common path, without the closure `run` takes.
            if let Some(f) = dispatch_event(ns, &socket, event) {
                glommio::spawn_local(f).detach();
            }
            return;
        }
        let handlers = ns.clone();
        run(ns, &socket, move |s| dispatch_event(&handlers, s, event));
    }

    fn handle_disconnect(&self, shard: &Rc<Shard>, key: SocketKey, reason: CloseReason) {
        let Some(socket) = Socket::new(shard, key) else {
            return;
        };
        let Some(ns) = self.namespace(socket.state.nsp) else {
            return;
        };
        self.observe(&socket, Lifecycle::Disconnected(reason));
        let handlers = ns.clone();
        run(ns, &socket, move |s| {
            chain(
                handlers
                    .on_disconnect
                    .iter()
                    .filter_map(|h| h(s, reason))
                    .collect(),
            )
        });
    }

    fn handle_room(&self, shard: &Rc<Shard>, key: SocketKey, room: &str, joined: bool) {
        if self.hooks.observers.is_empty() {
            return;
        }
        let Some(socket) = Socket::new(shard, key) else {
            return;
        };
        let what = if joined {
            Lifecycle::RoomJoined(room)
        } else {
            Lifecycle::RoomLeft(room)
        };
        self.observe(&socket, what);
    }

    fn handle_upgrade(&self, shard: &Rc<Shard>, session: &Rc<Session>) {
        if self.hooks.observers.is_empty() {
            return;
        }
        for key in session.socket_keys() {
            if let Some(socket) = Socket::new(shard, key) {
                self.observe(&socket, Lifecycle::Upgraded);
            }
        }
    }

    fn handle_start(&self, shard: &Rc<Shard>) {
        for h in &self.hooks.on_start {
            h(shard.id);
        }
    }

    fn handle_server_side(
        &self,
        _shard: &Rc<Shard>,
        nsp: u16,
        mut args: Vec<Value>,
        ack: Option<Box<dyn FnOnce(Value)>>,
    ) {
        let Some(ns) = self.namespace(nsp) else {
            return;
        };
        if args.is_empty() {
            return;
        }
        let name = match args.remove(0) {
            Value::String(s) => s,
            other => other.to_string(),
        };
        if let Some(h) = ns.server_side.get(&name) {
            if let Some(f) = h(ServerSideEvent { name, args, ack }) {
                glommio::spawn_local(f).detach();
            }
        }
    }

    fn handle_engine_message(&self, shard: &Rc<Shard>, session: &Rc<Session>, msg: EngineMessage) {
        let SessionKind::Engine(i) = session.kind else {
            return;
        };
        if let Some(h) = self.engine.get(i as usize) {
            let socket = EngineSocket {
                shard: shard.clone(),
                session: session.clone(),
            };
            h(&socket, msg);
        }
    }
}

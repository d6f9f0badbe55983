//! The Rust library API: namespaces, middleware and event handlers, in the
//! spirit of socket.io's `io.of(nsp).use(...)` / `socket.on(event, ...)`.
//!
//! Handlers are registered once per namespace (not per socket: a connected
//! socket costs no handler table) and run on the shard that owns the
//! socket. They must be `Send + Sync` because every shard calls the same
//! handler; per-shard state belongs in a `thread_local!`.
//!
//! ```no_run
//! use ringcast::server::{Server, Payload};
//! let server = Server::builder()
//!     .namespace("/", |ns| {
//!         ns.on("echo", |_socket, mut ev| {
//!             if let Some(ack) = ev.take_ack() {
//!                 ack.send(ev.payload.clone());
//!             }
//!         });
//!     })
//!     .build();
//! let running = ringcast::runtime::start(ringcast::Config::default(), server.into_app()).unwrap();
//! running.join();
//! ```

mod broadcast;
mod cluster;
mod error;
mod payload;
mod socket;

use std::rc::Rc;
use std::sync::Arc;

use ahash::AHashMap;
use serde_json::Value;

pub use self::broadcast::BroadcastOperator;
pub use self::cluster::{ServerSideAcks, ServerSideEvent};
pub use self::error::{is_reserved_event, EmitError};
pub use self::payload::Payload;
pub use self::socket::{AckSender, Event, Socket};
pub use crate::cluster::{ClusterError, FetchedSocket};
use crate::shard::app::{EngineMessage, Incoming};
pub use crate::shard::deliver::AckReply;
use crate::shard::msg::Msg;
pub use crate::shard::quota::{JoinError, Quota};
use crate::shard::session::Session;
pub use crate::shard::session::{CloseReason, Handshake};
pub use crate::shard::socket::AckError;
pub use crate::shard::Refusal;
use crate::shard::{App, Shard, SocketKey};

type Middleware = dyn Fn(&ConnectRequest<'_>) -> Result<(), Refusal> + Send + Sync;
type ConnectHandler = dyn Fn(&Socket) + Send + Sync;
type EventHandler = dyn Fn(&Socket, Event) + Send + Sync;
type DisconnectHandler = dyn Fn(&Socket, CloseReason) + Send + Sync;
type EngineHandler = dyn Fn(&EngineSocket, EngineMessage) + Send + Sync;
type ServerSideHandler = dyn Fn(ServerSideEvent) + Send + Sync;

/// What connect middleware sees.
#[derive(Debug)]
pub struct ConnectRequest<'a> {
    /// The namespace name.
    pub namespace: &'a str,
    /// The CONNECT auth payload (`{}` when none).
    pub auth: &'a Value,
    /// The opening request.
    pub handshake: &'a Handshake,
}

/// Handlers of one namespace.
#[derive(Default)]
pub struct NamespaceBuilder {
    name: String,
    middleware: Vec<Arc<Middleware>>,
    on_connect: Vec<Arc<ConnectHandler>>,
    on_disconnect: Vec<Arc<DisconnectHandler>>,
    events: AHashMap<String, Arc<EventHandler>>,
    fallback: Option<Arc<EventHandler>>,
    server_side: AHashMap<String, Arc<ServerSideHandler>>,
}

impl NamespaceBuilder {
    /// Adds connect middleware (Node's `nsp.use`); an `Err` refuses the
    /// connection with CONNECT_ERROR.
    pub fn use_middleware(
        &mut self,
        f: impl Fn(&ConnectRequest<'_>) -> Result<(), Refusal> + Send + Sync + 'static,
    ) -> &mut Self {
        self.middleware.push(Arc::new(f));
        self
    }

    /// Runs on every new connection (Node's `nsp.on("connection")`).
    pub fn on_connect(&mut self, f: impl Fn(&Socket) + Send + Sync + 'static) -> &mut Self {
        self.on_connect.push(Arc::new(f));
        self
    }

    /// Runs when a socket disconnects, with Node's reason.
    pub fn on_disconnect(
        &mut self,
        f: impl Fn(&Socket, CloseReason) + Send + Sync + 'static,
    ) -> &mut Self {
        self.on_disconnect.push(Arc::new(f));
        self
    }

    /// Handles `event` for every socket of the namespace.
    pub fn on(
        &mut self,
        event: &str,
        f: impl Fn(&Socket, Event) + Send + Sync + 'static,
    ) -> &mut Self {
        self.events.insert(event.to_owned(), Arc::new(f));
        self
    }

    /// Handles `event` sent by another node of the cluster with
    /// `serverSideEmit` (Node's `io.on(event)` for server-side events).
    /// Runs on one shard of this node.
    pub fn on_server_side(
        &mut self,
        event: &str,
        f: impl Fn(ServerSideEvent) + Send + Sync + 'static,
    ) -> &mut Self {
        self.server_side.insert(event.to_owned(), Arc::new(f));
        self
    }

    /// Handles events that have no specific handler (Node's `onAny`).
    pub fn on_any(&mut self, f: impl Fn(&Socket, Event) + Send + Sync + 'static) -> &mut Self {
        self.fallback = Some(Arc::new(f));
        self
    }
}

/// A session on a raw Engine.IO endpoint.
#[derive(Debug)]
pub struct EngineSocket {
    shard: Rc<Shard>,
    session: Rc<Session>,
}

impl EngineSocket {
    /// The Engine.IO session id.
    pub fn sid(&self) -> &str {
        &self.session.sid
    }

    /// Sends a text message.
    pub fn send_text(&self, text: &[u8]) {
        self.shard
            .push_to_session(&self.session, &Msg::engine_text(text), false);
    }

    /// Sends a binary message.
    pub fn send_binary(&self, data: &[u8]) {
        self.shard
            .push_to_session(&self.session, &Msg::engine_binary(data), false);
    }
}

/// Builds the application: namespaces and raw Engine.IO endpoints.
#[derive(Default)]
pub struct Builder {
    namespaces: Vec<NamespaceBuilder>,
    engine: Vec<Arc<EngineHandler>>,
}

/// Entry point of the API.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// A new, empty application.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl Builder {
    /// Defines namespace `name` (e.g. `"/"`, `"/admin"`).
    pub fn namespace(mut self, name: &str, f: impl FnOnce(&mut NamespaceBuilder)) -> Self {
        let mut ns = NamespaceBuilder {
            name: name.to_owned(),
            ..Default::default()
        };
        f(&mut ns);
        self.namespaces.push(ns);
        self
    }

    /// Adds the handler of the raw Engine.IO endpoint at
    /// `Config::engine_paths[i]` (endpoints are matched in the order added).
    pub fn engine(
        mut self,
        f: impl Fn(&EngineSocket, EngineMessage) + Send + Sync + 'static,
    ) -> Self {
        self.engine.push(Arc::new(f));
        self
    }

    /// Finishes the application.
    pub fn build(self) -> ServerApp {
        let index = self
            .namespaces
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i as u16))
            .collect();
        ServerApp {
            namespaces: self.namespaces,
            index,
            engine: self.engine,
        }
    }
}

/// A built application, ready for [`crate::runtime::start`].
pub struct ServerApp {
    namespaces: Vec<NamespaceBuilder>,
    index: AHashMap<String, u16>,
    engine: Vec<Arc<EngineHandler>>,
}

impl ServerApp {
    /// As the trait object the runtime takes.
    pub fn into_app(self) -> Arc<dyn App> {
        Arc::new(self)
    }
}

impl App for ServerApp {
    fn namespace_count(&self) -> usize {
        self.namespaces.len()
    }

    fn namespace_index(&self, name: &str) -> Option<u16> {
        self.index.get(name).copied()
    }

    fn namespace_name(&self, idx: u16) -> &str {
        self.namespaces
            .get(idx as usize)
            .map_or("/", |n| n.name.as_str())
    }

    fn authorize(&self, nsp: u16, session: &Rc<Session>, auth: &Value) -> Result<(), Refusal> {
        let Some(ns) = self.namespaces.get(nsp as usize) else {
            return Err(Refusal::new("Invalid namespace"));
        };
        let req = ConnectRequest {
            namespace: &ns.name,
            auth,
            handshake: &session.handshake,
        };
        ns.middleware.iter().try_for_each(|m| m(&req))
    }

    fn handle_connect(&self, shard: &Rc<Shard>, key: SocketKey) {
        let Some(socket) = Socket::new(shard, key) else {
            return;
        };
        if let Some(ns) = self.namespaces.get(socket.state.nsp as usize) {
            for h in &ns.on_connect {
                h(&socket);
            }
        }
    }

    fn handle_event(&self, shard: &Rc<Shard>, key: SocketKey, ev: Incoming) {
        let Some(socket) = Socket::new(shard, key) else {
            return;
        };
        let Some(ns) = self.namespaces.get(socket.state.nsp as usize) else {
            return;
        };
        let Some(handler) = ns.events.get(&ev.event).or(ns.fallback.as_ref()) else {
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
        handler(&socket, event);
    }

    fn handle_disconnect(&self, shard: &Rc<Shard>, key: SocketKey, reason: CloseReason) {
        let Some(socket) = Socket::new(shard, key) else {
            return;
        };
        if let Some(ns) = self.namespaces.get(socket.state.nsp as usize) {
            for h in &ns.on_disconnect {
                h(&socket, reason);
            }
        }
    }

    fn handle_server_side(
        &self,
        _shard: &Rc<Shard>,
        nsp: u16,
        mut args: Vec<Value>,
        ack: Option<Box<dyn FnOnce(Value)>>,
    ) {
        let Some(ns) = self.namespaces.get(nsp as usize) else {
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
            h(ServerSideEvent { name, args, ack });
        }
    }

    fn handle_engine_message(&self, shard: &Rc<Shard>, session: &Rc<Session>, msg: EngineMessage) {
        let crate::shard::session::SessionKind::Engine(i) = session.kind else {
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

/// The namespace `name` of the current shard, for broadcasts from outside
/// a socket handler (Node's `io.of(name)`). None when unknown.
pub fn of(name: &str) -> Option<BroadcastOperator> {
    let shard = Shard::current();
    let idx = shard.app.namespace_index(name)?;
    Some(BroadcastOperator::new(&shard, idx))
}

//! The Rust library API: namespaces, middleware and event handlers, in the
//! spirit of socket.io's `io.of(nsp).use(...)` / `socket.on(event, ...)`.
//!
//! Handlers are registered once per namespace (not per socket: a connected
//! socket costs no handler table) and run on the shard that owns the
//! socket. Every registration point takes a synchronous closure or an
//! async one (`on` / `on_async`, `use_middleware` / `use_middleware_async`,
//! ...): synchronous handlers run inline, async ones as a task on the
//! socket's shard ([`NamespaceBuilder`], [`EventOrder`]).
//!
//! State:
//! - per socket: [`Socket::set_data`] / [`Socket::with_data`] (Node's
//!   `socket.data`, also set by middleware with
//!   [`ConnectRequest::set_data`]); it must be `Serialize`, as
//!   `fetch_sockets` reports it as `data` (across nodes too);
//! - application-wide: [`Builder::state`], read with [`Socket::state`] or
//!   [`state`] (an `Arc`, shared by every shard: `Send + Sync`);
//! - per shard (no synchronization at all): a `thread_local!` in the
//!   application, since each shard is one thread and a handler always runs
//!   on the shard of its socket.
//!
//! Tokio-based crates (sqlx, reqwest, redis-rs, tonic) need a tokio
//! runtime: run one on its own threads, keep its `Handle` in application
//! state, and await `handle.spawn(work)` from the handler
//! (`examples/tokio_interop.rs`); the tokio worker wakes the shard's task
//! when the work is done.
//!
//! ```no_run
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::time::Duration;
//!
//! use ringcast::server::{Data, Server};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Clone)]
//! struct User {
//!     name: String,
//! }
//!
//! #[derive(Deserialize)]
//! struct Message {
//!     room: String,
//!     text: String,
//! }
//!
//! let app = Server::builder()
//!     .state(AtomicU64::new(0)) // messages seen, by every shard
//!     .namespace("/", |ns| {
//!         ns.use_middleware_async(|req| async move {
//!             // e.g. a token lookup; only this socket waits for it
//!             glommio::timer::sleep(Duration::from_millis(5)).await;
//!             let name = req.auth()["name"].as_str().unwrap_or("anon").to_owned();
//!             req.set_data(User { name });
//!             Ok(())
//!         });
//!         ns.on_typed("say", |socket, msg: Data<Message>| async move {
//!             let user = socket.data::<User>().map(|u| u.name);
//!             let count = socket.state::<AtomicU64>().map(|c| c.fetch_add(1, Ordering::Relaxed));
//!             let _ = socket
//!                 .to(&msg.args.room)
//!                 .emit("said", serde_json::json!({"from": user, "text": msg.args.text}));
//!             count // the ack, when the client asked for one
//!         });
//!     })
//!     .build();
//! let running = ringcast::runtime::start(ringcast::Config::default(), app.into_app()).unwrap();
//! running.join();
//! ```

mod ack;
mod broadcast;
mod cluster;
mod connect;
mod dispatch;
mod dynamic;
mod error;
mod namespace;
mod observe;
mod payload;
mod recovery;
mod socket;

use std::any::{Any, TypeId};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ahash::AHashMap;

pub use self::broadcast::{BroadcastAcks, BroadcastOperator};
pub use self::cluster::{ServerSideAcks, ServerSideEvent};
pub use self::connect::ConnectRequest;
pub use self::dispatch::ServerApp;
pub use self::dynamic::{AsyncNamespacePredicate, NamespaceMatcher, NamespacePredicate};
pub use self::error::{is_reserved_event, EmitError};
pub use self::namespace::{Data, EventOrder, NamespaceBuilder, INVALID_PAYLOAD};
pub use self::observe::{shard_counts, Lifecycle, ShardCounts};
use self::observe::{Observer, StartHook};
pub use self::payload::Payload;
pub use self::socket::{AckSender, Event, Socket};
pub use crate::shard::app::EngineMessage;
pub use crate::shard::app::SocketData;
pub use crate::shard::deliver::AckReply;
use crate::shard::msg::Msg;
pub use crate::shard::ops::{ClusterError, FetchedSocket};
pub use crate::shard::quota::{JoinError, Quota};
use crate::shard::session::Session;
pub use crate::shard::session::{CloseReason, Handshake};
pub use crate::shard::socket::AckError;
pub use crate::shard::Refusal;
use crate::shard::Shard;

type EngineHandler = dyn Fn(&EngineSocket, EngineMessage) + Send + Sync;

/// Events dropped because their typed arguments did not parse and the
/// client asked for no ack (see [`NamespaceBuilder::on_typed`]), since
/// start, in this process.
pub fn malformed_payloads() -> u64 {
    MALFORMED.load(Ordering::Relaxed)
}

static MALFORMED: AtomicU64 = AtomicU64::new(0);

fn count_malformed() {
    MALFORMED.fetch_add(1, Ordering::Relaxed);
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

/// Default of [`Builder::max_dynamic_namespaces`].
pub const DEFAULT_MAX_DYNAMIC_NAMESPACES: usize = 1024;

/// Builds the application: namespaces and raw Engine.IO endpoints.
pub struct Builder {
    namespaces: Vec<NamespaceBuilder>,
    parents: Vec<dynamic::Parent>,
    max_dynamic: usize,
    engine: Vec<Arc<EngineHandler>>,
    states: AHashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    hooks: Hooks,
}

/// The server-wide hooks ([`Builder::observe`], [`Builder::on_shard_start`]).
#[derive(Default, Clone)]
pub(crate) struct Hooks {
    pub(crate) observers: Vec<Arc<Observer>>,
    pub(crate) on_start: Vec<Arc<StartHook>>,
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

impl Default for Builder {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            parents: Vec::new(),
            max_dynamic: DEFAULT_MAX_DYNAMIC_NAMESPACES,
            engine: Vec::new(),
            states: AHashMap::new(),
            hooks: Hooks::default(),
        }
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

    /// Defines a parent (dynamic) namespace, Node's `io.of(/regex/)` or
    /// `io.of((name, auth, next) => ...)`: a CONNECT to a name that no
    /// static namespace has and that `matcher` accepts creates that
    /// namespace (a child) on its first connection, with the middleware
    /// and handlers registered here. Each child is its own namespace
    /// (`socket.nsp()` is its name, broadcasts stay in it); parents are
    /// tried in the order defined, static namespaces first. See
    /// [`of_parent`] to broadcast to every child, and
    /// [`Self::max_dynamic_namespaces`] for the bound on children.
    pub fn dynamic_namespace(
        mut self,
        matcher: NamespaceMatcher,
        f: impl FnOnce(&mut NamespaceBuilder),
    ) -> Self {
        let mut ns = NamespaceBuilder {
            name: matcher.label().to_owned(),
            ..Default::default()
        };
        f(&mut ns);
        self.parents.push(dynamic::Parent {
            matcher,
            ns: Arc::new(ns),
        });
        self
    }

    /// The most children all parent namespaces may create together in this
    /// process (default [`DEFAULT_MAX_DYNAMIC_NAMESPACES`]). Names come from
    /// the network and a child is never removed (Node's default,
    /// `cleanupEmptyChildNamespaces: false`), so this bounds their memory:
    /// past it a new name is refused as `Invalid namespace`.
    pub fn max_dynamic_namespaces(mut self, n: usize) -> Self {
        self.max_dynamic = n;
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

    /// Registers application-wide state, one value per type, shared by
    /// every shard and handler ([`Socket::state`], [`state`]); a second
    /// value of the same type replaces the first.
    pub fn state<T: Any + Send + Sync>(mut self, value: T) -> Self {
        self.states.insert(TypeId::of::<T>(), Arc::new(value));
        self
    }

    /// Observes every socket of every namespace: connected, disconnected,
    /// rooms joined and left, on whichever shard or node caused it
    /// ([`Lifecycle`]; the `observe` module doc says when it runs). Runs on
    /// the socket's shard, synchronously.
    pub fn observe(mut self, f: impl Fn(&Socket, Lifecycle<'_>) + Send + Sync + 'static) -> Self {
        self.hooks.observers.push(Arc::new(f));
        self
    }

    /// Runs `f(shard index)` on each shard's thread when it starts, before
    /// it accepts connections: spawn a shard's own periodic task there
    /// (`glommio::spawn_local(..).detach()`), read [`shard_counts`] in it.
    pub fn on_shard_start(mut self, f: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.hooks.on_start.push(Arc::new(f));
        self
    }

    /// Finishes the application.
    pub fn build(self) -> ServerApp {
        ServerApp::new(
            self.namespaces,
            self.parents,
            self.max_dynamic,
            self.engine,
            self.states,
            self.hooks,
        )
    }
}

/// The namespace `name` of the current shard, for broadcasts from outside
/// a socket handler (Node's `io.of(name)`). None when unknown (a dynamic
/// namespace's child is known once a CONNECT created it).
pub fn of(name: &str) -> Option<BroadcastOperator> {
    let shard = Shard::current();
    let idx = shard.app.namespace_index(name)?;
    Some(BroadcastOperator::new(&shard, idx))
}

/// Every child of the parent namespace labelled `label` (its regex pattern
/// or its predicate's label), created so far in this process: Node's
/// `parentNamespace.emit(...)`, which emits to each child. None when no
/// such parent exists (or off a [`ServerApp`]).
pub fn of_parent(label: &str) -> Option<ParentOperator> {
    let shard = Shard::current();
    let app = dispatch::server_app(&shard)?;
    let parent = app.parent_position(label)?;
    let children = app.children.of_parent(parent);
    Some(ParentOperator {
        children: children
            .into_iter()
            .map(|i| BroadcastOperator::new(&shard, i))
            .collect(),
    })
}

/// A broadcast to every child of a parent namespace ([`of_parent`]).
#[derive(Debug, Clone)]
pub struct ParentOperator {
    children: Vec<BroadcastOperator>,
}

impl ParentOperator {
    /// Restricts each child's broadcast to `room`.
    pub fn to(self, room: &str) -> Self {
        self.map(|b| b.to(room))
    }

    /// Excludes the members of `room` in each child.
    pub fn except(self, room: &str) -> Self {
        self.map(|b| b.except(room))
    }

    /// Only this node (no cluster adapter).
    pub fn local(self) -> Self {
        self.map(BroadcastOperator::local)
    }

    /// Number of children the broadcast goes to.
    pub fn children(&self) -> usize {
        self.children.len()
    }

    fn map(self, f: impl Fn(BroadcastOperator) -> BroadcastOperator) -> Self {
        Self {
            children: self.children.into_iter().map(f).collect(),
        }
    }

    /// Emits `event` in every child (encoded once per child, as its
    /// namespace name is in the packet); a reserved name is refused.
    pub fn emit(self, event: &str, payload: impl Into<Payload>) -> Result<(), EmitError> {
        error::check_event(event)?;
        let payload = payload.into();
        for b in self.children {
            b.emit(event, payload.clone())?;
        }
        Ok(())
    }
}

/// Application-wide state of type `T` ([`Builder::state`]), from any
/// handler or task on a shard. None when none was registered. Panics off
/// a shard thread (as [`of`] does).
pub fn state<T: Any + Send + Sync>() -> Option<Arc<T>> {
    dispatch::state_of::<T>(&Shard::current())
}

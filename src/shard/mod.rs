//! A shard: the single-threaded state of one core.
//!
//! Each executor owns one [`Shard`]: its Engine.IO sessions, its Socket.IO
//! sockets, and one room table per namespace. Nothing here is shared with
//! other threads; cross-core work and the cluster bridge's messages arrive
//! as one type, [`port::ToShard`], handled in one place
//! ([`Shard::handle_inbound`]). That is why the tables are `RefCell`s behind
//! an `Rc`: borrows are short and never held across an `.await` or a call
//! into user code.
//!
//! Layering: `shard` depends only on the pure codec crates (`proto`,
//! `cluster-wire`) and is the bottom of the server: the `runtime` shell
//! (sockets, timers) and the `cluster` bridge drive it, and user handlers
//! are reached through the [`App`] trait, implemented by the `server` API
//! module. What the shard sends upwards goes through its own ports: the
//! mesh carries [`port::ToShard`] to other shards, [`port::ClusterPort`]
//! (implemented by the bridge) takes [`port::ToCluster`].

pub mod app;
pub mod closed;
pub mod deadlines;
pub mod deliver;
mod eio3;
pub mod encode;
pub mod engine;
pub mod id_key;
mod inbound;
pub mod mesh;
pub mod msg;
pub mod ops;
pub mod port;
pub mod quota;
mod recover;
pub mod recovery;
pub mod recovery_cluster;
pub mod rooms;
pub mod session;
pub mod sio;
pub mod socket;
pub mod stats;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use ahash::AHashMap;
use ringcast_proto::engineio::{OpenPacket, OpenTemplate};

use crate::config::Config;
pub use app::{App, Refusal};
use id_key::IdKey;
use mesh::Mesh;
use rooms::RoomTable;
use session::{CloseReason, Session};
use socket::SocketState;

/// Index of a socket in its shard's socket slab. Valid while the socket is
/// connected; removed from every room table before the slot is reused.
pub type SocketKey = u32;

/// Counters of one shard, read by the stats log line and tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// Sessions closed because their outgoing queue overflowed.
    pub slow_consumers: Cell<u64>,
    /// Volatile packets dropped.
    pub volatile_dropped: Cell<u64>,
    /// Connections handed to another shard (polling / upgrade routing).
    pub handoffs: Cell<u64>,
    /// Requests of other nodes' sessions forwarded to their owner, by kind
    /// (`stats::FORWARD_KINDS`).
    pub forwarded: [Cell<u64>; 3],
    /// Forwards that failed, by reason (`stats::FORWARD_FAILURES`).
    pub forward_failures: [Cell<u64>; 5],
    /// Sessions opened.
    pub sessions_opened: Cell<u64>,
    /// EVENT packets received from clients (before quotas and handlers).
    pub events_received: Cell<u64>,
    /// Packets queued for clients (broadcast receivers, direct emits,
    /// CONNECT replies and acks); added once per broadcast, not per receiver.
    pub deliveries: Cell<u64>,
    /// Limits the slow-consumer log line to one a second.
    pub slow_consumer_log: quota::LogLimiter,
    /// The operator series of `/metrics` (packets, broadcasts, acks,
    /// disconnects).
    pub ops: stats::Ops,
}

/// The state of one core.
pub struct Shard {
    /// This shard's index, `0..nshards`.
    pub id: usize,
    /// Number of shards in this process.
    pub nshards: usize,
    /// Validated configuration.
    pub config: Arc<Config>,
    /// The application: namespaces and handlers.
    pub app: Arc<dyn App>,
    /// Engine.IO sessions owned here, by sid.
    pub sessions: RefCell<AHashMap<IdKey, Rc<Session>>>,
    /// Every session's next deadline (heartbeat, connect timeout).
    pub deadlines: RefCell<deadlines::Deadlines>,
    /// Socket.IO sockets owned here.
    pub sockets: RefCell<slab::Slab<Rc<SocketState>>>,
    /// Socket id → key: the room named by each socket's id.
    pub socket_ids: RefCell<AHashMap<IdKey, SocketKey>>,
    /// One room table per namespace, by index; tables of dynamic
    /// namespaces' children are added on demand ([`Self::ensure_namespace`]),
    /// so an index past the end is a namespace with no socket here.
    pub rooms: RefCell<Vec<RoomTable>>,
    /// Outgoing channels to the other shards.
    pub mesh: Mesh,
    /// Counters.
    pub stats: Stats,
    /// Quota limits and refusal counters (`quota` module).
    pub quota: quota::Quotas,
    /// Pending broadcast-with-ack aggregations started here.
    pub acks: RefCell<deliver::AckAggregates>,
    /// Cluster operations started here, waiting for their result.
    pub ops: RefCell<ops::PendingOps>,
    /// Scratch buffer for socket reads (one per shard, not per connection).
    pub scratch: RefCell<Vec<u8>>,
    /// Flush buffer: small queued frames are copied here and sent as one slice.
    pub wscratch: RefCell<Vec<u8>>,
    /// The open packet of this configuration, for a websocket session
    /// (`upgrades: []`) and for a polling one (`["websocket"]` when that
    /// transport is on), written once: a handshake adds its sid.
    pub(crate) open_templates: OpenTemplates,
    /// Set when the server is shutting down.
    pub stopping: Cell<bool>,
    /// Namespace-wide ack id counters (Node's `nsp._ids`), one per
    /// namespace, grown with `rooms`.
    pub(crate) next_ack_ids: RefCell<Vec<u64>>,
    /// Polling sessions closed while no GET was parked, with the answer
    /// their late long-poll GET gets (`closed` module).
    pub closed_polls: RefCell<closed::ClosedPolls>,
    /// Connection state recovery store, when the option is on.
    pub recovery: Option<RefCell<recovery::RecoveryStore>>,
}

/// [`Shard::open_templates`].
#[derive(Debug)]
pub(crate) struct OpenTemplates {
    /// A websocket session's: no upgrade.
    pub websocket: OpenTemplate,
    /// A polling session's: the websocket upgrade when it is enabled.
    pub polling: OpenTemplate,
}

impl OpenTemplates {
    fn new(config: &Config) -> Self {
        let with = |upgrades: &[&str]| {
            OpenTemplate::new(&OpenPacket {
                sid: "",
                upgrades,
                ping_interval: config.ping_interval.as_millis() as u64,
                ping_timeout: config.ping_timeout.as_millis() as u64,
                max_payload: config.max_http_buffer_size as u64,
            })
        };
        let polling: &[&str] = if config.transports.websocket {
            &["websocket"]
        } else {
            &[]
        };
        Self {
            websocket: with(&[]),
            polling: with(polling),
        }
    }
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard").field("id", &self.id).finish()
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Shard>>> = const { RefCell::new(None) };
}

impl Shard {
    /// Creates the shard of executor `id` and makes it current on this thread.
    pub fn install(
        id: usize,
        nshards: usize,
        config: Arc<Config>,
        app: Arc<dyn App>,
        mesh: Mesh,
    ) -> Rc<Self> {
        let nsps = app.namespace_count();
        let quota = quota::Quotas::new(&config);
        let recovery = config
            .connection_state_recovery
            .as_ref()
            .map(|c| RefCell::new(recovery::RecoveryStore::new(c)));
        let open_templates = OpenTemplates::new(&config);
        let shard = Rc::new(Self {
            id,
            nshards,
            config,
            app,
            sessions: RefCell::new(AHashMap::new()),
            deadlines: RefCell::default(),
            sockets: RefCell::new(slab::Slab::new()),
            socket_ids: RefCell::new(AHashMap::new()),
            rooms: RefCell::new((0..nsps).map(|_| RoomTable::default()).collect()),
            mesh,
            stats: Stats::default(),
            quota,
            acks: RefCell::new(deliver::AckAggregates::default()),
            ops: RefCell::new(ops::PendingOps::default()),
            scratch: RefCell::new(vec![0; 64 * 1024]),
            wscratch: RefCell::new(Vec::new()),
            open_templates,
            stopping: Cell::new(false),
            next_ack_ids: RefCell::new(vec![0; nsps]),
            closed_polls: RefCell::new(closed::ClosedPolls::default()),
            recovery,
        });
        CURRENT.with(|c| *c.borrow_mut() = Some(shard.clone()));
        shard
    }

    /// The shard of the calling thread.
    ///
    /// # Panics
    /// When called outside a shard thread (a programming error: handlers and
    /// runtime tasks always run on a shard).
    pub fn current() -> Rc<Self> {
        CURRENT
            .with(|c| c.borrow().clone())
            .expect("not on a ringcast shard thread")
    }

    /// Drops the thread-local reference (at shutdown).
    pub fn uninstall() {
        CURRENT.with(|c| c.borrow_mut().take());
    }

    /// Grows the per-namespace tables to hold namespace `nsp` (a dynamic
    /// namespace's child first used on this shard).
    pub fn ensure_namespace(&self, nsp: u16) {
        let len = nsp as usize + 1;
        let mut rooms = self.rooms.borrow_mut();
        if rooms.len() < len {
            rooms.resize_with(len, RoomTable::default);
        }
        let mut ids = self.next_ack_ids.borrow_mut();
        if ids.len() < len {
            ids.resize(len, 0);
        }
    }

    /// The session `sid` if this shard owns it and it is open.
    pub fn session(&self, sid: &str) -> Option<Rc<Session>> {
        self.sessions.borrow().get(sid).cloned()
    }

    /// The socket `key`.
    pub fn socket(&self, key: SocketKey) -> Option<Rc<SocketState>> {
        self.sockets.borrow().get(key as usize).cloned()
    }

    /// Registers a new session and schedules its first deadline.
    pub fn insert_session(&self, session: Rc<Session>) {
        self.stats
            .sessions_opened
            .set(self.stats.sessions_opened.get() + 1);
        self.quota.count_session(&session.handshake.address);
        self.deadlines.borrow_mut().schedule(&session);
        self.sessions
            .borrow_mut()
            .insert(session.sid.clone(), session);
    }

    /// Ends a session: disconnects its sockets (handlers see `reason`),
    /// forgets it and wakes its writer so the transport closes. Idempotent.
    pub fn close_session(self: &Rc<Self>, session: &Rc<Session>, reason: CloseReason) {
        let sockets = {
            let mut st = session.st.borrow_mut();
            if !st.eio.handle_close(reason) {
                return;
            }
            st.reassembly = None;
            if let Some(answer) = closed::last_answer(session.protocol, &mut st.eio, reason) {
                let mut closed = self.closed_polls.borrow_mut();
                closed.handle_close(&session.sid, Instant::now(), answer);
            }
            std::mem::take(&mut st.sockets)
        };
        self.stats.ops.count_disconnect(reason);
        self.sessions.borrow_mut().remove(&*session.sid);
        self.quota.release_session(&session.handshake.address);
        for (_, key) in sockets {
            self.remove_socket(key, reason);
        }
        session.wake_writer();
        tracing::debug!(sid = %session.sid, reason = reason.as_str(), "session closed");
    }

    /// Called when a push overflowed the session's queue.
    pub fn handle_overflow(self: &Rc<Self>, session: &Rc<Session>) {
        self.stats
            .slow_consumers
            .set(self.stats.slow_consumers.get() + 1);
        if let Some(suppressed) = self.stats.slow_consumer_log.admit() {
            tracing::warn!(
                sid = %session.sid,
                address = %session.handshake.address,
                limit = self.config.max_buffered_bytes,
                shard = self.id,
                suppressed,
                total = self.stats.slow_consumers.get(),
                "slow consumer: outgoing queue over its bound, closing the connection"
            );
        }
        self.close_session(session, CloseReason::SlowConsumer);
    }
}

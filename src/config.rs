//! One typed configuration, validated once at start.
//!
//! Option names follow Node's socket.io / engine.io server options
//! (`pingInterval`, `maxHttpBufferSize`, …) in snake case, with Node's
//! defaults, so a team moving from Node finds the same knobs.

use std::time::Duration;

use thiserror::Error;

pub use ringcast_cluster_wire::SubscriptionMode;

/// Which transports the server accepts (Node's `transports` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports {
    /// HTTP long-polling.
    pub polling: bool,
    /// WebSocket (RFC 6455).
    pub websocket: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Self {
            polling: true,
            websocket: true,
        }
    }
}

/// Which origins may make cross-origin requests (Node's `cors.origin`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cors {
    /// No CORS headers are sent (Node's default when `cors` is unset).
    #[default]
    Off,
    /// Any origin: the request's `Origin` is reflected, credentials allowed.
    Any,
    /// Only these exact origins (e.g. `https://example.com`).
    List(Vec<String>),
}

impl Cors {
    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    pub fn allow<'a>(&self, origin: Option<&'a str>) -> Option<&'a str> {
        match (self, origin) {
            (Self::Off, _) | (_, None) => None,
            (Self::Any, Some(o)) => Some(o),
            (Self::List(list), Some(o)) => list.iter().any(|a| a == o).then_some(o),
        }
    }
}

/// Server configuration. Build with [`Config::default`] and field updates,
/// then call [`Config::validate`] (the runtime does it once at start).
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; every shard binds its own SO_REUSEPORT socket.
    pub listen: std::net::SocketAddr,
    /// Number of shards (executors). 0 = one per available core.
    pub shards: usize,
    /// Pin each shard's executor to its own core (when there are at least as
    /// many cores as shards). Off lets the kernel move shards, which helps
    /// when the cores are shared with other busy processes.
    pub pin_cores: bool,
    /// Socket.IO path (Node's `path`), with leading and trailing slash.
    pub path: String,
    /// Extra raw Engine.IO paths (no Socket.IO layer) whose messages are
    /// handed to [`crate::server::Builder::engine_echo`]-style handlers.
    pub engine_paths: Vec<String>,
    /// Interval between server pings (Node's `pingInterval`, 25 s).
    pub ping_interval: Duration,
    /// Time a pong may take after a ping (Node's `pingTimeout`, 20 s).
    pub ping_timeout: Duration,
    /// Time a polling → websocket upgrade may take (Node's `upgradeTimeout`, 10 s).
    pub upgrade_timeout: Duration,
    /// Largest message or polling body accepted (Node's `maxHttpBufferSize`, 1e6).
    pub max_http_buffer_size: usize,
    /// Time a session has to CONNECT to a namespace (Node's `connectTimeout`, 45 s).
    pub connect_timeout: Duration,
    /// Allowed transports (Node's `transports`).
    pub transports: Transports,
    /// Cross-origin policy (Node's `cors`).
    pub cors: Cors,
    /// Bytes that may wait in one connection's outgoing queue before the
    /// connection is considered a slow consumer and closed.
    pub max_buffered_bytes: usize,
    /// Connection state recovery (Node's `connectionStateRecovery`); `None`
    /// (the default) = off: no `pid`, no offsets, nothing kept.
    pub connection_state_recovery: Option<crate::shard::recovery::RecoveryConfig>,
    /// Largest HTTP request head (request line + headers).
    pub max_http_head_bytes: usize,
    /// Most namespaces one Engine.IO session may join.
    pub max_namespaces_per_session: usize,
    /// Most binary attachments one Socket.IO packet may announce.
    pub max_attachments: usize,
    /// Capacity of each cross-shard channel (messages).
    pub mesh_capacity: usize,
    /// Time a client has to send a complete HTTP request head, counted from
    /// the first byte wait (slowloris defence; also the keep-alive idle limit).
    pub http_head_timeout: Duration,
    /// Time a client has to send a complete polling POST body.
    pub http_body_timeout: Duration,
    /// Redis URL (`redis://host:port`): join a cluster of ringcast and Node
    /// socket.io nodes (`@socket.io/redis-adapter` 8.x protocol). None = a
    /// single node.
    ///
    /// Several comma-separated URLs are seed nodes of one Redis
    /// (`redis://10.0.0.1:7000,redis://10.0.0.2:7000`; an entry without a
    /// scheme is `redis://` + entry; credentials and database come from the
    /// first). Whether it is a Redis Cluster is detected on connect
    /// (`CLUSTER SLOTS`; refused: a single server): with a cluster, sharded
    /// commands go to the master serving the channel's slot (one
    /// connection per master, `MOVED` / `ASK` / slot migrations followed)
    /// and server counts are summed over the masters, as the Node adapter
    /// does with a node-redis / ioredis cluster client.
    pub redis_url: Option<String>,
    /// With `redis_url`: Redis 7 sharded pub/sub (`SPUBLISH` / `SSUBSCRIBE`)
    /// with the protocol of the adapter's `createShardedAdapter` instead of
    /// the classic adapter's.
    pub redis_sharded: bool,
    /// With `redis_sharded`: the adapter's `subscriptionMode` (`static`,
    /// `dynamic` (default) or `dynamic-private`): which room channels are
    /// SSUBSCRIBEd and where single-room broadcasts are published. Every
    /// node of a cluster must use the same mode.
    pub redis_subscription_mode: SubscriptionMode,
    /// This node's name in a cluster (logs; apps may show it).
    pub node_name: Option<String>,
    /// Channel prefix of the cluster (the adapter's `key`, `socket.io`).
    pub cluster_key: String,
    /// Messages the cluster bridge holds (per queue) while Redis is slow
    /// or unreachable; beyond, messages are dropped and counted.
    pub cluster_buffer: usize,
    /// Most rooms one socket may be in (its own id room and rooms the
    /// server joins on its behalf, `user:<sub>`, not counted); a join past
    /// it is refused with [`crate::shard::quota::JoinError::TooManyRooms`].
    /// 0 = no limit.
    pub max_rooms_per_socket: usize,
    /// Longest room name in bytes for a join or a client's broadcast
    /// ([`crate::shard::quota::JoinError::NameTooLong`]). 0 = no limit.
    pub max_room_name_bytes: usize,
    /// Longest event name in bytes a client may send; longer events are
    /// dropped before any handler. 0 = no limit.
    pub max_event_name_bytes: usize,
    /// Sustained events per second one socket may send (token bucket
    /// refill); over it, events are dropped. 0 = no limit.
    pub client_events_per_second: u32,
    /// Events one socket may send at once (token bucket depth). 0 = no limit.
    pub client_events_burst: u32,
    /// Most open Engine.IO sessions from one IP address, over all shards;
    /// further handshakes get HTTP 429. 0 = no limit.
    pub max_connections_per_ip: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: ([0, 0, 0, 0], 3000).into(),
            shards: 0,
            pin_cores: true,
            path: "/socket.io/".into(),
            engine_paths: Vec::new(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_http_buffer_size: 1_000_000,
            connect_timeout: Duration::from_millis(45_000),
            transports: Transports::default(),
            cors: Cors::Off,
            max_buffered_bytes: 4 << 20,
            connection_state_recovery: None,
            max_http_head_bytes: 8192,
            max_namespaces_per_session: 64,
            max_attachments: 10,
            mesh_capacity: 4096,
            http_head_timeout: Duration::from_secs(10),
            http_body_timeout: Duration::from_secs(30),
            redis_url: None,
            redis_sharded: false,
            redis_subscription_mode: SubscriptionMode::Dynamic,
            node_name: None,
            cluster_key: "socket.io".into(),
            cluster_buffer: 65_536,
            max_rooms_per_socket: 1000,
            max_room_name_bytes: 256,
            max_event_name_bytes: 256,
            client_events_per_second: 1000,
            client_events_burst: 2000,
            max_connections_per_ip: 0,
        }
    }
}

/// Why a [`Config`] was refused. The caller reports it and does not start.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A path must start and end with `/`.
    #[error("path {0:?} must start and end with '/'")]
    BadPath(String),
    /// At least one transport must be enabled.
    #[error("no transport enabled")]
    NoTransport,
    /// A duration or size that must be positive is zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
}

impl Config {
    /// Checks every invariant the runtime relies on and resolves `shards = 0`.
    pub fn validate(mut self) -> Result<Self, ConfigError> {
        for p in std::iter::once(&self.path).chain(&self.engine_paths) {
            if !p.starts_with('/') || !p.ends_with('/') {
                return Err(ConfigError::BadPath(p.clone()));
            }
        }
        if !self.transports.polling && !self.transports.websocket {
            return Err(ConfigError::NoTransport);
        }
        let positive = [
            ("ping_interval", self.ping_interval.is_zero()),
            ("ping_timeout", self.ping_timeout.is_zero()),
            ("upgrade_timeout", self.upgrade_timeout.is_zero()),
            ("connect_timeout", self.connect_timeout.is_zero()),
            ("max_http_buffer_size", self.max_http_buffer_size == 0),
            ("max_buffered_bytes", self.max_buffered_bytes == 0),
            ("mesh_capacity", self.mesh_capacity == 0),
            ("cluster_buffer", self.cluster_buffer == 0),
            ("http_head_timeout", self.http_head_timeout.is_zero()),
            ("http_body_timeout", self.http_body_timeout.is_zero()),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, zero)| *zero) {
            return Err(ConfigError::Zero(name));
        }
        if self.shards == 0 {
            self.shards = std::thread::available_parallelism().map_or(1, |n| n.get());
        }
        Ok(self)
    }
}

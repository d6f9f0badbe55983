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
/// The other `cors` options are [`Config::cors_credentials`] and
/// [`Config::cors_max_age`]; `runtime::response` writes the headers as the
/// `cors` npm package does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cors {
    /// No CORS headers are sent (Node's default when `cors` is unset).
    #[default]
    Off,
    /// Any origin: `Access-Control-Allow-Origin: *` (Node's `origin: "*"`).
    /// With [`Config::cors_credentials`] the request's origin is echoed
    /// instead, as browsers refuse `*` on a credentialed request.
    Any,
    /// Any origin, echoed with `Vary: Origin` (Node's `origin: true`).
    Reflect,
    /// Only these exact origins (e.g. `https://example.com`), echoed with
    /// `Vary: Origin`; another origin gets no `Access-Control-Allow-Origin`.
    List(Vec<String>),
}

impl Cors {
    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed
    /// (`*` is never returned: [`Cors::Any`] echoes the origin here).
    pub fn allow<'a>(&self, origin: Option<&'a str>) -> Option<&'a str> {
        match (self, origin) {
            (Self::Off, _) | (_, None) => None,
            (Self::Any | Self::Reflect, Some(o)) => Some(o),
            (Self::List(list), Some(o)) => list.iter().any(|a| a == o).then_some(o),
        }
    }
}

/// The cookie's `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax` (engine.io's default).
    Lax,
    /// `SameSite=None` (needs `secure` in browsers).
    None,
}

/// engine.io's `cookie` option: a `Set-Cookie: <name>=<sid>` on the
/// handshake response (polling open or direct websocket `101`), so a load
/// balancer can route a client's later requests by cookie. The defaults are
/// engine.io's (`{name: "io", path: "/", httpOnly: true, sameSite: "lax"}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// Cookie name.
    pub name: String,
    /// `Path` attribute (None: not sent).
    pub path: Option<String>,
    /// `HttpOnly` attribute.
    pub http_only: bool,
    /// `SameSite` attribute (None: not sent).
    pub same_site: Option<SameSite>,
    /// `Secure` attribute.
    pub secure: bool,
    /// `Domain` attribute.
    pub domain: Option<String>,
    /// `Max-Age` attribute (whole seconds).
    pub max_age: Option<Duration>,
}

impl Default for Cookie {
    fn default() -> Self {
        Self {
            name: "io".into(),
            path: Some("/".into()),
            http_only: true,
            same_site: Some(SameSite::Lax),
            secure: false,
            domain: None,
            max_age: None,
        }
    }
}

impl Cookie {
    /// The `Set-Cookie` value for session `sid`, attributes in the order of
    /// the `cookie` npm package: `io=<sid>; Path=/; HttpOnly; SameSite=Lax`.
    pub fn header_value(&self, sid: &str) -> String {
        let mut v = format!("{}={sid}", self.name);
        if let Some(age) = self.max_age {
            v.push_str(&format!("; Max-Age={}", age.as_secs()));
        }
        if let Some(d) = &self.domain {
            v.push_str(&format!("; Domain={d}"));
        }
        if let Some(p) = &self.path {
            v.push_str(&format!("; Path={p}"));
        }
        if self.http_only {
            v.push_str("; HttpOnly");
        }
        if self.secure {
            v.push_str("; Secure");
        }
        match self.same_site {
            Some(SameSite::Strict) => v.push_str("; SameSite=Strict"),
            Some(SameSite::Lax) => v.push_str("; SameSite=Lax"),
            Some(SameSite::None) => v.push_str("; SameSite=None"),
            None => {}
        }
        v
    }

    fn is_valid(&self) -> bool {
        // RFC 6265: the name is an HTTP token; attribute values hold no
        // `;`, control characters or spaces that would end the header.
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
        };
        let value = |s: &Option<String>| {
            s.as_deref()
                .is_none_or(|s| s.bytes().all(|b| b.is_ascii_graphic() && b != b';'))
        };
        token(&self.name) && value(&self.path) && value(&self.domain)
    }
}

/// What an [`AllowRequest`] hook sees of a handshake request.
#[derive(Debug)]
pub struct HandshakeRequest<'a> {
    /// The parsed request head (method, path, query, headers, origin).
    pub head: &'a ringcast_proto::http::RequestHead,
    /// The client's address, when the socket still has one.
    pub address: Option<std::net::IpAddr>,
}

impl<'a> HandshakeRequest<'a> {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.head
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The decoded query parameter `key`.
    pub fn query(&self, key: &str) -> Option<String> {
        self.head.query.get(key)
    }
}

/// The hook's answer: `Err(None)` refuses with Node's `Forbidden`,
/// `Err(Some(message))` with that message.
pub type AllowResult = Result<(), Option<String>>;

/// What an asynchronous [`AllowRequest`] hook receives: the handshake
/// request, owned, so the future may keep it across `.await`s.
#[derive(Debug, Clone)]
pub struct OwnedHandshakeRequest {
    /// The parsed request head (method, path, query, headers, origin).
    pub head: ringcast_proto::http::RequestHead,
    /// The client's address, when the socket still has one.
    pub address: Option<std::net::IpAddr>,
}

impl OwnedHandshakeRequest {
    /// The borrowed view a synchronous hook sees.
    pub fn as_request(&self) -> HandshakeRequest<'_> {
        HandshakeRequest {
            head: &self.head,
            address: self.address,
        }
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.as_request().header(name)
    }

    /// The decoded query parameter `key`.
    pub fn query(&self, key: &str) -> Option<String> {
        self.as_request().query(key)
    }
}

/// The future an asynchronous [`AllowRequest`] hook returns: it runs on the
/// shard that accepted the request, so it need not be `Send`.
pub type AllowFuture = std::pin::Pin<Box<dyn std::future::Future<Output = AllowResult>>>;

type SyncHook = dyn Fn(&HandshakeRequest<'_>) -> AllowResult + Send + Sync;
type AsyncHook = dyn Fn(OwnedHandshakeRequest) -> AllowFuture + Send + Sync;

/// Node's `allowRequest(req, callback)`: called for every handshake (a
/// request without `sid`, polling or websocket) before a session exists. A
/// refusal is answered as engine.io does: HTTP 403 with
/// `{"code":4,"message":"Forbidden"}` (or the given message) on polling,
/// `403` with the message as `text/html` on a websocket upgrade.
///
/// Synchronous ([`AllowRequest::new`]) or asynchronous
/// ([`AllowRequest::new_async`], e.g. a lookup in a database or a call to
/// another service, as Node's callback allows): while an asynchronous hook
/// runs, only that request waits; the shard serves every other connection.
/// There is no timeout beyond the client's own (Node has none either).
#[derive(Clone)]
pub struct AllowRequest(AllowHook);

#[derive(Clone)]
enum AllowHook {
    Sync(std::sync::Arc<SyncHook>),
    Async(std::sync::Arc<AsyncHook>),
}

impl AllowRequest {
    /// A synchronous hook.
    pub fn new(f: impl Fn(&HandshakeRequest<'_>) -> AllowResult + Send + Sync + 'static) -> Self {
        Self(AllowHook::Sync(std::sync::Arc::new(f)))
    }

    /// An asynchronous hook: `f` returns a future, polled on the shard that
    /// accepted the request.
    pub fn new_async<F>(f: impl Fn(OwnedHandshakeRequest) -> F + Send + Sync + 'static) -> Self
    where
        F: std::future::Future<Output = AllowResult> + 'static,
    {
        Self(AllowHook::Async(std::sync::Arc::new(move |req| {
            Box::pin(f(req)) as AllowFuture
        })))
    }

    /// Runs the hook on `request`.
    pub(crate) async fn check(&self, request: &HandshakeRequest<'_>) -> AllowResult {
        match &self.0 {
            AllowHook::Sync(f) => f(request),
            AllowHook::Async(f) => {
                f(OwnedHandshakeRequest {
                    head: request.head.clone(),
                    address: request.address,
                })
                .await
            }
        }
    }
}

impl std::fmt::Debug for AllowRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            AllowHook::Sync(_) => "AllowRequest(sync)",
            AllowHook::Async(_) => "AllowRequest(async)",
        })
    }
}

/// How Socket.IO packets are encoded on the wire (Node's `parser` option).
///
/// One per server: every session of the server speaks it, so a broadcast is
/// encoded once in that parser's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parser {
    /// The default `socket.io-parser`: text packets plus binary attachments.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: every packet one binary msgpack message
    /// ([`ringcast_proto::socketio::msgpack`]).
    Msgpack,
}

impl std::str::FromStr for Parser {
    type Err = String;

    /// `json` or `msgpack`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Self::Json),
            "msgpack" => Ok(Self::Msgpack),
            other => Err(format!("unknown parser {other:?} (json or msgpack)")),
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
    /// permessage-deflate on websockets (RFC 7692; Node's
    /// `perMessageDeflate`, off by default): offered by a client, it is
    /// accepted with `server_no_context_takeover`, so a broadcast's frame is
    /// compressed once and the same bytes go to every receiver.
    pub per_message_deflate: bool,
    /// Smallest payload compressed (Node's `threshold`, 1024 bytes).
    pub per_message_deflate_threshold: usize,
    /// Let clients keep their compression context between messages (costs
    /// an inflate window, ~40 KiB, per connection); off: every client is
    /// told `client_no_context_takeover` and no zlib state is kept.
    pub per_message_deflate_client_context: bool,
    /// Time a session has to CONNECT to a namespace (Node's `connectTimeout`, 45 s).
    pub connect_timeout: Duration,
    /// Allowed transports (Node's `transports`).
    pub transports: Transports,
    /// Cross-origin policy (Node's `cors`).
    pub cors: Cors,
    /// CORS `credentials`: `Access-Control-Allow-Credentials: true` on every
    /// answer (with [`Cors::Any`] the origin is echoed instead of `*`).
    pub cors_credentials: bool,
    /// CORS `maxAge`: `Access-Control-Max-Age` (seconds) on preflights.
    pub cors_max_age: Option<Duration>,
    /// engine.io's `cookie`: a `Set-Cookie` with the session id on the
    /// handshake (None: no cookie, Node's default).
    pub cookie: Option<Cookie>,
    /// engine.io's `allowRequest`: refuses handshakes (None: all allowed).
    pub allow_request: Option<AllowRequest>,
    /// Socket.IO packet encoding (Node's `parser`): JSON by default.
    pub parser: Parser,
    /// Accept Engine.IO v3 clients (`EIO=3`: socket.io-client 2.x, Socket.IO
    /// protocol v4) on the Socket.IO path, next to v4 ones, sharing rooms
    /// and broadcasts (Node's `allowEIO3`; off: `EIO=3` gets HTTP 400
    /// `Unsupported protocol version`). Raw Engine.IO paths stay v4 only.
    pub allow_eio3: bool,
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
    /// With `redis_url`: forward a request whose session another ringcast
    /// node owns to that node (polling GET / POST proxied, a websocket
    /// upgrade spliced), so nodes need no sticky load balancer
    /// (`docs/decisions.md`, "Forwarding between nodes"). On by default;
    /// every ringcast node of a cluster should agree.
    pub cluster_forward: bool,
    /// The `host:port` other ringcast nodes use to reach this one
    /// (advertised through Redis). None: the listen address, or, when it
    /// is unspecified (`0.0.0.0`), the local IP of the Redis connection
    /// with the listen port.
    pub cluster_advertise: Option<String>,
    /// This node's tag, appended to every sid it creates
    /// (`ringcast_proto::sid::node_tag`). Set by the runtime at start when
    /// forwarding is on; a value given here is replaced.
    pub node_tag: Option<String>,
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
            per_message_deflate: false,
            per_message_deflate_threshold: 1024,
            per_message_deflate_client_context: false,
            connect_timeout: Duration::from_millis(45_000),
            transports: Transports::default(),
            cors: Cors::Off,
            cors_credentials: false,
            cors_max_age: None,
            cookie: None,
            allow_request: None,
            parser: Parser::Json,
            allow_eio3: false,
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
            cluster_forward: true,
            cluster_advertise: None,
            node_tag: None,
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
    /// The cookie's name is not an HTTP token, or its path or domain would
    /// break the `Set-Cookie` header.
    #[error("cookie {0:?}: name must be a token, path and domain without ';' or spaces")]
    BadCookie(String),
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
        // Only the runtime draws a tag (when it starts the node directory).
        self.node_tag = None;
        if let Some(c) = self.cookie.as_ref().filter(|c| !c.is_valid()) {
            return Err(ConfigError::BadCookie(c.name.clone()));
        }
        if self.shards == 0 {
            self.shards = std::thread::available_parallelism().map_or(1, |n| n.get());
        }
        Ok(self)
    }
}

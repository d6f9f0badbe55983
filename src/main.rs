//! The ringcast broker: maps flags, environment and the config file into a
//! [`Config`] and runs the broker application. Nothing else lives here.
//!
//! Every flag below is also a config-file key (`--ping-interval` is
//! `ping_interval`) with no code per flag: `broker::file::load` derives the
//! keys, their types and their checks from this clap definition.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use ringcast::broker::{self, file::ConfigError, Permissions};
use ringcast::runtime::StartError;
use ringcast::{Config, Cors};

/// A Socket.IO v4 broker, thread-per-core on io_uring.
///
/// Clients may `join`/`leave` rooms and `broadcast`/`broadcast_others`
/// (room, event, data) to rooms on namespace `/`. A config file adds
/// token authentication and room permissions (README: "Deploying the
/// broker").
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// TOML config file: every flag as a key (`-` written `_`), plus the
    /// sections [auth], [[namespace]] and [proxy] (`--proxy-X` is [proxy] X).
    /// Flags and environment win over it.
    #[arg(long, env = "RINGCAST_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    host: std::net::IpAddr,
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    port: u16,
    /// Number of shards (executors); 0 = one per core.
    #[arg(long, default_value_t = 0)]
    shards: usize,
    /// Do not pin shards to cores (for machines shared with busy processes).
    #[arg(long)]
    no_pin: bool,
    /// Socket.IO path.
    #[arg(long, default_value = "/socket.io/")]
    path: String,
    /// Ping interval in ms (Node's pingInterval).
    #[arg(long, default_value_t = 25_000)]
    ping_interval: u64,
    /// Ping timeout in ms (Node's pingTimeout).
    #[arg(long, default_value_t = 20_000)]
    ping_timeout: u64,
    /// Upgrade timeout in ms (Node's upgradeTimeout).
    #[arg(long, default_value_t = 10_000)]
    upgrade_timeout: u64,
    /// Connect timeout in ms (Node's connectTimeout).
    #[arg(long, default_value_t = 45_000)]
    connect_timeout: u64,
    /// Largest message / polling body in bytes (Node's maxHttpBufferSize).
    #[arg(long, default_value_t = 1_000_000)]
    max_http_buffer_size: usize,
    /// permessage-deflate on websockets (RFC 7692, Node's perMessageDeflate):
    /// a broadcast is compressed once for every receiver.
    #[arg(long)]
    per_message_deflate: bool,
    /// Smallest websocket payload compressed, in bytes (Node's threshold).
    #[arg(long, default_value_t = 1024)]
    per_message_deflate_threshold: usize,
    /// Let clients keep their compression context (an inflate window per
    /// connection, ~40 KiB); off: client_no_context_takeover.
    #[arg(long)]
    per_message_deflate_client_context: bool,
    /// Bytes queued per connection before it is dropped as a slow consumer.
    #[arg(long, default_value_t = 4 << 20)]
    max_buffered_bytes: usize,
    /// Transports, comma separated: polling,websocket.
    #[arg(long, default_value = "polling,websocket")]
    transports: String,
    /// CORS origins: "*" for any, or a comma separated list; empty = off.
    #[arg(long, default_value = "")]
    cors: String,
    /// CORS: send `Access-Control-Allow-Credentials: true` (with "*" the
    /// origin is echoed, never `*`).
    #[arg(long)]
    cors_credentials: bool,
    /// Socket.IO parser: json (default) or msgpack (socket.io-msgpack-parser).
    #[arg(long, default_value = "json")]
    parser: ringcast::Parser,
    /// Accept Engine.IO v3 clients (socket.io-client 2.x, EIO=3) next to v4
    /// ones, sharing rooms and broadcasts (Node's allowEIO3).
    #[arg(long)]
    allow_eio3: bool,
    /// Redis URL: join a cluster of ringcast and Node socket.io nodes
    /// (`@socket.io/redis-adapter` 8.x protocol), e.g. redis://127.0.0.1:6379.
    /// Comma-separated URLs are seed nodes; a Redis Cluster is detected.
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// With --redis-url: Redis 7 sharded pub/sub (SPUBLISH/SSUBSCRIBE), the
    /// protocol of the adapter's `createShardedAdapter`.
    #[arg(long, env = "REDIS_SHARDED", value_parser = clap::builder::FalseyValueParser::new())]
    redis_sharded: bool,
    /// With --redis-sharded: the adapter's subscriptionMode (static,
    /// dynamic, dynamic-private).
    #[arg(long, env = "REDIS_SUBSCRIPTION_MODE", default_value = "dynamic")]
    redis_subscription_mode: ringcast::config::SubscriptionMode,
    /// This node's name in the cluster.
    #[arg(long, env = "NODE_NAME")]
    name: Option<String>,
    /// With --redis-url: the host:port other ringcast nodes use to reach this
    /// one (requests for its sessions are forwarded there). Default: the
    /// listen address, or the local IP toward Redis when listening on 0.0.0.0.
    #[arg(long, env = "CLUSTER_ADVERTISE")]
    cluster_advertise: Option<String>,
    /// With --redis-url: do not forward requests of other ringcast nodes'
    /// sessions (the load balancer then needs sticky sessions).
    #[arg(long, env = "NO_CLUSTER_FORWARD", value_parser = clap::builder::FalseyValueParser::new())]
    no_cluster_forward: bool,
    /// Refuse `join`/`leave`.
    #[arg(long)]
    no_rooms: bool,
    /// Refuse `broadcast`.
    #[arg(long)]
    no_broadcast: bool,
    /// Refuse `broadcast_others`.
    #[arg(long)]
    no_broadcast_others: bool,
    // Quotas (README "Quotas"; spec broker.md §8): 0 turns one off.
    /// Most rooms one socket may join (its own id room not counted).
    #[arg(long, env = "MAX_ROOMS_PER_SOCKET", default_value_t = 1000)]
    max_rooms_per_socket: usize,
    /// Longest room name in bytes (join and broadcast).
    #[arg(long, env = "MAX_ROOM_NAME_BYTES", default_value_t = 256)]
    max_room_name_bytes: usize,
    /// Longest event name in bytes a client may send.
    #[arg(long, env = "MAX_EVENT_NAME_BYTES", default_value_t = 256)]
    max_event_name_bytes: usize,
    /// Sustained events per second per socket (token bucket refill).
    #[arg(long, env = "CLIENT_EVENTS_PER_SECOND", default_value_t = 1000)]
    client_events_per_second: u32,
    /// Events per socket at once (token bucket depth).
    #[arg(long, env = "CLIENT_EVENTS_BURST", default_value_t = 2000)]
    client_events_burst: u32,
    /// Most open connections from one IP address (HTTP 429 beyond).
    #[arg(long, env = "MAX_CONNECTIONS_PER_IP", default_value_t = 0)]
    max_connections_per_ip: u32,
    /// Connection state recovery: how long a disconnected session and the
    /// packets it may miss are kept, in ms; 0 = off. The broker's JWT check
    /// runs again on a recovery (`skip_middlewares` off).
    #[arg(long, env = "CONNECTION_STATE_RECOVERY_MS", default_value_t = 0)]
    connection_state_recovery_ms: u64,
    /// Most bytes of packets one shard keeps for recovery.
    #[arg(long, env = "RECOVERY_MAX_BYTES", default_value_t = 64 << 20)]
    recovery_max_bytes: usize,
    // The [api] listener (README "HTTP API and metrics"; broker.md §5, §6).
    /// Address of the API listener (/api/*, /metrics, /healthz, /readyz),
    /// e.g. 127.0.0.1:3001; off when unset. File: `[api] listen`.
    #[arg(long, env = "RINGCAST_API_LISTEN")]
    api_listen: Option<std::net::SocketAddr>,
    /// Bearer key required by /api/* (without it they answer 401).
    /// File: `[api] key`.
    #[arg(long, env = "RINGCAST_API_KEY")]
    api_key: Option<String>,
    /// Log format on stderr: `text`, or `json` (one object a line).
    /// Colour codes only when stderr is a terminal. Level: `RUST_LOG`.
    #[arg(long, env = "LOG_FORMAT", default_value = "text")]
    log_format: broker::logs::LogFormat,
    // Backend hooks (README "Backend hooks"; file section [proxy]).
    /// Connect hook: POSTed on every namespace CONNECT (http:// only).
    #[arg(long, env = "PROXY_CONNECT_URL")]
    proxy_connect_url: Option<broker::hooks::HookUrl>,
    /// Event hook: client events other than join/leave/broadcast(_others)
    /// are POSTed here; the reply answers the ack (http:// only).
    #[arg(long, env = "PROXY_EVENT_URL")]
    proxy_event_url: Option<broker::hooks::HookUrl>,
    /// Longest a hook call may take, in ms, before it counts as unavailable.
    #[arg(long, env = "PROXY_TIMEOUT_MS", default_value_t = broker::hooks::DEFAULT_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    proxy_timeout_ms: u64,
}

fn main() {
    let loaded = match broker::file::load::<Args>(std::env::args_os().collect()) {
        Ok(loaded) => loaded,
        Err(ConfigError::Usage(e)) => e.exit(),
        Err(e) => {
            eprintln!("ringcast: {e}");
            std::process::exit(2);
        }
    };
    let a = loaded.args;
    broker::logs::init(a.log_format);
    let transports = ringcast::Transports {
        polling: a.transports.split(',').any(|t| t.trim() == "polling"),
        websocket: a.transports.split(',').any(|t| t.trim() == "websocket"),
    };
    let cors = match a.cors.trim() {
        "" => Cors::Off,
        "*" => Cors::Any,
        list => Cors::List(list.split(',').map(|s| s.trim().to_owned()).collect()),
    };
    let config = Config {
        listen: (a.host, a.port).into(),
        shards: a.shards,
        pin_cores: !a.no_pin,
        path: a.path,
        ping_interval: Duration::from_millis(a.ping_interval),
        ping_timeout: Duration::from_millis(a.ping_timeout),
        upgrade_timeout: Duration::from_millis(a.upgrade_timeout),
        connect_timeout: Duration::from_millis(a.connect_timeout),
        max_http_buffer_size: a.max_http_buffer_size,
        per_message_deflate: a.per_message_deflate,
        per_message_deflate_threshold: a.per_message_deflate_threshold,
        per_message_deflate_client_context: a.per_message_deflate_client_context,
        max_buffered_bytes: a.max_buffered_bytes,
        transports,
        cors,
        cors_credentials: a.cors_credentials,
        parser: a.parser,
        allow_eio3: a.allow_eio3,
        redis_url: a.redis_url,
        redis_sharded: a.redis_sharded,
        redis_subscription_mode: a.redis_subscription_mode,
        node_name: a.name,
        cluster_advertise: a.cluster_advertise,
        cluster_forward: !a.no_cluster_forward,
        max_rooms_per_socket: a.max_rooms_per_socket,
        max_room_name_bytes: a.max_room_name_bytes,
        max_event_name_bytes: a.max_event_name_bytes,
        client_events_per_second: a.client_events_per_second,
        client_events_burst: a.client_events_burst,
        max_connections_per_ip: a.max_connections_per_ip,
        connection_state_recovery: (a.connection_state_recovery_ms > 0).then(|| {
            ringcast::RecoveryConfig {
                max_disconnection_duration: Duration::from_millis(a.connection_state_recovery_ms),
                skip_middlewares: false,
                max_bytes: a.recovery_max_bytes,
                ..Default::default()
            }
        }),
        ..Config::default()
    };
    let perms = Permissions {
        rooms: !a.no_rooms,
        broadcast: !a.no_broadcast,
        broadcast_others: !a.no_broadcast_others,
    };
    let hooks = broker::Hooks::new(
        a.proxy_connect_url,
        a.proxy_event_url,
        Duration::from_millis(a.proxy_timeout_ms),
    )
    .unwrap_or_else(|e| {
        eprintln!("ringcast: {e}");
        std::process::exit(2);
    });
    let mut builder = broker::builder(perms, &loaded.access, hooks);
    if let Some(ui) = loaded.admin_ui {
        builder = ui.install(builder, config.node_name.clone());
    }
    if a.api_listen.is_none() && a.api_key.is_some() {
        tracing::warn!("api key given without an api listen address: no API is served");
    }
    if let Some(listen) = a.api_listen {
        if a.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            eprintln!("ringcast: api key: must not be empty");
            std::process::exit(2);
        }
        match broker::api::Api::bind(listen, a.api_key) {
            Ok(api) => builder = api.attach(builder),
            Err(e) => {
                eprintln!("ringcast: cannot listen on {listen} (api): {e}");
                std::process::exit(1);
            }
        }
    }
    let app = builder.build().into_app();
    match ringcast::runtime::run_until_signal(config, app) {
        Ok(()) => {}
        // A value the flags or the file gave is out of range: a usage
        // error like the file's own (exit code 2, nothing listened).
        Err(e @ StartError::Config(_)) => {
            let from = loaded.file.map(|f| format!("{}: ", f.display()));
            eprintln!("ringcast: {}{e}", from.unwrap_or_default());
            std::process::exit(2);
        }
        Err(e) => {
            eprintln!("ringcast: {e}");
            std::process::exit(1);
        }
    }
}

//! The conformance app (`docs/contracts/conformance-app.md`): what the tests,
//! acceptance checks and peer benchmarks run against.
//!
//! `cargo run --release --example conformance -- --port 3000 [--profile suite|bench] [--shards N]
//! [--parser json|msgpack] [--cors ORIGIN] [--cors-credentials]` (part 2 flags:
//! docs/contracts/conformance-app.md section 7).

use std::time::Duration;

use clap::Parser;
use ringcast::broker;
use ringcast::server::{
    EngineMessage, Event, NamespaceBuilder, NamespaceMatcher, Payload, Refusal, Server, Socket,
};
use ringcast::{Config, Cors};
use serde_json::{json, Value};

#[derive(Debug, Parser)]
struct Args {
    /// Port (all interfaces).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    port: u16,
    /// Timings: `bench` (Socket.IO defaults) or `suite` (official suites).
    #[arg(long, env = "PROFILE", default_value = "bench")]
    profile: String,
    /// Do not pin shards to cores.
    #[arg(long, env = "NO_PIN")]
    no_pin: bool,
    /// Shards; 0 = one per core.
    #[arg(long, env = "SHARDS", default_value_t = 0)]
    shards: usize,
    /// Redis URL: cluster mode (`@socket.io/redis-adapter` 8.x protocol).
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// With --redis-url: Redis 7 sharded pub/sub (`createShardedAdapter`).
    #[arg(long, env = "REDIS_SHARDED", value_parser = clap::builder::FalseyValueParser::new())]
    redis_sharded: bool,
    /// With --redis-sharded: subscriptionMode (static, dynamic, dynamic-private).
    #[arg(long, env = "REDIS_SUBSCRIPTION_MODE", default_value = "dynamic")]
    redis_subscription_mode: ringcast::config::SubscriptionMode,
    /// Node name in a cluster.
    #[arg(long, env = "NODE_NAME")]
    name: Option<String>,
    /// Ping interval in ms (overrides the profile's).
    #[arg(long, env = "PING_INTERVAL")]
    ping_interval: Option<u64>,
    /// Ping timeout in ms (overrides the profile's).
    #[arg(long, env = "PING_TIMEOUT")]
    ping_timeout: Option<u64>,
    /// With --redis-url: host:port other ringcast nodes use to reach this one.
    #[arg(long, env = "CLUSTER_ADVERTISE")]
    cluster_advertise: Option<String>,
    /// With --redis-url: no forwarding between ringcast nodes.
    #[arg(long, env = "NO_CLUSTER_FORWARD", value_parser = clap::builder::FalseyValueParser::new())]
    no_cluster_forward: bool,
    /// Socket.IO parser: json (default) or msgpack (`socket.io-msgpack-parser`,
    /// conformance-app-2.md section 11). An unknown value exits with status 2.
    #[arg(long, default_value = "json")]
    parser: ringcast::Parser,
    /// Accept Engine.IO v3 / socket.io-client 2.x clients (`EIO=3`,
    /// section 12 of part 2; Node's `allowEIO3`).
    #[arg(long, env = "ALLOW_EIO3")]
    allow_eio3: bool,
    /// CORS: only this exact origin, echoed (section 14). Default: any origin, `*`.
    #[arg(long)]
    cors: Option<String>,
    /// CORS: `Access-Control-Allow-Credentials: true` (without --cors: any
    /// origin, echoed).
    #[arg(long)]
    cors_credentials: bool,
    /// permessage-deflate on websockets, threshold 1024 (part 2 section 13).
    #[arg(long, env = "PER_MESSAGE_DEFLATE")]
    per_message_deflate: bool,
    /// Connection state recovery (section 8 of part 2), middlewares skipped.
    #[arg(long, env = "RECOVERY")]
    recovery: bool,
    /// How long a disconnected session is kept, in ms.
    #[arg(long, env = "MAX_DISCONNECTION_DURATION", default_value_t = 120_000)]
    max_disconnection_duration: u64,
}

fn echo(_socket: &Socket, mut ev: Event) {
    if let Some(ack) = ev.take_ack() {
        ack.send(ev.payload);
    }
}

fn emit_auth(socket: &Socket) {
    // "auth" is not a reserved name: the emit cannot be refused.
    let _ = socket.emit("auth", Payload::new().arg(socket.auth().clone()));
}

/// Answers `ack` with `value` when the client asked for one.
fn reply(ev: &mut Event, value: Value) {
    if let Some(ack) = ev.take_ack() {
        ack.send(Payload::new().arg(value));
    }
}

/// `emit_later`(event, delayMs, ...args, ack?) (part 2 section 9): acks
/// `true` at once, then after `delayMs` (clamped to 0..60000) emits `event`
/// with `args` (binary kept) to the sender's session, `io.to(socket.id)`:
/// it reaches the socket wherever it is connected by then (after a
/// recovery, on any node), is stored for it while it is away, and goes
/// nowhere once the session is gone.
fn emit_later(socket: &Socket, mut ev: Event) {
    let Some(event) = ev.str_arg(0).map(str::to_owned) else {
        return reply(&mut ev, Value::Bool(false));
    };
    let ms = ev
        .payload
        .args
        .get(1)
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    // NaN clamps to 0 (`as` saturates), so any number is a valid delay.
    let delay = Duration::from_millis(ms.clamp(0.0, 60_000.0) as u64);
    let target = socket.nsp().to(socket.id());
    reply(&mut ev, Value::Bool(true));
    let mut payload = ev.payload;
    // The attachments stay as they are: placeholders are renumbered when
    // the remaining arguments are encoded.
    let skip = payload.args.len().min(2);
    payload.args.drain(..skip);
    glommio::spawn_local(async move {
        glommio::timer::sleep(delay).await;
        // A reserved name is refused by the emit: nothing is sent.
        let _ = target.emit(&event, payload);
    })
    .detach();
}

/// The extra events of the cluster contract (docs/contracts/redis-cluster.md section 2).
fn cluster_events(ns: &mut NamespaceBuilder, node_name: String) {
    ns.on("fetch_sockets", |socket, mut ev| {
        let room = ev.str_arg(0).unwrap_or_default().to_owned();
        let Some(ack) = ev.take_ack() else { return };
        socket.nsp().within(&room).fetch_sockets(move |r| {
            let v = match r {
                Ok(list) => Value::Array(
                    list.into_iter()
                        .map(|s| json!({"id": s.id, "rooms": s.rooms}))
                        .collect(),
                ),
                Err(e) => json!({"error": e.to_string()}),
            };
            ack.send(Payload::new().arg(v));
        });
    });
    ns.on("sockets_join", |socket, mut ev| {
        if let (Some(room), Some(new)) = (ev.str_arg(0), ev.str_arg(1)) {
            socket.nsp().within(room).sockets_join(new);
        }
        reply(&mut ev, Value::Bool(true));
    });
    ns.on("sockets_leave", |socket, mut ev| {
        if let (Some(room), Some(old)) = (ev.str_arg(0), ev.str_arg(1)) {
            socket.nsp().within(room).sockets_leave(old);
        }
        reply(&mut ev, Value::Bool(true));
    });
    ns.on("disconnect_sockets", |socket, mut ev| {
        if let Some(room) = ev.str_arg(0) {
            socket.nsp().within(room).disconnect_sockets(true);
        }
        reply(&mut ev, Value::Bool(true));
    });
    ns.on("server_side_emit", |socket, mut ev| {
        if let Some(event) = ev.str_arg(0) {
            let data = ev.payload.args.get(1).cloned().unwrap_or(Value::Null);
            if let Err(e) = socket.nsp().server_side_emit(event, data) {
                return reply(&mut ev, json!({"error": e.to_string()}));
            }
        }
        reply(&mut ev, Value::Bool(true));
    });
    ns.on("broadcast_with_ack", |socket, mut ev| {
        let (Some(room), Some(event)) = (ev.str_arg(0), ev.str_arg(1)) else {
            return;
        };
        let (room, event) = (room.to_owned(), event.to_owned());
        if ringcast::server::is_reserved_event(&event) {
            return reply(&mut ev, json!({"error": "reserved event"}));
        }
        let ack = ev.take_ack();
        let payload = ev.payload.keep_arg(2);
        // Checked above: the name is not reserved, so the emit is not refused.
        let _ = socket.nsp().to(&room).emit_with_ack(
            &event,
            payload,
            Duration::from_millis(2000),
            move |r| {
                let (err, replies) = match r {
                    Ok(replies) => (false, replies),
                    Err((_, replies)) => (true, replies),
                };
                // The first argument of every ack, binary kept.
                let mut out = Payload::new();
                let mut responses = Vec::with_capacity(replies.len());
                for rep in replies {
                    let first = rep.args.into_iter().next().unwrap_or(Value::Null);
                    let sub = Payload::from_parts(vec![first], rep.attachments);
                    let (v, atts) = rebase(sub, out.attachments.len());
                    out.attachments.extend(atts);
                    responses.push(v);
                }
                out.args.push(json!({"err": err, "responses": responses}));
                if let Some(ack) = ack {
                    ack.send(out);
                }
            },
        );
    });
    // Documented addition (the contract has no event for it): serverSideEmit
    // with acks. `server_side_emit_with_ack`(event, data, ack) →
    // `io.serverSideEmit(event, data, cb)` (5 s) → ack({err, responses});
    // server-side `ping_ack`(data, cb) → cb({node, data}).
    ns.on("server_side_emit_with_ack", |socket, mut ev| {
        let Some(event) = ev.str_arg(0).map(str::to_owned) else {
            return;
        };
        let data = ev.payload.args.get(1).cloned().unwrap_or(Value::Null);
        if ringcast::server::is_reserved_event(&event) {
            return reply(&mut ev, json!({"error": "reserved event"}));
        }
        let Some(ack) = ev.take_ack() else { return };
        // Checked above: the name is not reserved, so the emit is not refused.
        let _ = socket
            .nsp()
            .server_side_emit_with_ack(&event, data, move |r| match r {
                Ok(responses) => ack.send(json!({"err": false, "responses": responses})),
                Err((_, responses)) => ack.send(json!({"err": true, "responses": responses})),
            });
    });
    // Documented addition: `all_rooms`(ack) → `io.of("/").adapter.allRooms()`.
    ns.on("all_rooms", |socket, mut ev| {
        let Some(ack) = ev.take_ack() else { return };
        socket.nsp().all_rooms(move |r| match r {
            Ok(rooms) => ack.send(json!(rooms)),
            Err(e) => ack.send(json!({"error": e.to_string()})),
        });
    });
    let name = node_name.clone();
    ns.on_server_side("ping_ack", move |mut ev| {
        let data = ev.args.first().cloned().unwrap_or(Value::Null);
        ev.ack(json!({"node": name, "data": data}));
    });
    ns.on_server_side("ping_all", move |ev| {
        let data = ev.args.first().cloned().unwrap_or(Value::Null);
        if let Some(io) = ringcast::server::of("/") {
            // A literal, unreserved name: the emit cannot be refused.
            let _ = io.local().emit(
                "server_side_seen",
                Payload::new().arg(json!({"node": node_name, "data": data})),
            );
        }
    });
}

/// The single argument of `p` with its placeholders renumbered from `base`,
/// and the attachments it references (in placeholder order).
fn rebase(p: Payload, base: usize) -> (Value, Vec<bytes::Bytes>) {
    fn walk(v: &mut Value, atts: &[bytes::Bytes], base: usize, out: &mut Vec<bytes::Bytes>) {
        if let Some(n) = ringcast_proto::socketio::binary::is_placeholder(v) {
            *v = match atts.get(n) {
                Some(b) => {
                    out.push(b.clone());
                    ringcast_proto::socketio::binary::placeholder(base + out.len() - 1)
                }
                None => Value::Null,
            };
            return;
        }
        match v {
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, atts, base, out)),
            Value::Object(o) => o.values_mut().for_each(|x| walk(x, atts, base, out)),
            _ => {}
        }
    }
    let mut v = p.args.into_iter().next().unwrap_or(Value::Null);
    let mut out = Vec::new();
    walk(&mut v, &p.attachments, base, &mut out);
    (v, out)
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let a = Args::parse();
    let node_name = a.name.clone().unwrap_or_default();
    let mut config = Config {
        listen: ([0, 0, 0, 0], a.port).into(),
        shards: a.shards,
        pin_cores: !a.no_pin,
        cors: match &a.cors {
            Some(origin) => Cors::List(vec![origin.clone()]),
            None => Cors::Any,
        },
        cors_credentials: a.cors_credentials,
        parser: a.parser,
        allow_eio3: a.allow_eio3,
        engine_paths: vec!["/engine.io/".into()],
        redis_url: a.redis_url.clone(),
        redis_sharded: a.redis_sharded,
        redis_subscription_mode: a.redis_subscription_mode,
        node_name: a.name.clone(),
        cluster_advertise: a.cluster_advertise.clone(),
        cluster_forward: !a.no_cluster_forward,
        per_message_deflate: a.per_message_deflate,
        // Node's conformance app has no quotas: the suites and the
        // benchmarks (publishers and echo clients far over 1000 events/s)
        // compare like with like. The broker binary keeps them on.
        max_rooms_per_socket: 0,
        max_room_name_bytes: 0,
        max_event_name_bytes: 0,
        client_events_per_second: 0,
        connection_state_recovery: a.recovery.then(|| ringcast::RecoveryConfig {
            max_disconnection_duration: Duration::from_millis(a.max_disconnection_duration),
            skip_middlewares: true,
            ..Default::default()
        }),
        ..Config::default()
    };
    match a.profile.as_str() {
        "suite" => {
            config.ping_interval = Duration::from_millis(300);
            config.ping_timeout = Duration::from_millis(200);
            config.connect_timeout = Duration::from_millis(1000);
        }
        "bench" => {}
        other => {
            eprintln!("conformance: unknown profile {other:?} (suite|bench)");
            std::process::exit(2);
        }
    }
    if let Some(ms) = a.ping_interval {
        config.ping_interval = Duration::from_millis(ms);
    }
    if let Some(ms) = a.ping_timeout {
        config.ping_timeout = Duration::from_millis(ms);
    }
    let app = Server::builder()
        .namespace("/", |ns| {
            ns.on_connect(emit_auth);
            ns.on("join", broker::handle_join);
            ns.on("leave", broker::handle_leave);
            // Node's conformance app never acks broadcasts: drop the ack request.
            ns.on("broadcast", |s, mut ev| {
                drop(ev.take_ack());
                broker::handle_broadcast(s, ev)
            });
            ns.on("broadcast_others", |s, mut ev| {
                drop(ev.take_ack());
                broker::handle_broadcast_others(s, ev)
            });
            ns.on("echo", echo);
            ns.on("emit_later", emit_later);
            ns.on("message-with-ack", echo);
            ns.on("message", |socket, ev| {
                // A literal, unreserved name: the emit cannot be refused.
                let _ = socket.emit("message-back", ev.payload);
            });
            cluster_events(ns, node_name.clone());
        })
        .namespace("/custom", |ns| {
            ns.on_connect(emit_auth);
            ns.on("echo", echo);
        })
        .namespace("/admin", |ns| {
            ns.use_middleware(|req| {
                if req.auth().get("token").and_then(Value::as_str) == Some("secret") {
                    Ok(())
                } else {
                    Err(Refusal::new("unauthorized"))
                }
            });
        })
        // Section 10: children `/dyn-<digits>` accept every connection
        // and handle `echo` as `/` does (no `auth` emission).
        .dynamic_namespace(
            NamespaceMatcher::regex(r"^/dyn-\d+$").expect("a valid literal regex"),
            |ns| {
                ns.on("echo", echo);
            },
        )
        .engine(|socket, msg| match msg {
            EngineMessage::Text(t) => socket.send_text(t.as_bytes()),
            EngineMessage::Binary(b) => socket.send_binary(&b),
        })
        .build()
        .into_app();
    if let Err(e) = ringcast::runtime::run_until_signal(config, app) {
        eprintln!("conformance: {e}");
        std::process::exit(1);
    }
}

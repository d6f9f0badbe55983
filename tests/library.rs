//! The library's application features (issue 10) driven by the real npm
//! `socket.io-client` (tests/js/library/library.test.js) against an app
//! built here, on 2 shards: async middleware and handlers, per-socket data
//! (middleware, handlers, `fetch_sockets`), application state, typed
//! arguments (and malformed ones), acks as futures, `on_any` /
//! `on_any_outgoing` / fallback, serial event order.
//!
//! Needs `tests/js/node_modules`; skipped with a notice when
//! `RINGCAST_E2E=0`.

use std::collections::HashSet;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use ringcast::server::{
    self, BroadcastOperator, Data, EventOrder, Payload, Refusal, Server, Socket,
};
use ringcast::Config;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[path = "common/redis_server.rs"]
mod redis_server;
use redis_server::RedisServer;

/// Per-socket data (Node's `socket.data`): set by middleware, changed by
/// handlers, reported by `fetch_sockets`.
#[derive(Serialize, Clone, Default)]
struct User {
    name: String,
    hits: u64,
    /// Incoming events seen by `on_any`.
    seen: Vec<String>,
    /// Outgoing events seen by `on_any_outgoing`.
    sent: Vec<String>,
    /// Arguments of `mark`, in the order its async handlers started.
    marks: Vec<u64>,
}

/// Application-wide state: named gates async code waits on, and what the
/// middleware observed.
#[derive(Default)]
struct Gates {
    open: Mutex<HashSet<String>>,
    /// Gates whose client went away while its middleware waited.
    closed_seen: Mutex<HashSet<String>>,
    /// Gates whose middleware accepted (just before the verdict).
    accepted: Mutex<HashSet<String>>,
}

impl Gates {
    fn is_open(&self, gate: &str) -> bool {
        self.open.lock().unwrap().contains(gate)
    }
}

#[derive(Default)]
struct Adds(AtomicU64);

#[derive(Deserialize)]
struct Greeting {
    to: String,
    times: u8,
}

/// Waits (polling a glommio timer) until `gate` is open.
async fn wait_gate(gates: &Gates, gate: &str, mut on_closed: impl FnMut()) {
    while !gates.is_open(gate) {
        on_closed();
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
}

fn ack_value(socket_ack: Option<server::AckSender>, v: Value) {
    if let Some(ack) = socket_ack {
        ack.send(Payload::new().arg(v));
    }
}

fn timeout_arg(v: Option<&Value>) -> Option<Duration> {
    v.and_then(Value::as_u64).map(Duration::from_millis)
}

fn replies(list: &[server::AckReply]) -> Vec<Value> {
    list.iter()
        .map(|r| r.args.first().cloned().unwrap_or(Value::Null))
        .collect()
}

async fn ask_room(op: BroadcastOperator, timeout: Duration) -> Value {
    match op.emit_with_ack_async("question", (), timeout) {
        Err(e) => json!({"emit_error": e.to_string()}),
        Ok(f) => match f.await {
            Ok(r) => json!({"ok": true, "replies": replies(&r)}),
            Err((e, r)) => json!({"ok": false, "error": e.to_string(), "replies": replies(&r)}),
        },
    }
}

fn root(ns: &mut server::NamespaceBuilder) {
    // A sync middleware first, then an async one: the chain continues
    // after the future.
    ns.use_middleware(|req| {
        if req.auth().get("refuse_now").is_some() {
            return Err(Refusal::new("refused at once"));
        }
        Ok(())
    });
    ns.use_middleware_async(|req| async move {
        let auth = req.auth().clone();
        if let Some(ms) = auth.get("delay").and_then(Value::as_u64) {
            glommio::timer::sleep(Duration::from_millis(ms)).await;
        }
        if let Some(gate) = auth.get("gate").and_then(Value::as_str) {
            let gates = req.state::<Gates>().expect("Gates registered");
            wait_gate(&gates, gate, || {
                if req.closed() {
                    gates.closed_seen.lock().unwrap().insert(gate.to_owned());
                }
            })
            .await;
            gates.accepted.lock().unwrap().insert(gate.to_owned());
        }
        if auth.get("refuse_later").is_some() {
            return Err(Refusal {
                message: "refused after waiting".into(),
                data: Some(json!({"waited": true})),
            });
        }
        let name = auth["name"].as_str().unwrap_or("anon").to_owned();
        req.set_data(User {
            name,
            ..User::default()
        });
        Ok(())
    });
    ns.on_any(|socket, ev| {
        socket.with_data(|u: &mut User| u.seen.push(ev.name.clone()));
    });
    ns.on_any_outgoing(|socket, event, _payload| {
        socket.with_data(|u: &mut User| u.sent.push(event.to_owned()));
    });
    ns.on_fallback(|_socket, mut ev| {
        let name = ev.name.clone();
        ack_value(ev.take_ack(), json!(format!("unhandled:{name}")));
    });
    ns.on("whoami", |socket, mut ev| {
        socket.with_data(|u: &mut User| u.hits += 1);
        ack_value(ev.take_ack(), socket.data_json());
    });
    ns.on("open_gate", |socket, mut ev| {
        if let (Some(gate), Some(gates)) = (ev.str_arg(0), socket.state::<Gates>()) {
            gates.open.lock().unwrap().insert(gate.to_owned());
        }
        ack_value(ev.take_ack(), json!(true));
    });
    ns.on("gate_status", |socket, mut ev| {
        let gate = ev.str_arg(0).unwrap_or_default().to_owned();
        let gates = socket.state::<Gates>().expect("Gates registered");
        let v = json!({
            "closed_seen": gates.closed_seen.lock().unwrap().contains(&gate),
            "accepted": gates.accepted.lock().unwrap().contains(&gate),
        });
        ack_value(ev.take_ack(), v);
    });
    ns.on_async("slow_echo", |_socket, mut ev| async move {
        let ack = ev.take_ack();
        let ms = ev
            .payload
            .args
            .first()
            .and_then(Value::as_u64)
            .unwrap_or(10);
        glommio::timer::sleep(Duration::from_millis(ms)).await;
        // Every argument back, as one array.
        ack_value(ack, Value::Array(ev.payload.args.into_vec()));
    });
    // Starts in arrival order (the body before the first await runs in
    // that order), then sleeps a decreasing time: finishing order differs.
    ns.on_async("mark", |socket, ev| async move {
        let n = ev.payload.args.first().and_then(Value::as_u64).unwrap_or(0);
        socket.with_data(|u: &mut User| u.marks.push(n));
        glommio::timer::sleep(Duration::from_millis(10_u64.saturating_sub(n))).await;
    });
    ns.on_async("wait_gate", |socket, mut ev| async move {
        let gate = ev.str_arg(0).unwrap_or_default().to_owned();
        let ack = ev.take_ack();
        if let Some(gates) = socket.state::<Gates>() {
            wait_gate(&gates, &gate, || {}).await;
        }
        ack_value(ack, json!("opened"));
    });
    ns.on_typed("add", |socket, d: Data<(i64, i64)>| async move {
        if let Some(adds) = socket.state::<Adds>() {
            adds.0.fetch_add(1, Ordering::Relaxed);
        }
        d.args.0 + d.args.1
    });
    ns.on_typed("greet", |socket, d: Data<Greeting>| async move {
        let from = socket.data::<User>().map(|u| u.name).unwrap_or_default();
        format!("hello {} from {from}", d.args.to).repeat(d.args.times.into())
    });
    ns.on_typed(
        "bin_sizes",
        |_socket, d: Data<(String, Value)>| async move {
            let sizes: Vec<usize> = d.attachments.iter().map(|b| b.len()).collect();
            json!({"label": d.args.0, "sizes": sizes})
        },
    );
    ns.on("counters", |socket, mut ev| {
        let adds = socket.state::<Adds>().map(|a| a.0.load(Ordering::Relaxed));
        let v = json!({"malformed": server::malformed_payloads(), "adds": adds});
        ack_value(ev.take_ack(), v);
    });
    ns.on_async("ask", |socket, mut ev| async move {
        let ack = ev.take_ack();
        let timeout = timeout_arg(ev.payload.args.first());
        let v =
            match socket.emit_with_ack_async("question", Payload::new().arg(1).arg("two"), timeout)
            {
                Err(e) => json!({"emit_error": e.to_string()}),
                Ok(f) => match f.await {
                    Ok(reply) => json!({"ok": true, "reply": reply.args}),
                    Err(e) => json!({"ok": false, "error": e.to_string()}),
                },
            };
        ack_value(ack, v);
    });
    ns.on_async("ask_room", |socket, mut ev| async move {
        let ack = ev.take_ack();
        let room = ev.str_arg(0).unwrap_or_default().to_owned();
        let timeout = timeout_arg(ev.payload.args.get(1)).unwrap_or(Duration::from_secs(2));
        let v = ask_room(socket.nsp().to(&room), timeout).await;
        ack_value(ack, v);
    });
    ns.on("join", |socket, mut ev| {
        let joined = ev.str_arg(0).is_some_and(|room| socket.join(room).is_ok());
        ack_value(ev.take_ack(), json!(joined));
    });
    // The future forms refuse a reserved name before sending anything.
    ns.on_async("emit_reserved_async", |socket, mut ev| async move {
        let name = ev.str_arg(0).unwrap_or_default().to_owned();
        let one = socket
            .emit_with_ack_async(&name, 1u64, None)
            .err()
            .map(|e| e.to_string());
        let all = socket
            .nsp()
            .emit_with_ack_async(&name, 1u64, Duration::from_secs(1))
            .err()
            .map(|e| e.to_string());
        ack_value(ev.take_ack(), json!([one, all]));
    });
    ns.on("fetch", |socket, mut ev| {
        let Some(ack) = ev.take_ack() else { return };
        socket.nsp().fetch_sockets(move |r| {
            let v = match r {
                Ok(list) => Value::Array(
                    list.into_iter()
                        .map(|s| json!({"id": s.id, "data": s.data}))
                        .collect(),
                ),
                Err(e) => json!({"error": e.to_string()}),
            };
            ack.send(Payload::new().arg(v));
        });
    });
    // Server-side events from another node, answered after awaiting.
    ns.on_server_side_async("slow_ping", |mut ev| async move {
        glommio::timer::sleep(Duration::from_millis(5)).await;
        let v = json!({"pong": ev.args});
        ev.ack(v);
    });
    ns.on_async("ping_nodes", |socket, mut ev| async move {
        let ack = ev.take_ack();
        let v = match socket
            .nsp()
            .server_side_emit_with_ack_async("slow_ping", ev.payload)
        {
            Err(e) => json!({"emit_error": e.to_string()}),
            Ok(f) => match f.await {
                Ok(answers) => json!({"ok": true, "answers": answers}),
                Err((e, answers)) => {
                    json!({"ok": false, "error": e.to_string(), "answers": answers})
                }
            },
        };
        ack_value(ack, v);
    });
    ns.on_async("fetch_async", |socket, mut ev| async move {
        let ack = ev.take_ack();
        let v = match socket.nsp().fetch_sockets_async().await {
            Ok(list) => Value::Array(
                list.into_iter()
                    .map(|s| json!({"id": s.id, "data": s.data}))
                    .collect(),
            ),
            Err(e) => json!({"error": e.to_string()}),
        };
        ack_value(ack, v);
    });
    ns.on_disconnect_async(|socket: Socket, reason| async move {
        glommio::timer::sleep(Duration::from_millis(1)).await;
        let name = socket.data::<User>().map(|u| u.name).unwrap_or_default();
        if let Some(gates) = socket.state::<Gates>() {
            // Visible to the test as an open gate named after the socket.
            gates
                .open
                .lock()
                .unwrap()
                .insert(format!("gone:{name}:{}", reason.as_str()));
        }
    });
}

/// Serial order: a slow async handler holds back the socket's next events
/// (sync ones too); the async connect handler runs before any event.
fn serial(ns: &mut server::NamespaceBuilder) {
    ns.event_order(EventOrder::Serial);
    ns.on_connect_async(|socket| async move {
        glommio::timer::sleep(Duration::from_millis(20)).await;
        socket.set_data(vec!["connected".to_owned()]);
    });
    ns.on_async("slow", |socket, ev| async move {
        let ms = ev
            .payload
            .args
            .first()
            .and_then(Value::as_u64)
            .unwrap_or(30);
        glommio::timer::sleep(Duration::from_millis(ms)).await;
        socket.with_data(|log: &mut Vec<String>| log.push(format!("slow{ms}")));
    });
    ns.on("fast", |socket, _ev| {
        socket.with_data(|log: &mut Vec<String>| log.push("fast".to_owned()));
    });
    ns.on("log", |socket, mut ev| {
        ack_value(ev.take_ack(), socket.data_json());
    });
}

fn app() -> std::sync::Arc<dyn ringcast::shard::App> {
    Server::builder()
        .state(Gates::default())
        .state(Adds::default())
        .namespace("/", root)
        .namespace("/serial", serial)
        .build()
        .into_app()
}

#[test]
fn library_features_with_real_client() {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping the client-driven library test");
        return;
    }
    let js = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
    assert!(
        std::path::Path::new(js).join("node_modules").exists(),
        "tests/js/node_modules missing: run scripts/test.sh (it runs npm ci)"
    );
    let config = Config {
        listen: ([127, 0, 0, 1], 0).into(),
        shards: 2,
        ..Config::default()
    };
    let running = ringcast::runtime::start(config, app()).expect("server starts");
    let url = format!("http://{}", running.local_addr());
    for mode in ["websocket", "polling"] {
        let out = Command::new("node")
            .args(["--test", "--test-timeout=20000", "library/"])
            .current_dir(js)
            .env("RINGCAST_URL", &url)
            .env("RINGCAST_TRANSPORTS", mode)
            .output()
            .expect("node runs");
        assert!(
            out.status.success(),
            "library suite failed ({mode}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    running.stop();
    running.join();
}

/// Socket data crosses nodes: each node's `fetch_sockets` reports the
/// other node's sockets with their data, through Redis
/// (`@socket.io/redis-adapter`'s FETCH_SOCKETS response carries `data`).
#[test]
fn socket_data_across_nodes_through_redis() {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping the client-driven library test");
        return;
    }
    let js = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
    let redis = RedisServer::start();
    let node = |shards| {
        let config = Config {
            listen: ([127, 0, 0, 1], 0).into(),
            shards,
            redis_url: Some(format!("redis://127.0.0.1:{}", redis.port)),
            ..Config::default()
        };
        ringcast::runtime::start(config, app()).expect("server starts")
    };
    let (a, b) = (node(2), node(1));
    let out = Command::new("node")
        .args(["--test", "--test-timeout=30000", "library-redis/"])
        .current_dir(js)
        .env("RINGCAST_URL_A", format!("http://{}", a.local_addr()))
        .env("RINGCAST_URL_B", format!("http://{}", b.local_addr()))
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "library-redis suite failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for n in [a, b] {
        n.stop();
        n.join();
    }
}

//! Connection state recovery (issue 13 item 1, conformance part 2 section
//! 8) with the npm `socket.io-client` (tests/js/recovery/recovery.test.js)
//! against a 2-shard server: a transport killed while broadcasts are sent,
//! then recovered (same id, rooms, data, missed packets in order exactly
//! once), whichever shard the reconnect lands on; an expired session
//! failing cleanly; a recovery storm of 2,000 sockets at once. Across
//! nodes (conformance part 2, 8.7): three servers and a `redis-server` of
//! their own (tests/js/recovery/cluster.test.js): a client whose transport
//! dies on node A recovers on node B with what A and B sent meanwhile (an
//! `emit_later` of A included), on A again with Redis on, and fails cleanly
//! when its session expired or Redis stopped.
//!
//! Skipped with a notice when `RINGCAST_E2E=0`.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use ringcast::runtime::Running;
use ringcast::server::{Payload, Server};
use ringcast::{Config, RecoveryConfig};
use serde_json::{json, Value};

fn ack(ev: &mut ringcast::server::Event, v: Value) {
    if let Some(a) = ev.take_ack() {
        a.send(Payload::new().arg(v));
    }
}

fn app() -> std::sync::Arc<dyn ringcast::shard::App> {
    Server::builder()
        .namespace("/", |ns| {
            // Runs on new sessions only (middlewares are skipped on a
            // recovery): data set here must survive one.
            ns.use_middleware(|req| {
                req.set_data(json!({"tag": req.auth().get("tag").cloned()}));
                Ok(())
            });
            ns.on_connect(|s| {
                let _ = s.emit("hello", json!({"recovered": s.recovered()}));
            });
            // Tells the watchers a socket is gone; the session is kept in
            // the same step, so a watcher that sees this can reconnect it.
            ns.on_disconnect(|s, reason| {
                let _ = s
                    .nsp()
                    .to("watchers")
                    .emit("gone", json!([s.id(), reason.as_str()]));
            });
            ns.on("join", |s, mut ev| {
                let room = ev.str_arg(0).unwrap_or_default().to_owned();
                let ok = s.join(&room).is_ok();
                ack(&mut ev, json!(ok));
            });
            // shout(room or "", n): `news` n to the room (all when "").
            ns.on("shout", |s, mut ev| {
                let room = ev.str_arg(0).unwrap_or_default().to_owned();
                let n = ev.payload.args.get(1).cloned().unwrap_or(Value::Null);
                let op = if room.is_empty() {
                    s.nsp()
                } else {
                    s.nsp().to(&room)
                };
                let ok = op.emit("news", n).is_ok();
                ack(&mut ev, json!(ok));
            });
            // emit_later(event, ms, arg): `event` with `arg` to the
            // sender's session (its id room) after `ms`, as the conformance
            // app's section 9 does: it reaches the socket wherever it is
            // connected by then, and is kept for it while it is away.
            ns.on("emit_later", |s, mut ev| {
                let event = ev.str_arg(0).unwrap_or_default().to_owned();
                let ms = ev.payload.args.get(1).and_then(Value::as_u64);
                let arg = ev.payload.args.get(2).cloned().unwrap_or(Value::Null);
                let op = s.nsp().to(s.id());
                // The watchers learn it was fired (tests wait on that).
                let watchers = s.nsp().to("watchers");
                glommio::spawn_local(async move {
                    let ms = ms.unwrap_or(0).min(60_000);
                    glommio::timer::sleep(Duration::from_millis(ms)).await;
                    let _ = op.emit(&event, arg.clone());
                    let _ = watchers.emit("fired", arg);
                })
                .detach();
                ack(&mut ev, json!(true));
            });
            ns.on("whoami", |s, mut ev| {
                let v = json!({
                    "id": s.id(),
                    "recovered": s.recovered(),
                    "rooms": s.rooms(),
                    "data": s.data_json(),
                });
                ack(&mut ev, v);
            });
        })
        .build()
        .into_app()
}

struct Started(Option<Running>);

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            r.stop();
            r.join();
        }
    }
}

fn start(duration: Duration) -> (Started, SocketAddr) {
    start_with(RecoveryConfig {
        max_disconnection_duration: duration,
        ..RecoveryConfig::default()
    })
}

fn start_with(recovery: RecoveryConfig) -> (Started, SocketAddr) {
    start_node(recovery, None)
}

fn start_node(recovery: RecoveryConfig, redis_url: Option<String>) -> (Started, SocketAddr) {
    let config = Config {
        listen: ([127, 0, 0, 1], 0).into(),
        shards: 2,
        connection_state_recovery: Some(recovery),
        redis_url,
        ..Config::default()
    };
    let running = ringcast::runtime::start(config, app()).expect("server starts");
    let addr = running.local_addr();
    (Started(Some(running)), addr)
}

#[test]
fn recovery_with_real_client() {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping the client-driven recovery test");
        return;
    }
    let js = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
    assert!(
        std::path::Path::new(js).join("node_modules").exists(),
        "tests/js/node_modules missing: run scripts/test.sh (it runs npm ci)"
    );
    let (_kept, addr) = start(Duration::from_secs(120));
    // 1 ms: any reconnect finds its session expired.
    let (_short, short) = start(Duration::from_millis(1));
    for mode in ["websocket", "polling"] {
        let env = [
            ("RINGCAST_URL", format!("http://{addr}")),
            ("RINGCAST_SHORT_URL", format!("http://{short}")),
            ("RINGCAST_TRANSPORTS", mode.into()),
        ];
        run_js(js, "recovery/", &env, &format!("recovery suite ({mode})"));
    }
}

/// `node --test` on `tests` (a file or folder under tests/js) with `env`;
/// fails with its output, named `what`.
fn run_js(js: &str, tests: &str, env: &[(&str, String)], what: &str) {
    let out = Command::new("node")
        .args(["--test", "--test-timeout=60000", tests])
        .current_dir(js)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("node runs");
    eprintln!("{what}:\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `redis-server` on a free port, killed when dropped.
struct Redis {
    child: std::process::Child,
    port: u16,
}

impl Redis {
    fn start() -> Self {
        let port = conformance::free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let up = Command::new("redis-cli")
                .args(["-p", &port.to_string(), "PING"])
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"PONG"));
            if up {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "redis-server up");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Recovery across nodes: A and B (2 minutes), S (1 ms), one Redis; the
/// client reaches them through a proxy of its own whose target flips.
#[test]
fn recovery_across_nodes_with_real_client() {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping the cross-node recovery test");
        return;
    }
    let js = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
    let redis = Redis::start();
    let url = Some(format!("redis://127.0.0.1:{}", redis.port));
    let long = |d| RecoveryConfig {
        max_disconnection_duration: d,
        ..RecoveryConfig::default()
    };
    let (_a, a) = start_node(long(Duration::from_secs(120)), url.clone());
    let (_b, b) = start_node(long(Duration::from_secs(120)), url.clone());
    let (_s, s) = start_node(long(Duration::from_millis(1)), url);
    for mode in ["websocket", "polling"] {
        let env = [
            ("RINGCAST_A_URL", format!("http://{a}")),
            ("RINGCAST_B_URL", format!("http://{b}")),
            ("RINGCAST_S_URL", format!("http://{s}")),
            ("RINGCAST_REDIS_PORT", redis.port.to_string()),
            ("RINGCAST_TRANSPORTS", mode.into()),
        ];
        let what = format!("cross-node recovery ({mode})");
        run_js(js, "recovery/cluster.test.js", &env, &what);
    }
}

/// Redis stops while a client is away: the node it reconnects to connects
/// it as new (the bridge's `GETDEL` gets no answer within 2 s), no error.
#[test]
fn recovery_across_nodes_fails_cleanly_without_redis() {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping the Redis-down recovery test");
        return;
    }
    let js = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
    let redis = Redis::start();
    let url = Some(format!("redis://127.0.0.1:{}", redis.port));
    let (_a, a) = start_node(RecoveryConfig::default(), url.clone());
    let (_b, b) = start_node(RecoveryConfig::default(), url);
    let env = [
        ("RINGCAST_A_URL", format!("http://{a}")),
        ("RINGCAST_B_URL", format!("http://{b}")),
        ("RINGCAST_REDIS_PORT", redis.port.to_string()),
        ("RINGCAST_REDIS_DOWN", "1".into()),
    ];
    run_js(js, "recovery/cluster.test.js", &env, "Redis-down recovery");
}

#[path = "common/conformance.rs"]
mod conformance;

/// The conformance app itself with `--recovery --redis-url` on two nodes
/// (part 2 sections 8 and 9): a client dropped on A recovers on B with its
/// `/custom` socket, an `emit_later` A fired meanwhile (binary kept) and
/// both nodes' broadcasts; server-side and client disconnects are not kept
/// (tests/js/recovery/app.test.js).
#[test]
fn conformance_app_recovery_across_nodes() {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping the conformance app's recovery test");
        return;
    }
    let js = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
    let redis = Redis::start();
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let flags = ["--recovery", "--redis-url", &url];
    let (a, b) = (
        conformance::App::start(&flags),
        conformance::App::start(&flags),
    );
    for mode in ["websocket", "polling"] {
        let env = [
            ("RINGCAST_APP_A_URL", a.url()),
            ("RINGCAST_APP_B_URL", b.url()),
            ("RINGCAST_TRANSPORTS", mode.into()),
        ];
        let what = format!("the conformance app's recovery ({mode})");
        run_js(js, "recovery/app.test.js", &env, &what);
    }
}

#[path = "common/raw.rs"]
mod raw;

/// The next text packet, pings answered and skipped.
fn next(ws: &mut raw::Ws) -> String {
    loop {
        let t = ws.recv_text().expect("a packet");
        if t == "2" {
            ws.send_text("3");
            continue;
        }
        return t;
    }
}

/// `(args, offset)` of an EVENT `42[...]` whose last argument is an offset.
fn event(packet: &str) -> (Vec<Value>, String) {
    let body = packet.strip_prefix("42").expect("an EVENT");
    let mut args: Vec<Value> = serde_json::from_str(body).expect("JSON array");
    let offset = args.pop().and_then(|v| v.as_str().map(str::to_owned));
    (args, offset.expect("an offset"))
}

/// Exact packets on the wire: `pid` in the CONNECT reply, an offset on
/// events (not on acks), a raw recovery, and hostile recovery payloads
/// answered as ordinary connections.
#[test]
fn wire_format_and_hostile_payloads() {
    let (_s, addr) = start(Duration::from_secs(120));
    let (mut a, _) = raw::Ws::open(addr);
    a.send_text(r#"40{"tag":"raw"}"#);
    let reply: Value = serde_json::from_str(next(&mut a).strip_prefix("40").unwrap()).unwrap();
    let (sid, pid) = (
        reply["sid"].as_str().unwrap(),
        reply["pid"].as_str().unwrap(),
    );
    assert_ne!(sid, pid);
    let (args, _) = event(&next(&mut a));
    assert_eq!(args, [json!("hello"), json!({"recovered": false})]);
    a.send_text(r#"421["join","r"]"#);
    assert_eq!(next(&mut a), "431[true]");
    // To room r, not to everyone: a broadcast to all is acked once the
    // sender's shard queued it, and may reach the other shard after `w`
    // below connected there (it is then one of "all"; no bug, but not
    // what this test reads).
    a.send_text(r#"422["shout","r",1]"#);
    let (args, last) = event(&next(&mut a));
    assert_eq!(args, [json!("news"), json!(1)]);
    assert_eq!(next(&mut a), "432[true]");

    let (mut w, _) = raw::Ws::open(addr);
    w.send_text("40");
    next(&mut w);
    next(&mut w);
    w.send_text(r#"421["join","watchers"]"#);
    assert_eq!(next(&mut w), "431[true]");
    drop(a);
    let (args, _) = event(&next(&mut w));
    assert_eq!(args[0], json!("gone"));
    assert_eq!(args[1], json!([sid, "transport close"]));
    w.send_text(r#"422["shout","r",2]"#);
    assert_eq!(next(&mut w), "432[true]");

    // Hostile or stale recovery payloads: ordinary new connections.
    let mut gone = Vec::new();
    for auth in [
        json!({"pid": 5, "offset": last}),
        json!({"pid": pid, "offset": "garbage"}),
        json!({"pid": "zz.zz", "offset": last}),
        json!({"pid": "ffff.x", "offset": last}),
        json!({"pid": pid, "offset": ["x"]}),
    ] {
        let (mut h, _) = raw::Ws::open(addr);
        h.send_text(&format!("40{auth}"));
        let r: Value = serde_json::from_str(next(&mut h).strip_prefix("40").unwrap()).unwrap();
        assert_ne!(r["sid"], json!(sid), "{auth}");
        assert_ne!(r["pid"], json!(pid), "{auth}");
        gone.push(r["sid"].clone());
    }
    // A wrong offset consumed the session (ours: a pid is good for one
    // attempt, so offsets cannot be guessed; Node's in-memory store keeps
    // it). Recover a fresh one.
    let (mut b, _) = raw::Ws::open(addr);
    b.send_text("40");
    let reply: Value = serde_json::from_str(next(&mut b).strip_prefix("40").unwrap()).unwrap();
    let (sid, pid) = (
        reply["sid"].as_str().unwrap().to_owned(),
        reply["pid"].as_str().unwrap().to_owned(),
    );
    let (_, last) = event(&next(&mut b));
    drop(b);
    // Every connection above has closed and the watcher heard of each, in
    // whatever order the shards noticed (before the next broadcast is read).
    gone.push(json!(sid));
    while !gone.is_empty() {
        let (args, _) = event(&next(&mut w));
        assert_eq!(args[0], json!("gone"), "{args:?}");
        gone.retain(|s| *s != args[1][0]);
    }
    w.send_text(r#"423["shout","",3]"#);
    let (args, _) = event(&next(&mut w));
    assert_eq!(args, [json!("news"), json!(3)]);
    assert_eq!(next(&mut w), "433[true]");
    let (mut c, _) = raw::Ws::open(addr);
    c.send_text(&format!(
        "40{}",
        json!({"pid": pid, "offset": last, "tag": "again"})
    ));
    let reply: Value = serde_json::from_str(next(&mut c).strip_prefix("40").unwrap()).unwrap();
    assert_eq!(reply, json!({"sid": sid, "pid": pid}));
    // `news` 3 once, from the replay or live: it reaches the session
    // owner's shard when the mesh brings it, which may be after `c`
    // recovered there (then it comes after `hello`).
    let mut got = [event(&next(&mut c)).0, event(&next(&mut c)).0];
    got.sort_by_key(|args| args[0].to_string());
    assert_eq!(
        got,
        [
            vec![json!("hello"), json!({"recovered": true})],
            vec![json!("news"), json!(3)],
        ]
    );
    c.send_text(r#"421["whoami"]"#);
    let me: Value = serde_json::from_str(next(&mut c).strip_prefix("431").unwrap()).unwrap();
    assert_eq!(me[0]["id"], json!(sid));
    assert_eq!(me[0]["data"], json!({"tag": null}));
}

/// `skip_middlewares` off: the middlewares run on a recovery too and their
/// data replaces the kept one; the session is still recovered.
#[test]
fn middlewares_run_when_not_skipped() {
    let (_s, addr) = start_with(RecoveryConfig {
        skip_middlewares: false,
        ..RecoveryConfig::default()
    });
    let (mut w, _) = raw::Ws::open(addr);
    w.send_text("40");
    next(&mut w);
    next(&mut w);
    w.send_text(r#"421["join","watchers"]"#);
    assert_eq!(next(&mut w), "431[true]");
    let (mut b, _) = raw::Ws::open(addr);
    b.send_text(r#"40{"tag":"first"}"#);
    let reply: Value = serde_json::from_str(next(&mut b).strip_prefix("40").unwrap()).unwrap();
    let (_, last) = event(&next(&mut b));
    drop(b);
    loop {
        let (args, _) = event(&next(&mut w));
        if args[0] == json!("gone") && args[1][0] == reply["sid"] {
            break;
        }
    }
    let (mut c, _) = raw::Ws::open(addr);
    let auth = json!({"pid": reply["pid"], "offset": last, "tag": "again"});
    c.send_text(&format!("40{auth}"));
    let again: Value = serde_json::from_str(next(&mut c).strip_prefix("40").unwrap()).unwrap();
    assert_eq!(again, reply);
    let (args, _) = event(&next(&mut c));
    assert_eq!(args, [json!("hello"), json!({"recovered": true})]);
    c.send_text(r#"421["whoami"]"#);
    let me: Value = serde_json::from_str(next(&mut c).strip_prefix("431").unwrap()).unwrap();
    assert_eq!(me[0]["data"], json!({"tag": "again"}));
}

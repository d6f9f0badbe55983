//! The broker's `[api]` listener (spec broker.md §5, §6): the HTTP server
//! API driven with npm socket.io-client clients (tests/js/broker/api.test.js:
//! emit to rooms / except / the whole namespace, join, leave, disconnect,
//! sockets and rooms listed, JSON errors), on one broker with two shards
//! configured by a file, and across two nodes sharing a Redis server this
//! test starts; raw-socket checks of statuses the JS client cannot provoke
//! (413, malformed heads, hostile input); `/metrics` (strict parse, and
//! `promtool check metrics` when installed: Debian's `prometheus` package)
//! moving with the traffic, and a real Prometheus server scraping it and
//! answering a query (skipped without `prometheus`), a slow consumer
//! counted; `/healthz`; `/readyz` following a Redis outage.
//! The client suite is skipped when `RINGCAST_E2E=0`.

mod broker_util;

#[path = "common/raw.rs"]
mod raw;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use broker_util::{assert_passed, broker, free_port, js_dir, wait_listening, Server, TempDir};

const KEY: &str = "test-api-key-0123456789";
const MAX_BODY: usize = 100_000;

/// A broker with `[api]` from a config file, on free ports.
struct Node {
    _server: Server,
    url: String,
    api: u16,
}

/// `[auth]` with anonymous access to everything on `/`: the API suite runs
/// unchanged, and a client with a bad token is refused (counted).
const AUTH: &str = r#"
[auth]
jwt_hs256_secret = "a-secret-nobody-signs-with"
[[namespace]]
name = "/"
anonymous = true
rooms = ["*"]
publish = ["*"]
"#;

fn start_node(dir: &TempDir, name: &str, redis: Option<&str>) -> Node {
    start_node_with(dir, name, redis, "")
}

/// [`start_node`] with more top-level config keys.
fn start_node_with(dir: &TempDir, name: &str, redis: Option<&str>, extra: &str) -> Node {
    let (port, api) = (free_port(), free_port());
    let mut cfg = format!(
        "{extra}\nmax_http_buffer_size = {MAX_BODY}\n[api]\nlisten = \"127.0.0.1:{api}\"\nkey = \"{KEY}\"\n{AUTH}"
    );
    if let Some(url) = redis {
        cfg = format!("redis_url = \"{url}\"\n{cfg}");
    }
    let file = dir.write(&format!("{name}.toml"), &cfg);
    let child = broker()
        .arg("--config")
        .arg(&file)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--shards", "2", "--no-pin"])
        .spawn()
        .expect("broker starts");
    let mut server = Server(child);
    wait_listening(&mut server, port);
    wait_listening(&mut server, api);
    Node {
        _server: server,
        url: format!("http://127.0.0.1:{port}"),
        api,
    }
}

/// One request on a fresh connection; the status and body of the answer.
fn http(port: u16, raw: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("api accepts");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(raw).expect("request written");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn get(port: u16, path: &str) -> (u16, String) {
    http(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

fn post(port: u16, path: &str, key: &str, body: &str) -> (u16, String) {
    http(
        port,
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {key}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

/// The value of sample `series` (name with its labels) in a scrape.
fn sample(metrics: &str, series: &str) -> Option<u64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn scrape(port: u16) -> String {
    let (status, body) = get(port, "/metrics");
    assert_eq!(status, 200, "{body}");
    body
}

/// `promtool check metrics` on a scrape, when promtool is installed.
fn promtool_check(text: &str) {
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool not installed (apt-get install prometheus): check skipped");
        return;
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes()).expect("promtool reads");
    }
    let out = child.wait_with_output().expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_js(js: &str, node: &Node, peer: Option<&Node>) {
    let mut cmd = Command::new("node");
    cmd.args(["--test", "broker/api.test.js"])
        .current_dir(js)
        .env("RINGCAST_URL", &node.url)
        .env("RINGCAST_API_URL", format!("http://127.0.0.1:{}", node.api))
        .env("RINGCAST_API_KEY", KEY);
    if let Some(peer) = peer {
        cmd.env("RINGCAST_PEER_URL", &peer.url);
    }
    let out = cmd.output().expect("node runs");
    assert_passed("tests/js/broker/api.test.js", &out);
}

#[test]
fn api_with_real_clients_and_metrics_follow() {
    let dir = TempDir::new("api");
    let node = start_node(&dir, "one", None);
    let before = scrape(node.api);
    promtool_check(&before);
    assert_eq!(
        sample(&before, "ringcast_build_info{version=\"0.1.0\"}"),
        Some(1)
    );
    assert_eq!(sample(&before, "ringcast_redis_connected"), Some(0));
    // Every operator series is exposed from the start (a missing one fails).
    for series in [
        "ringcast_received_bytes_total",
        "ringcast_sent_bytes_total",
        "ringcast_packets_received_total{type=\"event\"}",
        "ringcast_packets_received_total{type=\"binary_ack\"}",
        "ringcast_packets_received_total{type=\"pong\"}",
        "ringcast_broadcasts_total{origin=\"local\"}",
        "ringcast_broadcast_receivers_total",
        "ringcast_acks_pending{kind=\"socket\"}",
        "ringcast_acks_pending{kind=\"broadcast\"}",
        "ringcast_ack_timeouts_total",
        "ringcast_disconnects_total{reason=\"ping_timeout\"}",
        "ringcast_disconnects_total{reason=\"slow_consumer\"}",
        "ringcast_disconnects_total{reason=\"transport_close\"}",
        "ringcast_handoffs_total",
        "ringcast_cluster_dropped_total{where=\"from_shards\"}",
        "ringcast_redis_reconnects_total",
    ] {
        assert!(sample(&before, series).is_some(), "{series} missing");
    }
    let Some(js) = js_dir() else { return };
    run_js(js, &node, None);
    let after = scrape(node.api);
    promtool_check(&after);
    let moved = |name: &str| {
        let (b, a) = (sample(&before, name), sample(&after, name));
        assert!(a > b, "{name}: {b:?} -> {a:?}");
    };
    moved("ringcast_connections_total");
    moved("ringcast_events_received_total");
    moved("ringcast_deliveries_total");
    moved("ringcast_auth_failures_total{reason=\"invalid\"}");
    moved("ringcast_received_bytes_total");
    moved("ringcast_sent_bytes_total");
    moved("ringcast_packets_received_total{type=\"connect\"}");
    moved("ringcast_packets_received_total{type=\"event\"}");
    moved("ringcast_packets_received_total{type=\"message\"}");
    moved("ringcast_broadcasts_total{origin=\"local\"}");
    moved("ringcast_broadcast_receivers_total");
    assert!(sample(
        &after,
        "ringcast_api_requests_total{path=\"/api/emit\",code=\"200\"}"
    )
    .is_some_and(|n| n > 0));
    assert!(sample(
        &after,
        "ringcast_api_requests_total{path=\"/api/emit\",code=\"401\"}"
    )
    .is_some_and(|n| n > 0));
}

#[test]
fn statuses_and_hostile_input() {
    let dir = TempDir::new("api-raw");
    let node = start_node(&dir, "raw", None);
    let port = node.api;
    assert_eq!(get(port, "/healthz"), (200, r#"{"status":"ok"}"#.into()));
    assert_eq!(get(port, "/readyz"), (200, r#"{"ready":true}"#.into()));
    assert_eq!(get(port, "/api/rooms").0, 401, "no key");
    assert_eq!(post(port, "/api/emit", "wrong", "{}").0, 401);
    assert_eq!(post(port, "/api/emit", KEY, "{").0, 400);
    assert_eq!(post(port, "/api/emit", KEY, r#"{"event":"x"}"#).0, 200);
    assert_eq!(
        post(
            port,
            "/api/emit",
            KEY,
            r#"{"event":"x","args":[{"_placeholder":true,"num":0}]}"#
        )
        .0,
        400
    );
    // max_room_name_bytes (256 by default) holds for the API too: 400,
    // nothing done, counted as a quota refusal (spec broker.md §8).
    let long = "r".repeat(257);
    for (path, body) in [
        (
            "/api/emit",
            format!(r#"{{"event":"x","rooms":["{long}"]}}"#),
        ),
        (
            "/api/emit",
            format!(r#"{{"event":"x","except":["{long}"]}}"#),
        ),
        (
            "/api/join",
            format!(r#"{{"rooms":["a"],"join":["{long}"]}}"#),
        ),
        (
            "/api/leave",
            format!(r#"{{"rooms":["{long}"],"leave":["a"]}}"#),
        ),
        ("/api/disconnect", format!(r#"{{"rooms":["{long}"]}}"#)),
    ] {
        assert_eq!(
            post(port, path, KEY, &body),
            (400, r#"{"error":"room name too long"}"#.into()),
            "{path}"
        );
    }
    let req = format!(
        "GET /api/sockets?room={long} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {KEY}\r\n\r\n"
    );
    assert_eq!(http(port, req.as_bytes()).0, 400);
    let exact = "r".repeat(256);
    let body = format!(r#"{{"rooms":["a"],"join":["{exact}"]}}"#);
    assert_eq!(post(port, "/api/join", KEY, &body).0, 200, "at the limit");
    assert!(
        sample(
            &scrape(port),
            "ringcast_quota_refusals_total{quota=\"max_room_name_bytes\"}"
        )
        .is_some_and(|n| n >= 6),
        "counted"
    );
    assert_eq!(post(port, "/api/nope", KEY, "{}").0, 404);
    assert_eq!(get(port, "/nope").0, 404);
    assert_eq!(post(port, "/metrics", KEY, "").0, 405);
    // 413: refused from the Content-Length, before any body byte is read.
    let (status, body) = http(
        port,
        format!(
            "POST /api/emit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        )
        .as_bytes(),
    );
    assert_eq!(status, 413, "{body}");
    assert!(body.starts_with("{\"error\":"), "{body}");
    // A chunked body over the limit.
    let mut chunked = format!(
        "POST /api/emit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        MAX_BODY + 10
    )
    .into_bytes();
    chunked.extend(std::iter::repeat_n(b'a', MAX_BODY + 10));
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_eq!(http(port, &chunked).0, 413);
    // Malformed heads: a JSON error, never a crash.
    assert_eq!(http(port, b"\x00\x01garbage\r\n\r\n").0, 400);
    assert_eq!(http(port, b"GET / HTTP/1.1\r\n\r\n").0, 400, "no Host");
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert_eq!(http(port, huge.as_bytes()).0, 431);
    // Keep-alive: two requests on one connection, both answered.
    let (_, both) = http(
        port,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(both.matches("\"ok\"").count(), 2, "{both}");
    // Still serving after all that.
    assert_eq!(get(port, "/healthz").0, 200);
}

/// A `redis-server` on a free port, killed on drop.
struct Redis(Child, u16);

impl Redis {
    fn start() -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self(child, port)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.1)
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `path` until it answers `status` (the condition, not a pause).
fn until_status(port: u16, path: &str, status: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, body) = get(port, path);
        if s == status {
            return body;
        }
        assert!(Instant::now() < deadline, "{path} stayed {s}: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn cluster_wide_and_readiness_follow_redis() {
    let mut redis = Redis::start();
    let dir = TempDir::new("api-redis");
    let a = start_node(&dir, "a", Some(&redis.url()));
    let b = start_node(&dir, "b", Some(&redis.url()));
    until_status(a.api, "/readyz", 200);
    until_status(b.api, "/readyz", 200);
    let m = scrape(a.api);
    assert_eq!(sample(&m, "ringcast_redis_connected"), Some(1));
    assert_eq!(sample(&m, "ringcast_redis_configured"), Some(1));
    if let Some(js) = js_dir() {
        run_js(js, &a, Some(&b));
    }
    redis.kill();
    let body = until_status(a.api, "/readyz", 503);
    assert!(body.contains("redis"), "{body}");
    assert_eq!(get(a.api, "/healthz").0, 200, "alive while not ready");
    let m = scrape(a.api);
    promtool_check(&m);
    assert_eq!(sample(&m, "ringcast_redis_connected"), Some(0));
    assert!(sample(&m, "ringcast_redis_reconnects_total").is_some_and(|n| n >= 1));
}

/// A real Prometheus server (Debian's `prometheus`, when installed) scrapes
/// the `[api]` listener and answers a query for `ringcast_connections`.
#[test]
fn prometheus_scrapes_and_answers_a_query() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("prometheus not installed (apt-get install prometheus): test skipped");
        return;
    }
    let dir = TempDir::new("api-prom");
    let node = start_node(&dir, "scraped", None);
    let web = free_port();
    let cfg = dir.write(
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ringcast\n    static_configs:\n      - targets: [\"127.0.0.1:{}\"]\n",
            node.api
        ),
    );
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus runs");
    let mut prom = Server(child);
    wait_listening(&mut prom, web);
    // Waits on the condition: the first scrape stored a sample.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get(web, "/api/v1/query?query=ringcast_connections");
        if status == 200 && body.contains("\"transport\":\"websocket\"") {
            assert!(
                body.contains("\"__name__\":\"ringcast_connections\""),
                "{body}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no sample scraped: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, up) = get(web, "/api/v1/query?query=up");
    assert!(up.contains("\"value\":[") && up.contains("\"1\"]"), "{up}");
}

/// A client that stops reading is closed as a slow consumer once its queue
/// passes `max_buffered_bytes`, and `/metrics` counts it.
#[test]
fn slow_consumer_is_counted() {
    let dir = TempDir::new("api-slow");
    let node = start_node_with(&dir, "slow", None, "max_buffered_bytes = 65536");
    let addr: std::net::SocketAddr = node.url["http://".len()..].parse().expect("address");
    let (mut ws, open) = raw::Ws::open(addr);
    assert!(open.starts_with('0'), "{open}");
    ws.send_text("40");
    let connected = ws.recv_text().expect("CONNECT reply");
    assert!(connected.starts_with("40"), "{connected}");
    // From now on the client reads nothing: the kernel buffers fill, then
    // the server's queue, then the server closes it.
    let chunk = "x".repeat(MAX_BODY - 100);
    let body = format!(r#"{{"event":"big","args":["{chunk}"]}}"#);
    let slow = "ringcast_slow_consumer_disconnects_total";
    for sent in 0.. {
        assert_eq!(post(node.api, "/api/emit", KEY, &body).0, 200);
        if sample(&scrape(node.api), slow).is_some_and(|n| n >= 1) {
            break;
        }
        assert!(sent < 2000, "never closed as a slow consumer");
    }
    // Counted with the close, on the same shard, before the scrape saw it.
    let reason = "ringcast_disconnects_total{reason=\"slow_consumer\"}";
    assert!(sample(&scrape(node.api), reason).is_some_and(|n| n >= 1));
    drop(ws);
}

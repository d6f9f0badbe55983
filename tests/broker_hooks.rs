//! Backend hooks (`[proxy]`, spec broker.md §4) against a real backend: a
//! small HTTP/1.1 server started here (std::net, a thread per connection,
//! keep-alive) that answers per scenario, and the broker binary driven by
//! npm socket.io-client (tests/js/broker/hooks.test.js) and python-socketio
//! (tests/python/test_broker_hooks.py).
//!
//! Brokers:
//! - A (`--shards 1`, so every client shares one shard): `[auth]` with
//!   `/` anonymous and rooms/publish `public:*`; connect and event hooks on
//!   the backend, timeout 10 s.
//! - B (open, no config file but flags): connect hook on a port where
//!   nothing listens.
//! - C (open): hooks on the backend's `/hang/...` paths, which never
//!   answer, timeout 300 ms.
//!
//! The "slow backend" scenario is ordered by conditions, not time: the
//! backend holds the slow CONNECT until another client's event
//! (`after-slow`) arrives, and that event's reply waits until the slow
//! CONNECT is being held. Skipped when `RINGCAST_E2E=0`.

mod broker_util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};

use broker_util::{
    assert_passed, broker, free_port, js_dir, venv_python, wait_listening, Server, TempDir,
};
use serde_json::{json, Value};

const SECRET: &str = "hooks-test-secret-of-some-length";

const CONFIG_A: &str = r#"
[auth]
jwt_hs256_secret = "SECRET"

[[namespace]]
name = "/"
anonymous = true
rooms = ["public:*"]
publish = ["public:*"]

[[namespace]]
name = "/chat"
anonymous = true
rooms = ["chat:*"]
publish = ["chat:*"]

[proxy]
connect_url = "http://127.0.0.1:BACKEND/ringcast/connect"
event_url = "http://127.0.0.1:BACKEND/ringcast/event"
timeout_ms = 10000

[api]
listen = "127.0.0.1:API"
key = "hooks-api-key"
"#;

/// What the backend's slow scenario waits on.
#[derive(Default)]
struct Slow {
    /// Slow CONNECTs being held now.
    held: usize,
    /// An `after-slow` event arrived: release the held CONNECTs.
    released: bool,
    /// The `sid` of every CONNECT the backend accepted: the event hook's
    /// `sid` must be one of them (the socket's id, not the engine's).
    connect_sids: std::collections::HashSet<String>,
    /// `hold` events being held now, and whether `release-events` came.
    held_events: usize,
    events_released: bool,
    /// `note` events received (sent without an ack).
    notes: Vec<Value>,
}

type Shared = Arc<(Mutex<Slow>, Condvar)>;

/// Starts the backend; returns its port.
fn backend() -> u16 {
    // Invariant: binding port 0 on loopback succeeds on any test machine.
    let listener = TcpListener::bind("127.0.0.1:0").expect("backend binds");
    let port = listener.local_addr().expect("bound").port();
    let shared: Shared = Arc::default();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let shared = shared.clone();
            std::thread::spawn(move || serve(conn, &shared));
        }
    });
    port
}

/// Answers requests on one keep-alive connection until it closes.
fn serve(conn: TcpStream, shared: &Shared) {
    let mut reader = BufReader::new(conn.try_clone().expect("socket clones"));
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("").to_owned();
        let mut length = 0;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        // Answers, then closes the connection without saying so: the
        // broker's pooled connection is stale on its next call.
        let close_after = body["event"] == "close-after";
        let reply = match path.as_str() {
            "/ringcast/connect" => on_connect(&body, shared),
            "/ringcast/event" => on_event(&body, shared),
            // Never answers (the broker's timeout ends the call).
            _ => loop {
                std::thread::park();
            },
        };
        if out.write_all(&reply).is_err() || close_after {
            return;
        }
    }
}

fn response(status: u16, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Checks the CONNECT body's shape; the refusal reason names what is wrong.
fn check_connect_body(body: &Value) -> Result<(), String> {
    let is_str = |k: &str| body.get(k).is_some_and(Value::is_string);
    for k in ["sid", "nsp", "address"] {
        if !is_str(k) {
            return Err(format!("bad body: {k}"));
        }
    }
    for k in ["auth", "headers", "query"] {
        if !body.get(k).is_some_and(Value::is_object) {
            return Err(format!("bad body: {k}"));
        }
    }
    if !body["headers"]["host"].is_string() || body["query"]["EIO"] != "4" {
        return Err("bad body: headers.host or query.EIO".into());
    }
    if !(body["user"].is_null() || body["user"].is_string()) {
        return Err("bad body: user".into());
    }
    Ok(())
}

fn on_connect(body: &Value, shared: &Shared) -> Vec<u8> {
    if let Err(e) = check_connect_body(body) {
        return response(400, &json!({ "error": e }).to_string());
    }
    if let Some(sid) = body["sid"].as_str() {
        let (lock, _) = &**shared;
        let mut s = lock.lock().expect("not poisoned");
        s.connect_sids.insert(sid.to_owned());
    }
    match body["auth"]["scenario"].as_str().unwrap_or("") {
        "accept" => {
            // The client's own query reaches the backend, decoded.
            if body["query"]["who"] != "a b" {
                return response(400, r#"{"error":"bad body: query.who"}"#);
            }
            let reply = json!({
                "user": "alice",
                "join": ["hooked:room"],
                "rooms": ["extra:*"],
                "publish": ["extra:*", "hooked:*", "user:*"],
                "data": {"plan": "pro"},
                "ignored": true,
            });
            response(200, &reply.to_string())
        }
        // The token's sub is the hook's `user`.
        "token" if body["user"] == "tok-user" => response(200, "{}"),
        "token" => response(400, r#"{"error":"wrong user"}"#),
        "refuse" => response(403, r#"{"error":"banned"}"#),
        "deny" => response(401, "no"),
        "malformed" => response(200, "{\"join\": \"not a list\"}"),
        // Never answers (the broker's timeout ends the call).
        "hang-connect" => loop {
            std::thread::park();
        },
        "slow" => {
            let (lock, cv) = &**shared;
            let mut s = lock.lock().expect("not poisoned");
            s.held += 1;
            cv.notify_all();
            while !s.released {
                s = cv.wait(s).expect("not poisoned");
            }
            s.held -= 1;
            response(200, r#"{"user":"slowpoke"}"#)
        }
        _ => response(200, ""),
    }
}

fn on_event(body: &Value, shared: &Shared) -> Vec<u8> {
    let event = body["event"].as_str().unwrap_or("");
    match event {
        "echo" => {
            let seen = body["sid"].as_str().is_some_and(|sid| {
                let (lock, _) = &**shared;
                lock.lock()
                    .expect("not poisoned")
                    .connect_sids
                    .contains(sid)
            });
            let ack = json!({"ack": {
                "args": body["args"], "user": body["user"], "nsp": body["nsp"],
                "sid": body["sid"], "sid_seen_at_connect": seen,
            }});
            response(200, &ack.to_string())
        }
        "chunked" => {
            let text = r#"{"ack":"chunked ok"}"#;
            let (a, b) = text.split_at(7);
            format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
                a.len(),
                b.len()
            )
            .into_bytes()
        }
        "fail" => response(500, r#"{"ack":"not this"}"#),
        "close-after" => response(200, r#"{"ack":"closing"}"#),
        "garbage" => response(200, "<html>"),
        "after-slow" => {
            let (lock, cv) = &**shared;
            let mut s = lock.lock().expect("not poisoned");
            // Wait until the slow CONNECT is being held, then release it.
            while s.held == 0 {
                s = cv.wait(s).expect("not poisoned");
            }
            s.released = true;
            cv.notify_all();
            response(200, r#"{"ack":"released a held connect"}"#)
        }
        // Held until another socket's `release-events` arrives.
        "hold" => {
            let (lock, cv) = &**shared;
            let mut s = lock.lock().expect("not poisoned");
            s.held_events += 1;
            cv.notify_all();
            while !s.events_released {
                s = cv.wait(s).expect("not poisoned");
            }
            response(200, r#"{"ack":"held, then released"}"#)
        }
        "release-events" => {
            let (lock, cv) = &**shared;
            let mut s = lock.lock().expect("not poisoned");
            while s.held_events == 0 {
                s = cv.wait(s).expect("not poisoned");
            }
            s.events_released = true;
            cv.notify_all();
            response(200, r#"{"ack":"released a held event"}"#)
        }
        "note" => {
            let (lock, _) = &**shared;
            lock.lock()
                .expect("not poisoned")
                .notes
                .push(body["args"].clone());
            response(200, r#"{"ack":null}"#)
        }
        "notes" => {
            let (lock, _) = &**shared;
            let notes = lock.lock().expect("not poisoned").notes.clone();
            response(200, &json!({ "ack": notes }).to_string())
        }
        _ => response(200, r#"{"ack":null}"#),
    }
}

/// Starts a broker with `args` on a free port.
fn start(args: &[&str]) -> (Server, String) {
    let port = free_port();
    let child = broker()
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--no-pin",
        ])
        .args(args)
        .spawn()
        .expect("broker starts");
    let mut server = Server(child);
    wait_listening(&mut server, port);
    (server, format!("http://127.0.0.1:{port}"))
}

#[test]
fn hooks_with_real_clients() {
    let Some(js) = js_dir() else { return };
    let port = backend().to_string();
    let dir = TempDir::new("hooks");
    let api = free_port();
    let config = CONFIG_A
        .replace("SECRET", SECRET)
        .replace("BACKEND", &port)
        .replace("API", &api.to_string());
    let config = dir.write("ringcast.toml", &config);
    let config = config.to_str().expect("temp paths are UTF-8");
    let (mut a, url_a) = start(&["--config", config, "--shards", "1"]);
    wait_listening(&mut a, api);
    let dead = format!("http://127.0.0.1:{}/connect", free_port());
    let (_b, url_b) = start(&["--shards", "2", "--proxy-connect-url", &dead]);
    let hang = format!("http://127.0.0.1:{port}/hang");
    let (_c, url_c) = start(&[
        "--shards",
        "2",
        "--proxy-connect-url",
        &format!("http://127.0.0.1:{port}/ringcast/connect"),
        "--proxy-event-url",
        &hang,
        "--proxy-timeout-ms",
        "300",
    ]);

    let out = Command::new("node")
        .args(["--test", "--test-timeout=60000", "broker/hooks.test.js"])
        .current_dir(js)
        .env("RINGCAST_URL", &url_a)
        .env("RINGCAST_API_URL", format!("http://127.0.0.1:{api}"))
        .env("RINGCAST_DOWN_URL", &url_b)
        .env("RINGCAST_HANG_URL", &url_c)
        .env("RINGCAST_JWT_SECRET", SECRET)
        .output()
        .expect("node runs");
    assert_passed("socket.io-client hooks suite", &out);
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));

    let out = Command::new(venv_python())
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/test_broker_hooks.py"
        ))
        .env("RINGCAST_URL", &url_a)
        .env("RINGCAST_DOWN_URL", &url_b)
        .env("RINGCAST_HOOKS", "1")
        .output()
        .expect("pytest runs");
    assert_passed("python-socketio hooks suite", &out);
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
}

/// A config file's `[proxy]` is checked like any flag: a bad URL stops the
/// start with exit code 2 naming the key.
#[test]
fn bad_proxy_settings_stop_the_start() {
    let dir = TempDir::new("hooks-bad");
    for (text, key) in [
        (
            "[proxy]\nconnect_url = \"https://x/\"\n",
            "proxy.connect_url",
        ),
        ("[proxy]\ntimeout_ms = 0\n", "proxy.timeout_ms"),
        ("[proxy]\nevent = \"http://x/\"\n", "proxy.event"),
    ] {
        let config = dir.write("bad.toml", text);
        let out = broker()
            .args(["--port", &free_port().to_string(), "--config"])
            .arg(&config)
            .output()
            .expect("broker runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(&format!(": {key}: ")), "{text}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

//! socket.io completeness, issue 13 items 3 and 6 (conformance-app-2.md
//! sections 11 and 14), with real clients and raw HTTP:
//!
//! * `--parser msgpack`: the conformance example driven by socket.io-client
//!   with `socket.io-msgpack-parser` over websocket and polling
//!   (tests/js/completeness/msgpack.test.js); an unknown parser exits 2.
//! * `--cors ORIGIN --cors-credentials`: every answer of `/socket.io/`
//!   (preflight, handshake, polling GET and POST, errors) read raw, then
//!   socket.io-client `withCredentials` (cors.test.js); the defaults.
//! * The library's `cookie` and `allow_request`: a server built here, raw
//!   HTTP on both transports, then socket.io-client `withCredentials`
//!   sending the `io` cookie back (cookie.test.js).
//!
//! Needs `tests/js/node_modules`; skipped with a notice when
//! `RINGCAST_E2E=0`.

#[path = "common/conformance.rs"]
mod conformance;
#[path = "common/raw.rs"]
mod raw;
use conformance::{conformance_bin, free_port, App};
use raw::Response;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ringcast::server::{Event, Server, Socket};
use ringcast::{AllowRequest, Config, Cookie};

const ORIGIN: &str = "https://app.example.test";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn skip() -> bool {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping");
        return true;
    }
    assert!(
        root().join("tests/js/node_modules").exists(),
        "tests/js/node_modules missing: run scripts/test.sh (it runs npm ci)"
    );
    false
}

/// One request on a fresh connection (see [`raw::request`]).
fn request(addr: SocketAddr, req: &str) -> Response {
    raw::request(addr, req, b"")
}

fn get(addr: SocketAddr, path: &str, extra: &str) -> Response {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n"),
    )
}

fn post(addr: SocketAddr, path: &str, extra: &str, body: &str) -> Response {
    request(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

const WS_HEADERS: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

fn ws_open(addr: SocketAddr, query: &str) -> Response {
    request(
        addr,
        &format!("GET /socket.io/?EIO=4&transport=websocket{query} HTTP/1.1\r\nHost: localhost\r\n{WS_HEADERS}\r\n"),
    )
}

fn sid_of(open: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_str(open.trim_start_matches('0')).expect("open packet");
    json["sid"].as_str().expect("sid").to_owned()
}

fn run_node(file: &str, url: &str) {
    let out = Command::new("node")
        .args([
            "--test",
            "--test-timeout=20000",
            &format!("completeness/{file}"),
        ])
        .current_dir(root().join("tests/js"))
        .env("RINGCAST_URL", url)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{file} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn msgpack_parser_with_real_clients() {
    if skip() {
        return;
    }
    let app = App::start(&["--parser", "msgpack"]);
    // Over polling the server's CONNECT reply is one binary message, `b<base64>`.
    let open = get(app.addr, "/socket.io/?EIO=4&transport=polling", "");
    let sid = sid_of(&open.text());
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    // {type:0, data:undefined, nsp:"/custom"} as the client sends it.
    let connect = "bg6R0eXBlAKRkYXRh1AAAo25zcKcvY3VzdG9t";
    assert_eq!(post(app.addr, &path, "", connect).status, 200);
    let reply = get(app.addr, &path, "").text();
    assert!(reply.starts_with('b'), "binary CONNECT reply: {reply:?}");
    run_node("msgpack.test.js", &app.url());
    run_python_msgpack(&app.url());
}

/// tests/python/test_msgpack.py (python-socketio, `serializer="msgpack"`)
/// when the venv of tests/run-clients.sh exists with `msgpack` installed.
fn run_python_msgpack(url: &str) {
    let python = root().join("tests/.venv/bin/python");
    let ready = python.exists()
        && Command::new(&python)
            .args(["-c", "import msgpack, socketio"])
            .status()
            .is_ok_and(|s| s.success());
    if !ready {
        eprintln!("tests/.venv without msgpack (pip install -r tests/python/requirements.txt): skipping python-socketio");
        return;
    }
    let out = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/python/test_msgpack.py",
        ])
        .current_dir(root())
        .env("RINGCAST_URL", url)
        .env("RINGCAST_PARSER", "msgpack")
        .output()
        .expect("pytest runs");
    assert!(
        out.status.success(),
        "python-socketio msgpack failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_unknown_parser_exits_with_status_2() {
    let status = Command::new(conformance_bin())
        .args(["--port", &free_port().to_string(), "--parser", "xml"])
        .stderr(Stdio::null())
        .status()
        .expect("runs");
    assert_eq!(status.code(), Some(2));
}

#[test]
fn cors_exact_origin_with_credentials() {
    if skip() {
        return;
    }
    let app = App::start(&["--cors", ORIGIN, "--cors-credentials"]);
    let origin = format!("Origin: {ORIGIN}\r\n");
    let check = |r: &Response, what: &str| {
        assert_eq!(
            r.header("Access-Control-Allow-Origin"),
            Some(ORIGIN),
            "{what}"
        );
        assert_eq!(
            r.header("Access-Control-Allow-Credentials"),
            Some("true"),
            "{what}"
        );
    };

    let pre = request(
        app.addr,
        &format!(
            "OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n{origin}Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type,x-token\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(pre.status, 204);
    check(&pre, "preflight");
    assert_eq!(
        pre.header("Access-Control-Allow-Methods"),
        Some("GET,HEAD,PUT,PATCH,POST,DELETE")
    );
    assert_eq!(
        pre.header("Access-Control-Allow-Headers"),
        Some("content-type,x-token")
    );
    assert_eq!(
        pre.header("Vary"),
        Some("Origin, Access-Control-Request-Headers")
    );

    let open = get(app.addr, "/socket.io/?EIO=4&transport=polling", &origin);
    assert_eq!(open.status, 200);
    check(&open, "handshake");
    assert_eq!(open.header("Vary"), Some("Origin"));
    let sid = sid_of(&open.text());
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let p = post(app.addr, &path, &origin, "40");
    assert_eq!(p.status, 200);
    check(&p, "polling POST");
    let g = get(app.addr, &path, &origin);
    assert_eq!(g.status, 200);
    check(&g, "polling GET");
    let err = get(
        app.addr,
        "/socket.io/?EIO=4&transport=polling&sid=nope",
        &origin,
    );
    assert_eq!(err.status, 400);
    check(&err, "error");
    let ws = ws_open(app.addr, "");
    assert_eq!(ws.status, 101);

    // Another origin: no Allow-Origin, but Node still sends the credentials header.
    let other = get(
        app.addr,
        "/socket.io/?EIO=4&transport=polling",
        "Origin: https://evil.example.test\r\n",
    );
    assert_eq!(other.status, 200);
    assert_eq!(other.header("Access-Control-Allow-Origin"), None);
    assert_eq!(
        other.header("Access-Control-Allow-Credentials"),
        Some("true")
    );
    assert_eq!(other.header("Vary"), Some("Origin"));

    run_node("cors.test.js", &app.url());
}

#[test]
fn cors_defaults_and_credentials_without_a_list() {
    if skip() {
        return;
    }
    let origin = "Origin: https://any.example.test\r\n";
    let plain = App::start(&[]);
    let r = get(plain.addr, "/socket.io/?EIO=4&transport=polling", origin);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(r.header("Access-Control-Allow-Credentials"), None);
    drop(plain);

    let cred = App::start(&["--cors-credentials"]);
    let r = get(cred.addr, "/socket.io/?EIO=4&transport=polling", origin);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("https://any.example.test"),
        "echoed, never * with credentials"
    );
    assert_eq!(r.header("Access-Control-Allow-Credentials"), Some("true"));
    assert_eq!(r.header("Vary"), Some("Origin"));
}

fn echo(_socket: &Socket, mut ev: Event) {
    if let Some(ack) = ev.take_ack() {
        ack.send(ev.payload);
    }
}

#[test]
fn cookie_and_allow_request() {
    if skip() {
        return;
    }
    let config = Config {
        listen: ([127, 0, 0, 1], 0).into(),
        shards: 2,
        pin_cores: false,
        cookie: Some(Cookie::default()),
        allow_request: Some(AllowRequest::new(|req| {
            match req.query("deny").as_deref() {
                None => Ok(()),
                Some("1") => Err(None),
                Some(m) => Err(Some(format!(
                    "{m} from {}",
                    req.header("x-who").unwrap_or("?")
                ))),
            }
        })),
        ..Config::default()
    };
    let app = Server::builder()
        .namespace("/", |ns| {
            ns.on("echo", echo);
        })
        .build()
        .into_app();
    let running = ringcast::runtime::start(config, app).expect("server starts");
    let addr = running.local_addr();

    let open = get(addr, "/socket.io/?EIO=4&transport=polling", "");
    let sid = sid_of(&open.text());
    assert_eq!(
        open.header("Set-Cookie"),
        Some(format!("io={sid}; Path=/; HttpOnly; SameSite=Lax").as_str())
    );
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let later = post(addr, &path, &format!("Cookie: io={sid}\r\n"), "40");
    assert_eq!(later.status, 200);
    assert_eq!(
        later.header("Set-Cookie"),
        None,
        "only the handshake sets it"
    );

    let ws = ws_open(addr, "");
    assert_eq!(ws.status, 101);
    let cookie = ws.header("Set-Cookie").expect("cookie on the 101");
    assert!(
        cookie.starts_with("io=") && cookie.ends_with("; Path=/; HttpOnly; SameSite=Lax"),
        "{cookie}"
    );

    let denied = get(addr, "/socket.io/?EIO=4&transport=polling&deny=1", "");
    assert_eq!(denied.status, 403);
    assert_eq!(denied.text(), r#"{"code":4,"message":"Forbidden"}"#);
    assert_eq!(denied.header("Set-Cookie"), None);
    let custom = get(
        addr,
        "/socket.io/?EIO=4&transport=polling&deny=banned",
        "X-Who: eve\r\n",
    );
    assert_eq!(custom.status, 403);
    assert_eq!(custom.text(), r#"{"code":4,"message":"banned from eve"}"#);
    let ws_denied = ws_open(addr, "&deny=1");
    assert_eq!(ws_denied.status, 403);
    assert_eq!(ws_denied.text(), "Forbidden");

    run_node("cookie.test.js", &format!("http://{addr}"));
    running.stop();
    running.join();
}

/// An asynchronous `allow_request` (Node's callback form): a handshake
/// whose hook is still waiting does not hold back another one on the same
/// shard, and its verdict, once given, is answered as the synchronous one.
#[test]
fn async_allow_request() {
    if skip() {
        return;
    }
    static RELEASE: AtomicBool = AtomicBool::new(false);
    static HELD: AtomicBool = AtomicBool::new(false);
    let config = Config {
        listen: ([127, 0, 0, 1], 0).into(),
        shards: 1,
        pin_cores: false,
        allow_request: Some(AllowRequest::new_async(|req| async move {
            if req.query("hold").is_some() {
                HELD.store(true, Ordering::SeqCst);
                // Waits on the test's signal (a condition, not a duration).
                while !RELEASE.load(Ordering::SeqCst) {
                    glommio::timer::sleep(Duration::from_millis(2)).await;
                }
                return Err(Some(format!(
                    "held for {}",
                    req.header("x-who").unwrap_or("?")
                )));
            }
            Ok(())
        })),
        ..Config::default()
    };
    let app = Server::builder()
        .namespace("/", |ns| {
            ns.on("echo", echo);
        })
        .build()
        .into_app();
    let running = ringcast::runtime::start(config, app).expect("server starts");
    let addr = running.local_addr();

    let held = std::thread::spawn(move || {
        get(
            addr,
            "/socket.io/?EIO=4&transport=polling&hold=1",
            "X-Who: eve\r\n",
        )
    });
    while !HELD.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    // The same shard answers another handshake while the hook waits.
    let open = get(addr, "/socket.io/?EIO=4&transport=polling", "");
    assert_eq!(open.status, 200);
    assert!(open.text().starts_with("0{"), "{}", open.text());
    assert!(!held.is_finished(), "the held handshake waits for its hook");
    RELEASE.store(true, Ordering::SeqCst);
    let held = held.join().expect("request thread");
    assert_eq!(held.status, 403);
    assert_eq!(held.text(), r#"{"code":4,"message":"held for eve"}"#);
    running.stop();
    running.join();
}

/// The broker's config-file key `parser` (derived from `--parser`): a
/// msgpack CONNECT over polling is answered in msgpack; a bad value exits 2.
#[test]
fn broker_parser_key() {
    let dir = std::env::temp_dir().join(format!("ringcast-h12-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "parser = \"xml\"\n").expect("write");
    let status = Command::new(env!("CARGO_BIN_EXE_ringcast"))
        .arg("--config")
        .arg(&bad)
        .stderr(Stdio::null())
        .status()
        .expect("runs");
    assert_eq!(status.code(), Some(2));

    let good = dir.join("good.toml");
    std::fs::write(&good, "parser = \"msgpack\"\nshards = 1\nno_pin = true\n").expect("write");
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_ringcast"))
        .arg("--config")
        .arg(&good)
        .args(["--port", &port.to_string(), "--host", "127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("broker starts");
    let app = App {
        child,
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
    };
    app.wait_ready();
    let sid = sid_of(&get(app.addr, "/socket.io/?EIO=4&transport=polling", "").text());
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    // {type:0, nsp:"/"}
    assert_eq!(
        post(app.addr, &path, "", "bgqR0eXBlAKNuc3ChLw==").status,
        200
    );
    let reply = get(app.addr, &path, "").text();
    assert!(reply.starts_with('b'), "binary CONNECT reply: {reply:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// CORS with credentials where it is enforced: headless Chromium, a page
/// from the configured origin connects `withCredentials` over polling, a
/// page from another origin is refused by the browser.
#[test]
fn cors_credentials_in_a_browser() {
    if skip() {
        return;
    }
    if !Path::new("/usr/bin/chromium").exists() && std::env::var_os("CHROMIUM").is_none() {
        eprintln!("no chromium: skipping the browser CORS test");
        return;
    }
    let page_port = free_port();
    let origin = format!("http://127.0.0.1:{page_port}");
    let app = App::start(&["--cors", &origin, "--cors-credentials"]);
    let out = Command::new("node")
        .arg("completeness/browser-cors.js")
        .current_dir(root().join("tests/js"))
        .env("RINGCAST_URL", app.url())
        .env("PAGE_PORT", page_port.to_string())
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "browser CORS failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

//! The broker binary with a config file: JWT connection tokens (HS256,
//! RS256, ES256; missing / invalid / expired; expiry while connected) and
//! room permissions (exact, trailing `*`, `{sub}`, namespace-level,
//! anonymous and unlisted namespaces, private socket-id rooms), driven by
//! npm socket.io-client (tests/js/broker/access.test.js) and python-socketio
//! (tests/python/test_broker_access.py) against one broker with two shards.
//! Keys are generated for the run with Node's crypto; tokens are signed by
//! the clients' side, independently of the broker's `jsonwebtoken`.
//! Skipped when `RINGCAST_E2E=0`.

mod broker_util;

#[path = "common/raw.rs"]
mod raw;

use std::process::Command;

use broker_util::{assert_passed, js_dir, start, venv_python, TempDir};

const SECRET: &str = "a-test-secret-of-some-length";

const CONFIG: &str = r#"
# The config tests/js/broker/access.test.js and tests/python/test_broker_access.py expect.
ping_interval = 25000

[auth]
jwt_hs256_secret = "SECRET"
jwt_rs256_public_key_file = "rs256.pub"   # relative to this file
jwt_es256_public_key_file = "es256.pub"
jwt_issuer = "ringcast-tests"
jwt_audience = "ringcast"

[[namespace]]
name = "/"
rooms = ["lobby", "public:*"]
publish = ["lobby"]

[[namespace]]
name = "/open"
anonymous = true
rooms = ["public:*"]
publish = ["public:*"]

[[namespace]]
name = "/wild"
anonymous = true
rooms = ["*"]
publish = ["*"]
"#;

#[test]
fn tokens_and_permissions_with_real_clients() {
    let Some(js) = js_dir() else { return };
    let dir = TempDir::new("access");
    let keys = Command::new("node")
        .args(["broker/jwt.js", "keys"])
        .arg(dir.path())
        .current_dir(js)
        .output()
        .expect("node runs");
    assert_passed("key generation", &keys);
    let config = dir.write("ringcast.toml", &CONFIG.replace("SECRET", SECRET));
    let config = config.to_str().expect("temp paths are UTF-8");
    let (_server, url) = start(&["--config", config]);

    let out = Command::new("node")
        .args(["--test", "--test-timeout=60000", "broker/access.test.js"])
        .current_dir(js)
        .env("RINGCAST_URL", &url)
        .env("RINGCAST_JWT_SECRET", SECRET)
        .env("RINGCAST_KEYS_DIR", dir.path())
        .output()
        .expect("node runs");
    assert_passed("socket.io-client access suite", &out);

    let out = Command::new(venv_python())
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/test_broker_access.py"
        ))
        .env("RINGCAST_URL", &url)
        .env("RINGCAST_JWT_SECRET", SECRET)
        .output()
        .expect("pytest runs");
    assert_passed("python-socketio access suite", &out);
}

/// `[[namespace]]` without `[auth]`: no tokens (one sent is ignored), deny by
/// default outside the namespace's patterns, unlisted namespaces refused,
/// `/` present even when not listed. Raw frames: the exact acks on the wire.
#[test]
fn namespaces_without_auth_deny_by_default() {
    let dir = TempDir::new("access-noauth");
    let config = dir.write(
        "ringcast.toml",
        "[[namespace]]\nname = \"/chat\"\nrooms = [\"room:*\", \"user:{sub}\"]\npublish = [\"room:news\"]\n",
    );
    let (_server, url) = start(&["--config", config.to_str().expect("temp paths are UTF-8")]);
    let addr = url
        .trim_start_matches("http://")
        .parse()
        .expect("a socket address");
    let (mut ws, _) = raw::Ws::open(addr);
    ws.send_text("40/chat,{\"token\":\"ignored\"}");
    let connected = ws.recv_text().expect("CONNECT answer");
    assert!(connected.starts_with("40/chat,{\"sid\":"), "{connected}");
    let exchange = |ws: &mut raw::Ws, send: &str| {
        ws.send_text(send);
        ws.recv_text().expect("an answer")
    };
    assert_eq!(
        exchange(&mut ws, "42/chat,1[\"join\",\"room:a\"]"),
        "43/chat,1[true]"
    );
    assert_eq!(
        exchange(&mut ws, "42/chat,2[\"join\",\"lobby\"]"),
        "43/chat,2[{\"error\":\"forbidden\"}]"
    );
    // {sub} never matches without a subject.
    assert_eq!(
        exchange(&mut ws, "42/chat,3[\"join\",\"user:\"]"),
        "43/chat,3[{\"error\":\"forbidden\"}]"
    );
    assert_eq!(
        exchange(&mut ws, "42/chat,4[\"broadcast\",\"room:a\",\"ev\",1]"),
        "43/chat,4[{\"error\":\"forbidden\"}]"
    );
    assert_eq!(
        exchange(&mut ws, "42/chat,5[\"join\",7]"),
        "43/chat,5[{\"error\":\"bad request\"}]"
    );
    assert_eq!(
        exchange(&mut ws, "42/chat,6[\"join\",\"room:news\"]"),
        "43/chat,6[true]"
    );
    ws.send_text("42/chat,7[\"broadcast\",\"room:news\",\"ev\",1]");
    let mut got = vec![ws.recv_text().expect("event"), ws.recv_text().expect("ack")];
    got.sort();
    assert_eq!(got, ["42/chat,[\"ev\",1]", "43/chat,7[true]"]);
    // Not listed: refused. "/" exists, with no patterns.
    assert_eq!(
        exchange(&mut ws, "40/other,"),
        "44/other,{\"message\":\"Invalid namespace\"}"
    );
    assert!(exchange(&mut ws, "40").starts_with("40{\"sid\":"));
    assert_eq!(
        exchange(&mut ws, "421[\"join\",\"room:a\"]"),
        "431[{\"error\":\"forbidden\"}]"
    );
}

/// The refusal's exact wire form, and a second namespace on the same
/// Engine.IO session still connecting after it.
#[test]
fn refusal_wire_form() {
    let dir = TempDir::new("access-wire");
    let config = dir.write(
        "ringcast.toml",
        "[auth]\njwt_hs256_secret = \"k\"\n[[namespace]]\nname = \"/pub\"\nanonymous = true\n",
    );
    let (_server, url) = start(&["--config", config.to_str().expect("temp paths are UTF-8")]);
    let addr = url
        .trim_start_matches("http://")
        .parse()
        .expect("a socket address");
    let (mut ws, _) = raw::Ws::open(addr);
    let mut exchange = |send: &str| {
        ws.send_text(send);
        ws.recv_text().expect("an answer")
    };
    assert_eq!(
        exchange("40"),
        r#"44{"message":"unauthorized","data":{"reason":"missing"}}"#
    );
    assert_eq!(
        exchange(r#"40{"token":"x.y.z"}"#),
        r#"44{"message":"unauthorized","data":{"reason":"invalid"}}"#
    );
    assert!(exchange("40/pub,").starts_with(r#"40/pub,{"sid":"#));
}

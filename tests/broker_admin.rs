//! `@socket.io/admin-ui` 0.5 against the broker (spec broker.md §7): the
//! dashboard's protocol spoken by the npm socket.io-client
//! (tests/js/admin/), with a plain password and with a bcrypt hash as the
//! Node server takes it, two nodes sharing Redis, and the official
//! dashboard page (`ui/dist`) in headless Chromium. Skipped when
//! `RINGCAST_E2E=0`.

mod broker_util;

#[path = "common/redis_server.rs"]
mod redis_server;

use std::process::Command;

use broker_util::{assert_passed, js_dir, start, TempDir};
use redis_server::RedisServer;

fn run_suite(url: &str, namespace: &str, password: &str) {
    let Some(js) = js_dir() else { return };
    let out = Command::new("node")
        .args(["--test", "admin/admin.test.js"])
        .current_dir(js)
        .env("RINGCAST_URL", url)
        .env("ADMIN_NAMESPACE", namespace)
        .env("ADMIN_USER", "ops")
        .env("ADMIN_PASSWORD", password)
        .output()
        .expect("node runs");
    assert_passed("admin-ui suite", &out);
}

#[test]
fn admin_ui_with_a_plain_password() {
    let dir = TempDir::new("admin-plain");
    let config = dir.write(
        "ringcast.toml",
        "[admin_ui]\nusername = \"ops\"\npassword = \"correct horse\"\n",
    );
    let (_server, url) = start(&["--config", &config.to_string_lossy()]);
    run_suite(&url, "/admin", "correct horse");
}

/// `mode = "production"` and `readonly = true` (Node's `instrument`
/// options), each against its own broker (tests/js/admin/modes.test.js).
#[test]
fn admin_ui_production_mode_and_readonly() {
    for (name, extra) in [
        ("production", "mode = \"production\"\n"),
        ("readonly", "readonly = true\n"),
    ] {
        let dir = TempDir::new(&format!("admin-{name}"));
        let config = dir.write(
            "ringcast.toml",
            &format!("[admin_ui]\nusername = \"ops\"\npassword = \"pw\"\n{extra}"),
        );
        let (_server, url) = start(&["--config", &config.to_string_lossy()]);
        let Some(js) = js_dir() else { return };
        let out = Command::new("node")
            .args(["--test", "admin/modes.test.js"])
            .current_dir(js)
            .env("RINGCAST_URL", &url)
            .env("ADMIN_USER", "ops")
            .env("ADMIN_PASSWORD", "pw")
            .env("ADMIN_MODE", name)
            .output()
            .expect("node runs");
        assert_passed(&format!("admin-ui {name}"), &out);
    }
}

#[test]
fn admin_ui_with_a_bcrypt_hash_and_guarded_namespaces() {
    // Invariant: hashing with a valid cost succeeds.
    let hash = bcrypt::hash("battery staple", 4).expect("bcrypt hashes");
    let dir = TempDir::new("admin-bcrypt");
    let config = dir.write(
        "ringcast.toml",
        &format!(
            "[auth]\njwt_hs256_secret = \"k\"\n[[namespace]]\nname = \"/\"\nanonymous = true\nrooms = [\"*\"]\n\
             [admin_ui]\nnamespace = \"/dash\"\nusername = \"ops\"\npassword_bcrypt = \"{hash}\"\n"
        ),
    );
    let (_server, url) = start(&["--config", &config.to_string_lossy()]);
    run_suite(&url, "/dash", "battery staple");
}

#[test]
fn admin_ui_with_two_nodes_on_redis() {
    let Some(js) = js_dir() else { return };
    let redis = RedisServer::start();
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let dir = TempDir::new("admin-redis");
    let config = dir.write(
        "ringcast.toml",
        "[admin_ui]\nusername = \"ops\"\npassword = \"pw\"\n",
    );
    let config = config.to_string_lossy();
    let (_a, url_a) = start(&["--config", &config, "--redis-url", &url, "--name", "node-a"]);
    let (_b, url_b) = start(&["--config", &config, "--redis-url", &url, "--name", "node-b"]);
    let out = Command::new("node")
        .args(["--test", "admin/cluster.test.js"])
        .current_dir(js)
        .env("RINGCAST_URL", &url_a)
        .env("RINGCAST_URL_B", &url_b)
        .env("ADMIN_USER", "ops")
        .env("ADMIN_PASSWORD", "pw")
        .output()
        .expect("node runs");
    assert_passed("admin-ui cluster suite", &out);
}

#[test]
fn official_dashboard_in_chromium_lists_sockets() {
    let Some(js) = js_dir() else { return };
    let dir = TempDir::new("admin-chromium");
    let config = dir.write(
        "ringcast.toml",
        "[admin_ui]\nusername = \"ops\"\npassword = \"pw\"\n",
    );
    let (_server, url) = start(&["--config", &config.to_string_lossy(), "--name", "ui-node"]);
    let out = Command::new("node")
        .arg("admin/dashboard-ui.js")
        .current_dir(js)
        .env("RINGCAST_URL", &url)
        .env("ADMIN_USER", "ops")
        .env("ADMIN_PASSWORD", "pw")
        .env("ADMIN_SERVER_ID", "ui-node")
        .output()
        .expect("node runs");
    assert_passed("admin-ui dashboard in Chromium", &out);
}

//! examples/tokio_interop.rs: an async handler calling the tokio-based
//! `redis` client through a tokio runtime on its own threads, driven by the
//! real npm `socket.io-client` (tests/js/tokio/visit.test.js) against a
//! `redis-server` this test starts, on 2 shards.
//!
//! Needs `redis-server` and `tests/js/node_modules`; skipped with a notice
//! when `RINGCAST_E2E=0`.

use std::process::Command;

use ringcast::Config;

#[path = "../examples/tokio_interop.rs"]
mod tokio_interop;

#[path = "common/redis_server.rs"]
mod redis_server;
use redis_server::RedisServer;

#[test]
fn handler_calls_tokio_redis_client() {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping the tokio interop test");
        return;
    }
    let js = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
    let redis = RedisServer::start();
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let tokio = tokio_interop::Tokio::start(&url).expect("tokio runtime and Redis connection");
    let config = Config {
        listen: ([127, 0, 0, 1], 0).into(),
        shards: 2,
        ..Config::default()
    };
    let running = ringcast::runtime::start(config, tokio_interop::app(tokio).into_app())
        .expect("server starts");
    let out = Command::new("node")
        .args(["--test", "--test-timeout=20000", "tokio/"])
        .current_dir(js)
        .env("RINGCAST_URL", format!("http://{}", running.local_addr()))
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "tokio suite failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    running.stop();
    running.join();
}

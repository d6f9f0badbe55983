//! The chat example (examples/chat.rs) driven by the real npm
//! `socket.io-client` (tests/js/chat/chat.test.js), in process, on 2 shards:
//! nicknames checked by async middleware and kept in socket state, rooms,
//! typed events and acks, history through the async store, `who` through
//! `fetch_sockets`.
//!
//! Needs `tests/js/node_modules`; skipped with a notice when
//! `RINGCAST_E2E=0`.

use std::process::Command;

use ringcast::Config;

#[path = "../examples/chat.rs"]
mod chat;

#[test]
fn chat_example_with_real_clients() {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping the chat example test");
        return;
    }
    let js = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
    let config = Config {
        listen: ([127, 0, 0, 1], 0).into(),
        shards: 2,
        ..Config::default()
    };
    let running = ringcast::runtime::start(config, chat::app().into_app()).expect("server starts");
    let url = format!("http://{}", running.local_addr());
    let out = Command::new("node")
        .args(["--test", "--test-timeout=20000", "chat/"])
        .current_dir(js)
        .env("RINGCAST_URL", &url)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "chat suite failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    running.stop();
    running.join();
}

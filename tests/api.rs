//! Server-side API features (emit with ack, broadcast with acks across
//! shards, server disconnect, rooms, sending to a socket id) exercised by the
//! real npm `socket.io-client` (tests/js/api/api.test.js) against an app built
//! here with the library, on 2 shards.
//!
//! Needs `tests/js/node_modules` (installed by `scripts/test.sh`); skipped
//! with a notice when `RINGCAST_E2E=0`.

use std::process::Command;
use std::time::Duration;

use ringcast::server::{Payload, Server};
use ringcast::{broker, Config};
use serde_json::{json, Value};

fn app() -> std::sync::Arc<dyn ringcast::shard::App> {
    Server::builder()
        .namespace("/", |ns| {
            ns.on("join", broker::handle_join);
            ns.on("ask_me", |socket, mut ev| {
                let timeout = ev
                    .payload
                    .args
                    .first()
                    .and_then(Value::as_u64)
                    .unwrap_or(500);
                let Some(ack) = ev.take_ack() else { return };
                let _ = socket.emit_with_ack(
                    "question",
                    Payload::new().arg(1).arg("two"),
                    Duration::from_millis(timeout),
                    move |r| match r {
                        Ok(reply) => ack.send(json!({"ok": true, "reply": reply.args})),
                        Err(e) => ack.send(json!({"ok": false, "error": e.to_string()})),
                    },
                );
            });
            ns.on("ask_room", |socket, mut ev| {
                let room = ev.str_arg(0).unwrap_or_default().to_owned();
                let timeout = ev
                    .payload
                    .args
                    .get(1)
                    .and_then(Value::as_u64)
                    .unwrap_or(1000);
                let Some(ack) = ev.take_ack() else { return };
                let first =
                    |r: &ringcast::server::AckReply| r.args.first().cloned().unwrap_or(Value::Null);
                let _ = socket.nsp().to(&room).emit_with_ack(
                    "question",
                    Payload::new(),
                    Duration::from_millis(timeout),
                    move |r| match r {
                        Ok(replies) => {
                            let replies: Vec<Value> = replies.iter().map(first).collect();
                            ack.send(json!({"ok": true, "replies": replies}))
                        }
                        Err((e, replies)) => {
                            let replies: Vec<Value> = replies.iter().map(first).collect();
                            ack.send(
                                json!({"ok": false, "error": e.to_string(), "replies": replies}),
                            )
                        }
                    },
                );
            });
            ns.on("rooms", |socket, mut ev| {
                if let Some(ack) = ev.take_ack() {
                    ack.send(json!(socket.rooms()));
                }
            });
            ns.on("kick", |socket, _| socket.disconnect(false));
            ns.on("volatile_burst", |socket, mut ev| {
                let n = ev
                    .payload
                    .args
                    .first()
                    .and_then(Value::as_u64)
                    .unwrap_or(10);
                for i in 0..n {
                    socket
                        .nsp()
                        .to(socket.id())
                        .volatile()
                        .emit("v", i)
                        .unwrap();
                }
                if let Some(ack) = ev.take_ack() {
                    ack.send(true);
                }
            });
            // Every emit form refuses a reserved name; the ack lists each
            // form's error text (nothing reaches the client).
            ns.on("emit_reserved", |socket, mut ev| {
                let name = ev.str_arg(0).unwrap_or_default().to_owned();
                let errors: Vec<Value> = [
                    socket.emit(&name, 1u64),
                    socket.nsp().emit(&name, 1u64),
                    socket.to(socket.id()).emit(&name, 1u64),
                    socket.emit_with_ack(&name, 1u64, Duration::from_secs(1), |_| {}),
                    socket
                        .nsp()
                        .emit_with_ack(&name, 1u64, Duration::from_secs(1), |_| {}),
                    socket.nsp().server_side_emit(&name, 1u64),
                ]
                .into_iter()
                .map(|r| r.map_or_else(|e| Value::from(e.to_string()), |()| Value::Null))
                .collect();
                if let Some(ack) = ev.take_ack() {
                    ack.send(Value::Array(errors));
                }
            });
            ns.on("to_id", |socket, mut ev| {
                let (Some(id), Some(text)) = (ev.str_arg(0), ev.str_arg(1)) else {
                    return;
                };
                socket.nsp().to(id).emit("direct", text).unwrap();
                if let Some(ack) = ev.take_ack() {
                    ack.send(true);
                }
            });
        })
        .build()
        .into_app()
}

#[test]
fn api_features_with_real_client() {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping the client-driven API test");
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
            .args(["--test", "api/"])
            .current_dir(js)
            .env("RINGCAST_URL", &url)
            .env("RINGCAST_TRANSPORTS", mode)
            .output()
            .expect("node runs");
        assert!(
            out.status.success(),
            "api suite failed ({mode}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    running.stop();
    running.join();
}

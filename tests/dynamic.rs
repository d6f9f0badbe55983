//! Dynamic namespaces (issue 10 item 6, issue 13 item 2): parents matched
//! by a regex and by a predicate over the name and `auth`, children
//! created on their first CONNECT with the parent's middleware and
//! handlers, each its own namespace; the bound on children.
//!
//! `dynamic_namespaces_with_real_client` drives the npm `socket.io-client`
//! (tests/js/dynamic/dynamic.test.js) on 2 shards; the raw tests put exact
//! packets on the wire. The client test is skipped with a notice when
//! `RINGCAST_E2E=0`.

use std::net::SocketAddr;
use std::process::Command;

use ringcast::runtime::Running;
use ringcast::server::{
    self, NamespaceBuilder, NamespaceMatcher, Payload, Refusal, Server, Socket,
};
use ringcast::Config;
use serde_json::{json, Value};

#[path = "common/raw.rs"]
mod raw;
use raw::Ws;

const DYN: &str = r"^/dyn-\d+$";

fn ack(ev: &mut server::Event, v: Value) {
    if let Some(a) = ev.take_ack() {
        a.send(Payload::new().arg(v));
    }
}

/// The handlers every child of both parents runs.
fn child(ns: &mut NamespaceBuilder) {
    ns.use_middleware(|req| {
        if req.auth().get("deny").is_some() {
            Err(Refusal::new("denied by the parent's middleware"))
        } else {
            Ok(())
        }
    });
    ns.on_connect(|socket: &Socket| {
        let _ = socket.emit("hello", Payload::new().arg(socket.namespace()));
    });
    ns.on("echo", |_s, mut ev| {
        if let Some(a) = ev.take_ack() {
            a.send(ev.payload);
        }
    });
    ns.on("whoami", |s, mut ev| ack(&mut ev, json!(s.namespace())));
    // A broadcast to this child only (Node: `socket.nsp.emit`).
    ns.on("shout", |s, mut ev| {
        let ok = s.nsp().emit("news", ev.payload.clone()).is_ok();
        ack(&mut ev, json!(ok));
    });
    ns.on("join", |s, mut ev| {
        let room = ev
            .payload
            .args
            .first()
            .and_then(Value::as_str)
            .unwrap_or("");
        let ok = s.join(room).is_ok();
        ack(&mut ev, json!(ok));
    });
    ns.on("to_room", |s, mut ev| {
        let room = ev
            .payload
            .args
            .first()
            .and_then(Value::as_str)
            .unwrap_or("");
        let ok = s.nsp().to(room).emit("room_news", room).is_ok();
        ack(&mut ev, json!(ok));
    });
    // A broadcast to every child of the regex parent (Node:
    // `parentNamespace.emit`), answering how many children it reached.
    ns.on("shout_all", |_s, mut ev| {
        let n = server::of_parent(DYN).map(|p| {
            let n = p.children();
            let _ = p.emit("all_news", ev.payload.clone());
            n
        });
        ack(&mut ev, json!(n));
    });
}

fn app(max_children: usize) -> std::sync::Arc<dyn ringcast::shard::App> {
    Server::builder()
        .namespace("/", |ns| {
            ns.on("echo", |_s, mut ev| {
                if let Some(a) = ev.take_ack() {
                    a.send(ev.payload);
                }
            });
        })
        .dynamic_namespace(NamespaceMatcher::regex(DYN).unwrap(), child)
        // Node's `io.of((name, auth, next) => next(null, ...))`: a tenant
        // namespace only for the client holding that tenant in `auth`.
        .dynamic_namespace(
            NamespaceMatcher::predicate("tenants", |name, auth| {
                name.strip_prefix("/t-")
                    .is_some_and(|t| auth.get("tenant").and_then(Value::as_str) == Some(t))
            }),
            child,
        )
        // Node's `(name, auth, next)` calling `next` later: an async lookup.
        .dynamic_namespace(
            NamespaceMatcher::predicate_async("lookup", |name, auth| async move {
                glommio::timer::sleep(std::time::Duration::from_millis(2)).await;
                name.starts_with("/async-") && auth.get("ok") == Some(&Value::Bool(true))
            }),
            child,
        )
        .max_dynamic_namespaces(max_children)
        .build()
        .into_app()
}

struct Server2(Option<Running>);

impl Drop for Server2 {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            r.stop();
            r.join();
        }
    }
}

fn start(max_children: usize) -> (Server2, SocketAddr) {
    let config = Config {
        listen: ([127, 0, 0, 1], 0).into(),
        shards: 2,
        ..Config::default()
    };
    let running = ringcast::runtime::start(config, app(max_children)).expect("server starts");
    let addr = running.local_addr();
    (Server2(Some(running)), addr)
}

/// Next text packet that is not a ping.
fn next(ws: &mut Ws) -> String {
    ws.recv_text().expect("a packet")
}

#[test]
fn children_are_created_matched_and_bounded() {
    let (_server, addr) = start(3);
    let (mut ws, open) = Ws::open(addr);
    assert!(open.starts_with("0{\"sid\""), "{open}");

    // A regex child: created, its CONNECT reply names it, the parent's
    // connect handler runs with the child's name.
    ws.send_text("40/dyn-1,");
    let reply = next(&mut ws);
    assert!(reply.starts_with("40/dyn-1,{\"sid\""), "{reply}");
    assert_eq!(next(&mut ws), r#"42/dyn-1,["hello","/dyn-1"]"#);
    ws.send_text(r#"42/dyn-1,7["whoami"]"#);
    assert_eq!(next(&mut ws), r#"43/dyn-1,7["/dyn-1"]"#);

    // Names the regex does not match are refused as unknown namespaces.
    for name in ["/dyn-x", "/dyn-7a", "/xdyn-7", "/dyn-"] {
        ws.send_text(&format!("40{name},"));
        assert_eq!(
            next(&mut ws),
            format!(r#"44{name},{{"message":"Invalid namespace"}}"#)
        );
    }

    // The parent's middleware applies to its children.
    ws.send_text(r#"40/dyn-5,{"deny":true}"#);
    assert_eq!(
        next(&mut ws),
        r#"44/dyn-5,{"message":"denied by the parent's middleware"}"#
    );

    // A predicate child: only with the matching auth.
    ws.send_text(r#"40/t-acme,{"tenant":"other"}"#);
    assert_eq!(
        next(&mut ws),
        r#"44/t-acme,{"message":"Invalid namespace"}"#
    );
    ws.send_text(r#"40/t-acme,{"tenant":"acme"}"#);
    let reply = next(&mut ws);
    assert!(reply.starts_with("40/t-acme,{\"sid\""), "{reply}");
    assert_eq!(next(&mut ws), r#"42/t-acme,["hello","/t-acme"]"#);

    // An async predicate: the CONNECT waits for its answer.
    ws.send_text(r#"40/async-1,{"ok":false}"#);
    assert_eq!(
        next(&mut ws),
        r#"44/async-1,{"message":"Invalid namespace"}"#
    );

    // The limit (3 here: /dyn-1, /dyn-5 created before its middleware
    // refused, as in Node, and /t-acme) is reached: a new child is
    // refused, the existing ones still accept (also from another session).
    ws.send_text("40/dyn-2,");
    assert_eq!(next(&mut ws), r#"44/dyn-2,{"message":"Invalid namespace"}"#);
    let (mut other, _) = Ws::open(addr);
    other.send_text("40/dyn-1,");
    let reply = next(&mut other);
    assert!(reply.starts_with("40/dyn-1,{\"sid\""), "{reply}");
    assert_eq!(next(&mut other), r#"42/dyn-1,["hello","/dyn-1"]"#);

    // Broadcast in /dyn-1 reaches both its sockets, not /t-acme.
    other.send_text(r#"42/dyn-1,1["shout","hi"]"#);
    let mut got = [next(&mut other), next(&mut other)];
    got.sort();
    assert_eq!(got, [r#"42/dyn-1,["news","hi"]"#, r#"43/dyn-1,1[true]"#]);
    assert_eq!(next(&mut ws), r#"42/dyn-1,["news","hi"]"#);
    ws.send_text(r#"42/t-acme,2["echo","after"]"#);
    assert_eq!(next(&mut ws), r#"43/t-acme,2["after"]"#);
}

#[test]
fn async_predicate_creates_children_later() {
    let (_server, addr) = start(8);
    let (mut ws, _) = Ws::open(addr);
    ws.send_text(r#"40/async-1,{"ok":true}"#);
    // `/` meanwhile: served whatever the predicate does (in any order).
    ws.send_text("40");
    let mut got = [next(&mut ws), next(&mut ws), next(&mut ws)];
    got.sort();
    assert!(got[0].starts_with("40/async-1,{\"sid\""), "{got:?}");
    assert!(got[1].starts_with("40{\"sid\""), "{got:?}");
    assert_eq!(got[2], r#"42/async-1,["hello","/async-1"]"#);
    ws.send_text(r#"40/async-2,{"ok":false}"#);
    assert_eq!(
        next(&mut ws),
        r#"44/async-2,{"message":"Invalid namespace"}"#
    );
    // Once created, a child is found without asking the predicate again.
    let (mut other, _) = Ws::open(addr);
    other.send_text(r#"40/async-1,{"ok":false}"#);
    let reply = next(&mut other);
    assert!(reply.starts_with("40/async-1,{\"sid\""), "{reply}");
    // A session closing while the predicate runs gets no socket, and the
    // server goes on.
    let (mut gone, _) = Ws::open(addr);
    gone.send_text(r#"40/async-3,{"ok":true}"#);
    drop(gone);
    ws.send_text(r#"42/async-1,4["echo","alive"]"#);
    assert_eq!(next(&mut ws), r#"43/async-1,4["alive"]"#);
}

#[test]
fn dynamic_namespaces_with_real_client() {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping the client-driven dynamic namespace test");
        return;
    }
    let js = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
    assert!(
        std::path::Path::new(js).join("node_modules").exists(),
        "tests/js/node_modules missing: run scripts/test.sh (it runs npm ci)"
    );
    let (_server, addr) = start(server::DEFAULT_MAX_DYNAMIC_NAMESPACES);
    for mode in ["websocket", "polling"] {
        let out = Command::new("node")
            .args(["--test", "--test-timeout=20000", "dynamic/"])
            .current_dir(js)
            .env("RINGCAST_URL", format!("http://{addr}"))
            .env("RINGCAST_TRANSPORTS", mode)
            .output()
            .expect("node runs");
        assert!(
            out.status.success(),
            "dynamic suite failed ({mode}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

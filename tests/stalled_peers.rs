//! A client that stops reading cannot pin a connection: once its socket's
//! buffers are full, the server's last writes to it (a close frame after a
//! slow-consumer or heartbeat close, an HTTP answer) wait at most the
//! heartbeat's bound (`pingInterval + pingTimeout`, at least 5 s) for the
//! peer to take a byte, then the connection is dropped. Without that bound
//! each such client kept a descriptor and its task forever, and enough of
//! them would exhaust the process's descriptors. Checked on the conformance
//! app's process: its descriptors come back to where they were.

#[path = "common/conformance.rs"]
mod conformance;
#[path = "common/raw.rs"]
mod raw;

use std::time::{Duration, Instant};

use raw::Ws;

/// Open descriptors of process `pid`.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

#[test]
fn clients_that_stop_reading_are_dropped() {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping the stalled-peer test");
        return;
    }
    let app = conformance::App::start(&["--profile", "suite"]);
    let pid = app.child.id();
    let baseline = fds(pid);
    // Clients in room `stall` that never read again (nor answer pings).
    let stalled: Vec<Ws> = (0..8)
        .map(|_| {
            let (mut ws, _) = Ws::open(app.addr);
            ws.send_text("40");
            ws.send_text(r#"421["join","stall"]"#);
            ws
        })
        .collect();
    // A publisher floods the room at once: each stalled socket fills up,
    // then its queue passes the bound and it is closed as a slow consumer
    // (or by the heartbeat) with its buffers full.
    let (mut publisher, _) = Ws::open(app.addr);
    publisher.send_text("40");
    // The room's members, once every join was applied.
    loop {
        publisher.send_text(r#"421["fetch_sockets","stall"]"#);
        let members = loop {
            let t = publisher.recv_text().expect("a packet");
            if let Some(ack) = t.strip_prefix("431") {
                let v: serde_json::Value = serde_json::from_str(ack).expect("ack JSON");
                break v[0].as_array().map_or(0, Vec::len);
            }
            if t == "2" {
                publisher.send_text("3");
            }
        };
        if members == stalled.len() {
            break;
        }
    }
    let big = "x".repeat(900_000);
    for _ in 0..40 {
        publisher.send_text(&format!(r#"42["broadcast","stall","big","{big}"]"#));
    }
    drop(publisher);
    // Every descriptor of those clients is released (waited on, with a
    // deadline far past the bound only to fail instead of hanging).
    let deadline = Instant::now() + Duration::from_secs(90);
    while fds(pid) > baseline {
        assert!(
            Instant::now() < deadline,
            "{} descriptors still open, {baseline} before the clients came",
            fds(pid)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(stalled);
}

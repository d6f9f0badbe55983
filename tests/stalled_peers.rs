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

use std::collections::HashSet;
use std::time::{Duration, Instant};

use raw::Ws;

/// Descriptors of process `pid` that hold a loopback TCP connection whose
/// peer port is in `ports` (`/proc/PID/fd` socket inodes matched against
/// `/proc/net/tcp`). Counted directly rather than as the process's
/// descriptor total against a baseline: the shards open descriptors of their
/// own (rings, eventfds) while they start, so a total taken right after the
/// listener answers is not a steady baseline.
fn connections_to(pid: u32, ports: &HashSet<u16>) -> usize {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            let f: Vec<&str> = line.split_whitespace().collect();
            let peer_port = f
                .get(2)
                .and_then(|a| a.split_once(':'))
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            matches!((peer_port, f.get(9)), (Some(p), Some(inode))
                if ports.contains(&p) && inodes.contains(*inode))
        })
        .count()
}

#[test]
fn clients_that_stop_reading_are_dropped() {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping the stalled-peer test");
        return;
    }
    let app = conformance::App::start(&["--profile", "suite"]);
    let pid = app.child.id();
    // Clients in room `stall` that never read again (nor answer pings).
    let stalled: Vec<Ws> = (0..8)
        .map(|_| {
            let (mut ws, _) = Ws::open(app.addr);
            ws.send_text("40");
            ws.send_text(r#"421["join","stall"]"#);
            ws
        })
        .collect();
    let ports: HashSet<u16> = stalled
        .iter()
        .map(|ws| ws.s.local_addr().expect("a local address").port())
        .collect();
    // A publisher floods the room at once: each stalled socket fills up,
    // then its queue passes the bound and it is closed as a slow consumer
    // (or by the heartbeat) with its buffers full.
    let (mut publisher, _) = Ws::open(app.addr);
    // The count sees a connection the server holds (the publisher's, just
    // opened: far from its first heartbeat), so "0 held" below means released.
    let publisher_port = publisher.s.local_addr().expect("a local address").port();
    assert_eq!(connections_to(pid, &HashSet::from([publisher_port])), 1);
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
        // (On a machine stalled for longer than the suite heartbeat, some of
        // them may already be closed: then there is nothing left to wait for.)
        if members == stalled.len() || connections_to(pid, &ports) < stalled.len() {
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
    loop {
        let held = connections_to(pid, &ports);
        if held == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{held} of the {} stalled clients' connections still held by the server",
            stalled.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(stalled);
}

//! Hostile input against a running server: after each abuse the abusive
//! connection is closed with the right error, and a fresh well-behaved client
//! still connects and gets an echo ack within 2 s (no shard panicked or
//! stalled). Raw TCP, exact bytes.

#[path = "common/raw.rs"]
mod raw;

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use raw::{assert_healthy, closed_within, connect, http, upgrade_request, Ws};
use ringcast::server::Server;
use ringcast::{broker, Config};

struct Running(
    Option<ringcast::runtime::Running>,
    #[allow(dead_code)] std::sync::MutexGuard<'static, ()>,
);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            r.stop();
            r.join();
        }
    }
}

/// Tests run one at a time: two of them measure this process's RSS, which
/// the other tests' servers (in the same process) would disturb.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn server(max_buffered: usize) -> (Running, SocketAddr) {
    let app = Server::builder()
        .namespace("/", |ns| {
            ns.on("join", broker::handle_join);
            ns.on("broadcast", broker::handle_broadcast);
            ns.on("echo", |_, mut ev| {
                if let Some(ack) = ev.take_ack() {
                    ack.send(ev.payload);
                }
            });
        })
        .build()
        .into_app();
    let config = Config {
        listen: ([127, 0, 0, 1], 0).into(),
        shards: 2,
        max_http_buffer_size: 100_000,
        max_buffered_bytes: max_buffered,
        http_head_timeout: Duration::from_secs(1),
        // The slow-consumer test's publisher floods on purpose (5000
        // broadcasts at once, far over the default event bucket): these
        // tests are about sizes and queues; tests/quotas.rs covers the rate.
        client_events_per_second: 0,
        ..Config::default()
    };
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = ringcast::runtime::start(config, app).expect("server starts");
    let addr = r.local_addr();
    (Running(Some(r), guard), addr)
}

fn status(addr: SocketAddr, req: &str) -> u16 {
    http(addr, req.as_bytes()).0
}

#[test]
fn malformed_http_heads_get_4xx_and_close() {
    let (_s, addr) = server(1 << 20);
    let poll = "/socket.io/?EIO=4&transport=polling";
    assert_eq!(status(addr, "GARBAGE\r\n\r\n"), 400);
    assert_eq!(status(addr, "GET / HTTP/9.9\r\nHost: x\r\n\r\n"), 400);
    let big = format!(
        "GET {poll} HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    assert_eq!(status(addr, &big), 431);
    let many: String = (0..10_000).map(|i| format!("X-{i}: y\r\n")).collect();
    assert_eq!(
        status(
            addr,
            &format!("GET {poll} HTTP/1.1\r\nHost: x\r\n{many}\r\n")
        ),
        431
    );
    assert_eq!(
        status(addr, &format!("GET {poll} HTTP/1.1\r\n\r\n")),
        400,
        "missing Host"
    );
    assert_healthy(addr);
}

#[test]
fn request_smuggling_shapes_are_rejected() {
    let (_s, addr) = server(1 << 20);
    let post =
        "POST /socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\n";
    for extra in [
        "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: abc\r\n",
        "Content-Length: 3\r\nContent-Length: 4\r\n",
        "Content-Length: 99999999999999999999999\r\n",
    ] {
        let req = format!("{post}{extra}\r\nabc");
        assert_eq!(status(addr, &req), 400, "{extra:?}");
    }
    assert_healthy(addr);
}

#[test]
fn slowloris_is_cut_off_and_others_are_served() {
    let (_s, addr) = server(1 << 20);
    let mut slow: Vec<_> = (0..200).map(|_| connect(addr)).collect();
    let t0 = Instant::now();
    // Trickle a byte now and then: the head deadline (1 s here) still applies.
    for _ in 0..5 {
        for s in &mut slow {
            let _ = s.write_all(b"G");
        }
        assert_healthy(addr);
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut closed = 0;
    for s in &mut slow {
        if closed_within(s, Duration::from_secs(2)) {
            closed += 1;
        }
    }
    assert_eq!(closed, slow.len(), "every trickling connection closed");
    assert!(t0.elapsed() < Duration::from_secs(10));
    // A connection that never sends anything is closed too.
    let mut idle = connect(addr);
    assert!(closed_within(&mut idle, Duration::from_secs(3)));
    assert_healthy(addr);
}

#[test]
fn websocket_framing_abuse_closes_with_the_rfc_code() {
    let (_s, addr) = server(1 << 20);
    let cases: [(&str, u8, Vec<u8>, bool, u16); 8] = [
        ("unmasked", 0x81, b"40".to_vec(), false, 1002),
        ("reserved opcode", 0x83, b"x".to_vec(), true, 1002),
        ("rsv1 without extension", 0xC1, b"40".to_vec(), true, 1002),
        ("fragmented ping", 0x09, b"p".to_vec(), true, 1002),
        ("oversized ping", 0x89, vec![0; 126], true, 1002),
        (
            "continuation without start",
            0x80,
            b"x".to_vec(),
            true,
            1002,
        ),
        (
            "invalid close code",
            0x88,
            999u16.to_be_bytes().to_vec(),
            true,
            1002,
        ),
        ("invalid utf-8", 0x81, vec![b'4', 0xff, 0xfe], true, 1007),
    ];
    for (what, first, payload, mask, code) in cases {
        let (mut ws, _) = Ws::open(addr);
        ws.frame(first, &payload, mask);
        assert_eq!(ws.close_code(), Some(code), "{what}");
        assert_healthy(addr);
    }
    // Over maxHttpBufferSize (100 kB here): 1009, checked from the header.
    let (mut ws, _) = Ws::open(addr);
    ws.frame(0x81, &vec![b'4'; 100_001], true);
    assert_eq!(ws.close_code(), Some(1009));
    assert_healthy(addr);
}

#[test]
fn bad_websocket_handshakes_get_400_not_101() {
    let (_s, addr) = server(1 << 20);
    let path = "/socket.io/?EIO=4&transport=websocket";
    assert_eq!(status(addr, &upgrade_request(path, "short", "13")), 400);
    assert_eq!(
        status(
            addr,
            &upgrade_request(path, "dGhlIHNhbXBsZSBub25jZQ==", "8")
        ),
        400
    );
    assert_healthy(addr);
}

#[test]
fn oversized_polling_post_is_413() {
    let (_s, addr) = server(1 << 20);
    let (_, open) = http(
        addr,
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|r| r.get(..20))
        .expect("sid");
    let req = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 100001\r\n\r\n"
    );
    assert_eq!(status(addr, &req), 413);
    assert_healthy(addr);
}

#[test]
fn socketio_abuse_closes_the_session() {
    let (_s, addr) = server(1 << 20);
    // 10k namespace CONNECTs on one session: each refused (as Node does),
    // answers bounded by the session's queue, nothing else affected.
    let (mut ws, _) = Ws::open(addr);
    for i in 0..10_000 {
        ws.send_text(&format!("40/n{i},"));
    }
    assert_healthy(addr);
    assert_eq!(
        ws.recv_text().as_deref(),
        Some("44/n0,{\"message\":\"Invalid namespace\"}")
    );
    // 100k nested brackets.
    let (mut ws, _) = Ws::open(addr);
    ws.send_text("40");
    let nested = format!(
        "42[\"echo\",{}{}]",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    ws.send_text(&nested);
    assert!(
        closed_within(&mut ws.s, Duration::from_secs(3)),
        "deep nesting closed"
    );
    assert_healthy(addr);
    // A BINARY_EVENT announcing 1000 attachments, then none.
    let (mut ws, _) = Ws::open(addr);
    ws.send_text("40");
    ws.send_text("451000-[\"echo\",{\"_placeholder\":true,\"num\":0}]");
    assert!(
        closed_within(&mut ws.s, Duration::from_secs(3)),
        "attachment bomb closed"
    );
    assert_healthy(addr);
    // Ack ids outside the protocol's range.
    let (mut ws, _) = Ws::open(addr);
    ws.send_text("40");
    ws.send_text("4299999999999999999999[\"echo\",1]");
    assert!(
        closed_within(&mut ws.s, Duration::from_secs(3)),
        "absurd ack id closed"
    );
    assert_healthy(addr);
}

#[test]
fn slow_consumer_is_dropped_and_memory_stays_bounded() {
    const BOUND: usize = 256 * 1024;
    let (_s, addr) = server(BOUND);
    // The slow client joins the room, then never reads again.
    let (mut slow, _) = Ws::open(addr);
    slow.send_text("40");
    slow.recv_text().expect("connected");
    slow.send_text("421[\"join\",\"room\"]");
    assert_eq!(slow.recv_text().as_deref(), Some("431[true]"));
    slow.s.set_read_timeout(None).expect("timeout");
    // The publisher is a member too and reads everything.
    let (mut publisher, _) = Ws::open(addr);
    publisher.send_text("40");
    publisher.recv_text().expect("connected");
    publisher.send_text("421[\"join\",\"room\"]");
    assert_eq!(publisher.recv_text().as_deref(), Some("431[true]"));
    let before = raw::rss();
    let data = "x".repeat(1000);
    let n: usize = 5000; // 5 MB in total: far beyond the slow client's queue and socket buffers.
    let mut received = 0;
    for i in 0..n {
        publisher.send_text(&format!("42[\"broadcast\",\"room\",\"m\",\"{i}{data}\"]"));
        // Read as we go so the publisher itself never becomes slow.
        while received < i.saturating_sub(100) {
            let t = publisher.recv_text().expect("publisher keeps receiving");
            assert!(t.starts_with("42[\"m\""), "{t}");
            received += 1;
        }
    }
    while received < n {
        let t = publisher
            .recv_text()
            .expect("publisher receives every broadcast");
        assert!(t.starts_with(&format!("42[\"m\",\"{received}")), "in order");
        received += 1;
    }
    let growth = raw::rss().saturating_sub(before);
    assert!(growth < 32 << 20, "server memory grew by {growth} bytes");
    // The slow client was cut off: draining its socket ends in EOF.
    assert!(
        closed_within(&mut slow.s, Duration::from_secs(10)),
        "slow consumer disconnected"
    );
    assert_healthy(addr);
}

#[test]
fn churn_does_not_leak() {
    let (_s, addr) = server(1 << 20);
    let cycle = |n: usize| {
        for _ in 0..n {
            let (mut ws, _) = Ws::open(addr);
            ws.send_text("40");
            ws.recv_text().expect("connected");
            ws.send_text("421[\"echo\",1]");
            while ws.recv_text().as_deref() != Some("431[1]") {}
        }
    };
    cycle(1000); // warm up allocator pools
    std::thread::sleep(Duration::from_millis(300));
    let base = raw::rss();
    cycle(2000);
    std::thread::sleep(Duration::from_millis(300));
    let after = raw::rss();
    assert!(
        after < base + (4 << 20),
        "RSS grew from {base} to {after} over 2000 cycles"
    );
    assert_healthy(addr);
}

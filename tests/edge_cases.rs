//! Two Engine.IO edge cases where ringcast answered differently from
//! Node's engine.io (issue 13 item 7), on a 2-shard server, raw HTTP and
//! websocket bytes:
//!
//! - a second websocket upgrade naming a session that already upgraded (or
//!   is upgrading) gets `101` and is then closed at once (Node's
//!   `onWebSocket`: `websocket.close()`), not HTTP 400; the session's
//!   transport is untouched;
//! - a long-poll GET pending, or arriving, while a POST carrying the close
//!   packet `1` is processed gets `200` with the noop `6`, whichever shard
//!   each request lands on (connections are spread over the shards by the
//!   kernel; a request for a session of the other shard moves there, so a
//!   GET sent first may reach the owner after the POST); a GET sent after
//!   that one was answered gets 400 `Session ID unknown`, as from Node.

#[path = "common/raw.rs"]
mod raw;

use std::io::{Read, Write};
use std::net::SocketAddr;

use raw::{connect, upgrade_request, Ws};
use ringcast::server::Server;
use ringcast::Config;

struct Running(Option<ringcast::runtime::Running>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            r.stop();
            r.join();
        }
    }
}

fn server() -> (Running, SocketAddr) {
    let app = Server::builder()
        .namespace("/", |ns| {
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
        ..Config::default()
    };
    let r = ringcast::runtime::start(config, app).expect("server starts");
    let addr = r.local_addr();
    (Running(Some(r)), addr)
}

/// One HTTP request on a fresh connection: (status, body).
fn request(addr: SocketAddr, method: &str, target: &str, body: &str) -> (u16, String) {
    let mut s = connect(addr);
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let status = head
                    .split(' ')
                    .nth(1)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                return (status, body);
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => panic!("connection ended before the response: {buf:?}"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

const POLLING: &str = "/socket.io/?EIO=4&transport=polling";

/// A new polling session: its sid.
fn open_polling(addr: SocketAddr) -> String {
    let (status, body) = request(addr, "GET", POLLING, "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value =
        serde_json::from_str(body.strip_prefix('0').expect("open packet")).expect("open payload");
    v["sid"].as_str().expect("sid").to_owned()
}

/// Sends a websocket upgrade naming `sid` on a fresh connection; returns
/// the connection and the bytes read up to the end of the response head.
fn upgrade(addr: SocketAddr, sid: &str) -> (std::net::TcpStream, Vec<u8>) {
    let mut s = connect(addr);
    let req = upgrade_request(
        &format!("/socket.io/?EIO=4&transport=websocket&sid={sid}"),
        "dGhlIHNhbXBsZSBub25jZQ==",
        "13",
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    (s, buf)
}

/// The response to a websocket upgrade is a 101 followed by a close frame
/// without status (Node's `websocket.close()`), then the end of the
/// connection.
fn assert_accepted_then_closed(mut s: std::net::TcpStream, mut buf: Vec<u8>) {
    assert!(
        buf.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    let mut rest = buf.split_off(end);
    let mut chunk = [0u8; 64];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => rest.extend_from_slice(&chunk[..n]),
        }
    }
    assert_eq!(rest, [0x88, 0x00], "a close frame, then the end");
}

/// Completes an upgrade of polling session `sid`: the websocket client.
fn upgraded(addr: SocketAddr, sid: &str) -> Ws {
    let (s, mut buf) = upgrade(addr, sid);
    assert!(
        buf.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    let rest = buf.split_off(end);
    let mut ws = Ws::from_parts(s, rest);
    ws.send_text("2probe");
    assert_eq!(ws.recv_text().as_deref(), Some("3probe"));
    ws.send_text("5");
    ws
}

#[test]
fn second_websocket_upgrade_gets_101_then_close() {
    let (_server, addr) = server();
    for _ in 0..8 {
        let sid = open_polling(addr);
        let (status, body) = request(addr, "POST", &format!("{POLLING}&sid={sid}"), "40");
        assert_eq!((status, body.as_str()), (200, "ok"));

        // While the first upgrade is still probing.
        let (s1, buf1) = upgrade(addr, &sid);
        assert!(buf1.starts_with(b"HTTP/1.1 101"));
        let (s2, buf2) = upgrade(addr, &sid);
        assert_accepted_then_closed(s2, buf2);
        drop(s1);

        // After an upgrade completed.
        let sid = open_polling(addr);
        let (status, body) = request(addr, "POST", &format!("{POLLING}&sid={sid}"), "40");
        assert_eq!((status, body.as_str()), (200, "ok"));
        let mut ws = upgraded(addr, &sid);
        let (s2, buf2) = upgrade(addr, &sid);
        assert_accepted_then_closed(s2, buf2);
        // The upgraded session is untouched.
        ws.send_text(r#"421["echo","still here"]"#);
        loop {
            let t = ws.recv_text().expect("echo ack");
            if t == r#"431["still here"]"# {
                break;
            }
        }
    }
    // A bad websocket handshake on an upgraded session is still a 400.
    let sid = open_polling(addr);
    let _ws = upgraded(addr, &sid);
    let mut s = connect(addr);
    let req = upgrade_request(
        &format!("/socket.io/?EIO=4&transport=websocket&sid={sid}"),
        "not-a-key",
        "13",
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut head = [0u8; 12];
    s.read_exact(&mut head).expect("response");
    assert_eq!(&head, b"HTTP/1.1 400");
}

#[test]
fn long_poll_get_during_client_close_gets_noop() {
    let (_server, addr) = server();
    // Many sessions: the kernel spreads the connections over both shards,
    // so every combination of GET/POST landing shards occurs, and either
    // request may reach the owner first.
    for _ in 0..40 {
        let sid = open_polling(addr);
        let target = format!("{POLLING}&sid={sid}");
        let get = {
            let target = target.clone();
            std::thread::spawn(move || request(addr, "GET", &target, ""))
        };
        let (status, body) = request(addr, "POST", &target, "1");
        assert_eq!((status, body.as_str()), (200, "ok"));
        assert_eq!(get.join().expect("GET thread"), (200, "6".to_owned()));
        // A GET sent after both were answered: the session is gone (Node).
        assert_eq!(request(addr, "GET", &target, ""), unknown_sid());
    }
    // The client closes with no GET in flight: the first GET after it
    // takes the noop (it cannot be told from a late one), the next is 400.
    let sid = open_polling(addr);
    let target = format!("{POLLING}&sid={sid}");
    assert_eq!(request(addr, "POST", &target, "1"), (200, "ok".to_owned()));
    assert_eq!(request(addr, "GET", &target, ""), (200, "6".to_owned()));
    assert_eq!(request(addr, "GET", &target, ""), unknown_sid());
    // Sessions nobody closed are still unknown.
    let target = format!("{POLLING}&sid=AAAAAAAAAAAAAAAAAAAA");
    assert_eq!(request(addr, "GET", &target, ""), unknown_sid());
}

fn unknown_sid() -> (u16, String) {
    (
        400,
        r#"{"code":1,"message":"Session ID unknown"}"#.to_owned(),
    )
}

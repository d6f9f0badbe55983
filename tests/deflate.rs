//! permessage-deflate (conformance-app-2.md section 13) against the conformance example started
//! with `--per-message-deflate --shards 2`: raw websocket clients (negotiation, compressed server
//! frames over the threshold, compressed client frames, an inflate bomb refused with 1009) and the
//! real socket.io-client (`tests/js/deflate/`: node's `ws` offers the extension; a large broadcast
//! arrives intact and compressed on the wire).
//!
//! `RINGCAST_E2E=0` skips these tests.

#[path = "common/conformance.rs"]
mod conformance;
use conformance::conformance_bin;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ringcast_proto::ws::deflate::{compress, Inflater, Negotiated};

#[path = "common/raw.rs"]
mod raw;

fn skip() -> bool {
    std::env::var("RINGCAST_E2E").is_ok_and(|v| v == "0")
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(deflate: bool) -> Self {
        let port = conformance::free_port();
        let mut cmd = Command::new(conformance_bin());
        cmd.args(["--port", &port.to_string(), "--shards", "2"])
            .env_remove("REDIS_URL")
            .env_remove("PER_MESSAGE_DEFLATE")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if deflate {
            cmd.arg("--per-message-deflate");
        }
        let child = cmd.spawn().expect("starting conformance");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens `/socket.io/` over websocket offering `extensions`; the 101 head and the client.
fn open(addr: SocketAddr, extensions: Option<&str>) -> (String, raw::Ws) {
    let mut s = raw::connect(addr);
    let mut req = raw::upgrade_request(
        "/socket.io/?EIO=4&transport=websocket",
        "dGhlIHNhbXBsZSBub25jZQ==",
        "13",
    );
    if let Some(e) = extensions {
        req.truncate(req.len() - 2);
        req.push_str(&format!("Sec-WebSocket-Extensions: {e}\r\n\r\n"));
    }
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = std::io::Read::read(&mut s, &mut chunk).expect("read 101");
        assert!(n > 0, "closed before the 101");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let rest = buf.split_off(end);
    let mut ws = raw::Ws::from_parts(s, rest);
    let open = ws.recv_text().expect("open packet");
    assert!(open.starts_with("0{"), "{open}");
    ws.send_text("40");
    let connect = ws.recv_text().expect("CONNECT reply");
    assert!(connect.starts_with("40{"), "{connect}");
    assert_eq!(ws.recv_text().as_deref(), Some(r#"42["auth",{}]"#));
    (head, ws)
}

/// A masked frame with the given first byte.
fn send(ws: &mut raw::Ws, first: u8, payload: &[u8]) {
    ws.frame(first, payload, true);
}

const NEG: Negotiated = Negotiated {
    server_max_window_bits: 15,
    client_context_takeover: false,
};

#[test]
fn negotiation_compressed_frames_both_ways_and_bombs() {
    if skip() {
        return;
    }
    let _g = serial();
    let server = Server::start(true);
    // No offer: no extension.
    let (head, _ws) = open(server.addr, None);
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("sec-websocket-extensions"),
        "{head}"
    );
    // An offer as node's `ws` sends it.
    let (head, mut ws) = open(
        server.addr,
        Some("permessage-deflate; client_max_window_bits"),
    );
    assert!(
        head.contains("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"),
        "{head}"
    );
    // A compressed echo of 20 KB: the ack (over the threshold) comes back compressed.
    let big = "ringcast ".repeat(2200);
    let event = format!(r#"421["echo","{big}"]"#);
    send(
        &mut ws,
        0xc1,
        &compress(event.as_bytes(), 6).expect("compressible"),
    );
    let (b0, payload) = ws.recv_frame().expect("ack frame");
    assert_eq!(b0, 0xc1, "FIN + RSV1 + text");
    assert!(
        payload.len() < big.len() / 4,
        "compressed: {}",
        payload.len()
    );
    let mut inf = Inflater::new(&NEG);
    let ack = inf.inflate(&payload, 1 << 20).expect("inflates");
    assert_eq!(ack, format!(r#"431["{big}"]"#).into_bytes());
    // A small ack is sent as is (under the 1024-byte threshold).
    ws.send_text(r#"422["echo","small"]"#);
    let (b0, payload) = ws.recv_frame().expect("small ack");
    assert_eq!(b0, 0x81);
    assert_eq!(payload, br#"432["small"]"#);
    // A bomb: 50 MB of zeros in ~50 KB, over maxHttpBufferSize (1e6) -> 1009.
    let mut bomb_text = b"42[\"echo\",\"".to_vec();
    bomb_text.resize(50_000_000, b'a');
    let bomb = compress(&bomb_text, 9).expect("compressible");
    assert!(bomb.len() < 1_000_000);
    send(&mut ws, 0xc1, &bomb);
    assert_eq!(ws.close_code(), Some(1009));
    // Corrupt deflate data: 1002.
    let (_, mut ws) = open(server.addr, Some("permessage-deflate"));
    send(&mut ws, 0xc1, &[0xff, 0xff, 0xff, 0xff, 0x00]);
    assert_eq!(ws.close_code(), Some(1002));
    // The server still serves.
    raw::assert_healthy(server.addr);
}

#[test]
fn without_the_flag_no_extension() {
    if skip() {
        return;
    }
    let _g = serial();
    let server = Server::start(false);
    let (head, mut ws) = open(server.addr, Some("permessage-deflate"));
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("sec-websocket-extensions"),
        "{head}"
    );
    // RSV1 without the extension is a protocol error.
    send(&mut ws, 0xc1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    assert_eq!(ws.close_code(), Some(1002));
}

#[test]
fn socket_io_client_large_broadcast_compressed() {
    if skip() {
        return;
    }
    let _g = serial();
    let server = Server::start(true);
    let out = Command::new("node")
        .args(["--test", "--test-concurrency=1", "deflate/"])
        .current_dir(root().join("tests").join("js"))
        .env("RINGCAST_URL", format!("http://{}", server.addr))
        .output()
        .expect("running node --test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("# pass 1"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One HTTP request on its own connection (`Connection: close`): the head and the raw body.
fn http_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &str,
    body: &[u8],
) -> (String, Vec<u8>) {
    let mut s = raw::connect(addr);
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut all = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut all);
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head")
        + 4;
    let body = all.split_off(end);
    (String::from_utf8_lossy(&all).into_owned(), body)
}

/// A polling session's path after its handshake and CONNECT to `/`.
fn polling_session(a: SocketAddr) -> String {
    let (_, open) = http_raw(a, "GET", "/socket.io/?EIO=4&transport=polling", "", b"");
    let open = String::from_utf8(open).expect("utf-8");
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("sid")
        .to_owned();
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    http_raw(a, "POST", &path, "", b"40");
    path
}

#[test]
fn polling_responses_compressed_per_accept_encoding() {
    use std::io::Read;
    if skip() {
        return;
    }
    let _g = serial();
    let server = Server::start(true);
    let a = server.addr;
    let path = polling_session(a);
    let (head, body) = http_raw(a, "GET", &path, "Accept-Encoding: gzip\r\n", b"");
    assert!(
        !head.to_ascii_lowercase().contains("content-encoding"),
        "small: {head}"
    );
    assert!(body.starts_with(b"40{"));
    let big = "x".repeat(3000);
    let want = format!(r#"431["{big}"]"#);
    for (accept, coding) in [("gzip, deflate, br", "gzip"), ("deflate", "deflate")] {
        http_raw(
            a,
            "POST",
            &path,
            "",
            format!(r#"421["echo","{big}"]"#).as_bytes(),
        );
        let (head, body) = http_raw(
            a,
            "GET",
            &path,
            &format!("Accept-Encoding: {accept}\r\n"),
            b"",
        );
        assert!(
            head.contains(&format!("Content-Encoding: {coding}\r\n")),
            "{head}"
        );
        assert!(
            head.contains(&format!("Content-Length: {}\r\n", body.len())),
            "{head}"
        );
        let mut plain = String::new();
        if coding == "gzip" {
            flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut plain)
        } else {
            flate2::read::ZlibDecoder::new(&body[..]).read_to_string(&mut plain)
        }
        .expect("decodes");
        assert_eq!(plain, want);
    }
    // No matching Accept-Encoding: as is.
    http_raw(
        a,
        "POST",
        &path,
        "",
        format!(r#"421["echo","{big}"]"#).as_bytes(),
    );
    let (head, body) = http_raw(a, "GET", &path, "Accept-Encoding: br, gzip;q=0\r\n", b"");
    assert!(
        !head.to_ascii_lowercase().contains("content-encoding"),
        "{head}"
    );
    assert_eq!(body, want.as_bytes());
}

/// Without the flag, a polling answer over the 1 KiB threshold goes as is
/// whatever the client accepts (Node: `httpCompression: false`).
#[test]
fn without_the_flag_polling_is_not_compressed() {
    if skip() {
        return;
    }
    let _g = serial();
    let server = Server::start(false);
    let a = server.addr;
    let path = polling_session(a);
    http_raw(a, "GET", &path, "", b"");
    let big = "x".repeat(3000);
    let echo = format!(r#"421["echo","{big}"]"#);
    http_raw(a, "POST", &path, "", echo.as_bytes());
    let (head, body) = http_raw(a, "GET", &path, "Accept-Encoding: gzip, deflate\r\n", b"");
    assert!(
        !head.to_ascii_lowercase().contains("content-encoding"),
        "{head}"
    );
    assert_eq!(body, format!(r#"431["{big}"]"#).as_bytes());
}

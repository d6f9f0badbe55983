//! Engine.IO v3 / socket.io-client 2.x (issue 13 item 4, conformance-app-2.md
//! section 12) against the conformance example started with `--allow-eio3`:
//!
//! * raw polling: the v3 handshake payload, the server's own CONNECT to `/`,
//!   protocol v4 CONNECT replies and errors, the reversed heartbeat, the
//!   binary framing (`application/octet-stream`) both ways, and `b4<base64>`
//!   for `b64=1` clients;
//! * raw websocket: binary frames carry the `0x04` type byte both ways;
//! * socket.io-client 2.5 (tests/js/eio3/eio3.test.js): polling, websocket
//!   and upgrade; emit/ack, binary both ways, `/custom`, a middleware
//!   refusal, an invalid namespace, the heartbeat over several intervals, and
//!   a 2.x and a 4.x client sharing a room's broadcasts;
//! * without the flag `EIO=3` is refused as before.
//!
//! Needs `tests/js/node_modules`; skipped with a notice when `RINGCAST_E2E=0`.

#[path = "common/conformance.rs"]
mod conformance;
#[path = "common/raw.rs"]
mod raw;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use conformance::App;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn skip() -> bool {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping");
        return true;
    }
    false
}

use raw::{request, Response};

fn get(addr: SocketAddr, path: &str) -> Response {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        b"",
    )
}

fn post(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> Response {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    request(addr, &head, body)
}

/// A v3 text payload of ASCII packets: `<length>:<packet>…`.
fn v3(packets: &[&str]) -> String {
    packets.iter().map(|p| format!("{}:{p}", p.len())).collect()
}

/// One packet of the v3 binary framing: `0x00` text / `0x01` binary, the
/// length's digits as bytes, `0xff`, the packet.
fn framed(binary: bool, packet: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::from(binary)];
    out.extend(packet.len().to_string().bytes().map(|c| c - b'0'));
    out.push(0xff);
    out.extend_from_slice(packet);
    out
}

/// Opens a v3 polling session (`query` is appended); returns its sid.
fn handshake(addr: SocketAddr, query: &str) -> String {
    let r = get(addr, &format!("/socket.io/?EIO=3&transport=polling{query}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.text();
    let (len, packet) = body.split_once(':').expect("v3 payload");
    assert_eq!(len.parse::<usize>().ok(), Some(packet.len()), "{body}");
    let json: serde_json::Value =
        serde_json::from_str(packet.strip_prefix('0').expect("open packet")).expect("open JSON");
    assert_eq!(json["upgrades"], serde_json::json!(["websocket"]));
    json["sid"].as_str().expect("sid").to_owned()
}

const ECHO_BIN: &str = r#"451-0["echo",{"_placeholder":true,"num":0}]"#;
const ACK_BIN: &str = r#"461-0[{"_placeholder":true,"num":0}]"#;

#[test]
fn v3_polling_wire() {
    if skip() {
        return;
    }
    let app = App::start(&["--allow-eio3"]);
    let sid = handshake(app.addr, "");
    let path = format!("/socket.io/?EIO=3&transport=polling&sid={sid}");
    // The server connected the client to `/` by itself: `40`, then the auth emit.
    let first = get(app.addr, &path);
    assert_eq!(
        first.header("content-type").unwrap_or_default(),
        "text/plain; charset=UTF-8"
    );
    assert_eq!(first.text(), v3(&["40", r#"42["auth",{}]"#]));

    let connect = v3(&["40/custom?token=abc,", "2"]);
    assert_eq!(
        post(
            app.addr,
            &path,
            "text/plain;charset=UTF-8",
            connect.as_bytes()
        )
        .status,
        200
    );
    assert_eq!(
        get(app.addr, &path).text(),
        v3(&["40/custom,", r#"42/custom,["auth",{"token":"abc"}]"#, "3"])
    );

    let refused = v3(&["40/admin,", "40/nope,"]);
    post(
        app.addr,
        &path,
        "text/plain;charset=UTF-8",
        refused.as_bytes(),
    );
    assert_eq!(
        get(app.addr, &path).text(),
        v3(&[
            r#"44/admin,"unauthorized""#,
            r#"44/nope,{"message":"Invalid namespace"}"#
        ])
    );

    // Binary framing both ways (a client that supports binary, no `b64`).
    let body = [
        framed(false, ECHO_BIN.as_bytes()),
        framed(true, &[4, 1, 2, 3]),
    ]
    .concat();
    assert_eq!(
        post(app.addr, &path, "application/octet-stream", &body).status,
        200
    );
    let ack = get(app.addr, &path);
    assert_eq!(
        ack.header("content-type").unwrap_or_default(),
        "application/octet-stream"
    );
    assert_eq!(
        ack.body,
        [
            framed(false, ACK_BIN.as_bytes()),
            framed(true, &[4, 1, 2, 3])
        ]
        .concat()
    );

    // A v3 client never answers pings: its pong is an error that ends the session.
    post(
        app.addr,
        &path,
        "text/plain;charset=UTF-8",
        v3(&["3"]).as_bytes(),
    );
    assert_eq!(get(app.addr, &path).status, 400);
}

#[test]
fn v3_polling_base64_binary() {
    if skip() {
        return;
    }
    let app = App::start(&["--allow-eio3"]);
    let sid = handshake(app.addr, "&b64=1");
    let path = format!("/socket.io/?EIO=3&transport=polling&sid={sid}");
    get(app.addr, &path);
    let body = v3(&[ECHO_BIN, "b4AQID"]);
    assert_eq!(
        post(app.addr, &path, "text/plain;charset=UTF-8", body.as_bytes()).status,
        200
    );
    let ack = get(app.addr, &path);
    assert_eq!(
        ack.header("content-type").unwrap_or_default(),
        "text/plain; charset=UTF-8"
    );
    assert_eq!(ack.text(), v3(&[ACK_BIN, "b4AQID"]));
}

#[test]
fn v3_websocket_binary_frames_carry_the_type_byte() {
    if skip() {
        return;
    }
    let app = App::start(&["--allow-eio3"]);
    let mut s = raw::connect(app.addr);
    let req = raw::upgrade_request(
        "/socket.io/?EIO=3&transport=websocket",
        "dGhlIHNhbXBsZSBub25jZQ==",
        "13",
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut chunk).expect("101");
        assert!(n > 0, "closed before the 101");
        buf.extend_from_slice(&chunk[..n]);
    };
    assert!(buf.starts_with(b"HTTP/1.1 101"));
    let mut ws = raw::Ws::from_parts(s, buf.split_off(end));
    let open = ws.recv_text().expect("open");
    assert!(open.starts_with("0{\"sid\":"), "{open}");
    assert_eq!(ws.recv_text().as_deref(), Some("40"));
    assert_eq!(ws.recv_text().as_deref(), Some(r#"42["auth",{}]"#));
    ws.send_text(ECHO_BIN);
    ws.frame(0x82, &[4, 1, 2, 3], true);
    assert_eq!(ws.recv_text().as_deref(), Some(ACK_BIN));
    assert_eq!(ws.recv(), Some((0x2, vec![4, 1, 2, 3])));
    ws.send_text("2");
    assert_eq!(ws.recv_text().as_deref(), Some("3"));
}

#[test]
fn socket_io_client_2_with_a_4_client() {
    if skip() {
        return;
    }
    assert!(
        root()
            .join("tests/js/node_modules/socket.io-client-v2")
            .exists(),
        "tests/js/node_modules/socket.io-client-v2 missing: run npm ci in tests/js"
    );
    let app = App::start(&[
        "--allow-eio3",
        "--ping-interval",
        "400",
        "--ping-timeout",
        "1500",
    ]);
    let out = Command::new("node")
        .args(["--test", "--test-timeout=30000", "eio3/eio3.test.js"])
        .current_dir(root().join("tests/js"))
        .env("RINGCAST_URL", format!("http://{}", app.addr))
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "eio3.test.js failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn without_the_flag_eio3_is_refused() {
    if skip() {
        return;
    }
    let app = App::start(&[]);
    let r = get(app.addr, "/socket.io/?EIO=3&transport=polling");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        r#"{"code":5,"message":"Unsupported protocol version"}"#
    );
}

/// The broker's config-file key `allow_eio3` (derived from `--allow-eio3`):
/// an `EIO=3` handshake is answered with a v3 payload; off by default.
#[test]
fn broker_allow_eio3_key() {
    if skip() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ringcast-eio3-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (allow, want) in [(true, 200), (false, 400)] {
        let file = dir.join(format!("{allow}.toml"));
        std::fs::write(
            &file,
            format!("allow_eio3 = {allow}\nshards = 1\nno_pin = true\n"),
        )
        .expect("write");
        let port = conformance::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_ringcast"))
            .arg("--config")
            .arg(&file)
            .args(["--port", &port.to_string(), "--host", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("broker starts");
        let app = App {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        };
        let mut up = false;
        for _ in 0..300 {
            if TcpStream::connect(app.addr).is_ok() {
                up = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(up, "broker on {} never listened", app.addr);
        let r = get(app.addr, "/socket.io/?EIO=3&transport=polling");
        assert_eq!(r.status, want, "allow_eio3 = {allow}: {}", r.text());
        if allow {
            assert!(r.text().contains(":0{\"sid\":"), "{}", r.text());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A v3 client pings; one that stops is closed `pingInterval +
/// pingTimeout` after its last ping (the suite profile: 300 + 200 ms): the
/// parked GET gets the close packet `1:1`, then the sid is unknown. Waits on
/// the GET, never on the clock.
#[test]
fn v3_session_without_client_pings_is_closed() {
    if skip() {
        return;
    }
    let app = App::start(&["--allow-eio3", "--profile", "suite"]);
    let sid = handshake(app.addr, "");
    let path = format!("/socket.io/?EIO=3&transport=polling&sid={sid}");
    assert_eq!(get(app.addr, &path).text(), v3(&["40", r#"42["auth",{}]"#]));
    // One ping is answered, and moves the deadline.
    post(
        app.addr,
        &path,
        "text/plain;charset=UTF-8",
        v3(&["2"]).as_bytes(),
    );
    assert_eq!(get(app.addr, &path).text(), v3(&["3"]));
    // Then silence: the next GET parks until the server gives up.
    let closed = get(app.addr, &path);
    assert_eq!(closed.status, 200);
    assert_eq!(closed.text(), "1:1");
    assert_eq!(get(app.addr, &path).status, 400);
}

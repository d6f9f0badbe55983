//! The broker's log output (spec broker.md §6): `--log-format json` writes
//! one JSON object a line on stderr; the text format written to a pipe has
//! no terminal colour codes; a connection refused for failed
//! authentication gets a warning line.

mod broker_util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use broker_util::{broker, free_port, wait_listening, Server, TempDir};

const REFUSED: &str = "connect refused: authentication failed";

/// One HTTP/1.1 request with `Connection: close`; the response body.
fn http(port: u16, method: &str, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("writes");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .map_or(out.clone(), |(_, b)| b.to_owned())
}

/// Opens a polling session and sends a CONNECT to `/` without a token.
fn connect_without_token(port: u16) {
    let open = http(port, "GET", "/socket.io/?EIO=4&transport=polling", "");
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no sid in {open:?}"));
    http(
        port,
        "POST",
        &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
        "40",
    );
}

/// Runs the broker (JWT required on `/`) with `args`, refuses one
/// connection, and returns every stderr line up to the refusal's.
fn stderr_until_refusal(args: &[&str]) -> Vec<String> {
    let dir = TempDir::new("logs");
    let config = dir.write("ringcast.toml", "[auth]\njwt_hs256_secret = \"k\"\n");
    let port = free_port();
    let child = broker()
        .env_remove("LOG_FORMAT")
        .env("RUST_LOG", "info")
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--shards", "1", "--no-pin", "--config"])
        .arg(&config)
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("broker starts");
    let mut server = Server(child);
    let stderr = server.0.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    wait_listening(&mut server, port);
    connect_without_token(port);
    let mut lines = Vec::new();
    loop {
        // A guard against a hang, not a timed assertion: the line is written
        // before the CONNECT_ERROR is queued.
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no refusal line; stderr so far: {lines:#?}"));
        let done = line.contains(REFUSED);
        lines.push(line);
        if done {
            return lines;
        }
    }
}

#[test]
fn json_lines_parse() {
    let lines = stderr_until_refusal(&["--log-format", "json"]);
    let mut refusal = None;
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{v}");
        if v["fields"]["message"] == REFUSED {
            refusal = Some(v);
        }
    }
    let refusal = refusal.expect("refusal line");
    assert_eq!(refusal["level"], "WARN");
    assert_eq!(refusal["fields"]["reason"], "missing");
    assert_eq!(refusal["fields"]["nsp"], "/");
    assert!(refusal["fields"]["address"]
        .as_str()
        .is_some_and(|a| a.contains("127.0.0.1")));
}

#[test]
fn text_to_a_pipe_has_no_colour_codes() {
    let lines = stderr_until_refusal(&[]);
    assert!(lines.iter().any(|l| l.contains("ringcast listening")));
    for line in &lines {
        assert!(!line.contains('\x1b'), "escape byte in {line:?}");
    }
}

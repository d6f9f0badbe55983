//! A minimal raw HTTP/WebSocket client over `std::net::TcpStream`, for tests
//! that must put exact (also invalid) bytes on the wire.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Connects with a read timeout.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    s.set_nodelay(true).expect("nodelay");
    s
}

/// Sends `req` and reads the response head; returns (status, head+body read so far).
pub fn http(addr: SocketAddr, req: &[u8]) -> (u16, String) {
    let mut s = connect(addr);
    let _ = s.write_all(req);
    let mut buf = Vec::new();
    read_until_head(&mut s, &mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    (status_of(&text), text)
}

fn read_until_head(s: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn status_of(text: &str) -> u16 {
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Whether the peer closed the connection within `within`.
pub fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut chunk = [0u8; 4096];
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    while Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

/// A raw websocket client.
pub struct Ws {
    pub s: TcpStream,
    buf: Vec<u8>,
}

/// The upgrade request for `path_query` with a given key and version.
pub fn upgrade_request(path_query: &str, key: &str, version: &str) -> String {
    format!(
        "GET {path_query} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n\r\n"
    )
}

impl Ws {
    /// Opens a websocket Engine.IO session on `/socket.io/`; returns the
    /// client and the open packet.
    pub fn open(addr: SocketAddr) -> (Self, String) {
        let mut s = connect(addr);
        let req = upgrade_request(
            "/socket.io/?EIO=4&transport=websocket",
            "dGhlIHNhbXBsZSBub25jZQ==",
            "13",
        );
        s.write_all(req.as_bytes()).expect("write");
        let mut buf = Vec::new();
        read_until_head(&mut s, &mut buf);
        let end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("101 head")
            + 4;
        assert!(
            buf.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&buf)
        );
        let rest = buf.split_off(end);
        let mut ws = Self { s, buf: rest };
        let open = ws.recv_text().expect("open packet");
        (ws, open)
    }

    /// A websocket over `s` whose 101 was read, with the bytes read past it.
    pub fn from_parts(s: TcpStream, buf: Vec<u8>) -> Self {
        Self { s, buf }
    }

    /// Sends one frame; `mask` false sends an (invalid) unmasked client frame.
    pub fn frame(&mut self, first_byte: u8, payload: &[u8], mask: bool) {
        let mut out = vec![first_byte];
        let m = if mask { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => out.push(m | n as u8),
            n if n < 65536 => {
                out.push(m | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(m | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        if mask {
            let key = [0x12, 0x34, 0x56, 0x78];
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            out.extend_from_slice(payload);
        }
        let _ = self.s.write_all(&out);
    }

    /// Sends a masked text frame.
    pub fn send_text(&mut self, text: &str) {
        self.frame(0x81, text.as_bytes(), true);
    }

    /// Next frame: (opcode, payload); None on EOF or timeout.
    pub fn recv(&mut self) -> Option<(u8, Vec<u8>)> {
        self.recv_frame().map(|(b0, p)| (b0 & 0x0f, p))
    }

    /// Next frame: (first byte: FIN, RSV bits, opcode; payload).
    pub fn recv_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut chunk = [0u8; 65536];
        loop {
            if self.buf.len() >= 2 {
                let op = self.buf[0];
                let len7 = (self.buf[1] & 0x7f) as usize;
                let (len, hdr) = match len7 {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&self.buf[2..10]);
                        (u64::from_be_bytes(b) as usize, 10)
                    }
                    126 | 127 => (usize::MAX, 0),
                    n => (n, 2),
                };
                if len != usize::MAX && self.buf.len() >= hdr + len {
                    let payload = self.buf[hdr..hdr + len].to_vec();
                    self.buf.drain(..hdr + len);
                    return Some((op, payload));
                }
            }
            match self.s.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Next text frame, answering pings; None on EOF/timeout/close.
    pub fn recv_text(&mut self) -> Option<String> {
        loop {
            let (op, p) = self.recv()?;
            match op {
                1 => {
                    let t = String::from_utf8(p).ok()?;
                    if t == "2" {
                        self.send_text("3");
                        continue;
                    }
                    return Some(t);
                }
                8 => return None,
                _ => {}
            }
        }
    }

    /// The close code of the next close frame (skipping other frames).
    pub fn close_code(&mut self) -> Option<u16> {
        loop {
            let (op, p) = self.recv()?;
            if op == 8 {
                return Some(if p.len() >= 2 {
                    u16::from_be_bytes([p[0], p[1]])
                } else {
                    1005
                });
            }
        }
    }
}

/// A well-behaved client must connect and get an echo ack within 2 s.
pub fn assert_healthy(addr: SocketAddr) {
    let t0 = Instant::now();
    let (mut ws, open) = Ws::open(addr);
    assert!(open.starts_with("0{\"sid\""), "open packet: {open}");
    ws.send_text("40");
    let connected = ws.recv_text().expect("connect reply");
    assert!(connected.starts_with("40{\"sid\""), "{connected}");
    ws.send_text("421[\"echo\",\"still alive\"]");
    loop {
        let t = ws.recv_text().expect("echo ack");
        if t == "431[\"still alive\"]" {
            break;
        }
    }
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "healthy check took {:?}",
        t0.elapsed()
    );
}

/// The resident set size of this process, in bytes.
pub fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A complete HTTP response read by [`request`]: status, head lines, body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body, as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request (`head`, then `body`) on a fresh connection; reads the head
/// and the `Content-Length` body, or only the head of a `101`. Panics when
/// the connection ends first.
pub fn request(addr: SocketAddr, head: &str, body: &[u8]) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body).expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = text.lines();
            let status = lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            let mut r = Response {
                status,
                headers,
                body: Vec::new(),
            };
            let len: usize = r
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if status == 101 || buf.len() >= end + 4 + len {
                r.body = buf[end + 4..(end + 4 + len).min(buf.len())].to_vec();
                return r;
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => panic!("connection ended early: {}", String::from_utf8_lossy(&buf)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

//! The round-robin load balancer of the no-sticky tests: an HTTP/1.1 proxy that sends every
//! request (not every TCP connection) to the next live backend, with no affinity, and behaves on
//! failure as the production balancers the README configures do:
//!
//! - A backend that refuses the connection is skipped: the request goes to the next one (nginx
//!   `proxy_next_upstream error`, HAProxy `retry-on conn-failure` + `option redispatch`).
//! - A backend whose connection fails after the request was sent and before any byte of the
//!   response came back (the node died with the request in flight): an idempotent request (GET,
//!   HEAD: a long-poll GET, a websocket upgrade) is sent again to the next backend, as nginx does
//!   by default (`proxy_next_upstream error` retries idempotent requests only, and only while
//!   nothing was sent to the client); a POST is not (nginx's `non_idempotent` is off by default):
//!   the client gets `502` and its own error handling.
//! - A backend that failed is marked down and skipped for [`FAIL_TIMEOUT`] (nginx `max_fails=1
//!   fail_timeout=10s`, HAProxy's `check` marking a server down).
//!
//! Once a response started, it is relayed as is; a `101` turns the connection into a byte
//! splice. Per-backend request counts let a test check that the proxy really alternated, and a
//! file records where each session's traffic is, so that a scenario knows which node holds what:
//! `ws <sid> <backend index>` for a websocket upgrade (written before the `101` reaches the
//! client), `get <sid> <backend index>` when a polling GET is sent to a backend and `got <sid>`
//! when its response head came back (a `get` with no `got` after it: the long-poll GET waiting in
//! that backend).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a failed backend is left out (nginx's default `fail_timeout`).
const FAIL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest request or response head accepted.
const MAX_HEAD: usize = 64 * 1024;

pub(crate) struct RoundRobin {
    pub(crate) addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    backends: Vec<SocketAddr>,
    /// Round-robin position and, per backend, until when it is down.
    state: Mutex<(usize, Vec<Option<Instant>>)>,
    /// Requests answered (a response head relayed) per backend.
    counts: Vec<AtomicUsize>,
    /// Retries after a failure with the request sent (idempotent requests only).
    retries: AtomicUsize,
    /// Where upgrades and polling GETs are recorded (module docs).
    routes: Option<PathBuf>,
}

impl RoundRobin {
    /// Listens on a free port; `routes`: the file that records websocket upgrades.
    pub(crate) fn start(backends: Vec<SocketAddr>, routes: Option<PathBuf>) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("proxy bind");
        let addr = listener.local_addr().expect("proxy addr");
        if let Some(path) = &routes {
            std::fs::write(path, "").expect("routes file");
        }
        let shared = Arc::new(Shared {
            state: Mutex::new((0, vec![None; backends.len()])),
            counts: backends.iter().map(|_| AtomicUsize::new(0)).collect(),
            backends,
            retries: AtomicUsize::new(0),
            routes,
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let s = s.clone();
                std::thread::spawn(move || serve(&s, client));
            }
        });
        Self { addr, shared }
    }

    /// Requests answered per backend.
    pub(crate) fn counts(&self) -> Vec<usize> {
        self.shared
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    /// Idempotent requests sent again after their backend failed mid-request.
    pub(crate) fn retries(&self) -> usize {
        self.shared.retries.load(Ordering::Relaxed)
    }
}

impl Shared {
    /// The next backend that is not marked down (all down: none).
    fn pick(&self) -> Option<usize> {
        let mut st = self.state.lock().expect("proxy state lock");
        let now = Instant::now();
        let n = self.backends.len();
        for k in 0..n {
            let i = (st.0 + k) % n;
            if st.1[i].is_none_or(|until| until <= now) {
                st.1[i] = None;
                st.0 = i + 1;
                return Some(i);
            }
        }
        None
    }

    fn mark_down(&self, i: usize) {
        let mut st = self.state.lock().expect("proxy state lock");
        st.1[i] = Some(Instant::now() + FAIL_TIMEOUT);
    }

    /// Appends `line` to the routes file (one `write`: lines never interleave).
    fn record(&self, line: &str) {
        let Some(path) = &self.routes else { return };
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .expect("routes file");
        f.write_all(format!("{line}\n").as_bytes())
            .expect("routes write");
    }
}

/// One request read from the client.
struct Request {
    /// Head and body, as received.
    bytes: Vec<u8>,
    idempotent: bool,
    upgrade: bool,
    /// A polling GET (not an upgrade) naming a session.
    polling_get: bool,
    close: bool,
    sid: Option<String>,
}

/// The position just past the first blank line.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Reads until `buf` holds a whole head; false on EOF, error or an oversized head.
fn fill_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = head_end(buf) {
            return Some(end);
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = s.read(&mut chunk).ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The value of header `name` (lowercase) in `head`.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn read_request(client: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Request> {
    let end = fill_head(client, buf)?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut line = head.split(' ');
    let method = line.next()?.to_owned();
    let target = line.next()?.to_owned();
    if header(&head, "transfer-encoding").is_some() {
        return None;
    }
    let len: usize = header(&head, "content-length").map_or(Some(0), |v| v.parse().ok())?;
    let mut chunk = [0u8; 16 * 1024];
    while buf.len() < end + len {
        let n = client.read(&mut chunk).ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    let bytes: Vec<u8> = buf.drain(..end + len).collect();
    let sid = target
        .split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("sid=")))
        .map(str::to_owned);
    let upgrade = header(&head, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    Some(Request {
        bytes,
        idempotent: method == "GET" || method == "HEAD",
        polling_get: method == "GET" && !upgrade && sid.is_some(),
        upgrade,
        close: header(&head, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close")),
        sid,
    })
}

/// A backend's response head (and whatever followed it), on its connection.
struct Upstream {
    stream: TcpStream,
    backend: usize,
    /// Head plus any bytes read past it.
    got: Vec<u8>,
    head_len: usize,
}

/// Sends `req` to the next live backend until one answers with a response head (see the module
/// docs for which failures move on to the next backend).
fn dispatch(shared: &Shared, req: &Request) -> Option<Upstream> {
    let mut sent_once = false;
    for _ in 0..2 * shared.backends.len() {
        let i = shared.pick()?;
        let Ok(mut up) = TcpStream::connect_timeout(&shared.backends[i], Duration::from_secs(1))
        else {
            // Nothing sent: any request may go to the next backend.
            shared.mark_down(i);
            continue;
        };
        let _ = up.set_nodelay(true);
        if sent_once {
            shared.retries.fetch_add(1, Ordering::Relaxed);
        }
        if let (true, Some(sid)) = (req.polling_get, &req.sid) {
            shared.record(&format!("get {sid} {i}"));
        }
        let mut got = Vec::new();
        let head = up
            .write_all(&req.bytes)
            .ok()
            .and_then(|()| fill_head(&mut up, &mut got));
        match head {
            Some(head_len) => {
                if let (true, Some(sid)) = (req.polling_get, &req.sid) {
                    shared.record(&format!("got {sid}"));
                }
                return Some(Upstream {
                    stream: up,
                    backend: i,
                    got,
                    head_len,
                });
            }
            None if got.is_empty() && req.idempotent => {
                // Failed before any response byte: the backend is down, the request is safe to
                // send again.
                shared.mark_down(i);
                sent_once = true;
            }
            None => {
                shared.mark_down(i);
                return None;
            }
        }
    }
    None
}

/// Serves one client connection, request by request.
fn serve(shared: &Shared, mut client: TcpStream) {
    let _ = client.set_nodelay(true);
    let mut buf = Vec::new();
    while let Some(req) = read_request(&mut client, &mut buf) {
        let Some(mut up) = dispatch(shared, &req) else {
            let _ = client.write_all(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        };
        shared.counts[up.backend].fetch_add(1, Ordering::Relaxed);
        let head = String::from_utf8_lossy(&up.got[..up.head_len]).into_owned();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if status == 101 && req.upgrade {
            if let Some(sid) = &req.sid {
                shared.record(&format!("ws {sid} {}", up.backend));
            }
            if client.write_all(&up.got).is_err() || up.stream.write_all(&buf).is_err() {
                return;
            }
            pipe(client, up.stream);
            return;
        }
        let len: usize = header(&head, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut have = up.got.len() - up.head_len;
        if client.write_all(&up.got).is_err() {
            return;
        }
        let mut chunk = [0u8; 16 * 1024];
        while have < len {
            let want = chunk.len().min(len - have);
            let Ok(n) = up.stream.read(&mut chunk[..want]) else {
                return;
            };
            if n == 0 || client.write_all(&chunk[..n]).is_err() {
                return;
            }
            have += n;
        }
        let close = header(&head, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if req.close || close {
            return;
        }
    }
}

/// Copies both ways; when either direction ends, both sockets are shut down.
fn pipe(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let one = move |mut from: TcpStream, mut to: TcpStream| {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    };
    std::thread::spawn(move || one(a, b));
    one(b2, a2);
}

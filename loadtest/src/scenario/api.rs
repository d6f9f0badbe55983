//! The fanout publisher over the broker's HTTP API (`fanout --api URL`):
//! each message is a `POST /api/emit` `{"rooms":[room],"event":"msg",
//! "args":[stamp]}` with `Authorization: Bearer <key>`, sent on one of K
//! keep-alive HTTP/1.1 connections, each with one request in flight (K
//! requests in flight in all), as a backend with a pooled HTTP client does.
//!
//! The connections live on K plain threads with blocking sockets, fed
//! through a channel by the event loop: the publisher is one process's few
//! sockets, and a blocking request/response loop is the simplest correct
//! HTTP client. The in-flight window of the fanout (counted from
//! deliveries) still bounds what is queued here.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::stats::{now_us, Hist};
use crate::wire;

/// A request unanswered this long fails (and its connection is dropped).
const TIMEOUT: Duration = Duration::from_secs(10);

/// What the request threads count.
#[derive(Debug, Default)]
struct Counts {
    /// Requests answered 200.
    accepted: AtomicU64,
    /// Requests answered otherwise, or lost with their connection.
    failed: AtomicU64,
    /// Failure reason -> count.
    errors: Mutex<BTreeMap<String, u64>>,
    /// Request sent -> answer read, µs (answered requests).
    request_us: Mutex<Hist>,
}

impl Counts {
    fn fail(&self, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut e = self.errors.lock().unwrap_or_else(PoisonError::into_inner);
        *e.entry(why).or_insert(0) += 1;
    }
}

/// K keep-alive connections to the API listener.
pub(crate) struct ApiPublisher {
    tx: Option<Sender<Vec<u8>>>,
    counts: Arc<Counts>,
    threads: Vec<JoinHandle<()>>,
}

impl ApiPublisher {
    /// Starts `inflight` request threads towards `url` (`http://host:port`).
    pub(crate) fn start(url: &str, key: &str, inflight: usize) -> Result<Self> {
        let hostport = url
            .strip_prefix("http://")
            .with_context(|| format!("--api {url}: only http:// is supported"))?
            .trim_end_matches('/');
        let addr: SocketAddr = hostport
            .to_socket_addrs()
            .with_context(|| format!("resolving {hostport}"))?
            .next()
            .with_context(|| format!("{hostport} has no address"))?;
        let head = format!(
            "POST /api/emit HTTP/1.1\r\nHost: {hostport}\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: "
        );
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let rx = Arc::new(Mutex::new(rx));
        let counts = Arc::new(Counts::default());
        let threads = (0..inflight.max(1))
            .map(|_| {
                let (rx, counts, head) = (rx.clone(), counts.clone(), head.clone());
                std::thread::spawn(move || worker(addr, &head, &rx, &counts))
            })
            .collect();
        Ok(Self {
            tx: Some(tx),
            counts,
            threads,
        })
    }

    /// Queues one `/api/emit` body.
    pub(crate) fn send(&self, body: Vec<u8>) {
        if let Some(tx) = &self.tx {
            if tx.send(body).is_err() {
                self.counts.fail("api: request threads gone".into());
            }
        }
    }

    /// Requests answered 200 so far.
    pub(crate) fn accepted(&self) -> u64 {
        self.counts.accepted.load(Ordering::Relaxed)
    }

    /// Requests that failed so far.
    pub(crate) fn failed(&self) -> u64 {
        self.counts.failed.load(Ordering::Relaxed)
    }

    /// Failure reasons.
    pub(crate) fn errors(&self) -> BTreeMap<String, u64> {
        self.counts
            .errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Request times (sent → answer read), µs.
    pub(crate) fn request_us(&self) -> Hist {
        self.counts
            .request_us
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Lets the threads finish what is queued and waits for them.
    pub(crate) fn finish(&mut self) {
        self.tx = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One keep-alive connection: takes a body, sends it, reads the answer.
fn worker(addr: SocketAddr, head: &str, rx: &Mutex<Receiver<Vec<u8>>>, counts: &Counts) {
    let mut conn: Option<TcpStream> = None;
    let mut req = Vec::with_capacity(512);
    let mut buf = Vec::with_capacity(4096);
    loop {
        let body = {
            let rx = rx.lock().unwrap_or_else(PoisonError::into_inner);
            match rx.recv() {
                Ok(b) => b,
                Err(_) => return,
            }
        };
        req.clear();
        req.extend_from_slice(head.as_bytes());
        req.extend_from_slice(body.len().to_string().as_bytes());
        req.extend_from_slice(b"\r\n\r\n");
        req.extend_from_slice(&body);
        let stream = match conn.take() {
            Some(s) => s,
            None => match TcpStream::connect(addr) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    let _ = s.set_read_timeout(Some(TIMEOUT));
                    let _ = s.set_write_timeout(Some(TIMEOUT));
                    s
                }
                Err(e) => {
                    counts.fail(format!("api connect: {e}"));
                    continue;
                }
            },
        };
        let sent = now_us();
        let answer = exchange(stream, &req, &mut buf);
        if answer.is_ok() {
            let mut h = counts
                .request_us
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            h.record(now_us().saturating_sub(sent));
        }
        match answer {
            Ok((200, keep)) => {
                counts.accepted.fetch_add(1, Ordering::Relaxed);
                conn = keep;
            }
            Ok((status, keep)) => {
                counts.fail(format!("api status {status}"));
                conn = keep;
            }
            Err(e) => counts.fail(format!("api: {e}")),
        }
    }
}

/// Sends `req` and reads one response; returns the status and the stream
/// when it may be reused.
fn exchange(
    mut s: TcpStream,
    req: &[u8],
    buf: &mut Vec<u8>,
) -> std::result::Result<(u16, Option<TcpStream>), String> {
    s.write_all(req).map_err(|e| e.to_string())?;
    buf.clear();
    let mut chunk = [0u8; 4096];
    let head = loop {
        if let Some(h) = wire::parse_response_head(buf)? {
            break h;
        }
        let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before the answer".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if head.chunked {
        // The API answers with Content-Length; anything else ends the
        // connection after this answer.
        return Ok((head.status, None));
    }
    let want = head.len + head.content_length.unwrap_or(0);
    while buf.len() < want {
        let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed in the body".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let keep = !head.close && buf.len() == want;
    Ok((head.status, keep.then_some(s)))
}

#[cfg(test)]
mod tests {
    use std::io::BufRead;
    use std::net::TcpListener;

    use super::*;

    /// A keep-alive HTTP/1.1 peer that answers every request 200 on one
    /// connection and returns the requests it read (head + body).
    fn peer(listener: TcpListener, n: usize) -> JoinHandle<Vec<String>> {
        std::thread::spawn(move || {
            let (s, _) = listener.accept().expect("a connection");
            let mut r = std::io::BufReader::new(s.try_clone().expect("clone"));
            let mut w = s;
            let mut seen = Vec::new();
            for _ in 0..n {
                let (mut head, mut len) = (String::new(), 0usize);
                loop {
                    let mut line = String::new();
                    r.read_line(&mut line).expect("a line");
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.trim().parse().expect("a length");
                    }
                    head.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).expect("the body");
                seen.push(head + &String::from_utf8_lossy(&body));
                w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
                    .expect("the answer");
            }
            seen
        })
    }

    #[test]
    fn posts_on_one_keep_alive_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = peer(listener, 3);
        let mut p =
            ApiPublisher::start(&format!("http://127.0.0.1:{port}"), "k", 1).expect("start");
        for i in 0..3 {
            p.send(format!(r#"{{"rooms":["r"],"event":"msg","args":[{i}]}}"#).into_bytes());
        }
        p.finish();
        assert_eq!((p.accepted(), p.failed()), (3, 0));
        assert_eq!(p.request_us().len(), 3);
        let seen = seen.join().expect("peer");
        assert!(seen[0].starts_with("POST /api/emit HTTP/1.1\r\n"));
        assert!(seen[0].contains("Authorization: Bearer k\r\n"));
        assert!(seen[2].ends_with(r#"{"rooms":["r"],"event":"msg","args":[2]}"#));
    }

    #[test]
    fn refused_requests_count_as_failed() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let t = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("a connection");
            // Read the whole request first: closing with unread bytes
            // would reset the connection before the answer is read.
            let (mut got, mut b) = (Vec::new(), [0u8; 1024]);
            while !got.ends_with(b"\r\n\r\n{}") {
                let n = s.read(&mut b).expect("the request");
                assert!(n > 0, "request cut short");
                got.extend_from_slice(&b[..n]);
            }
            s.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            )
            .expect("the answer");
        });
        let mut p =
            ApiPublisher::start(&format!("http://127.0.0.1:{port}"), "k", 1).expect("start");
        p.send(b"{}".to_vec());
        p.finish();
        t.join().expect("peer");
        assert_eq!((p.accepted(), p.failed()), (0, 1));
        assert_eq!(p.errors().get("api status 401"), Some(&1));
        assert!(ApiPublisher::start("https://x:1", "k", 1).is_err());
    }
}

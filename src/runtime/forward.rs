//! Forwarding between ringcast nodes (issue 14): a request naming a
//! session that another ringcast node owns (the sid's node tag,
//! `ringcast_proto::sid::node_tag`) is served by that node through this
//! one, so nodes can sit behind a load balancer without affinity.
//!
//! - A polling GET or POST is proxied: the request (head plus a hop
//!   header, [`HOP_HEADER`], and its `Content-Length` body) goes to the
//!   owner over a node-to-node connection taken from this shard's
//!   keep-alive pool for that peer; the owner's response goes back as is.
//! - A websocket upgrade is proxied the same way; after the owner's `101`
//!   the two connections are spliced byte for byte until either closes.
//!   The session never moves (`docs/decisions.md`).
//! - Owner unknown (no key in Redis), refusing connections, or silent past
//!   the bounded wait: the client gets Engine.IO's unknown-sid answer
//!   (`400 {"code":1,"message":"Session ID unknown"}`) and reconnects.
//!
//! # Invariants
//! - A request that carries [`HOP_HEADER`] is never forwarded again, so a
//!   stale address (a restarted node on the same port) cannot loop.
//! - Only a request whose bytes were all sent before any response byte is
//!   retried, once, on a fresh connection, and only when a pooled
//!   connection turned out to be closed (the keep-alive race).
//! - The response head from a peer is hostile like any network input:
//!   bounded ([`MAX_RESPONSE_HEAD`]), parsed without panics.
//! - Per-shard state only (a thread-local): no lock on this path.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Buf;
use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;
use ringcast_proto::engineio::EngineError;
use ringcast_proto::http::RequestHead;
use ringcast_proto::sid;

use super::conn::Next;
use super::io::Conn;
use super::response;
use super::socket::Socket;
use crate::cluster::nodes::{Nodes, Resolved};
use crate::shard::Shard;

/// Marks a request forwarded by a ringcast node (value: the sender's tag).
pub(crate) const HOP_HEADER: &str = "x-ringcast-forwarded";
/// Longest wait for a TCP connection to a peer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest wait for an unknown node tag to be read from Redis.
const RESOLVE_WAIT: Duration = Duration::from_secs(1);
/// How often a shard looks at the table while it waits for a tag.
const RESOLVE_STEP: Duration = Duration::from_millis(5);
/// Idle connections kept per peer per shard.
const MAX_IDLE_PER_PEER: usize = 64;
/// Largest response head accepted from a peer.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;
/// Read chunk size for relaying.
const CHUNK: usize = 16 * 1024;

thread_local! {
    static FORWARDER: RefCell<Option<Rc<Forwarder>>> = const { RefCell::new(None) };
}

/// Installs this shard's forwarder (call once on each shard's thread).
pub(crate) fn install(nodes: Option<Arc<Nodes>>) {
    FORWARDER.with(|f| {
        *f.borrow_mut() = nodes.map(|nodes| {
            Rc::new(Forwarder {
                nodes,
                idle: RefCell::new(HashMap::new()),
            })
        });
    });
}

/// One shard's forwarder: the directory and the idle connections per peer.
pub(crate) struct Forwarder {
    nodes: Arc<Nodes>,
    idle: RefCell<HashMap<SocketAddr, Vec<TcpStream>>>,
}

/// The forwarder and the owner's tag, when `head` names a session of
/// another ringcast node and was not forwarded already.
pub(crate) fn foreign(shard: &Shard, head: &RequestHead) -> Option<(Rc<Forwarder>, String)> {
    let fwd = FORWARDER.with(|f| f.borrow().clone())?;
    let tag = sid::node_tag(head.query.sid.as_deref()?)?;
    if tag == fwd.nodes.tag()
        || super::route::endpoint(&shard.config, &head.path).is_none()
        || head.headers.contains(HOP_HEADER)
    {
        return None;
    }
    Some((fwd.clone(), tag.to_owned()))
}

/// Why an exchange with the owner failed.
#[derive(Debug)]
enum FwdError {
    /// Nothing reached the client yet: answer unknown sid.
    Unreachable(Failure),
    /// Part of the response was relayed: close the client connection.
    Broken,
}

/// A failed forward, the `reason` of `ringcast_forward_failures_total`
/// (indexed like `shard::stats::FORWARD_FAILURES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The sid's node tag is not registered in Redis (the node is gone).
    UnknownOwner,
    /// No TCP connection to the owner (refused, or not within 1 s).
    Connect,
    /// No response head from the owner within the bounded wait.
    Timeout,
    /// The owner closed the connection (or answered garbage) before a
    /// response head.
    Closed,
    /// The relay broke after part of the response reached the client.
    Broken,
}

/// Counts one forwarded request of `head`'s kind on `shard`
/// (`ringcast_forwarded_requests_total{kind}`, indexed like
/// `shard::stats::FORWARD_KINDS`).
fn count_forward(shard: &Shard, head: &RequestHead) {
    let kind = if head.upgrade_websocket {
        2
    } else if head.method == ringcast_proto::http::Method::Post {
        1
    } else {
        0
    };
    let c = &shard.stats.forwarded[kind];
    c.set(c.get() + 1);
}

fn count_failure(shard: &Shard, f: Failure) {
    let c = &shard.stats.forward_failures[f as usize];
    c.set(c.get() + 1);
}

impl Forwarder {
    /// Serves one request of a session owned by node `tag`.
    pub(crate) async fn serve(
        &self,
        shard: &Shard,
        conn: &mut Conn,
        head: RequestHead,
        head_len: usize,
        tag: &str,
    ) -> Next {
        count_forward(shard, &head);
        let Some(addr) = self.resolve(tag).await else {
            count_failure(shard, Failure::UnknownOwner);
            tracing::debug!(node = %tag, "forward: owner unknown");
            return unknown(shard, conn, head, head_len).await;
        };
        if head.chunked {
            // Engine.IO clients send Content-Length; a chunked body is not
            // delimited here without decoding it.
            conn.rbuf.advance(head_len);
            return response::send_engine_error(shard, conn, &head, EngineError::BadRequest).await;
        }
        let max = shard.config.max_http_buffer_size as u64;
        let body_len = match head.content_length {
            Some(n) if n <= max => n as usize,
            // Too large: the owner answers 413 from the head alone.
            _ => 0,
        };
        let whole = head_len + body_len;
        while conn.rbuf.len() < whole {
            let read = glommio::timer::timeout(shard.config.http_body_timeout, async {
                Ok(conn.fill(shard).await)
            })
            .await;
            match read {
                Ok(Ok(n)) if n > 0 => {}
                _ => return Next::Close,
            }
        }
        let mut req = with_hop_header(&conn.rbuf[..head_len], self.nodes.tag());
        req.extend_from_slice(&conn.rbuf[head_len..whole]);
        conn.rbuf.advance(whole);
        let oversized = head.content_length.is_some_and(|n| n > max);
        let wait = shard.config.ping_interval + shard.config.ping_timeout + Duration::from_secs(5);
        let limits = Limits {
            head: wait,
            body: shard.config.http_body_timeout,
        };
        let out = self
            .exchange(addr, &req, conn, head.upgrade_websocket, limits)
            .await;
        match out {
            Ok(Relayed::KeepAlive) if head.keep_alive && !oversized => {
                // An idle keep-alive connection holds no read buffer.
                conn.compact();
                Next::KeepAlive
            }
            Ok(_) => Next::Close,
            Err(FwdError::Unreachable(why)) => {
                count_failure(shard, why);
                self.nodes.forget(tag);
                tracing::debug!(node = %tag, %addr, ?why, "forward: owner unreachable");
                let mut h = head;
                h.keep_alive = h.keep_alive && !oversized;
                response::send_engine_error(shard, conn, &h, EngineError::UnknownSid).await
            }
            Err(FwdError::Broken) => {
                count_failure(shard, Failure::Broken);
                Next::Close
            }
        }
    }

    /// The address of node `tag`: from the table, else asked of Redis and
    /// waited for, [`RESOLVE_WAIT`] at most. A tag read as absent moments
    /// ago is answered at once.
    async fn resolve(&self, tag: &str) -> Option<SocketAddr> {
        match self.nodes.lookup(tag, Instant::now()) {
            Resolved::At(a) => return Some(a),
            Resolved::Absent => return None,
            Resolved::Unknown => {}
        }
        // The directory thread reads it now; its answer lands in the table
        // (an `Absent` from here on is that answer: it was `Unknown` above).
        self.nodes.want(tag);
        let steps = RESOLVE_WAIT.as_millis() / RESOLVE_STEP.as_millis();
        for _ in 0..steps {
            glommio::timer::sleep(RESOLVE_STEP).await;
            match self.nodes.lookup(tag, Instant::now()) {
                Resolved::At(a) => return Some(a),
                Resolved::Absent => return None,
                Resolved::Unknown => {}
            }
        }
        None
    }

    fn take_idle(&self, addr: SocketAddr) -> Option<TcpStream> {
        self.idle.borrow_mut().get_mut(&addr)?.pop()
    }

    fn put_idle(&self, addr: SocketAddr, s: TcpStream) {
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry(addr).or_default();
        if list.len() < MAX_IDLE_PER_PEER {
            list.push(s);
        }
    }

    /// Sends `req` to `addr` and relays the response to `conn`.
    /// The response head must come within `limits.head`, its body within
    /// `limits.body`; a spliced websocket has no limit (either end closing
    /// ends it, and the owner closes it on a missed heartbeat).
    async fn exchange(
        &self,
        addr: SocketAddr,
        req: &[u8],
        conn: &mut Conn,
        upgrade: bool,
        limits: Limits,
    ) -> Result<Relayed, FwdError> {
        for attempt in 0..2 {
            // The retry always dials: the pooled connection that failed
            // says the others are likely stale too (the peer restarted, or
            // closed its idle connections), so they go.
            let pooled = if attempt == 0 {
                self.take_idle(addr)
            } else {
                self.idle.borrow_mut().remove(&addr);
                None
            };
            let (mut peer, reused) = match pooled {
                Some(s) => (s, true),
                None => {
                    let s = TcpStream::connect_timeout(addr, CONNECT_TIMEOUT)
                        .await
                        .map_err(|_| FwdError::Unreachable(Failure::Connect))?;
                    let _ = s.set_nodelay(true);
                    (s, false)
                }
            };
            let head = glommio::timer::timeout(limits.head, async {
                Ok(send_and_read_head(&mut peer, req).await)
            })
            .await;
            let head = match head {
                Ok(Ok(h)) => h,
                Ok(Err(_)) if reused => continue,
                Ok(Err(_)) => return Err(FwdError::Unreachable(Failure::Closed)),
                Err(_) => return Err(FwdError::Unreachable(Failure::Timeout)),
            };
            let relayed = relay(&mut peer, conn, head, upgrade, limits.body).await?;
            if relayed == Relayed::KeepAlive {
                self.put_idle(addr, peer);
            }
            return Ok(relayed);
        }
        Err(FwdError::Unreachable(Failure::Closed))
    }
}

/// Bounds of one exchange.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// From sending the request to the end of the response head (a long
    /// poll included).
    head: Duration,
    /// For the response body.
    body: Duration,
}

/// How a relayed response ended.
#[derive(Debug, PartialEq, Eq)]
enum Relayed {
    /// Complete; both connections may serve another request.
    KeepAlive,
    /// Complete (or a spliced websocket ended); close.
    Close,
}

/// The unknown-sid answer, the request consumed.
async fn unknown(shard: &Shard, conn: &mut Conn, head: RequestHead, head_len: usize) -> Next {
    conn.rbuf.advance(head_len.min(conn.rbuf.len()));
    response::send_engine_error(shard, conn, &head, EngineError::UnknownSid).await
}

/// `head` (a complete request head) with [`HOP_HEADER`] added last.
fn with_hop_header(head: &[u8], tag: &str) -> Vec<u8> {
    let cut = if head.ends_with(b"\r\n\r\n") {
        head.len() - 2
    } else if head.ends_with(b"\n\n") {
        head.len() - 1
    } else {
        head.len()
    };
    let mut out = Vec::with_capacity(head.len() + 48);
    out.extend_from_slice(&head[..cut]);
    out.extend_from_slice(format!("X-Ringcast-Forwarded: {tag}\r\n\r\n").as_bytes());
    out
}

/// A response head from a peer.
#[derive(Debug, PartialEq, Eq)]
struct ResponseHead {
    /// The head's bytes (through the blank line) and whatever followed.
    bytes: Vec<u8>,
    meta: Meta,
}

/// What the relay needs from a response head.
#[derive(Debug, PartialEq, Eq)]
struct Meta {
    status: u16,
    content_length: Option<u64>,
    /// `Connection: close`, or HTTP/1.0.
    close: bool,
    /// Length of the head (through the blank line).
    len: usize,
}

/// Parses a response head at the start of `buf`: `Ok(None)` incomplete,
/// `Err(())` not a response ringcast sends (the peer connection is dropped).
fn parse_response_head(buf: &[u8]) -> Result<Option<Meta>, ()> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_RESPONSE_HEAD {
            Err(())
        } else {
            Ok(None)
        };
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| ())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().ok_or(())?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().ok_or(())?;
    let status: u16 = parts.next().ok_or(())?.parse().map_err(|_| ())?;
    let mut close = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(()),
    };
    let mut content_length = None;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(())?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value.parse().map_err(|_| ())?;
            if content_length.is_some_and(|c| c != n) {
                return Err(());
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                close = true;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                close = false;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // ringcast always sends Content-Length.
            return Err(());
        }
    }
    Ok(Some(Meta {
        status,
        content_length,
        close,
        len: end + 4,
    }))
}

/// Writes `req` and reads the response head (with any bytes after it).
async fn send_and_read_head(peer: &mut TcpStream, req: &[u8]) -> io::Result<ResponseHead> {
    write_all(peer, req).await?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = poll_fn(|cx| Pin::new(&mut *peer).poll_read(cx, &mut chunk)).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        match parse_response_head(&buf) {
            Ok(Some(meta)) => return Ok(ResponseHead { bytes: buf, meta }),
            Ok(None) => {}
            Err(()) => return Err(io::ErrorKind::InvalidData.into()),
        }
    }
}

async fn write_all(s: &mut TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *s).poll_write(cx, data)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[n..];
    }
    Ok(())
}

/// Relays the owner's response to the client: the head, then the body
/// (`Content-Length`), or after a `101` the spliced websocket.
async fn relay(
    peer: &mut TcpStream,
    conn: &mut Conn,
    head: ResponseHead,
    upgrade: bool,
    body_limit: Duration,
) -> Result<Relayed, FwdError> {
    let meta = &head.meta;
    if upgrade && meta.status == 101 {
        conn.write_all(&head.bytes)
            .await
            .map_err(|_| FwdError::Broken)?;
        let pending = std::mem::take(&mut conn.rbuf).to_vec();
        let _ = splice(&mut conn.socket, peer, pending).await;
        return Ok(Relayed::Close);
    }
    let body = match meta.status {
        100..=199 | 204 | 304 => 0,
        _ => meta.content_length.ok_or(FwdError::Broken)?,
    };
    let have = (head.bytes.len() - meta.len) as u64;
    if have > body {
        // Bytes past the response: a peer speaking out of turn.
        return Err(FwdError::Broken);
    }
    conn.write_all(&head.bytes)
        .await
        .map_err(|_| FwdError::Broken)?;
    let copied = glommio::timer::timeout(body_limit, async {
        Ok(copy_body(peer, conn, body - have).await)
    })
    .await;
    if !matches!(copied, Ok(Ok(()))) {
        return Err(FwdError::Broken);
    }
    Ok(if meta.close || upgrade {
        Relayed::Close
    } else {
        Relayed::KeepAlive
    })
}

/// Copies exactly `left` body bytes from the peer to the client.
async fn copy_body(peer: &mut TcpStream, conn: &mut Conn, mut left: u64) -> io::Result<()> {
    let mut chunk = vec![0u8; CHUNK];
    while left > 0 {
        let want = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = poll_fn(|cx| Pin::new(&mut *peer).poll_read(cx, &mut chunk[..want])).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        conn.write_all(&chunk[..n]).await?;
        left -= n as u64;
    }
    Ok(())
}

/// One direction of a splice.
struct Pipe {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Pipe {
    fn new(pending: Vec<u8>) -> Self {
        let end = pending.len();
        let mut buf = pending;
        if buf.len() < CHUNK {
            buf.resize(CHUNK, 0);
        }
        Self { buf, start: 0, end }
    }

    /// Moves bytes `from` -> `to` until either would block (`Pending`),
    /// or EOF / an error (`Ready`: the splice ends).
    fn poll_pump(
        &mut self,
        cx: &mut Context<'_>,
        from: &mut impl Duplex,
        to: &mut impl Duplex,
    ) -> Poll<()> {
        loop {
            while self.start < self.end {
                match to.poll_send(cx, &self.buf[self.start..self.end]) {
                    Poll::Ready(Ok(n)) if n > 0 => self.start += n,
                    Poll::Ready(_) => return Poll::Ready(()),
                    Poll::Pending => return Poll::Pending,
                }
            }
            self.start = 0;
            self.end = 0;
            match from.poll_recv(cx, &mut self.buf) {
                Poll::Ready(Ok(n)) if n > 0 => self.end = n,
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Either end of a splice: the client's socket or the glommio stream to
/// the owner.
trait Duplex {
    fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
    fn poll_send(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
}

impl Duplex for TcpStream {
    fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(self).poll_read(cx, buf)
    }
    fn poll_send(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(self).poll_write(cx, buf)
    }
}

impl Duplex for Socket {
    fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Self::poll_recv(self, cx, buf)
    }
    fn poll_send(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Self::poll_send(self, cx, buf)
    }
}

/// Copies bytes both ways until either side closes; `pending` (client
/// bytes read past the upgrade head) go to the peer first.
async fn splice(client: &mut Socket, peer: &mut TcpStream, pending: Vec<u8>) {
    let mut up = Pipe::new(pending);
    let mut down = Pipe::new(Vec::new());
    poll_fn(|cx| {
        if up.poll_pump(cx, client, peer).is_ready() || down.poll_pump(cx, peer, client).is_ready()
        {
            return Poll::Ready(());
        }
        Poll::Pending
    })
    .await;
    let _ = client.shutdown(std::net::Shutdown::Both);
    let _ = peer.shutdown(std::net::Shutdown::Both).await;
}

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;

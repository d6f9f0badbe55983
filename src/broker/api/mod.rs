//! The `[api]` listener (spec broker.md §5 and §6): the HTTP server API
//! (`/api/*`, bearer key) and the observability endpoints (`/metrics`,
//! `/healthz`, `/readyz`, no key).
//!
//! # Where it runs
//! On shard 0's executor, as one accept task plus one task per connection
//! (see docs/decisions.md): the API's calls are the library's own cluster
//! operations (`server::of(nsp)`, broadcast operators, `sockets_join`,
//! `fetch_sockets`, ...), which must run on a shard thread, and their
//! results come back to the shard that started them. Every step is
//! non-blocking (io_uring reads and writes, results awaited as futures),
//! so the shard's sockets are never held up by an API client; the listener
//! socket is bound by the binary before the shards start, so a bad
//! address stops the start like any other configuration error.
//!
//! # Hostile input
//! Heads are parsed by `ringcast_proto::http` (bounded head size and
//! header count); a body over `max_http_buffer_size` is refused with 413
//! before it is read; a request must arrive within [`READ_TIMEOUT`] and its
//! answer be taken within [`WRITE_TIMEOUT`]; at most
//! [`MAX_CONNECTIONS`] connections are served at once (more are closed at
//! accept). Every failure is a JSON `{"error": ...}` answer and the
//! connection closed; nothing here unwraps network data.

mod routes;

use std::cell::Cell;
use std::net::TcpListener as StdListener;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::Mutex;
use std::time::Duration;

use bytes::BytesMut;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use ringcast_proto::http::{parse_request, ChunkedDecoder, HttpError, Limits, RequestHead};
use serde_json::json;

use super::metrics::ApiCounts;
use crate::server::Builder;
use crate::shard::Shard;

/// How long a connection may take to send one complete request (head and
/// body), and may stay idle between requests.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long writing one answer may take. A peer that stops reading (say a
/// client without the key pipelining `GET /metrics` and never reading the
/// answers) would otherwise block the write, and hold its connection slot,
/// forever: [`MAX_CONNECTIONS`] such peers would shut the API out.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections served at once; more are closed as soon as accepted.
pub const MAX_CONNECTIONS: usize = 256;

/// The `[api]` settings, with the listener already bound.
#[derive(Debug)]
pub struct Api {
    /// The bound listener (taken by shard 0 when it starts).
    listener: Mutex<Option<OwnedFd>>,
    /// The bearer key of `/api/*`; None: `/api/*` answers 401 to everyone
    /// (observability endpoints only).
    key: Option<String>,
}

impl Api {
    /// Binds `listen` now, so an address in use stops the start.
    pub fn bind(listen: std::net::SocketAddr, key: Option<String>) -> std::io::Result<Self> {
        let l = StdListener::bind(listen)?;
        // SAFETY: into_raw_fd transfers ownership of a valid descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(l.into_raw_fd()) };
        Ok(Self {
            listener: Mutex::new(Some(fd)),
            key,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        let guard = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        let fd = guard.as_ref()?.try_clone().ok()?;
        StdListener::from(fd).local_addr().ok()
    }

    /// Adds the listener to the application: it starts on shard 0.
    pub fn attach(self, builder: Builder) -> Builder {
        builder.on_shard_start(move |id| {
            if id != 0 {
                return;
            }
            let fd = self
                .listener
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(fd) = fd {
                let state = Rc::new(State {
                    key: self.key.clone(),
                    counts: ApiCounts::default(),
                    open: Cell::new(0),
                });
                glommio::spawn_local(accept_loop(fd, state)).detach();
            }
        })
    }
}

/// The listener's state on its shard.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) key: Option<String>,
    pub(crate) counts: ApiCounts,
    open: Cell<usize>,
}

async fn accept_loop(fd: OwnedFd, state: Rc<State>) {
    // SAFETY: the descriptor is a listening TCP socket we own.
    let listener = unsafe { TcpListener::from_raw_fd(fd.into_raw_fd()) };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "api listening");
    }
    let mut backoff = Duration::from_millis(5);
    loop {
        match listener.accept().await {
            Ok(stream) => {
                backoff = Duration::from_millis(5);
                if state.open.get() >= MAX_CONNECTIONS {
                    drop(stream);
                    continue;
                }
                state.open.set(state.open.get() + 1);
                let state = state.clone();
                glommio::spawn_local(async move {
                    serve(&state, stream).await;
                    state.open.set(state.open.get() - 1);
                })
                .detach();
            }
            Err(e) => {
                tracing::warn!(error = %e, "api accept failed; backing off");
                glommio::timer::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// A request as the routes see it.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) head: RequestHead,
    pub(crate) body: BytesMut,
}

/// An answer: status, content type, body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// A JSON answer.
    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }

    /// `{"error": what}` with `status`.
    pub(crate) fn error(status: u16, what: impl std::fmt::Display) -> Self {
        Self::json(status, &json!({ "error": what.to_string() }))
    }
}

/// Serves requests on one connection until it closes, errs or asks to.
async fn serve(state: &State, mut stream: TcpStream) {
    let shard = Shard::current();
    let max_body = shard.config.max_http_buffer_size;
    let mut buf = BytesMut::new();
    loop {
        // One deadline for the whole request (a peer trickling bytes cannot
        // hold a connection slot longer), and for idling between requests.
        let read = async { Some(read_request(&mut stream, &mut buf, max_body).await) };
        let deadline = async {
            glommio::timer::sleep(READ_TIMEOUT).await;
            None
        };
        let Some(read) = futures_lite::future::or(read, deadline).await else {
            return;
        };
        let (req, keep_alive) = match read {
            Ok(Some(req)) => {
                let keep = req.head.keep_alive;
                (Ok(req), keep)
            }
            Ok(None) => return,
            Err(e) => (Err(e), false),
        };
        let refused = req.is_err();
        let began = std::time::Instant::now();
        let (path, reply) = match req {
            Ok(req) => routes::handle(state, &shard, &req).await,
            Err(e) => ("other", Reply::error(e.status(), e)),
        };
        state.counts.count(path, reply.status, began.elapsed());
        let mut out = BytesMut::new();
        ringcast_proto::http::write_head(
            reply.status,
            &[
                ("Content-Type", reply.content_type),
                ("Cache-Control", "no-store"),
            ],
            reply.body.len(),
            keep_alive,
            &mut out,
        );
        out.extend_from_slice(&reply.body);
        if !write_within(&mut stream, &out, WRITE_TIMEOUT).await {
            return;
        }
        if refused {
            return linger(stream).await;
        }
        if !keep_alive {
            let _ = stream.close().await;
            return;
        }
    }
}

/// Writes `bytes` within `limit`; false when the write failed or the peer
/// did not take the bytes in time (the caller drops the connection).
async fn write_within(stream: &mut TcpStream, bytes: &[u8], limit: Duration) -> bool {
    let write = async { Some(stream.write_all(bytes).await.is_ok()) };
    let deadline = async {
        glommio::timer::sleep(limit).await;
        None
    };
    futures_lite::future::or(write, deadline)
        .await
        .unwrap_or(false)
}

/// After refusing a request whose body may still be arriving (413, bad
/// framing): closes our side, then reads and discards what the peer still
/// sends (bounded in bytes and time), so the kernel does not answer
/// unread data with a reset that would destroy the error reply in flight.
async fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write).await;
    let _ = stream.set_read_timeout(Some(LINGER));
    let mut chunk = [0u8; 8192];
    let mut left = LINGER_BYTES;
    while left > 0 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// How long [`linger`] waits for the peer between reads.
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes [`linger`] discards.
const LINGER_BYTES: usize = 4 << 20;

/// Reads one request (head and body). `Ok(None)`: the peer closed or went
/// silent between requests.
async fn read_request(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    max_body: usize,
) -> Result<Option<Request>, HttpError> {
    let limits = Limits::default();
    let (head, len) = loop {
        if let Some(parsed) = parse_request(buf, &limits)? {
            break parsed;
        }
        if !fill(stream, buf).await {
            // A request cut short is not answered: the peer is gone.
            return Ok(None);
        }
    };
    let _ = buf.split_to(len);
    let body = if head.chunked {
        let mut decoder = ChunkedDecoder::new(max_body);
        let mut body = BytesMut::new();
        while !decoder.decode(buf, &mut body)? {
            if !fill(stream, buf).await {
                return Err(HttpError::Malformed);
            }
        }
        body
    } else {
        let n = head.content_length.unwrap_or(0);
        if n > max_body as u64 {
            return Err(HttpError::BodyTooLarge);
        }
        // Bounded by max_body just above.
        let n = n as usize;
        let expects = head
            .headers
            .iter()
            .any(|(k, v)| k == "expect" && v.eq_ignore_ascii_case("100-continue"));
        if expects && buf.len() < n {
            // curl waits for this before sending a large body.
            let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
        }
        while buf.len() < n {
            if !fill(stream, buf).await {
                return Err(HttpError::Malformed);
            }
        }
        buf.split_to(n)
    };
    Ok(Some(Request { head, body }))
}

/// Reads more bytes into `buf`; false on EOF, error or timeout.
async fn fill(stream: &mut TcpStream, buf: &mut BytesMut) -> bool {
    let mut chunk = [0u8; 8192];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer that never reads cannot hold a write (and its connection
    /// slot) forever.
    #[test]
    fn write_to_a_peer_that_never_reads_gives_up() {
        glommio::LocalExecutorBuilder::default()
            .spawn(|| async {
                let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
                let addr = listener.local_addr().expect("bound");
                // Connected, and never read from while the server writes.
                let _peer = TcpStream::connect(addr).await.expect("connects");
                let mut stream = listener.accept().await.expect("accepts");
                // Far more than the socket buffers of both ends hold.
                let big = vec![b'x'; 64 << 20];
                let done = write_within(&mut stream, &big, Duration::from_millis(200)).await;
                assert!(!done, "the write must give up");
            })
            .expect("executor starts")
            .join()
            .expect("test ran");
    }
}

//! A small HTTP/1.1 client for the backend hooks, on the shard's own
//! glommio executor (the shards run no tokio; see docs/decisions.md
//! "Backend hooks: an HTTP/1.1 client on glommio").
//!
//! `http://` only, `POST` with a JSON body, one request at a time per
//! connection. Each shard keeps its own pool of idle keep-alive
//! connections per backend ([`POOL`], a `RefCell` touched by the shard's
//! thread only), at most [`MAX_IDLE`] per backend. A connection goes back
//! to the pool only after a complete, delimited response; a timeout drops
//! it. A pooled connection that the backend closed while idle fails before
//! any response byte: the request is sent once more on a fresh connection
//! (the backend never saw it).
//!
//! At most [`MAX_OPEN`] calls per backend per shard are in flight (each on
//! its own connection); more wait for a free slot, within their timeout, so
//! a client flooding events at a slow backend cannot open a connection per
//! event towards it.
//!
//! The whole call (waiting for a slot, connect, write, read) is bounded by
//! the hook's timeout ([`post`]): a slow backend delays only the task that
//! awaits it.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::str::FromStr;
use std::time::Duration;

use ahash::AHashMap;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use glommio::sync::Semaphore;

use super::response::{self, Malformed, Response};

/// Calls in flight (so connections open) per backend per shard.
const MAX_OPEN: u64 = 256;
/// Idle connections kept per backend per shard: as many as may be open,
/// so a steady load reuses every connection instead of churning some.
const MAX_IDLE: usize = MAX_OPEN as usize;

/// A hook URL as configured: `http://host[:port][/path]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookUrl {
    /// `host` or `host:port`, as written (the `Host` header).
    pub authority: String,
    /// The host name or address.
    pub host: String,
    /// The port (80 when not written).
    pub port: u16,
    /// The path and query (`/` when not written).
    pub path: String,
}

impl FromStr for HookUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix("http://")
            .ok_or_else(|| "must start with http:// (put TLS in a local proxy)".to_owned())?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        if authority.contains('@') {
            return Err("user:password@ is not supported".into());
        }
        if path.contains(|c: char| c.is_ascii_whitespace() || c.is_ascii_control() || c == '#') {
            return Err("the path has a space, control character or fragment".into());
        }
        let (host, port) = match authority.rsplit_once(':') {
            // An IPv6 address without a port: `[::1]`.
            Some((h, p)) if !p.contains(']') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("invalid port {p:?}"))?;
                (h, port)
            }
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err("no host".into());
        }
        Ok(Self {
            authority: authority.to_owned(),
            host: host.to_owned(),
            port,
            path,
        })
    }
}

impl fmt::Display for HookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.path)
    }
}

/// A hook endpoint with its address resolved once, at start (a blocking
/// lookup has no place on a shard).
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The URL as configured.
    pub url: HookUrl,
    /// Where to connect.
    pub addr: SocketAddr,
}

impl Endpoint {
    /// Resolves `url`'s host (the first address found).
    pub fn resolve(url: HookUrl) -> io::Result<Self> {
        let addr = (url.host.as_str(), url.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
        Ok(Self { url, addr })
    }
}

/// Why a hook call failed; every variant is answered as "unavailable".
#[derive(Debug)]
pub enum CallError {
    /// No answer within the hook's timeout.
    Timeout,
    /// Connecting, writing or reading failed.
    Io(io::Error),
    /// The reply is not a valid HTTP/1.1 response within the limits.
    Malformed(&'static str),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out"),
            Self::Io(e) => write!(f, "{e}"),
            Self::Malformed(what) => write!(f, "malformed reply: {what}"),
        }
    }
}

thread_local! {
    /// Idle keep-alive connections of this shard, per backend address.
    static POOL: RefCell<AHashMap<SocketAddr, Vec<TcpStream>>> = RefCell::new(AHashMap::new());
    /// Slots for calls in flight on this shard, per backend address.
    static SLOTS: RefCell<AHashMap<SocketAddr, Rc<Semaphore>>> = RefCell::new(AHashMap::new());
}

/// POSTs `body` (JSON) to `endpoint`; the whole call is bounded by
/// `timeout`.
pub(crate) async fn post(
    endpoint: &Endpoint,
    body: &[u8],
    timeout: Duration,
) -> Result<Response, CallError> {
    let call = async { Some(exchange(endpoint, body).await) };
    let timer = async {
        glommio::timer::Timer::new(timeout).await;
        None
    };
    futures_lite::future::or(call, timer)
        .await
        .unwrap_or(Err(CallError::Timeout))
}

/// One request: on a pooled connection if there is one (retried once on a
/// fresh connection if that one turns out closed), else on a new one.
async fn exchange(endpoint: &Endpoint, body: &[u8]) -> Result<Response, CallError> {
    let slots = SLOTS.with(|s| {
        s.borrow_mut()
            .entry(endpoint.addr)
            .or_insert_with(|| Rc::new(Semaphore::new(MAX_OPEN)))
            .clone()
    });
    // Invariant: the semaphore is never closed, so acquiring only waits.
    let _slot = slots
        .acquire_permit(1)
        .await
        .map_err(|_| CallError::Io(io::ErrorKind::Other.into()))?;
    let request = request(&endpoint.url, body);
    let pooled = POOL.with(|p| p.borrow_mut().get_mut(&endpoint.addr).and_then(Vec::pop));
    if let Some(stream) = pooled {
        match round_trip(stream, &request).await {
            Ok((response, stream)) => return Ok(keep(endpoint, response, stream)),
            // Closed while idle: nothing was answered, send it again.
            Err(Failure::Stale) => {}
            Err(Failure::Call(e)) => return Err(e),
        }
    }
    let stream = TcpStream::connect(endpoint.addr)
        .await
        .map_err(|e| CallError::Io(e.into()))?;
    // Small requests and replies: do not wait for Nagle.
    let _ = stream.set_nodelay(true);
    match round_trip(stream, &request).await {
        Ok((response, stream)) => Ok(keep(endpoint, response, stream)),
        Err(Failure::Stale) => Err(CallError::Io(io::ErrorKind::UnexpectedEof.into())),
        Err(Failure::Call(e)) => Err(e),
    }
}

/// Returns the connection to the pool when it may carry another request.
fn keep(endpoint: &Endpoint, response: Response, stream: TcpStream) -> Response {
    if response.reusable {
        POOL.with(|p| {
            let mut pool = p.borrow_mut();
            let idle = pool.entry(endpoint.addr).or_default();
            if idle.len() < MAX_IDLE {
                idle.push(stream);
            }
        });
    }
    response
}

enum Failure {
    /// The connection failed before any response byte arrived.
    Stale,
    Call(CallError),
}

/// Writes `request` and reads one response.
async fn round_trip(
    mut stream: TcpStream,
    request: &[u8],
) -> Result<(Response, TcpStream), Failure> {
    if stream.write_all(request).await.is_err() {
        return Err(Failure::Stale);
    }
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            Err(_) if buf.is_empty() => return Err(Failure::Stale),
            Err(e) => return Err(Failure::Call(CallError::Io(e))),
        };
        if n == 0 && buf.is_empty() {
            return Err(Failure::Stale);
        }
        buf.extend_from_slice(&chunk[..n]);
        match response::parse(&buf, n == 0) {
            Ok(Some(response)) => return Ok((response, stream)),
            Ok(None) if buf.len() > response::MAX_HEAD + response::MAX_BODY + 64 * 1024 => {
                return Err(Failure::Call(CallError::Malformed("reply too large")))
            }
            Ok(None) => {}
            Err(Malformed(what)) => return Err(Failure::Call(CallError::Malformed(what))),
        }
    }
}

/// The request bytes.
fn request(url: &HookUrl, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + body.len());
    out.extend_from_slice(
        format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: application/json\r\nUser-Agent: ringcast/{}\r\nContent-Length: {}\r\n\r\n",
            url.path,
            url.authority,
            env!("CARGO_PKG_VERSION"),
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u: HookUrl = "http://127.0.0.1:8080/ringcast/connect"
            .parse()
            .expect("valid");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8080, "/ringcast/connect")
        );
        let u: HookUrl = "http://backend".parse().expect("valid");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("backend", 80, "/")
        );
        let u: HookUrl = "http://[::1]:81?x=1".parse().expect("valid");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 81, "/?x=1")
        );
        assert_eq!(u.to_string(), "http://[::1]:81/?x=1");
        for bad in [
            "https://x/",
            "x",
            "http://:80/",
            "http://h:99999/",
            "http://u@h/",
            "http://h/a b",
        ] {
            assert!(bad.parse::<HookUrl>().is_err(), "{bad}");
        }
    }
}

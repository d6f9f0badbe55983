//! The subscriber of sharded mode: `SSUBSCRIBE` on a plain TCP connection
//! speaking RESP2, on its own thread.
//!
//! The `redis` crate's blocking pub/sub has no `ssubscribe` and, in RESP2,
//! drops `smessage` pushes, so this is a minimal client of its own:
//! - [`Subs`] is the set of channels the node must hold plus the write
//!   half of the live connection, behind one mutex. The core adds and
//!   removes room channels through it; each change is written at once
//!   (`SSUBSCRIBE` / `SUNSUBSCRIBE`, one channel per command so that a
//!   Redis Cluster never sees a cross-slot command).
//! - The reader thread connects (AUTH / SELECT from the URL), installs the
//!   write half and subscribes the whole set under the same lock (so a
//!   change made while the link is down is never lost), then forwards
//!   every `smessage` to the core. When the link breaks it logs, drops the
//!   write half, reconnects with backoff and subscribes again.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use crossbeam_channel::Sender;

use super::{Counters, Event};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const IO_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Largest bulk string / array accepted from Redis.
const MAX_BULK: usize = 512 << 20;

#[derive(Debug, Default)]
struct State {
    channels: BTreeSet<String>,
    writer: Option<TcpStream>,
}

/// The channels the node holds, shared by the core and the reader thread.
#[derive(Debug, Clone, Default)]
pub(crate) struct Subs(Arc<Mutex<State>>);

impl Subs {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds `channel` from now on (now if connected, else on reconnect).
    pub(crate) fn subscribe(&self, channel: &str) {
        let mut st = self.lock();
        if st.channels.insert(channel.to_owned()) {
            send(&mut st, &["SSUBSCRIBE", channel]);
        }
    }

    /// Stops holding `channel`.
    pub(crate) fn unsubscribe(&self, channel: &str) {
        let mut st = self.lock();
        if st.channels.remove(channel) {
            send(&mut st, &["SUNSUBSCRIBE", channel]);
        }
    }
}

/// Writes one command on the live connection; a failed write drops the
/// write half (the reader notices the broken link and resubscribes).
fn send(st: &mut State, args: &[&str]) {
    if let Some(w) = st.writer.as_mut() {
        if w.write_all(&command(args)).is_err() {
            st.writer = None;
        }
    }
}

/// A RESP2 command.
fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A RESP2 reply (only what pub/sub connections receive).
#[derive(Debug, PartialEq)]
enum Reply {
    Status,
    Error(String),
    Int,
    Bulk(Option<Vec<u8>>),
    Array(Vec<Self>),
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

fn read_reply(r: &mut impl BufRead, depth: usize) -> std::io::Result<Reply> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.len() < 3 || !line.ends_with(b"\r\n") {
        return Err(if line.is_empty() {
            std::io::ErrorKind::UnexpectedEof.into()
        } else {
            bad("malformed RESP line")
        });
    }
    let body = &line[1..line.len() - 2];
    let num = || -> std::io::Result<i64> {
        std::str::from_utf8(body)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("malformed RESP length"))
    };
    Ok(match line[0] {
        b'+' => Reply::Status,
        b'-' => Reply::Error(String::from_utf8_lossy(body).into_owned()),
        b':' => {
            num()?;
            Reply::Int
        }
        b'$' => {
            let n = num()?;
            if n < 0 {
                return Ok(Reply::Bulk(None));
            }
            let n = usize::try_from(n).map_err(|_| bad("bulk length"))?;
            if n > MAX_BULK {
                return Err(bad("bulk string too large"));
            }
            let mut buf = vec![0u8; n + 2];
            std::io::Read::read_exact(r, &mut buf)?;
            buf.truncate(n);
            Reply::Bulk(Some(buf))
        }
        b'*' => {
            let n = num()?;
            if n < 0 {
                return Ok(Reply::Array(Vec::new()));
            }
            if depth > 4 || n > 1 << 20 {
                return Err(bad("RESP array too deep or too long"));
            }
            let mut items = Vec::with_capacity(n as usize);
            for _ in 0..n {
                items.push(read_reply(r, depth + 1)?);
            }
            Reply::Array(items)
        }
        _ => return Err(bad("unexpected RESP type")),
    })
}

/// `["smessage", channel, payload]`, else `None`.
fn smessage(reply: Reply) -> Option<(String, Bytes)> {
    let Reply::Array(items) = reply else {
        return None;
    };
    let mut it = items.into_iter();
    match (it.next()?, it.next()?, it.next()?) {
        (Reply::Bulk(Some(kind)), Reply::Bulk(Some(channel)), Reply::Bulk(Some(payload)))
            if kind == b"smessage" =>
        {
            Some((String::from_utf8(channel).ok()?, Bytes::from(payload)))
        }
        _ => None,
    }
}

/// Where and how to connect (from the `redis` crate's URL parsing).
struct Target {
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
    db: i64,
}

fn target(client: &redis::Client) -> std::io::Result<Target> {
    let info = client.get_connection_info();
    let (host, port) = match &info.addr {
        redis::ConnectionAddr::Tcp(h, p) => (h.clone(), *p),
        other => {
            return Err(std::io::Error::other(format!(
                "sharded mode needs a plain redis://host:port URL, not {other:?}"
            )))
        }
    };
    Ok(Target {
        host,
        port,
        username: info.redis.username.clone(),
        password: info.redis.password.clone(),
        db: info.redis.db,
    })
}

fn connect(t: &Target) -> std::io::Result<BufReader<TcpStream>> {
    let addr = (t.host.as_str(), t.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("redis host does not resolve"))?;
    let s = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
    s.set_nodelay(true)?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut r = BufReader::with_capacity(256 << 10, s);
    let mut setup = Vec::new();
    if let Some(pw) = &t.password {
        setup.push(match &t.username {
            Some(u) => command(&["AUTH", u, pw]),
            None => command(&["AUTH", pw]),
        });
    }
    if t.db != 0 {
        setup.push(command(&["SELECT", &t.db.to_string()]));
    }
    if !setup.is_empty() {
        r.get_mut().set_read_timeout(Some(IO_TIMEOUT))?;
        for c in &setup {
            r.get_mut().write_all(c)?;
        }
        for _ in &setup {
            if let Reply::Error(e) = read_reply(&mut r, 0)? {
                return Err(std::io::Error::other(format!("redis: {e}")));
            }
        }
    }
    r.get_mut().set_read_timeout(None)?;
    Ok(r)
}

/// Starts the reader thread holding `subs`.
pub(crate) fn start(
    client: &redis::Client,
    subs: Subs,
    events: Sender<Event>,
    counters: Arc<Counters>,
) -> std::io::Result<()> {
    let t = target(client)?;
    std::thread::Builder::new()
        .name("ringcast-redis-ssub".into())
        .spawn(move || reader_loop(&t, &subs, &events, &counters))?;
    Ok(())
}

fn reader_loop(t: &Target, subs: &Subs, events: &Sender<Event>, counters: &Counters) {
    let mut backoff = BACKOFF_MIN;
    let mut lost = false;
    loop {
        let setup = connect(t).and_then(|mut r| {
            let w = r.get_ref().try_clone()?;
            let mut st = subs.lock();
            let mut all = Vec::new();
            for c in &st.channels {
                all.extend_from_slice(&command(&["SSUBSCRIBE", c]));
            }
            r.get_mut().write_all(&all)?;
            st.writer = Some(w);
            Ok((r, st.channels.len()))
        });
        let (mut r, n) = match setup {
            Ok(x) => x,
            Err(e) => {
                if !std::mem::replace(&mut lost, true) {
                    tracing::warn!(error = %e, "redis sharded subscriber link lost; reconnecting");
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        backoff = BACKOFF_MIN;
        if std::mem::take(&mut lost) {
            tracing::warn!(
                channels = n,
                "redis sharded subscriber link restored; subscriptions renewed"
            );
        } else {
            tracing::info!(channels = n, "redis sharded subscriptions ready");
        }
        loop {
            match read_reply(&mut r, 0) {
                Ok(Reply::Error(e)) => tracing::warn!(error = %e, "redis sharded subscriber"),
                Ok(reply) => {
                    if let Some((channel, payload)) = smessage(reply) {
                        counters.received.fetch_add(1, Ordering::Relaxed);
                        if events.send(Event::Incoming { channel, payload }).is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "redis sharded subscriber link lost; reconnecting");
                    subs.lock().writer = None;
                    lost = true;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_round_trip() {
        assert_eq!(
            command(&["SSUBSCRIBE", "socket.io#/#"]),
            b"*2\r\n$10\r\nSSUBSCRIBE\r\n$12\r\nsocket.io#/#\r\n"
        );
        let wire = b"*3\r\n$10\r\nssubscribe\r\n$12\r\nsocket.io#/#\r\n:1\r\n*3\r\n$8\r\nsmessage\r\n$12\r\nsocket.io#/#\r\n$3\r\n\x93\r\n\r\n";
        let mut r = BufReader::new(&wire[..]);
        let first = read_reply(&mut r, 0).unwrap();
        assert_eq!(smessage(first), None);
        let (c, p) = smessage(read_reply(&mut r, 0).unwrap()).unwrap();
        assert_eq!(c, "socket.io#/#");
        assert_eq!(&p[..], b"\x93\r\n");
        assert!(read_reply(&mut r, 0).is_err());
    }
}

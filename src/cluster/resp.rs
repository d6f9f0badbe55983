//! A minimal blocking RESP2 client: what the bridge's own Redis
//! connections need (the publisher's pipelines, the sharded subscriber,
//! `CLUSTER SLOTS`), on TCP or a Unix socket.
//!
//! # Invariants
//! - Every reply is read with bounds ([`MAX_BULK`], nesting depth, array
//!   length): data from the network never panics or allocates unbounded.
//! - A [`Conn`] is set up (AUTH / SELECT from the URL) before it is handed
//!   out; a failed setup is an error, never a half-ready connection.
//! - [`Conn::pipeline`] writes every command in one write and reads
//!   exactly one reply per command: an IO error leaves the connection
//!   unusable (the caller drops it).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::slots::Addr;

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest bulk string accepted from Redis.
const MAX_BULK: usize = 512 << 20;

/// Credentials and database of the URL (the same for every node).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Auth {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) db: i64,
}

/// A RESP2 command.
pub(crate) fn command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Self>),
}

impl Reply {
    /// The text of a bulk or status reply.
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Self::Bulk(Some(b)) => std::str::from_utf8(b).ok(),
            Self::Status(s) => Some(s),
            _ => None,
        }
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads one reply.
pub(crate) fn read_reply(r: &mut impl BufRead, depth: usize) -> std::io::Result<Reply> {
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
        b'+' => Reply::Status(String::from_utf8_lossy(body).into_owned()),
        b'-' => Reply::Error(String::from_utf8_lossy(body).into_owned()),
        b':' => Reply::Int(num()?),
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
            r.read_exact(&mut buf)?;
            buf.truncate(n);
            Reply::Bulk(Some(buf))
        }
        b'*' => {
            let n = num()?;
            if n < 0 {
                return Ok(Reply::Array(Vec::new()));
            }
            if depth > 6 || n > 1 << 20 {
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

/// A TCP or Unix stream.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub(crate) fn try_clone(&self) -> std::io::Result<Self> {
        Ok(match self {
            Self::Tcp(s) => Self::Tcp(s.try_clone()?),
            Self::Unix(s) => Self::Unix(s.try_clone()?),
        })
    }

    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_read_timeout(t),
            Self::Unix(s) => s.set_read_timeout(t),
        }
    }

    fn set_write_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_write_timeout(t),
            Self::Unix(s) => s.set_write_timeout(t),
        }
    }

    /// Closes both directions (a reader blocked on it returns).
    pub(crate) fn shutdown(&self) {
        let _ = match self {
            Self::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Self::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Tcp(s) => s.flush(),
            Self::Unix(s) => s.flush(),
        }
    }
}

/// One set-up connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) r: BufReader<Stream>,
}

impl Conn {
    /// Connects to `addr` and runs AUTH / SELECT.
    pub(crate) fn connect(addr: &Addr, auth: &Auth) -> std::io::Result<Self> {
        let s = match addr {
            Addr::Tcp(host, port) => {
                let sa = (host.as_str(), *port)
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| std::io::Error::other("redis host does not resolve"))?;
                let s = TcpStream::connect_timeout(&sa, CONNECT_TIMEOUT)?;
                s.set_nodelay(true)?;
                Stream::Tcp(s)
            }
            Addr::Unix(path) => Stream::Unix(UnixStream::connect(path)?),
        };
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        let mut c = Self {
            r: BufReader::with_capacity(64 << 10, s),
        };
        let mut setup = Vec::new();
        if let Some(pw) = &auth.password {
            setup.push(match &auth.username {
                Some(u) => command(&["AUTH", u, pw]),
                None => command(&["AUTH", pw]),
            });
        }
        if auth.db != 0 {
            setup.push(command(&["SELECT", &auth.db.to_string()]));
        }
        for reply in c.pipeline(&setup)? {
            if let Reply::Error(e) = reply {
                return Err(std::io::Error::other(format!("redis: {e}")));
            }
        }
        Ok(c)
    }

    /// Sends `cmds` (already encoded) in one write; one reply each.
    pub(crate) fn pipeline(&mut self, cmds: &[Vec<u8>]) -> std::io::Result<Vec<Reply>> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        let w = self.r.get_mut();
        if cmds.len() == 1 {
            w.write_all(&cmds[0])?;
        } else {
            w.write_all(&cmds.concat())?;
        }
        (0..cmds.len())
            .map(|_| read_reply(&mut self.r, 0))
            .collect()
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
        let wire = b"*3\r\n$10\r\nssubscribe\r\n$12\r\nsocket.io#/#\r\n:1\r\n+OK\r\n-MOVED 1 h:2\r\n$-1\r\n*-1\r\n";
        let mut r = BufReader::new(&wire[..]);
        assert_eq!(
            read_reply(&mut r, 0).unwrap(),
            Reply::Array(vec![
                Reply::Bulk(Some(b"ssubscribe".to_vec())),
                Reply::Bulk(Some(b"socket.io#/#".to_vec())),
                Reply::Int(1),
            ])
        );
        assert_eq!(read_reply(&mut r, 0).unwrap(), Reply::Status("OK".into()));
        assert_eq!(
            read_reply(&mut r, 0).unwrap(),
            Reply::Error("MOVED 1 h:2".into())
        );
        assert_eq!(read_reply(&mut r, 0).unwrap(), Reply::Bulk(None));
        assert_eq!(read_reply(&mut r, 0).unwrap(), Reply::Array(vec![]));
        assert!(read_reply(&mut r, 0).is_err());
    }

    #[test]
    fn hostile_replies_are_errors() {
        for wire in [
            &b"$99999999999\r\n"[..],
            b"*99999999\r\n",
            b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
            b"?x\r\n",
            b":12x\r\n",
            b"$3\r\nab",
            b"+OK\n",
        ] {
            assert!(
                read_reply(&mut BufReader::new(wire), 0).is_err(),
                "{wire:?}"
            );
        }
    }
}

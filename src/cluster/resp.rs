//! The blocking side of the bridge's Redis client: sockets (TCP or Unix)
//! and set-up connections, used only by the bridge's IO threads (the
//! publisher, the subscribers, layout discovery). The protocol itself is
//! the sans-IO codec `ringcast_cluster_wire::resp`: commands are encoded
//! there, and every byte read goes through its two-phase reply reader.
//!
//! # Invariants
//! - A [`Conn`] is set up (AUTH / SELECT from the URL) before it is handed
//!   out; a failed setup is an error, never a half-ready connection.
//! - [`Conn::pipeline`] writes every command in one write and reads
//!   exactly one reply per command: an IO or protocol error leaves the
//!   connection unusable (the caller drops it).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use ringcast_cluster_wire::resp::ReplyReader;
pub(crate) use ringcast_cluster_wire::resp::{command, Reply};

use super::slots::Addr;

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 64 << 10;

/// Credentials and database of the URL (the same for every node).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Auth {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) db: i64,
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

/// One set-up connection: the stream and the reply reader fed from it.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: Stream,
    reader: ReplyReader,
    chunk: Box<[u8]>,
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
            stream: s,
            reader: ReplyReader::new(),
            chunk: vec![0; READ_CHUNK].into_boxed_slice(),
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

    /// The underlying stream (to clone a write half, set timeouts).
    pub(crate) fn stream(&self) -> &Stream {
        &self.stream
    }

    /// Writes already encoded commands in one write.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads the next reply (or push), blocking until it is complete.
    pub(crate) fn read_reply(&mut self) -> std::io::Result<Reply> {
        loop {
            match self.reader.poll_reply() {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            }
            let n = self.stream.read(&mut self.chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.reader.handle_bytes(&self.chunk[..n]);
        }
    }

    /// Sends `cmds` (already encoded) in one write; one reply each.
    pub(crate) fn pipeline(&mut self, cmds: &[Vec<u8>]) -> std::io::Result<Vec<Reply>> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        if cmds.len() == 1 {
            self.send(&cmds[0])?;
        } else {
            self.send(&cmds.concat())?;
        }
        (0..cmds.len()).map(|_| self.read_reply()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection over one end of a socketpair, the other end scripted.
    fn pair() -> (Conn, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        let conn = Conn {
            stream: Stream::Unix(a),
            reader: ReplyReader::new(),
            chunk: vec![0; 3].into_boxed_slice(),
        };
        (conn, b)
    }

    #[test]
    fn pipeline_reads_one_reply_per_command_across_reads() {
        let (mut c, mut peer) = pair();
        peer.write_all(b"+OK\r\n:2\r\n$5\r\nhello\r\n").unwrap();
        let cmds = vec![command(&["A"]), command(&["B"]), command(&["C"])];
        let replies = c.pipeline(&cmds).unwrap();
        assert_eq!(
            replies,
            vec![
                Reply::Status("OK".into()),
                Reply::Int(2),
                Reply::Bulk(Some(b"hello".to_vec()))
            ]
        );
        let mut sent = vec![0; cmds.concat().len()];
        peer.read_exact(&mut sent).unwrap();
        assert_eq!(sent, cmds.concat());
    }

    #[test]
    fn garbage_and_eof_are_errors() {
        let (mut c, mut peer) = pair();
        peer.write_all(b"hello\r\n").unwrap();
        let e = c.read_reply().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        let (mut c, peer) = pair();
        drop(peer);
        let e = c.read_reply().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}

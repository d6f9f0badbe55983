//! `redis://` URLs, parsed the way the `redis` crate (and node-redis) read
//! them, so every URL that worked before still does:
//!
//! - `redis://[[username]:password@]host[:port][/db]`: host required (a
//!   name, an IPv4 address or `[v6]`), port 6379 by default, db 0 by
//!   default; username and password are percent-decoded, an empty username
//!   means none (`redis://:secret@host` is password-only `AUTH`).
//!   `valkey://` is the same.
//! - `unix:///path/to/socket[?db=N&user=U&pass=P]` (also `redis+unix://`,
//!   `valkey+unix://`).
//! - `rediss://` (TLS) is refused: the bridge has no TLS.
//!
//! A query string on a TCP URL (e.g. `?protocol=resp2`) is ignored.

use std::path::PathBuf;

use thiserror::Error;

/// Where a Redis server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisAddr {
    /// TCP host and port.
    Tcp {
        /// Host name or address (IPv6 without brackets).
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix socket.
    Unix(PathBuf),
}

/// A parsed Redis URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// The server.
    pub addr: RedisAddr,
    /// `AUTH username password` (Redis 6 ACL user) when set.
    pub username: Option<String>,
    /// `AUTH password` when set.
    pub password: Option<String>,
    /// `SELECT db` when not 0.
    pub db: i64,
}

/// Why a URL was refused; the caller reports it and does not start.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    /// Not `redis://`, `valkey://` or a Unix form.
    #[error("unsupported scheme (expected redis:// or unix://)")]
    Scheme,
    /// `rediss://`: TLS is not supported.
    #[error("TLS (rediss://) is not supported")]
    Tls,
    /// No host.
    #[error("missing hostname")]
    Host,
    /// A port that is not a number in 1..=65535.
    #[error("invalid port")]
    Port,
    /// A database that is not an integer.
    #[error("invalid database number")]
    Db,
    /// A Unix URL without a path.
    #[error("missing unix socket path")]
    Path,
}

impl RedisUrl {
    /// Parses one URL.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::Scheme)?;
        match scheme.to_ascii_lowercase().as_str() {
            "redis" | "valkey" => Self::tcp(rest),
            "unix" | "redis+unix" | "valkey+unix" => Self::unix(rest),
            "rediss" | "valkeys" => Err(UrlError::Tls),
            _ => Err(UrlError::Scheme),
        }
    }

    fn tcp(rest: &str) -> Result<Self, UrlError> {
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => (Some(percent_decode(user)), Some(percent_decode(pass))),
                None => (Some(percent_decode(u)), None),
            },
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(UrlError::Host)?;
            (host, after.strip_prefix(':'))
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::Host);
        }
        let port = match port {
            None | Some("") => 6379,
            Some(p) => p.parse().ok().filter(|&p| p != 0).ok_or(UrlError::Port)?,
        };
        let db = match path.trim_matches('/') {
            "" => 0,
            d => d.parse().map_err(|_| UrlError::Db)?,
        };
        Ok(Self {
            addr: RedisAddr::Tcp {
                host: host.to_owned(),
                port,
            },
            username: username.filter(|u| !u.is_empty()),
            password,
            db,
        })
    }

    fn unix(rest: &str) -> Result<Self, UrlError> {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path.is_empty() {
            return Err(UrlError::Path);
        }
        let mut url = Self {
            addr: RedisAddr::Unix(PathBuf::from(percent_decode(path))),
            username: None,
            password: None,
            db: 0,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "db" => url.db = v.parse().map_err(|_| UrlError::Db)?,
                "user" => url.username = Some(percent_decode(v)).filter(|u| !u.is_empty()),
                "pass" => url.password = Some(percent_decode(v)),
                _ => {}
            }
        }
        Ok(url)
    }
}

/// `%XX` escapes decoded (an invalid escape stays as written).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> RedisAddr {
        RedisAddr::Tcp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn tcp_urls() {
        let u = RedisUrl::parse("redis://127.0.0.1:7000").unwrap();
        assert_eq!(u.addr, tcp("127.0.0.1", 7000));
        assert_eq!((u.username, u.password, u.db), (None, None, 0));

        let u = RedisUrl::parse("redis://localhost").unwrap();
        assert_eq!(u.addr, tcp("localhost", 6379));

        let u = RedisUrl::parse("redis://:s%40cret@h:1/3").unwrap();
        assert_eq!(u.addr, tcp("h", 1));
        assert_eq!(
            (u.username, u.password, u.db),
            (None, Some("s@cret".into()), 3)
        );

        let u = RedisUrl::parse("REDIS://alice:p:w@[::1]:6380/0?protocol=resp2").unwrap();
        assert_eq!(u.addr, tcp("::1", 6380));
        assert_eq!(u.username.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("p:w"));

        let u = RedisUrl::parse("valkey://bob@h/").unwrap();
        assert_eq!(
            (u.username.as_deref(), u.password, u.db),
            (Some("bob"), None, 0)
        );
    }

    #[test]
    fn unix_urls() {
        let u = RedisUrl::parse("unix:///tmp/redis.sock?db=2&pass=x%20y&user=u").unwrap();
        assert_eq!(u.addr, RedisAddr::Unix("/tmp/redis.sock".into()));
        assert_eq!(u.db, 2);
        assert_eq!(u.password.as_deref(), Some("x y"));
        assert_eq!(u.username.as_deref(), Some("u"));
        let u = RedisUrl::parse("redis+unix:///s").unwrap();
        assert_eq!(u.addr, RedisAddr::Unix("/s".into()));
    }

    #[test]
    fn refused_urls() {
        assert_eq!(RedisUrl::parse("127.0.0.1:6379"), Err(UrlError::Scheme));
        assert_eq!(RedisUrl::parse("http://h"), Err(UrlError::Scheme));
        assert_eq!(RedisUrl::parse("rediss://h"), Err(UrlError::Tls));
        assert_eq!(RedisUrl::parse("redis://"), Err(UrlError::Host));
        assert_eq!(RedisUrl::parse("redis://:pw@:1"), Err(UrlError::Host));
        assert_eq!(RedisUrl::parse("redis://h:x"), Err(UrlError::Port));
        assert_eq!(RedisUrl::parse("redis://h:70000"), Err(UrlError::Port));
        assert_eq!(RedisUrl::parse("redis://h/abc"), Err(UrlError::Db));
        assert_eq!(RedisUrl::parse("unix://"), Err(UrlError::Path));
        assert_eq!(RedisUrl::parse("redis://h:1/%"), Err(UrlError::Db));
    }

    #[test]
    fn percent_escapes() {
        assert_eq!(percent_decode("a%2Fb"), "a/b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}

//! Where the bridge's Redis is: the seed list of the URL and the layout
//! found behind it, a single server or a Redis Cluster.
//!
//! `Config::redis_url` holds one URL or several, comma-separated
//! (`redis://10.0.0.1:7000,redis://10.0.0.2:7000`; an entry without a
//! scheme is `redis://` + entry), each parsed by
//! `ringcast_cluster_wire::resp::RedisUrl` (host, port, username, password,
//! db; `unix://` sockets). Credentials and database come from the first
//! entry. On connect the bridge sends `CLUSTER SLOTS` to a seed:
//! - an answer with slots: a cluster; commands are routed by the slot of
//!   their channel ([`super::slots`]) to the master serving it;
//! - an error (`ERR This instance has cluster support disabled`, an
//!   unknown or forbidden command): a single server, used as before;
//! - a transient error (`LOADING`, `CLUSTERDOWN`, ...), an empty answer
//!   or no connection: the next seed, then the caller retries with backoff.
//!
//! # Invariants
//! - Discovery asks the masters of the last known map first, then the
//!   seeds: a cluster whose seed node left is still found.
//! - Each connection owner (publisher, sharded subscriber) keeps its own
//!   [`Layout`] and refreshes it on `MOVED`, a pushed `sunsubscribe` or a
//!   lost connection; nothing is shared, so nothing is locked.

use ringcast_cluster_wire::resp::{RedisAddr, RedisUrl};

use super::resp::{command, Auth, Conn, Reply};
use super::slots::{Addr, SlotMap};

/// The seed nodes of the URL and their credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seeds {
    pub(crate) nodes: Vec<Addr>,
    pub(crate) auth: Auth,
}

/// Why a Redis URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UrlError {
    #[error("bad redis url {0:?}: {1}")]
    Parse(String, String),
    #[error("no redis url given")]
    Empty,
}

impl From<UrlError> for std::io::Error {
    fn from(e: UrlError) -> Self {
        Self::other(e.to_string())
    }
}

/// The URL entries, each a full URL (`redis://...`).
pub(crate) fn entries(url: &str) -> Vec<String> {
    url.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            if e.contains("://") {
                e.to_owned()
            } else {
                format!("redis://{e}")
            }
        })
        .collect()
}

/// Parses `url` (one or several comma-separated entries).
pub(crate) fn parse_seeds(url: &str) -> Result<Seeds, UrlError> {
    let mut nodes = Vec::new();
    let mut auth = None;
    for e in entries(url) {
        let url = RedisUrl::parse(&e).map_err(|err| UrlError::Parse(e.clone(), err.to_string()))?;
        nodes.push(match url.addr {
            RedisAddr::Tcp { host, port } => Addr::Tcp(host, port),
            RedisAddr::Unix(path) => Addr::Unix(path),
        });
        auth.get_or_insert(Auth {
            username: url.username,
            password: url.password,
            db: url.db,
        });
    }
    match auth {
        Some(auth) => Ok(Seeds { nodes, auth }),
        None => Err(UrlError::Empty),
    }
}

/// What is behind the seeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layout {
    /// One server (not cluster-enabled): everything goes there.
    Standalone(Addr),
    /// A Redis Cluster: by slot to the master serving it.
    Cluster(SlotMap),
}

impl Layout {
    /// Where a command on `channel` goes (`None`: no master serves its slot).
    pub(crate) fn route(&self, channel: &str) -> Option<&Addr> {
        match self {
            Self::Standalone(a) => Some(a),
            Self::Cluster(m) => m.owner_of(channel),
        }
    }

    /// The nodes a count (`PUBSUB NUMSUB` / `SHARDNUMSUB`) is summed over,
    /// as the Node adapter does with a cluster client: every master.
    pub(crate) fn masters(&self) -> Vec<Addr> {
        match self {
            Self::Standalone(a) => vec![a.clone()],
            Self::Cluster(m) => m.masters(),
        }
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

/// Error replies that mean "not now" rather than "not a cluster".
fn transient(err: &str) -> bool {
    ["LOADING", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "BUSY"]
        .iter()
        .any(|p| err.starts_with(p))
}

/// Finds the layout: asks `known` (the last map's masters), then the seeds.
pub(crate) fn discover(seeds: &Seeds, known: &[Addr]) -> std::io::Result<Layout> {
    let mut last = std::io::Error::other("no redis node to ask");
    let mut tried = Vec::new();
    for addr in known.iter().chain(&seeds.nodes) {
        if tried.contains(addr) {
            continue;
        }
        tried.push(addr.clone());
        let reply = Conn::connect(addr, &seeds.auth)
            .and_then(|mut c| c.pipeline(&[command(&["CLUSTER", "SLOTS"])]))
            .map(|mut r| r.pop());
        match reply {
            Ok(Some(Reply::Error(e))) if transient(&e) => {
                last = std::io::Error::other(format!("redis {addr}: {e}"));
            }
            Ok(Some(Reply::Error(e))) => {
                tracing::debug!(%addr, error = %e, "CLUSTER SLOTS refused: a single redis server");
                return Ok(Layout::Standalone(addr.clone()));
            }
            Ok(Some(r)) => match SlotMap::from_cluster_slots(&r, addr) {
                Ok(m) => return Ok(Layout::Cluster(m)),
                Err(e) => last = std::io::Error::other(format!("redis {addr}: {e}")),
            },
            Ok(None) => {}
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_lists() {
        let s = parse_seeds("redis://127.0.0.1:7000").unwrap();
        assert_eq!(s.nodes, vec![Addr::Tcp("127.0.0.1".into(), 7000)]);
        assert_eq!(s.auth, Auth::default());
        let s = parse_seeds("redis://u:pw@h1:7000/0, h2:7001 ,redis://h3").unwrap();
        assert_eq!(
            s.nodes,
            vec![
                Addr::Tcp("h1".into(), 7000),
                Addr::Tcp("h2".into(), 7001),
                Addr::Tcp("h3".into(), 6379)
            ]
        );
        assert_eq!(s.auth.username.as_deref(), Some("u"));
        assert_eq!(s.auth.password.as_deref(), Some("pw"));
        let s = parse_seeds("redis+unix:///tmp/r.sock").unwrap();
        assert_eq!(s.nodes, vec![Addr::Unix("/tmp/r.sock".into())]);
        assert_eq!(parse_seeds(" , "), Err(UrlError::Empty));
        assert!(matches!(parse_seeds("http://x"), Err(UrlError::Parse(..))));
    }

    #[test]
    fn unreachable_seeds_are_an_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let s = parse_seeds(&format!("127.0.0.1:{port}")).unwrap();
        assert!(discover(&s, &[]).is_err());
    }

    #[test]
    fn transient_errors() {
        assert!(transient("CLUSTERDOWN The cluster is down"));
        assert!(transient("LOADING Redis is loading"));
        assert!(!transient("ERR This instance has cluster support disabled"));
    }
}

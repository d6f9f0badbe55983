//! Node discovery for forwarding between ringcast nodes (issue 14): each
//! node advertises the address its peers use for it, under its node tag,
//! in the Redis the cluster already uses; any node resolves the tag of a
//! sid (`ringcast_proto::sid::node_tag`) to that address.
//!
//! # Keys
//! One string key per node, `{<key>-nodes}#<tag>` = `host:port`, written
//! with `SET .. PX` every [`REGISTER_EVERY`] and expiring after
//! [`NODE_TTL`]: a node that dies disappears within the TTL, and a
//! restarted node has a new tag (its old sessions are gone anyway). The
//! hash tag `{..}` keeps every key on one slot of a Redis Cluster.
//!
//! # Threads and invariants
//! - [`Directory`] is the sans-IO core: what to send this round (`SET` of
//!   our own key when due, one `MGET` of the tags known or asked for) and
//!   what the replies change. Time comes in as `now`; unit-tested below.
//! - One plain thread (`ringcast-nodes`) runs it over a blocking RESP
//!   connection; shards read the resolved table ([`Nodes`]) under a mutex
//!   taken only on the forwarding path (never for a session this node
//!   owns), and ask for an unknown tag with [`Nodes::want`], which wakes the
//!   thread at once.
//! - Values read from Redis are hostile: a value that is not an address
//!   (or does not resolve) is ignored, as is a tag that is not well formed.

use std::collections::{BTreeSet, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ringcast_proto::sid;

use super::resp::{command, Conn, Reply};
use super::slots::Addr;
use super::topology::{self, Layout, Seeds};

/// How often a node writes its key (and re-reads the known ones).
pub(crate) const REGISTER_EVERY: Duration = Duration::from_millis(1000);
/// How long a key lives without a refresh.
pub(crate) const NODE_TTL: Duration = Duration::from_millis(5000);
/// How long a tag read as absent is answered from memory (a client
/// inventing tags costs one Redis read per tag per this period, not one
/// per request).
pub(crate) const ABSENT_FOR: Duration = Duration::from_millis(1000);
/// Most absent tags remembered (beyond, the memory is cleared).
const MAX_ABSENT: usize = 10_000;
/// Most tags waiting to be read: the tags come from clients' sids, and
/// while Redis is unreachable nothing clears them, so without a bound a
/// client sending made-up sids would grow the set (and the next `MGET`)
/// without end. A tag refused here is answered as unknown after the
/// shard's bounded wait; the client reconnects.
const MAX_WANTED: usize = 1024;
/// Wait before reconnecting to Redis after an error.
const RETRY: Duration = Duration::from_millis(200);

/// The Redis key of node `tag` for the cluster prefix `key`.
pub(crate) fn node_key(key: &str, tag: &str) -> String {
    format!("{{{key}-nodes}}#{tag}")
}

/// What one round sends, and how to read the replies.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Round {
    /// The RESP commands, in order.
    pub(crate) commands: Vec<Vec<u8>>,
    /// Whether the first command is our own `SET`.
    registers: bool,
    /// The tags the last command (`MGET`) reads, in order.
    tags: Vec<String>,
}

/// A change to the table of addresses, from one round's replies.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Update {
    /// Node `.0` advertises `.1` (not yet resolved).
    Found(String, String),
    /// Node `.0` has no key (gone, or never existed).
    Gone(String),
}

/// The sans-IO core of discovery.
#[derive(Debug)]
pub(crate) struct Directory {
    key: String,
    me: String,
    advertise: String,
    known: BTreeSet<String>,
    wanted: BTreeSet<String>,
    next_round: Option<Instant>,
}

impl Directory {
    /// A directory for node `me` advertising `advertise` under prefix `key`.
    pub(crate) fn new(key: &str, me: &str, advertise: &str) -> Self {
        Self {
            key: key.to_owned(),
            me: me.to_owned(),
            advertise: advertise.to_owned(),
            known: BTreeSet::new(),
            wanted: BTreeSet::new(),
            next_round: None,
        }
    }

    /// A shard asks for `tag` (ignored unless well formed, or our own).
    pub(crate) fn handle_want(&mut self, tag: &str) {
        if sid::is_node_tag(tag)
            && tag != self.me
            && !self.known.contains(tag)
            && self.wanted.len() < MAX_WANTED
        {
            self.wanted.insert(tag.to_owned());
        }
    }

    /// When the next round is due (`None`: now).
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.wanted.is_empty() {
            self.next_round
        } else {
            None
        }
    }

    /// The round to run at `now`, if any: our `SET` when due, then one
    /// `MGET` of the known and wanted tags.
    pub(crate) fn poll_round(&mut self, now: Instant) -> Option<Round> {
        let due = self.next_round.is_none_or(|t| now >= t);
        if !due && self.wanted.is_empty() {
            return None;
        }
        let mut commands = Vec::new();
        if due {
            let ttl = NODE_TTL.as_millis().to_string();
            let key = node_key(&self.key, &self.me);
            commands.push(command(&["SET", &key, &self.advertise, "PX", &ttl]));
            self.next_round = Some(now + REGISTER_EVERY);
        }
        let tags: Vec<String> = if due {
            self.known.union(&self.wanted).cloned().collect()
        } else {
            self.wanted.iter().cloned().collect()
        };
        if !tags.is_empty() {
            let mut args = vec!["MGET".to_owned()];
            args.extend(tags.iter().map(|t| node_key(&self.key, t)));
            commands.push(command(&args));
        }
        Some(Round {
            commands,
            registers: due,
            tags,
        })
    }

    /// The replies of `round` (one per command, in order). A failed round
    /// (`replies` short, or an error reply) changes nothing and is retried
    /// at the next one; its wanted tags stay wanted.
    pub(crate) fn handle_replies(&mut self, round: Round, replies: &[Reply]) -> Vec<Update> {
        let mut it = replies.iter();
        if round.registers {
            match it.next() {
                Some(Reply::Status(_)) => {}
                _ => {
                    // Register again as soon as possible.
                    self.next_round = None;
                    return Vec::new();
                }
            }
        }
        if round.tags.is_empty() {
            return Vec::new();
        }
        let Some(Reply::Array(values)) = it.next() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (tag, value) in round.tags.into_iter().zip(values) {
            self.wanted.remove(&tag);
            match value {
                Reply::Bulk(Some(v)) => match std::str::from_utf8(v) {
                    Ok(addr) if !addr.is_empty() && addr.len() <= 256 => {
                        self.known.insert(tag.clone());
                        out.push(Update::Found(tag, addr.to_owned()));
                    }
                    _ => {
                        self.known.remove(&tag);
                        out.push(Update::Gone(tag));
                    }
                },
                _ => {
                    self.known.remove(&tag);
                    out.push(Update::Gone(tag));
                }
            }
        }
        out
    }
}

/// What the table says about a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// The node's address.
    At(SocketAddr),
    /// Read in Redis less than [`ABSENT_FOR`] ago: no such node.
    Absent,
    /// Not read yet: ask with [`Nodes::want`].
    Unknown,
}

#[derive(Debug, Default)]
struct Table {
    addrs: HashMap<String, SocketAddr>,
    absent: HashMap<String, Instant>,
}

/// The shared view of the directory: node tag -> address, read by shards.
#[derive(Debug)]
pub(crate) struct Nodes {
    me: String,
    table: Mutex<Table>,
    want: Sender<String>,
}

impl Nodes {
    /// A directory with an empty table (unit tests of its users).
    #[cfg(test)]
    pub(crate) fn for_test(me: &str, want: Sender<String>) -> Self {
        Self {
            me: me.into(),
            table: Mutex::new(Table::default()),
            want,
        }
    }

    /// This node's tag.
    pub(crate) fn tag(&self) -> &str {
        &self.me
    }

    /// What is known of node `tag` at `now`.
    pub(crate) fn lookup(&self, tag: &str, now: Instant) -> Resolved {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(a) = table.addrs.get(tag) {
            return Resolved::At(*a);
        }
        match table.absent.get(tag) {
            Some(&at) if now.saturating_duration_since(at) < ABSENT_FOR => Resolved::Absent,
            _ => Resolved::Unknown,
        }
    }

    /// Asks the directory thread to read `tag` now (never blocks; a full
    /// queue means a read is already coming).
    pub(crate) fn want(&self, tag: &str) {
        let _ = self.want.try_send(tag.to_owned());
    }

    /// Forgets `tag` (its node refused a connection): the next request
    /// for it reads Redis again.
    pub(crate) fn forget(&self, tag: &str) {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .addrs
            .remove(tag);
    }

    fn apply(&self, updates: Vec<Update>) {
        if updates.is_empty() {
            return;
        }
        let resolved: Vec<(String, Option<SocketAddr>)> = updates
            .into_iter()
            .map(|u| match u {
                Update::Found(tag, addr) => {
                    let sa = addr.to_socket_addrs().ok().and_then(|mut a| a.next());
                    if sa.is_none() {
                        tracing::warn!(node = %tag, %addr, "advertised address does not resolve");
                    }
                    (tag, sa)
                }
                Update::Gone(tag) => (tag, None),
            })
            .collect();
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if table.absent.len() > MAX_ABSENT {
            table.absent.clear();
        }
        for (tag, sa) in resolved {
            match sa {
                Some(sa) => {
                    table.absent.remove(&tag);
                    table.addrs.insert(tag, sa);
                }
                None => {
                    table.addrs.remove(&tag);
                    table.absent.insert(tag, now);
                }
            }
        }
    }
}

/// Starts discovery: draws this node's tag and runs the directory thread
/// for the process's life (it connects, and reconnects, by itself: Redis
/// being down at start delays forwarding, not the node). `listen` is the
/// bound listen address.
pub(crate) fn start(
    url: &str,
    key: &str,
    advertise: Option<&str>,
    listen: SocketAddr,
) -> std::io::Result<Arc<Nodes>> {
    let seeds = topology::parse_seeds(url)?;
    let mut raw = [0u8; 6];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut raw);
    let me = sid::encode_node_tag(&raw);
    let advertise = match advertise {
        Some(a) => a.to_owned(),
        None if !listen.ip().is_unspecified() => listen.to_string(),
        None => SocketAddr::new(route_ip(&seeds), listen.port()).to_string(),
    };
    let (tx, rx) = crossbeam_channel::bounded(1024);
    let nodes = Arc::new(Nodes {
        me: me.clone(),
        table: Mutex::new(Table::default()),
        want: tx,
    });
    let dir = Directory::new(key, &me, &advertise);
    let shared = nodes.clone();
    let owned_key = node_key(key, &me);
    std::thread::Builder::new()
        .name("ringcast-nodes".into())
        .spawn(move || run(dir, shared, rx, seeds, owned_key, None))?;
    tracing::info!(node = %me, %advertise, "forwarding between ringcast nodes on");
    Ok(nodes)
}

/// The local IP this host uses to reach the first Redis seed (a UDP
/// `connect` only picks a route; nothing is sent): what peers most likely
/// reach too. A Unix socket or an unresolvable seed gives 127.0.0.1.
fn route_ip(seeds: &Seeds) -> std::net::IpAddr {
    let local = || -> Option<std::net::IpAddr> {
        let Some(Addr::Tcp(host, port)) = seeds.nodes.first() else {
            return None;
        };
        let target = (host.as_str(), *port).to_socket_addrs().ok()?.next()?;
        let bind: SocketAddr = if target.is_ipv6() {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let sock = std::net::UdpSocket::bind(bind).ok()?;
        sock.connect(target).ok()?;
        Some(sock.local_addr().ok()?.ip())
    };
    local().unwrap_or(std::net::Ipv4Addr::LOCALHOST.into())
}

/// A connection to the master serving `key`.
fn connect(seeds: &Seeds, key: &str) -> std::io::Result<(Conn, Layout)> {
    let layout = topology::discover(seeds, &[])?;
    let addr: Addr = layout
        .route(key)
        .cloned()
        .ok_or_else(|| std::io::Error::other("no redis master serves the node keys"))?;
    Ok((Conn::connect(&addr, &seeds.auth)?, layout))
}

fn run(
    mut dir: Directory,
    nodes: Arc<Nodes>,
    rx: Receiver<String>,
    seeds: Seeds,
    key: String,
    mut conn: Option<(Conn, Layout)>,
) {
    loop {
        let wait = dir.poll_timeout().map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(Instant::now())
        });
        match rx.recv_timeout(wait) {
            Ok(tag) => {
                dir.handle_want(&tag);
                while let Ok(tag) = rx.try_recv() {
                    dir.handle_want(&tag);
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        }
        let Some(round) = dir.poll_round(Instant::now()) else {
            continue;
        };
        if conn.is_none() {
            match connect(&seeds, &key) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::debug!(error = %e, "node directory: redis unreachable");
                    // Answer nothing: the round is retried after RETRY.
                    drop(dir.handle_replies(round, &[]));
                    std::thread::sleep(RETRY);
                    continue;
                }
            }
        }
        let Some((c, _)) = conn.as_mut() else {
            continue;
        };
        match c.pipeline(&round.commands) {
            Ok(replies) => {
                if replies.iter().any(|r| matches!(r, Reply::Error(_))) {
                    // MOVED after a resharding, or LOADING: find the layout again.
                    conn = None;
                }
                nodes.apply(dir.handle_replies(round, &replies));
            }
            Err(e) => {
                tracing::debug!(error = %e, "node directory: redis connection lost");
                conn = None;
                drop(dir.handle_replies(round, &[]));
                std::thread::sleep(RETRY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Some(s.as_bytes().to_vec()))
    }

    #[test]
    fn first_round_registers_only() {
        let mut d = Directory::new("socket.io", "AAAAAAAA", "10.0.0.1:3000");
        let now = Instant::now();
        assert_eq!(d.poll_timeout(), None);
        let r = d.poll_round(now).expect("a round is due at start");
        assert_eq!(
            r.commands,
            vec![command(&[
                "SET",
                "{socket.io-nodes}#AAAAAAAA",
                "10.0.0.1:3000",
                "PX",
                "5000"
            ])]
        );
        assert!(d
            .handle_replies(r, &[Reply::Status("OK".into())])
            .is_empty());
        assert_eq!(d.poll_timeout(), Some(now + REGISTER_EVERY));
        assert_eq!(d.poll_round(now), None);
    }

    #[test]
    fn wanted_tag_is_read_at_once_then_refreshed_each_round() {
        let mut d = Directory::new("k", "AAAAAAAA", "a:1");
        let now = Instant::now();
        let r = d.poll_round(now).expect("due");
        d.handle_replies(r, &[Reply::Status("OK".into())]);
        d.handle_want("BBBBBBBB");
        d.handle_want("AAAAAAAA"); // our own: never asked
        d.handle_want("bad/tag!"); // hostile: ignored
        assert_eq!(d.poll_timeout(), None);
        let r = d.poll_round(now).expect("wanted");
        assert_eq!(r.commands, vec![command(&["MGET", "{k-nodes}#BBBBBBBB"])]);
        let up = d.handle_replies(r, &[Reply::Array(vec![bulk("10.0.0.2:3000")])]);
        assert_eq!(
            up,
            vec![Update::Found("BBBBBBBB".into(), "10.0.0.2:3000".into())]
        );
        assert_eq!(d.poll_round(now), None);
        // The next due round refreshes it along with our own key.
        let later = now + REGISTER_EVERY;
        let r = d.poll_round(later).expect("due");
        assert_eq!(r.commands.len(), 2);
        assert_eq!(r.commands[1], command(&["MGET", "{k-nodes}#BBBBBBBB"]));
        let up = d.handle_replies(
            r,
            &[
                Reply::Status("OK".into()),
                Reply::Array(vec![Reply::Bulk(None)]),
            ],
        );
        assert_eq!(up, vec![Update::Gone("BBBBBBBB".into())]);
        // Gone: no longer read.
        let r = d.poll_round(later + REGISTER_EVERY).expect("due");
        assert_eq!(r.commands.len(), 1);
    }

    #[test]
    fn failed_round_keeps_wanted_and_registers_again() {
        let mut d = Directory::new("k", "AAAAAAAA", "a:1");
        let now = Instant::now();
        d.handle_want("BBBBBBBB");
        let r = d.poll_round(now).expect("due");
        assert!(d.handle_replies(r, &[]).is_empty());
        assert_eq!(d.poll_timeout(), None);
        let r = d.poll_round(now).expect("retried");
        assert_eq!(r.commands.len(), 2, "SET again, MGET again");
    }

    /// Regression: made-up tags from clients' sids, while Redis is
    /// unreachable (every round fails), stay bounded.
    #[test]
    fn wanted_tags_are_bounded_while_redis_is_down() {
        let mut d = Directory::new("k", "AAAAAAAA", "127.0.0.1:1");
        let now = Instant::now();
        for i in 0..(MAX_WANTED as u64 * 3) {
            let b = i.to_be_bytes();
            let tag = sid::encode_node_tag(&[b[2], b[3], b[4], b[5], b[6], b[7]]);
            d.handle_want(&tag);
            if i % 100 == 0 {
                let round = d.poll_round(now).expect("a round");
                drop(d.handle_replies(round, &[]));
            }
        }
        assert_eq!(d.wanted.len(), MAX_WANTED);
        let round = d.poll_round(now).expect("a round");
        assert!(round.tags.len() <= MAX_WANTED);
    }

    #[test]
    fn table_remembers_absent_tags_briefly() {
        let (tx, _rx) = crossbeam_channel::bounded(1);
        let nodes = Nodes {
            me: "AAAAAAAA".into(),
            table: Mutex::new(Table::default()),
            want: tx,
        };
        let now = Instant::now();
        assert_eq!(nodes.lookup("BBBBBBBB", now), Resolved::Unknown);
        nodes.apply(vec![
            Update::Found("BBBBBBBB".into(), "127.0.0.1:3001".into()),
            Update::Gone("CCCCCCCC".into()),
            Update::Found("DDDDDDDD".into(), "not an address".into()),
        ]);
        let later = Instant::now();
        assert_eq!(
            nodes.lookup("BBBBBBBB", later),
            Resolved::At(([127, 0, 0, 1], 3001).into())
        );
        assert_eq!(nodes.lookup("CCCCCCCC", later), Resolved::Absent);
        assert_eq!(nodes.lookup("DDDDDDDD", later), Resolved::Absent);
        assert_eq!(
            nodes.lookup("CCCCCCCC", later + ABSENT_FOR),
            Resolved::Unknown
        );
        nodes.forget("BBBBBBBB");
        assert_eq!(nodes.lookup("BBBBBBBB", later), Resolved::Unknown);
    }

    #[test]
    fn hostile_values_are_dropped() {
        let mut d = Directory::new("k", "AAAAAAAA", "a:1");
        let now = Instant::now();
        d.handle_want("BBBBBBBB");
        d.handle_want("CCCCCCCC");
        let r = d.poll_round(now).expect("due");
        let up = d.handle_replies(
            r,
            &[
                Reply::Status("OK".into()),
                Reply::Array(vec![Reply::Bulk(Some(vec![0xff, 0xfe])), Reply::Int(3)]),
            ],
        );
        assert_eq!(
            up,
            vec![
                Update::Gone("BBBBBBBB".into()),
                Update::Gone("CCCCCCCC".into())
            ]
        );
    }
}

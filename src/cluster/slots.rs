//! Redis Cluster key slots: CRC16 (XMODEM) of the channel mod 16384,
//! honouring `{hash tags}` exactly as Redis does (`keyHashSlot` in
//! cluster.c), the slot → master map read from `CLUSTER SLOTS`, and the
//! `MOVED` / `ASK` redirections.
//!
//! # Invariants
//! - [`key_slot`] equals `CLUSTER KEYSLOT` for every input: the hash tag
//!   is the text between the first `{` and the first `}` after it, used
//!   only when non-empty; otherwise the whole key is hashed.
//! - A [`SlotMap`] names a master for a slot or nothing (a slot no master
//!   serves): routing never guesses.
//! - Parsing what Redis sends never panics; a malformed `CLUSTER SLOTS`
//!   is an error (the caller tries another node).

use std::fmt;
use std::path::PathBuf;

use super::resp::Reply;

/// Number of hash slots of a Redis Cluster.
pub(crate) const SLOTS: usize = 16384;

/// Where a Redis node listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Addr {
    Tcp(String, u16),
    Unix(PathBuf),
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(h, p) if h.contains(':') => write!(f, "[{h}]:{p}"),
            Self::Tcp(h, p) => write!(f, "{h}:{p}"),
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// CRC16-XMODEM (polynomial 0x1021, init 0), Redis' `crc16`.
pub(crate) fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The slot of `key` (a channel name for sharded pub/sub).
pub(crate) fn key_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16(hashed) & (SLOTS as u16 - 1)
}

/// The owner of every slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlotMap {
    masters: Vec<Addr>,
    /// Index into `masters` per slot; `u16::MAX`: no owner.
    owner: Vec<u16>,
}

const NONE: u16 = u16::MAX;

/// Why a `CLUSTER SLOTS` answer was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SlotsError {
    #[error("CLUSTER SLOTS: unexpected reply shape")]
    Shape,
    #[error("CLUSTER SLOTS: no slot is served")]
    Empty,
}

impl SlotMap {
    /// Parses `CLUSTER SLOTS` (`[[start, end, [host, port, id, ...],
    /// replicas...], ...]`). An empty host (or `?`) means the node that
    /// answered: `asked`.
    pub(crate) fn from_cluster_slots(reply: &Reply, asked: &Addr) -> Result<Self, SlotsError> {
        let Reply::Array(ranges) = reply else {
            return Err(SlotsError::Shape);
        };
        let mut map = Self {
            masters: Vec::new(),
            owner: vec![NONE; SLOTS],
        };
        for range in ranges {
            let Reply::Array(items) = range else {
                return Err(SlotsError::Shape);
            };
            let (Some(Reply::Int(start)), Some(Reply::Int(end)), Some(Reply::Array(master))) =
                (items.first(), items.get(1), items.get(2))
            else {
                return Err(SlotsError::Shape);
            };
            let (Ok(start), Ok(end)) = (usize::try_from(*start), usize::try_from(*end)) else {
                return Err(SlotsError::Shape);
            };
            if start > end || end >= SLOTS {
                return Err(SlotsError::Shape);
            }
            let host = master
                .first()
                .and_then(Reply::text)
                .ok_or(SlotsError::Shape)?;
            let port = match master.get(1) {
                Some(Reply::Int(p)) => u16::try_from(*p).map_err(|_| SlotsError::Shape)?,
                _ => return Err(SlotsError::Shape),
            };
            let addr = match (host, asked) {
                ("" | "?", Addr::Tcp(h, _)) => Addr::Tcp(h.clone(), port),
                ("" | "?", Addr::Unix(_)) => return Err(SlotsError::Shape),
                (h, _) => Addr::Tcp(h.to_owned(), port),
            };
            let i = map.index(addr);
            map.owner[start..=end].fill(i);
        }
        if map.masters.is_empty() {
            return Err(SlotsError::Empty);
        }
        Ok(map)
    }

    fn index(&mut self, addr: Addr) -> u16 {
        match self.masters.iter().position(|m| *m == addr) {
            Some(i) => i as u16,
            None => {
                self.masters.push(addr);
                (self.masters.len() - 1) as u16
            }
        }
    }

    /// The master serving `slot`.
    pub(crate) fn owner(&self, slot: u16) -> Option<&Addr> {
        match self.owner.get(slot as usize) {
            Some(&i) if i != NONE => self.masters.get(i as usize),
            _ => None,
        }
    }

    /// The master serving `channel`.
    pub(crate) fn owner_of(&self, channel: &str) -> Option<&Addr> {
        self.owner(key_slot(channel.as_bytes()))
    }

    /// Every master serving at least one slot.
    pub(crate) fn masters(&self) -> Vec<Addr> {
        let mut used = vec![false; self.masters.len()];
        for &i in &self.owner {
            if let Some(u) = used.get_mut(i as usize) {
                *u = true;
            }
        }
        self.masters
            .iter()
            .zip(used)
            .filter(|&(_, u)| u)
            .map(|(m, _)| m.clone())
            .collect()
    }

    /// Applies a `MOVED` answer: `slot` is now served by `addr`.
    pub(crate) fn moved(&mut self, slot: u16, addr: Addr) {
        if (slot as usize) < SLOTS {
            let i = self.index(addr);
            self.owner[slot as usize] = i;
        }
    }
}

/// A cluster redirection in an error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Redirect {
    /// `MOVED <slot> <host>:<port>`: the slot has a new owner for good.
    Moved(u16, Addr),
    /// `ASK <slot> <host>:<port>`: ask that node once, after `ASKING`.
    Ask(u16, Addr),
}

impl Redirect {
    /// Parses the text of an error reply; `None` if it is no redirection.
    pub(crate) fn parse(err: &str) -> Option<Self> {
        let mut it = err.split_ascii_whitespace();
        let kind = it.next()?;
        let slot: u16 = it.next()?.parse().ok()?;
        let (host, port) = it.next()?.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addr = Addr::Tcp(host.to_owned(), port.parse().ok()?);
        if slot as usize >= SLOTS {
            return None;
        }
        match kind {
            "MOVED" => Some(Self::Moved(slot, addr)),
            "ASK" => Some(Self::Ask(slot, addr)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_xmodem() {
        // The check value of CRC-16/XMODEM, also in Redis' crc16.c.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    /// Values from `CLUSTER KEYSLOT` on redis-server 7.0.
    #[test]
    fn slots_match_redis() {
        let cases: &[(&str, u16)] = &[
            ("socket.io#/#", 13868),
            ("a", 15495),
            ("b", 3300),
            ("c", 7365),
            ("foo", 12182),
            ("{user1000}.following", 3443),
            ("{user1000}.followers", 3443),
            ("user1000", 3443),
            ("foo{}{bar}", 8363),
            ("foo{{bar}}zap", 4015),
            ("foo{bar}{zap}", 5061),
            ("bar", 5061),
            ("{", 4092),
            ("}{", 12793),
        ];
        for (key, slot) in cases {
            assert_eq!(key_slot(key.as_bytes()), *slot, "{key}");
        }
    }

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Some(s.as_bytes().to_vec()))
    }

    fn range(start: i64, end: i64, host: &str, port: i64) -> Reply {
        Reply::Array(vec![
            Reply::Int(start),
            Reply::Int(end),
            Reply::Array(vec![bulk(host), Reply::Int(port), bulk("id")]),
            Reply::Array(vec![bulk("10.0.0.9"), Reply::Int(1), bulk("replica")]),
        ])
    }

    #[test]
    fn cluster_slots_map() {
        let seed = Addr::Tcp("127.0.0.1".into(), 7000);
        let reply = Reply::Array(vec![
            range(0, 5460, "127.0.0.1", 7000),
            range(5461, 10922, "", 7001),
            range(10923, 16383, "127.0.0.1", 7002),
        ]);
        let mut m = SlotMap::from_cluster_slots(&reply, &seed).unwrap();
        let a = |p| Addr::Tcp("127.0.0.1".into(), p);
        assert_eq!(m.owner(0), Some(&a(7000)));
        assert_eq!(m.owner(5461), Some(&a(7001)));
        assert_eq!(m.owner(16383), Some(&a(7002)));
        assert_eq!(m.owner_of("socket.io#/#"), Some(&a(7002)));
        assert_eq!(m.masters(), vec![a(7000), a(7001), a(7002)]);
        m.moved(3300, a(7003));
        assert_eq!(m.owner_of("b"), Some(&a(7003)));
        assert_eq!(m.masters().len(), 4);
        // a gap: no owner
        let gap = Reply::Array(vec![range(0, 100, "h", 1)]);
        let m = SlotMap::from_cluster_slots(&gap, &seed).unwrap();
        assert_eq!(m.owner(101), None);
        assert_eq!(m.owner(u16::MAX), None);
    }

    #[test]
    fn bad_cluster_slots() {
        let seed = Addr::Tcp("h".into(), 1);
        for r in [
            Reply::Int(1),
            Reply::Array(vec![]),
            Reply::Array(vec![Reply::Int(1)]),
            Reply::Array(vec![range(10, 5, "h", 1)]),
            Reply::Array(vec![range(0, 16384, "h", 1)]),
            Reply::Array(vec![range(0, 1, "h", 70000)]),
            Reply::Array(vec![range(-1, 1, "h", 1)]),
        ] {
            assert!(SlotMap::from_cluster_slots(&r, &seed).is_err(), "{r:?}");
        }
    }

    #[test]
    fn redirects() {
        let a = Addr::Tcp("127.0.0.1".into(), 27002);
        assert_eq!(
            Redirect::parse("MOVED 3300 127.0.0.1:27002"),
            Some(Redirect::Moved(3300, a.clone()))
        );
        assert_eq!(
            Redirect::parse("ASK 3300 127.0.0.1:27002"),
            Some(Redirect::Ask(3300, a))
        );
        assert_eq!(
            Redirect::parse("MOVED 1 ::1:7000"),
            Some(Redirect::Moved(1, Addr::Tcp("::1".into(), 7000)))
        );
        for e in [
            "ERR x",
            "MOVED",
            "MOVED x h:1",
            "MOVED 1 h",
            "MOVED 16384 h:1",
            "MOVED 1 h:x",
        ] {
            assert_eq!(Redirect::parse(e), None, "{e}");
        }
    }
}

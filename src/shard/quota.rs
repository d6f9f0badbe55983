//! Quotas: what one client may make a shard keep or do (spec broker.md §8).
//!
//! Every limit is checked where the request enters the shard, before
//! anything is allocated for it, so the library gets them as well as the
//! broker:
//! - rooms per socket and room-name length: [`Shard::join`](super::Shard::join)
//!   (client `join`, `socketsJoin` from this node, other shards or Redis);
//! - event-name length and event rate: `sio.rs`, before any handler runs;
//! - connections (Engine.IO sessions) per address: the handshake asks
//!   [`Quotas::admits_address`], the shard counts the session when it is
//!   registered and releases it when it closes.
//!
//! The event rate is a token bucket kept as one timestamp per socket (GCRA:
//! the "theoretical arrival time" of the next event), refilled implicitly by
//! the time of the event: no timer per socket, one clock read and a compare
//! per event. The clock is the kernel's coarse monotonic clock (a vDSO read
//! of a value the tick updates, a few nanoseconds).
//!
//! Each refusal increments a per-shard counter ([`Quotas::refusals`]) and is
//! logged at most once per second per quota and shard, with the number of
//! refusals suppressed since the previous line ([`LogLimiter`], also used
//! for the other refusals an operator must see: slow consumers, failed
//! connection authentication), so that an attack cannot flood the log.

use std::cell::Cell;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use ahash::AHashMap;

use crate::config::Config;

/// Nanoseconds per second.
const SECOND: u64 = 1_000_000_000;

/// A socket dropping events for this long without a one-second break is
/// disconnected (spec: "still over its rate after 10 s of dropping").
const SUSTAINED_DROPPING: u64 = 10 * SECOND;

/// A break this long in the drops ends a dropping episode.
const EPISODE_GAP: u64 = SECOND;

/// Which quota refused something (the `quota` label of
/// `ringcast_quota_refusals_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// `max_rooms_per_socket`: a join past the cap.
    RoomsPerSocket,
    /// `max_room_name_bytes`: a join or broadcast naming a longer room.
    RoomNameBytes,
    /// `max_event_name_bytes`: an event with a longer name.
    EventNameBytes,
    /// `client_events_per_second` / `client_events_burst`: an event over
    /// the socket's bucket.
    EventRate,
    /// A socket disconnected after dropping events for 10 s.
    EventRateDisconnect,
    /// `max_connections_per_ip`: a handshake refused with 429.
    ConnectionsPerIp,
}

impl Quota {
    /// Every quota, in counter order.
    pub const ALL: [Self; 6] = [
        Self::RoomsPerSocket,
        Self::RoomNameBytes,
        Self::EventNameBytes,
        Self::EventRate,
        Self::EventRateDisconnect,
        Self::ConnectionsPerIp,
    ];

    /// The metric label (the config key, or `rate_disconnect`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoomsPerSocket => "max_rooms_per_socket",
            Self::RoomNameBytes => "max_room_name_bytes",
            Self::EventNameBytes => "max_event_name_bytes",
            Self::EventRate => "client_events_per_second",
            Self::EventRateDisconnect => "rate_disconnect",
            Self::ConnectionsPerIp => "max_connections_per_ip",
        }
    }
}

/// Why a join was refused. The socket stays connected and is not in the
/// room; the broker acks the error's text to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The socket is in `max_rooms_per_socket` rooms already: leave one first.
    #[error("too many rooms")]
    TooManyRooms,
    /// The name is longer than `max_room_name_bytes`: use a shorter one.
    #[error("room name too long")]
    NameTooLong,
}

/// What to do with an incoming event, per its socket's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Within the bucket: handle it.
    Accept,
    /// Over the bucket: drop it (ack the error when asked).
    Drop,
    /// Over the bucket after 10 s of dropping: drop it and disconnect.
    Disconnect,
}

/// Per-socket quota state: 32 bytes, no allocation.
#[derive(Debug, Default)]
pub struct SocketQuota {
    /// GCRA theoretical arrival time (coarse-clock ns); 0 = a full bucket.
    tat: Cell<u64>,
    /// Start of the current dropping episode; 0 = not dropping.
    dropping_since: Cell<u64>,
    /// Time of the last dropped event.
    last_drop: Cell<u64>,
    /// Rooms at the front of `SocketState::rooms` that the server joined
    /// on the socket's behalf and that the room cap does not count
    /// (`user:<sub>`).
    pub(crate) exempt_rooms: Cell<u32>,
}

/// The quota limits and counters of one shard.
#[derive(Debug)]
pub struct Quotas {
    /// Nanoseconds one event costs (`1e9 / client_events_per_second`); 0 = no limit.
    event_cost: u64,
    /// Bucket depth in nanoseconds (`event_cost * client_events_burst`).
    bucket: u64,
    /// `max_connections_per_ip` (0 = off).
    max_per_ip: u32,
    /// The process-wide per-address table (None when the cap is off).
    ips: Option<Arc<IpTable>>,
    refusals: [Cell<u64>; Quota::ALL.len()],
    logs: [LogLimiter; Quota::ALL.len()],
}

/// One kind of log line limited to one line per second (per limiter: keep
/// one per kind and shard, or a `thread_local!` one, since shards are
/// threads). Not `Sync`: it is two cells read and written by one thread.
#[derive(Debug, Default)]
pub struct LogLimiter {
    /// Coarse-clock time of the last line written; 0 = none yet.
    last: Cell<u64>,
    /// Lines suppressed since then.
    suppressed: Cell<u64>,
}

impl LogLimiter {
    /// A limiter that has written nothing yet.
    pub const fn new() -> Self {
        Self {
            last: Cell::new(0),
            suppressed: Cell::new(0),
        }
    }

    /// Whether a line may be written now: `Some(n)` with the number of
    /// lines suppressed since the previous one (write it, with `n`), `None`
    /// within a second of the previous line (counted as suppressed).
    pub fn admit(&self) -> Option<u64> {
        let now = coarse_now();
        let last = self.last.get();
        if last != 0 && now.saturating_sub(last) < SECOND {
            self.suppressed.set(self.suppressed.get() + 1);
            return None;
        }
        self.last.set(now.max(1));
        Some(self.suppressed.replace(0))
    }
}

impl Quotas {
    /// The limits of `config`; the address table is shared by every shard
    /// started with the same `Arc<Config>` (one server).
    pub fn new(config: &Arc<Config>) -> Self {
        let (rate, burst) = (config.client_events_per_second, config.client_events_burst);
        let event_cost = if rate == 0 || burst == 0 {
            0
        } else {
            (SECOND / u64::from(rate)).max(1)
        };
        let max_per_ip = config.max_connections_per_ip;
        Self {
            event_cost,
            bucket: event_cost.saturating_mul(u64::from(burst)),
            max_per_ip,
            ips: (max_per_ip > 0).then(|| IpTable::for_server(config)),
            refusals: Default::default(),
            logs: Default::default(),
        }
    }

    /// Refusals counted on this shard for `quota` (for metrics and tests).
    pub fn refusals(&self, quota: Quota) -> u64 {
        self.refusals[quota as usize].get()
    }

    /// Every quota with its refusal count on this shard.
    pub fn refusal_counts(&self) -> impl Iterator<Item = (Quota, u64)> + '_ {
        Quota::ALL.iter().map(|&q| (q, self.refusals(q)))
    }

    /// Counts a refusal and logs it, at most once per second per quota.
    pub fn refuse(&self, quota: Quota, shard: usize, detail: &str) {
        let i = quota as usize;
        self.refusals[i].set(self.refusals[i].get() + 1);
        let Some(suppressed) = self.logs[i].admit() else {
            return;
        };
        tracing::warn!(
            quota = quota.as_str(),
            shard,
            suppressed,
            total = self.refusals[i].get(),
            "quota refusal: {detail}"
        );
    }

    /// Runs one event through a socket's bucket at time `now` (coarse ns).
    #[inline]
    pub fn admit_event(&self, q: &SocketQuota, now: u64) -> Admission {
        if self.event_cost == 0 {
            return Admission::Accept;
        }
        let tat = q.tat.get().max(now) + self.event_cost;
        if tat <= now + self.bucket {
            q.tat.set(tat);
            return Admission::Accept;
        }
        let since = q.dropping_since.get();
        let episode = if since == 0 || now.saturating_sub(q.last_drop.get()) > EPISODE_GAP {
            q.dropping_since.set(now);
            now
        } else {
            since
        };
        q.last_drop.set(now);
        if now.saturating_sub(episode) >= SUSTAINED_DROPPING {
            Admission::Disconnect
        } else {
            Admission::Drop
        }
    }

    /// Whether a new connection from `ip` is within `max_connections_per_ip`.
    /// Checked at the handshake; the session is counted when it is
    /// registered in the same turn (see [`Self::count_session`]).
    pub fn admits_address(&self, ip: IpAddr) -> bool {
        match &self.ips {
            Some(t) => t.count(ip) < self.max_per_ip,
            None => true,
        }
    }

    /// Counts a new session against its address (`Handshake::address`).
    pub fn count_session(&self, address: &str) {
        // Parsed only with a per-address limit (off by default): the text
        // is the handshake's, and parsing it cost 340 instructions a call.
        if let Some(t) = &self.ips {
            if let Ok(ip) = address.parse::<IpAddr>() {
                t.add(ip);
            }
        }
    }

    /// Frees a closed session's slot (the same address as counted).
    pub fn release_session(&self, address: &str) {
        // Parsed only with a per-address limit (off by default): the text
        // is the handshake's, and parsing it cost 340 instructions a call.
        if let Some(t) = &self.ips {
            if let Ok(ip) = address.parse::<IpAddr>() {
                t.remove(ip);
            }
        }
    }
}

/// The kernel's coarse monotonic clock in nanoseconds (resolution of a
/// scheduler tick, 1–4 ms; never 0 on a running system).
#[inline]
pub fn coarse_now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE
    // exists on every Linux this runtime supports (io_uring needs 5.x).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(SECOND)
        .saturating_add(ts.tv_nsec as u64)
        .max(1)
}

/// Engine.IO sessions per client address, for one server (all its shards).
///
/// A client's connections may land on any shard (SO_REUSEPORT spreads them
/// by the 4-tuple), so the count is process-wide: a table striped over 16
/// mutexes by address hash, touched once at a handshake and once at a
/// close, never per message. See docs/decisions.md.
#[derive(Debug)]
pub struct IpTable {
    stripes: [Mutex<AHashMap<IpAddr, u32>>; 16],
}

/// The tables of the servers running in this process, found by their
/// shared `Arc<Config>` (every shard of a server holds a clone of it).
static TABLES: Mutex<Vec<(Weak<Config>, Arc<IpTable>)>> = Mutex::new(Vec::new());

impl IpTable {
    /// The table of the server whose shards share `config`.
    fn for_server(config: &Arc<Config>) -> Arc<Self> {
        let mut tables = TABLES.lock().unwrap_or_else(PoisonError::into_inner);
        tables.retain(|(w, _)| w.strong_count() > 0);
        if let Some((_, t)) = tables
            .iter()
            .find(|(w, _)| w.upgrade().is_some_and(|c| Arc::ptr_eq(&c, config)))
        {
            return t.clone();
        }
        let t = Arc::new(Self {
            stripes: Default::default(),
        });
        tables.push((Arc::downgrade(config), t.clone()));
        t
    }

    fn stripe(&self, ip: IpAddr) -> std::sync::MutexGuard<'_, AHashMap<IpAddr, u32>> {
        let h = match ip {
            IpAddr::V4(a) => u32::from(a) as usize,
            IpAddr::V6(a) => (u128::from(a) ^ (u128::from(a) >> 64)) as usize,
        };
        self.stripes[h % self.stripes.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, ip: IpAddr) -> u32 {
        self.stripe(canonical(ip))
            .get(&canonical(ip))
            .copied()
            .unwrap_or(0)
    }

    fn add(&self, ip: IpAddr) {
        let ip = canonical(ip);
        *self.stripe(ip).entry(ip).or_insert(0) += 1;
    }

    fn remove(&self, ip: IpAddr) {
        let ip = canonical(ip);
        let mut s = self.stripe(ip);
        if let Some(n) = s.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                s.remove(&ip);
            }
        }
    }
}

/// An IPv4 client seen through an IPv6 listener (`::ffff:a.b.c.d`) counts
/// as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quotas(rate: u32, burst: u32) -> Quotas {
        let config = Arc::new(Config {
            client_events_per_second: rate,
            client_events_burst: burst,
            ..Config::default()
        });
        Quotas::new(&config)
    }

    #[test]
    fn bucket_allows_burst_then_rate() {
        let q = quotas(10, 5);
        let s = SocketQuota::default();
        let t0 = 1_000 * SECOND;
        let accepted = (0..20)
            .filter(|_| q.admit_event(&s, t0) == Admission::Accept)
            .count();
        assert_eq!(accepted, 5, "a full bucket holds `burst` events");
        // One second later: 10 more tokens.
        let t1 = t0 + SECOND;
        let accepted = (0..20)
            .filter(|_| q.admit_event(&s, t1) == Admission::Accept)
            .count();
        assert_eq!(accepted, 5, "refill is capped by the bucket depth");
        let t2 = t1 + SECOND / 10;
        assert_eq!(q.admit_event(&s, t2), Admission::Accept);
        assert_eq!(q.admit_event(&s, t2), Admission::Drop);
    }

    #[test]
    fn sustained_dropping_disconnects_and_a_pause_forgives() {
        let q = quotas(10, 1);
        let s = SocketQuota::default();
        let t0 = 1_000 * SECOND;
        assert_eq!(q.admit_event(&s, t0), Admission::Accept);
        // 20 events a second (twice the rate) for up to 15 s.
        let at = (1..=300u64)
            .map(|i| t0 + i * SECOND / 20)
            .find(|&t| q.admit_event(&s, t) == Admission::Disconnect);
        let at = at.expect("disconnected within 15 s");
        assert!(at - t0 >= SUSTAINED_DROPPING, "not before 10 s of dropping");
        // A fresh episode after a 2 s pause.
        let s = SocketQuota::default();
        assert_eq!(q.admit_event(&s, t0), Admission::Accept);
        assert_eq!(q.admit_event(&s, t0), Admission::Drop);
        let later = t0 + 9 * SECOND;
        assert_eq!(q.admit_event(&s, later), Admission::Accept);
        assert_eq!(q.admit_event(&s, later), Admission::Drop);
        assert_eq!(q.admit_event(&s, later + 2 * SECOND), Admission::Accept);
    }

    #[test]
    fn zero_turns_the_bucket_off() {
        let q = quotas(0, 5);
        let s = SocketQuota::default();
        assert!((0..10_000).all(|_| q.admit_event(&s, SECOND) == Admission::Accept));
    }

    #[test]
    fn address_table_is_per_server_and_frees_slots() {
        let config = Arc::new(Config {
            max_connections_per_ip: 2,
            ..Config::default()
        });
        let (a, b) = (Quotas::new(&config), Quotas::new(&config));
        let other = Quotas::new(&Arc::new((*config).clone()));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        a.count_session("10.0.0.1");
        b.count_session("::ffff:10.0.0.1");
        assert!(!a.admits_address(ip), "counted across shards");
        assert!(!b.admits_address(ip));
        assert!(other.admits_address(ip), "another server has its own table");
        assert!(a.admits_address("10.0.0.2".parse().unwrap()));
        b.release_session("10.0.0.1");
        assert!(a.admits_address(ip));
    }
}

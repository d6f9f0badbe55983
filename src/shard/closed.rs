//! Sessions their client closed over long-polling (a POST carrying the
//! close packet `1`), remembered for a short while on their owner shard.
//!
//! Why: Node answers a long-poll GET that is parked when the close packet
//! is processed with a noop `6`, and engine.io-client has such a GET in
//! flight when it closes. Here the GET may reach the owner shard later
//! than the POST even when the client sent it first: a request landing on
//! another shard moves there through the mesh (`ToShard::Adopt`), while a
//! POST landing on the owner is served at once. Without this the late GET
//! finds no session and gets 400 (`Session ID unknown`); with it, it gets
//! the `6` it would have had, whichever shard each request landed on.
//!
//! Bounded: at most [`CAPACITY`] ids, each for [`RETENTION`] (the oldest
//! go first), so a close storm costs a fixed amount of memory; an id past
//! either bound gets the 400 again, which a client tolerates after its
//! own close.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ahash::AHashSet;

/// Most ids remembered per shard.
pub const CAPACITY: usize = 1024;
/// How long an id is remembered: far longer than a connection's move
/// between shards takes.
pub const RETENTION: Duration = Duration::from_secs(10);

/// The ids, in closing order, with their expiry.
#[derive(Debug, Default)]
pub struct ClosedByClient {
    order: VecDeque<(Box<str>, Instant)>,
    ids: AHashSet<Box<str>>,
}

impl ClosedByClient {
    /// Remembers `sid`, closed by its client at `now`.
    pub fn handle_close(&mut self, sid: &str, now: Instant) {
        self.expire(now);
        while self.order.len() >= CAPACITY {
            if let Some((old, _)) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        if self.ids.insert(sid.into()) {
            self.order.push_back((sid.into(), now + RETENTION));
        }
    }

    /// Whether `sid` was closed by its client within [`RETENTION`] of `now`.
    pub fn contains(&mut self, sid: &str, now: Instant) -> bool {
        self.expire(now);
        self.ids.contains(sid)
    }

    fn expire(&mut self, now: Instant) {
        while self.order.front().is_some_and(|(_, until)| *until <= now) {
            if let Some((old, _)) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_expire_and_stay_bounded() {
        let t0 = Instant::now();
        let mut c = ClosedByClient::default();
        c.handle_close("a", t0);
        assert!(c.contains("a", t0 + Duration::from_secs(1)));
        assert!(!c.contains("b", t0));
        assert!(!c.contains("a", t0 + RETENTION));
        for i in 0..CAPACITY + 10 {
            c.handle_close(&format!("s{i}"), t0);
        }
        assert_eq!(c.order.len(), CAPACITY);
        assert_eq!(c.ids.len(), CAPACITY);
        assert!(!c.contains("s0", t0));
        assert!(c.contains(&format!("s{}", CAPACITY + 9), t0));
    }
}

//! Sessions their client closed over long-polling (a POST carrying the
//! close packet `1`) while no long-poll GET was parked, remembered for a
//! short while on their owner shard, each for one late GET.
//!
//! Why: Node answers the long-poll GET that is parked when the close packet
//! is processed with a noop `6`, and engine.io-client has such a GET in
//! flight when it closes. Here that GET may reach the owner shard later
//! than the POST even when the client sent it first: a request landing on
//! another shard moves there through the mesh (`ToShard::Adopt`), while a
//! POST landing on the owner is served at once. Without this the late GET
//! finds no session and gets 400 (`Session ID unknown`); with it, it gets
//! the `6` it would have had, whichever shard each request landed on. Only
//! one GET takes it (a client has one GET in flight at most): a GET sent
//! after that gets the 400, as from Node. When a GET was parked at the
//! close, it took the noop itself and nothing is remembered.
//!
//! Bounded: at most [`CAPACITY`] ids, each for [`RETENTION`] (the oldest
//! go first), so a close storm costs a fixed amount of memory; an id past
//! either bound gets the 400, which a client tolerates after its own close.

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

    /// Whether `sid` was closed by its client within [`RETENTION`] of
    /// `now` and no GET took that yet; forgets it (one GET only).
    pub fn take(&mut self, sid: &str, now: Instant) -> bool {
        self.expire(now);
        // Its entry in `order` stays until it expires (ids are unique).
        self.ids.remove(sid)
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
        c.handle_close("z", t0);
        assert!(c.take("a", t0 + Duration::from_secs(1)));
        assert!(!c.take("a", t0 + Duration::from_secs(1)), "one GET only");
        assert!(!c.take("b", t0));
        assert!(!c.take("z", t0 + RETENTION));
        for i in 0..CAPACITY + 10 {
            c.handle_close(&format!("s{i}"), t0);
        }
        assert_eq!(c.order.len(), CAPACITY);
        assert_eq!(c.ids.len(), CAPACITY);
        assert!(!c.take("s0", t0));
        assert!(c.take(&format!("s{}", CAPACITY + 9), t0));
    }
}

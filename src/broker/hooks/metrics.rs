//! Shard-local counters of the backend hooks, for `/metrics`.
//!
//! Each shard counts its own calls in a thread-local ([`COUNTERS`]): no
//! atomics, no sharing on the call path. A reader on the shard's thread
//! takes a copy with [`snapshot`]; summing the shards' copies is the
//! exporter's job (it asks each shard, as for the shard's other counters).

use std::cell::RefCell;
use std::time::Duration;

/// Upper bounds (ms) of the latency histogram's buckets; a last, implicit
/// bucket holds the rest (Prometheus `le="+Inf"`).
pub const LATENCY_BUCKETS_MS: [u64; 10] = [1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000];

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// `[proxy] connect_url`.
    Connect,
    /// `[proxy] event_url`.
    Event,
}

/// The counters of one hook on one shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookCounters {
    /// Calls made (each POST, answered or not).
    pub calls: u64,
    /// Calls that got no usable answer (timeout, unreachable, malformed
    /// reply): answered "unavailable".
    pub failures: u64,
    /// Of the failures, those that ran out of time.
    pub timeouts: u64,
    /// Calls the backend answered with a status other than 200 (a refusal
    /// by the backend: counted here, not as a failure).
    pub refusals: u64,
    /// Sum of the calls' durations in microseconds (failures included).
    pub latency_us_sum: u64,
    /// Calls per latency bucket ([`LATENCY_BUCKETS_MS`], then the rest);
    /// cumulative sums are the exporter's job.
    pub latency_buckets: [u64; LATENCY_BUCKETS_MS.len() + 1],
}

/// The counters of both hooks on one shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookStats {
    /// The connect hook.
    pub connect: HookCounters,
    /// The event hook.
    pub event: HookCounters,
}

/// How one call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A 200 reply that parsed.
    Answered,
    /// Another status.
    Refused,
    /// Timeout.
    TimedOut,
    /// Unreachable or malformed.
    Failed,
}

thread_local! {
    static COUNTERS: RefCell<HookStats> = RefCell::new(HookStats::default());
}

/// This shard's counters (call on a shard thread).
pub fn snapshot() -> HookStats {
    COUNTERS.with(|c| c.borrow().clone())
}

/// Counts one call of `hook` that took `took` and ended as `outcome`.
pub(crate) fn record(hook: Hook, took: Duration, outcome: Outcome) {
    COUNTERS.with(|c| {
        let mut all = c.borrow_mut();
        let c = match hook {
            Hook::Connect => &mut all.connect,
            Hook::Event => &mut all.event,
        };
        c.calls += 1;
        match outcome {
            Outcome::Answered => {}
            Outcome::Refused => c.refusals += 1,
            Outcome::TimedOut => {
                c.failures += 1;
                c.timeouts += 1;
            }
            Outcome::Failed => c.failures += 1,
        }
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        c.latency_us_sum = c.latency_us_sum.saturating_add(us);
        let ms = us / 1000;
        let bucket = LATENCY_BUCKETS_MS
            .iter()
            .position(|&le| ms < le || (ms == le && us % 1000 == 0))
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        c.latency_buckets[bucket] += 1;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_hook() {
        record(
            Hook::Connect,
            Duration::from_micros(1500),
            Outcome::Answered,
        );
        record(Hook::Connect, Duration::from_secs(10), Outcome::TimedOut);
        record(Hook::Event, Duration::from_millis(1), Outcome::Refused);
        let s = snapshot();
        assert_eq!(
            (s.connect.calls, s.connect.failures, s.connect.timeouts),
            (2, 1, 1)
        );
        assert_eq!(s.connect.latency_buckets[1], 1, "1.5 ms is in le=2");
        assert_eq!(s.connect.latency_buckets[LATENCY_BUCKETS_MS.len()], 1);
        assert_eq!(
            (s.event.calls, s.event.refusals, s.event.failures),
            (1, 1, 0)
        );
        assert_eq!(s.event.latency_buckets[0], 1, "1 ms is in le=1");
    }
}

//! The scenarios and what they share: the [`Scenario`] contract the driver
//! runs, this process's [`Share`] of the clients, and the rate-limited
//! [`Connector`].

pub(crate) mod api;
pub(crate) mod connect;
pub(crate) mod echo;
pub(crate) mod fanout;
pub(crate) mod idle;

use std::ops::Range;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::engine::{Engine, Kind};
use crate::stats::{now_us, Hist, Part};

/// Live counters a process reports (children send them to the parent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    pub(crate) connected: u64,
    pub(crate) failed: u64,
    pub(crate) delivered: u64,
    /// This process's share of the run is complete.
    pub(crate) finished: bool,
}

/// A scenario, driven through three phases: setup (connect, join) until
/// [`Scenario::ready`], the measured run from [`Scenario::go`] until the
/// driver ends it, and [`Scenario::stop`]. The engine callbacks mirror
/// [`crate::engine::Handler`].
pub(crate) trait Scenario {
    /// Creates the clients and starts the setup.
    fn start(&mut self, eng: &mut Engine);
    fn on_connected(&mut self, eng: &mut Engine, cid: usize);
    fn on_event(&mut self, eng: &mut Engine, cid: usize, name: &[u8], args: &[u8]);
    fn on_ack(&mut self, eng: &mut Engine, cid: usize, id: u64, args: &[u8]);
    fn on_closed(&mut self, eng: &mut Engine, cid: usize, reason: &str);
    /// Timers; returns how long the loop may sleep.
    fn tick(&mut self, eng: &mut Engine, now: Instant) -> Duration;
    fn ready(&self) -> bool;
    fn go(&mut self, eng: &mut Engine, now: Instant);
    fn progress(&self) -> Progress;
    /// Ends the run: disconnect everything.
    fn stop(&mut self, eng: &mut Engine);
    fn part(&self) -> Part;
    /// The progress bar's text while running (`total`: all processes).
    fn live(&self, total: u64, secs: f64) -> String {
        let rate = if secs > 0.0 { total as f64 / secs } else { 0.0 };
        format!("{total} delivered, {rate:.0}/s")
    }
    /// Whether a run without progress for `--drain-timeout` ends (idle: no).
    fn stalls(&self) -> bool {
        true
    }
    /// Fanout publisher: deliveries counted by the other processes.
    fn set_remote_delivered(&mut self, _n: u64) {}
    /// Parent only: totals of the merged run and scenario fields for the
    /// report (`expected` among them).
    fn report(&self, total: &Part, elapsed_s: f64, out: &mut Map<String, Value>);
    /// Number of connections this scenario holds during the run (all
    /// processes), for RSS per connection.
    fn connections(&self) -> u64;
}

/// The clients of this process: global indices `range` of `total`.
#[derive(Debug, Clone)]
pub(crate) struct Share {
    pub(crate) index: usize,
    pub(crate) count: usize,
    pub(crate) polling_fraction: f64,
}

impl Share {
    /// Global client indices for `total` clients.
    pub(crate) fn range(&self, total: usize) -> Range<usize> {
        (self.index * total / self.count)..((self.index + 1) * total / self.count)
    }

    /// Client `g` uses polling when the fraction crosses an integer at `g`,
    /// so polling clients are spread evenly (0.2: every fifth).
    pub(crate) fn kind(&self, g: usize) -> Kind {
        let f = self.polling_fraction;
        if ((g + 1) as f64 * f).floor() > (g as f64 * f).floor() {
            Kind::Polling
        } else {
            Kind::WebSocket
        }
    }

    pub(crate) fn is_parent(&self) -> bool {
        self.index == 0
    }

    /// This process's part of a per-process limit.
    pub(crate) fn split(&self, n: usize) -> usize {
        let r = self.range(n);
        (r.end - r.start).max(1)
    }
}

/// Connects queued clients with at most `limit` attempts in flight and
/// times each CONNECT.
#[derive(Debug, Default)]
pub(crate) struct Connector {
    queue: Vec<usize>,
    started: Vec<u64>,
    connecting: Vec<bool>,
    inflight: usize,
    pub(crate) limit: usize,
    pub(crate) connected: u64,
    pub(crate) failed: u64,
    pub(crate) hist: Hist,
}

impl Connector {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            ..Self::default()
        }
    }

    /// Queues `cid` (connected in queue order).
    pub(crate) fn push(&mut self, cid: usize) {
        if self.started.len() <= cid {
            self.started.resize(cid + 1, 0);
            self.connecting.resize(cid + 1, false);
        }
        self.queue.push(cid);
    }

    /// Starts attempts up to the limit.
    pub(crate) fn pump(&mut self, eng: &mut Engine) {
        while self.inflight < self.limit {
            let Some(cid) = self.queue.pop() else { break };
            self.started[cid] = now_us();
            self.connecting[cid] = true;
            self.inflight += 1;
            eng.connect(cid);
        }
    }

    /// CONNECT acked: returns the connect time in µs, or `None` when the
    /// client was not connecting through this connector.
    pub(crate) fn connected(&mut self, cid: usize) -> Option<u64> {
        if !std::mem::take(self.connecting.get_mut(cid)?) {
            return None;
        }
        self.inflight -= 1;
        self.connected += 1;
        let us = now_us().saturating_sub(self.started[cid]);
        self.hist.record(us);
        Some(us)
    }

    /// The client closed: true when it was still connecting (a failure).
    pub(crate) fn closed(&mut self, cid: usize) -> bool {
        match self.connecting.get_mut(cid) {
            Some(c) if *c => {
                *c = false;
                self.inflight -= 1;
                self.failed += 1;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn idle(&self) -> bool {
        self.queue.is_empty() && self.inflight == 0
    }
}

/// Room name for room `r`.
pub(crate) fn room_name(r: usize) -> String {
    format!("room-{r}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_everything_once() {
        let total = 1003;
        let mut seen = 0;
        for i in 0..3 {
            let s = Share {
                index: i,
                count: 3,
                polling_fraction: 0.2,
            };
            seen += s.range(total).len();
        }
        assert_eq!(seen, total);
        let s = Share {
            index: 0,
            count: 1,
            polling_fraction: 0.2,
        };
        let polling = (0..1000).filter(|&g| s.kind(g) == Kind::Polling).count();
        assert_eq!(polling, 200);
        let s = Share {
            index: 0,
            count: 1,
            polling_fraction: 0.0,
        };
        assert!((0..100).all(|g| s.kind(g) == Kind::WebSocket));
        let s = Share {
            index: 0,
            count: 1,
            polling_fraction: 1.0,
        };
        assert!((0..100).all(|g| s.kind(g) == Kind::Polling));
    }
}

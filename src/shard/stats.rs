//! A shard's counters as one plain value ([`StatsSnapshot`]), taken on the
//! shard's own thread when metrics are scraped and summed over the shards
//! by the exporter (`crate::broker::metrics`).
//!
//! The counters themselves are `Cell`s in [`super::Stats`] and
//! [`super::quota::Quotas`]: the hot path bumps a plain integer of its own
//! shard (no atomic, no shared cache line), and only a scrape reads them.

use super::quota::Quota;
use super::session::Transport;
use super::Shard;

/// One shard's counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Open sessions on WebSocket.
    pub websocket: u64,
    /// Open sessions on HTTP long-polling.
    pub polling: u64,
    /// Connected Socket.IO sockets (all namespaces).
    pub sockets: u64,
    /// Bytes queued for clients, not yet written (all sessions).
    pub queued_bytes: u64,
    /// Sessions opened since start.
    pub sessions_opened: u64,
    /// EVENT packets received from clients.
    pub events_received: u64,
    /// Packets queued for clients.
    pub deliveries: u64,
    /// Sessions closed as slow consumers.
    pub slow_consumers: u64,
    /// Volatile packets dropped.
    pub volatile_dropped: u64,
    /// Connections handed to another shard.
    pub handoffs: u64,
    /// Quota refusals, indexed like [`Quota::ALL`].
    pub refusals: [u64; Quota::ALL.len()],
}

impl StatsSnapshot {
    /// Adds `other` into `self` (the process total).
    pub fn add(&mut self, other: &Self) {
        self.websocket += other.websocket;
        self.polling += other.polling;
        self.sockets += other.sockets;
        self.queued_bytes += other.queued_bytes;
        self.sessions_opened += other.sessions_opened;
        self.events_received += other.events_received;
        self.deliveries += other.deliveries;
        self.slow_consumers += other.slow_consumers;
        self.volatile_dropped += other.volatile_dropped;
        self.handoffs += other.handoffs;
        for (a, b) in self.refusals.iter_mut().zip(other.refusals) {
            *a += b;
        }
    }
}

impl Shard {
    /// This shard's counters now; walks the sessions to split them by
    /// transport and sum their queues (a scrape costs O(sessions), the hot
    /// path nothing).
    pub fn stats_snapshot(&self) -> StatsSnapshot {
        let (mut websocket, mut polling, mut queued_bytes) = (0, 0, 0);
        for s in self.sessions.borrow().values() {
            let st = s.st.borrow();
            match st.eio.transport() {
                Transport::WebSocket => websocket += 1,
                Transport::Polling => polling += 1,
            }
            queued_bytes += st.eio.queued_bytes() as u64;
        }
        let mut refusals = [0; Quota::ALL.len()];
        for (slot, (_, n)) in refusals.iter_mut().zip(self.quota.refusal_counts()) {
            *slot = n;
        }
        let st = &self.stats;
        StatsSnapshot {
            websocket,
            polling,
            sockets: self.sockets.borrow().len() as u64,
            queued_bytes,
            sessions_opened: st.sessions_opened.get(),
            events_received: st.events_received.get(),
            deliveries: st.deliveries.get(),
            slow_consumers: st.slow_consumers.get(),
            volatile_dropped: st.volatile_dropped.get(),
            handoffs: st.handoffs.get(),
            refusals,
        }
    }
}

//! A shard's counters as one plain value ([`StatsSnapshot`]), taken on the
//! shard's own thread when metrics are scraped and summed over the shards
//! by the exporter (`crate::broker::metrics`).
//!
//! The counters themselves are `Cell`s in [`super::Stats`] (the operator
//! series are grouped in [`Ops`]) and [`super::quota::Quotas`]: the hot path
//! bumps a plain integer of its own shard (no atomic, no shared cache line),
//! and only a scrape reads them. A broadcast adds its receivers once per
//! shard, never once per receiver.
//!
//! Socket bytes are counted by the runtime's IO ([`count_received_bytes`],
//! [`count_sent_bytes`]: one add per read or write syscall) in a
//! thread-local `Cell`, since not every write site holds the shard: the
//! runtime runs one shard per executor thread, so the thread's counter is
//! the shard's, read by [`Shard::stats_snapshot`] on that same thread.

use std::cell::Cell;

use ringcast_proto::engineio::Packet as EnginePacket;
use ringcast_proto::socketio::PacketKind;

use super::quota::Quota;
use super::session::{CloseReason, Transport};
use super::socket::PendingAck;
use super::Shard;

/// Label values of `ringcast_packets_received_total{type}`: the Engine.IO
/// packet types, then the Socket.IO ones (no name is shared).
pub const PACKET_TYPES: [&str; 15] = [
    "open",
    "close",
    "ping",
    "pong",
    "message",
    "binary",
    "upgrade",
    "noop",
    "connect",
    "disconnect",
    "event",
    "ack",
    "connect_error",
    "binary_event",
    "binary_ack",
];

/// Label values of `ringcast_disconnects_total{reason}`, indexed like
/// [`close_index`].
pub const CLOSE_REASONS: [&str; 10] = [
    "transport_close",
    "transport_error",
    "ping_timeout",
    "parse_error",
    "forced_server_close",
    "server_shutdown",
    "slow_consumer",
    "connect_timeout",
    "client_namespace_disconnect",
    "server_namespace_disconnect",
];

/// The index of `r` in [`CLOSE_REASONS`].
fn close_index(r: CloseReason) -> usize {
    match r {
        CloseReason::TransportClose => 0,
        CloseReason::TransportError => 1,
        CloseReason::PingTimeout => 2,
        CloseReason::ParseError => 3,
        CloseReason::ForcedServerClose => 4,
        CloseReason::ServerShutdown => 5,
        CloseReason::SlowConsumer => 6,
        CloseReason::ConnectTimeout => 7,
        CloseReason::ClientNamespaceDisconnect => 8,
        CloseReason::ServerNamespaceDisconnect => 9,
    }
}

thread_local! {
    /// Bytes read from and written to client sockets on this thread.
    static IO_BYTES: (Cell<u64>, Cell<u64>) = const { (Cell::new(0), Cell::new(0)) };
}

/// Counts `n` bytes read from a client socket (one call per read).
pub fn count_received_bytes(n: usize) {
    IO_BYTES.with(|b| b.0.set(b.0.get() + n as u64));
}

/// Counts `n` bytes written to a client socket (one call per write).
pub fn count_sent_bytes(n: usize) {
    IO_BYTES.with(|b| b.1.set(b.1.get() + n as u64));
}

/// The operator counters of one shard, bumped through the `count_*`
/// methods (one `Cell` add each).
#[derive(Debug, Default)]
pub struct Ops {
    packets: [Cell<u64>; PACKET_TYPES.len()],
    broadcasts: Cell<u64>,
    broadcast_receivers: Cell<u64>,
    ack_timeouts: Cell<u64>,
    disconnects: [Cell<u64>; CLOSE_REASONS.len()],
}

impl Ops {
    fn bump(c: &Cell<u64>, n: u64) {
        c.set(c.get() + n);
    }

    /// An Engine.IO packet received from a client.
    pub fn count_engine_packet(&self, p: &EnginePacket) {
        let i = match p {
            EnginePacket::Open(_) => 0,
            EnginePacket::Close => 1,
            EnginePacket::Ping(_) => 2,
            EnginePacket::Pong(_) => 3,
            EnginePacket::Message(_) => 4,
            EnginePacket::Binary(_) => 5,
            EnginePacket::Upgrade => 6,
            EnginePacket::Noop => 7,
        };
        Self::bump(&self.packets[i], 1);
    }

    /// A (complete) Socket.IO packet received from a client.
    pub fn count_sio_packet(&self, k: PacketKind) {
        Self::bump(&self.packets[8 + k as usize], 1);
    }

    /// A broadcast started on this shard (by a socket, the server API or
    /// the HTTP API; not one received from another node).
    pub fn count_broadcast(&self) {
        Self::bump(&self.broadcasts, 1);
    }

    /// A broadcast reached `n` sockets of this shard (once per broadcast).
    pub fn count_receivers(&self, n: usize) {
        Self::bump(&self.broadcast_receivers, n as u64);
    }

    /// An ack (a socket's or a broadcast's aggregation) timed out.
    pub fn count_ack_timeout(&self) {
        Self::bump(&self.ack_timeouts, 1);
    }

    /// A connection (or, for the namespace reasons, one socket) closed.
    pub fn count_disconnect(&self, r: CloseReason) {
        Self::bump(&self.disconnects[close_index(r)], 1);
    }
}

/// Label values of `ringcast_forwarded_requests_total{kind}`, indexed like
/// [`super::Stats::forwarded`].
pub const FORWARD_KINDS: [&str; 3] = ["polling_get", "polling_post", "upgrade"];

/// Label values of `ringcast_forward_failures_total{reason}`, indexed like
/// `runtime::forward::Failure`.
pub const FORWARD_FAILURES: [&str; 5] = ["unknown_owner", "connect", "timeout", "closed", "broken"];

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
    /// Requests forwarded to the owner node, indexed like [`FORWARD_KINDS`].
    pub forwarded: [u64; FORWARD_KINDS.len()],
    /// Failed forwards, indexed like [`FORWARD_FAILURES`].
    pub forward_failures: [u64; FORWARD_FAILURES.len()],
    /// Quota refusals, indexed like [`Quota::ALL`].
    pub refusals: [u64; Quota::ALL.len()],
    /// Bytes read from client sockets.
    pub received_bytes: u64,
    /// Bytes written to client sockets.
    pub sent_bytes: u64,
    /// Packets received, indexed like [`PACKET_TYPES`].
    pub packets: [u64; PACKET_TYPES.len()],
    /// Broadcasts started here.
    pub broadcasts: u64,
    /// Sockets reached by broadcasts (local and from other nodes).
    pub broadcast_receivers: u64,
    /// Pending acks of single emits (`emit_with_ack`), over the sockets.
    pub acks_pending_socket: u64,
    /// Broadcast-with-ack aggregations waiting for replies.
    pub acks_pending_broadcast: u64,
    /// Acks timed out.
    pub ack_timeouts: u64,
    /// Disconnects, indexed like [`CLOSE_REASONS`].
    pub disconnects: [u64; CLOSE_REASONS.len()],
    /// Connection state recovery: packets kept for replay, and their bytes.
    pub recovery_packets: u64,
    /// Bytes of the packets kept for replay.
    pub recovery_packet_bytes: u64,
    /// Connection state recovery: disconnected sessions kept.
    pub recovery_sessions: u64,
    /// Bytes of the sessions kept (rooms, data).
    pub recovery_session_bytes: u64,
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
        self.received_bytes += other.received_bytes;
        self.sent_bytes += other.sent_bytes;
        self.broadcasts += other.broadcasts;
        self.broadcast_receivers += other.broadcast_receivers;
        self.acks_pending_socket += other.acks_pending_socket;
        self.acks_pending_broadcast += other.acks_pending_broadcast;
        self.ack_timeouts += other.ack_timeouts;
        self.recovery_packets += other.recovery_packets;
        self.recovery_packet_bytes += other.recovery_packet_bytes;
        self.recovery_sessions += other.recovery_sessions;
        self.recovery_session_bytes += other.recovery_session_bytes;
        for (a, b) in self.refusals.iter_mut().zip(other.refusals) {
            *a += b;
        }
        for (a, b) in self.packets.iter_mut().zip(other.packets) {
            *a += b;
        }
        for (a, b) in self.disconnects.iter_mut().zip(other.disconnects) {
            *a += b;
        }
        for (a, b) in self.forwarded.iter_mut().zip(other.forwarded) {
            *a += b;
        }
        for (a, b) in self.forward_failures.iter_mut().zip(other.forward_failures) {
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
        let acks_pending_socket = self
            .sockets
            .borrow()
            .iter()
            .map(|(_, s)| {
                s.acks
                    .borrow()
                    .values()
                    .filter(|a| matches!(a, PendingAck::Local(_)))
                    .count() as u64
            })
            .sum();
        let (received_bytes, sent_bytes) = IO_BYTES.with(|b| (b.0.get(), b.1.get()));
        let recovery = self.recovery.as_ref().map(|r| {
            let r = r.borrow();
            [r.packets(), r.bytes(), r.sessions(), r.session_bytes()].map(|n| n as u64)
        });
        let [recovery_packets, recovery_packet_bytes, recovery_sessions, recovery_session_bytes] =
            recovery.unwrap_or_default();
        let st = &self.stats;
        let ops = &st.ops;
        StatsSnapshot {
            received_bytes,
            sent_bytes,
            packets: ops.packets.each_ref().map(Cell::get),
            broadcasts: ops.broadcasts.get(),
            broadcast_receivers: ops.broadcast_receivers.get(),
            acks_pending_socket,
            acks_pending_broadcast: self.acks.borrow().pending_count() as u64,
            ack_timeouts: ops.ack_timeouts.get(),
            disconnects: ops.disconnects.each_ref().map(Cell::get),
            recovery_packets,
            recovery_packet_bytes,
            recovery_sessions,
            recovery_session_bytes,
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
            forwarded: st.forwarded.each_ref().map(Cell::get),
            forward_failures: st.forward_failures.each_ref().map(Cell::get),
            refusals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each counter lands in its own label slot, and snapshots sum.
    #[test]
    fn ops_count_into_their_labels() {
        let ops = Ops::default();
        ops.count_engine_packet(&EnginePacket::Pong(Default::default()));
        ops.count_sio_packet(PacketKind::BinaryAck);
        ops.count_disconnect(CloseReason::SlowConsumer);
        ops.count_disconnect(CloseReason::ServerNamespaceDisconnect);
        ops.count_receivers(1000);
        let packets = ops.packets.each_ref().map(Cell::get);
        assert_eq!(packets[3], 1, "{}", PACKET_TYPES[3]);
        assert_eq!(PACKET_TYPES[3], "pong");
        assert_eq!(packets[8 + PacketKind::BinaryAck as usize], 1);
        assert_eq!(
            PACKET_TYPES[8 + PacketKind::BinaryAck as usize],
            "binary_ack"
        );
        assert_eq!(packets.iter().sum::<u64>(), 2);
        let disconnects = ops.disconnects.each_ref().map(Cell::get);
        assert_eq!(disconnects[close_index(CloseReason::SlowConsumer)], 1);
        assert_eq!(
            CLOSE_REASONS[close_index(CloseReason::SlowConsumer)],
            "slow_consumer"
        );
        assert_eq!(
            CLOSE_REASONS[close_index(CloseReason::ServerNamespaceDisconnect)],
            "server_namespace_disconnect"
        );
        let mut total = StatsSnapshot {
            packets,
            disconnects,
            broadcast_receivers: ops.broadcast_receivers.get(),
            ..Default::default()
        };
        let copy = total;
        total.add(&copy);
        assert_eq!(total.broadcast_receivers, 2000);
        assert_eq!(total.packets[3], 2);
    }
}

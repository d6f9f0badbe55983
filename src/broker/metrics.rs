//! `GET /metrics` (Prometheus text format 0.0.4), `/healthz` and `/readyz`
//! of the `[api]` listener (spec broker.md §6).
//!
//! # Collecting without slowing the hot path
//! Shards count in their own `Cell`s (`Shard::stats`, quota refusals): a
//! delivery bumps a plain integer of its own core, never a shared atomic.
//! A scrape (on the API's shard) sends every other shard a
//! [`ToShard::Run`] through the mesh; each answers with a
//! [`StatsSnapshot`] taken on its own thread, sent back the same way, and
//! the exporter sums them. Values are therefore exact at the scrape, cost
//! nothing between scrapes, and a scrape costs one mesh round trip per
//! shard plus a walk of each shard's sessions (to split them by
//! transport). A shard that does not answer within [`GATHER_TIMEOUT`]
//! makes the scrape fail (500) and `/readyz` answer 503.
//!
//! Counters that are rare by nature are process-wide atomics instead:
//! authentication failures ([`count_auth_failure`]) and the cluster
//! bridge's counters (read through `ClusterPort::health`). API requests are
//! counted by the API's own shard, which also renders them.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ahash::AHashMap;
use glommio::channels::local_channel::{self, LocalSender};

use super::auth::AuthFailure;
use super::hooks::metrics::{HookCounters, HookStats, LATENCY_BUCKETS_MS};
use crate::server::Quota;
use crate::shard::port::{BridgeHealth, ShardTask, ToShard};
use crate::shard::stats::{
    StatsSnapshot, CLOSE_REASONS, FORWARD_FAILURES, FORWARD_KINDS, PACKET_TYPES,
};
use crate::shard::Shard;

/// How long a scrape waits for every shard's snapshot.
pub const GATHER_TIMEOUT: Duration = Duration::from_secs(2);

/// Authentication failures by reason, process-wide (rare: one per refused
/// connect, so an atomic costs nothing measurable).
static AUTH_FAILURES: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

const AUTH_REASONS: [AuthFailure; 3] = [
    AuthFailure::Missing,
    AuthFailure::Invalid,
    AuthFailure::Expired,
];

/// Counts a connection refused by token authentication.
pub fn count_auth_failure(f: AuthFailure) {
    let i = AUTH_REASONS.iter().position(|r| *r == f).unwrap_or(0);
    AUTH_FAILURES[i].fetch_add(1, Ordering::Relaxed);
}

thread_local! {
    /// Scrapes in flight on this shard: request id → where snapshots go.
    static GATHERS: RefCell<AHashMap<u64, LocalSender<(usize, ShardMetrics)>>> =
        RefCell::new(AHashMap::new());
    static NEXT_GATHER: Cell<u64> = const { Cell::new(0) };
}

/// Every shard's counters, indexed by shard; None when a shard did not
/// answer in [`GATHER_TIMEOUT`].
pub async fn gather(shard: &Rc<Shard>) -> Option<Vec<ShardMetrics>> {
    round_trip(shard, |s| ShardMetrics {
        stats: s.stats_snapshot(),
        hooks: super::hooks::metrics::snapshot(),
    })
    .await
}

/// What one shard reports to a scrape: its own counters and the broker's
/// per-shard hook counters (thread-locals of that shard's thread).
#[derive(Debug, Clone, Default)]
pub struct ShardMetrics {
    /// The shard's counters.
    pub stats: StatsSnapshot,
    /// The backend hooks' calls made from this shard.
    pub hooks: HookStats,
}

/// Whether every shard answers a round trip through the mesh within
/// [`GATHER_TIMEOUT`] (for `/readyz`: no session walk).
pub async fn ping(shard: &Rc<Shard>) -> bool {
    round_trip(shard, |_| ShardMetrics::default())
        .await
        .is_some()
}

/// `take` run on every shard (on its own thread), results by shard.
async fn round_trip(
    shard: &Rc<Shard>,
    take: fn(&Shard) -> ShardMetrics,
) -> Option<Vec<ShardMetrics>> {
    let mut all = vec![ShardMetrics::default(); shard.nshards];
    *all.get_mut(shard.id)? = take(shard);
    let others = shard.nshards.saturating_sub(1);
    if others == 0 {
        return Some(all);
    }
    let id = NEXT_GATHER.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    let (tx, rx) = local_channel::new_bounded(others);
    GATHERS.with(|g| g.borrow_mut().insert(id, tx));
    let origin = shard.id;
    for peer in (0..shard.nshards).filter(|&p| p != origin) {
        let task = ShardTask(Box::new(move |peer_shard: &Rc<Shard>| {
            let snap = (peer_shard.id, take(peer_shard));
            let back = ShardTask(Box::new(move |_: &Rc<Shard>| deliver(id, snap)));
            peer_shard.mesh.send(origin, ToShard::Run(back));
        }));
        shard.mesh.send(peer, ToShard::Run(task));
    }
    let collect = async {
        for _ in 0..others {
            let (from, snap) = rx.recv().await?;
            *all.get_mut(from)? = snap;
        }
        Some(all)
    };
    let timeout = async {
        glommio::timer::sleep(GATHER_TIMEOUT).await;
        None
    };
    let r = futures_lite::future::or(collect, timeout).await;
    GATHERS.with(|g| g.borrow_mut().remove(&id));
    r
}

/// A shard's snapshot for scrape `id` arrived (on the scraping shard).
fn deliver(id: u64, snap: (usize, ShardMetrics)) {
    GATHERS.with(|g| {
        if let Some(tx) = g.borrow().get(&id) {
            // Bounded by the number of shards, each answering once.
            let _ = tx.try_send(snap);
        }
    });
}

/// Upper bounds (seconds) of the API latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 5.0,
];

/// One path's latency histogram (non-cumulative counts per bucket).
#[derive(Debug, Default, Clone, Copy)]
struct Latency {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// API requests by (path, status) and their latency by path, kept by the
/// API's shard.
#[derive(Debug, Default)]
pub struct ApiCounts {
    requests: RefCell<BTreeMap<(&'static str, u16), u64>>,
    latency: RefCell<BTreeMap<&'static str, Latency>>,
}

impl ApiCounts {
    /// Counts one answered request that took `took`.
    pub fn count(&self, path: &'static str, code: u16, took: Duration) {
        *self.requests.borrow_mut().entry((path, code)).or_default() += 1;
        let secs = took.as_secs_f64();
        let mut latency = self.latency.borrow_mut();
        let h = latency.entry(path).or_default();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&le| secs <= le) {
            h.buckets[i] += 1;
        }
        h.count += 1;
        h.sum += secs;
    }

    /// The histogram family, in text format.
    fn render_latency(&self, out: &mut String) {
        let name = "ringcast_api_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to answer an [api] request, by path."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (path, h) in self.latency.borrow().iter() {
            let mut cumulative = 0;
            for (le, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "{name}_bucket{{path=\"{path}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{path=\"{path}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "{name}_sum{{path=\"{path}\"}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{path=\"{path}\"}} {}", h.count);
        }
    }
}

/// The backend hooks' series (`[proxy]`), summed over the shards, appended
/// to `out`.
pub fn render_hooks(shards: &[ShardMetrics], out: &mut String) {
    let mut sum = [HookCounters::default(), HookCounters::default()];
    for s in shards {
        for (t, c) in sum.iter_mut().zip([&s.hooks.connect, &s.hooks.event]) {
            t.calls += c.calls;
            t.failures += c.failures;
            t.timeouts += c.timeouts;
            t.refusals += c.refusals;
            t.latency_us_sum += c.latency_us_sum;
            for (a, b) in t.latency_buckets.iter_mut().zip(c.latency_buckets) {
                *a += b;
            }
        }
    }
    let hooks = ["connect", "event"];
    let counter = |out: &mut String, name: &str, help: &str, f: fn(&HookCounters) -> u64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        for (h, c) in hooks.iter().zip(&sum) {
            let _ = writeln!(out, "{name}{{hook=\"{h}\"}} {}", f(c));
        }
    };
    counter(
        out,
        "ringcast_hook_calls_total",
        "Backend hook calls ([proxy]).",
        |c| c.calls,
    );
    counter(
        out,
        "ringcast_hook_failures_total",
        "Hook calls without a usable answer (answered \"unavailable\").",
        |c| c.failures,
    );
    counter(
        out,
        "ringcast_hook_timeouts_total",
        "Hook calls that ran out of time.",
        |c| c.timeouts,
    );
    counter(
        out,
        "ringcast_hook_refusals_total",
        "Hook calls the backend answered with a status other than 200.",
        |c| c.refusals,
    );
    let name = "ringcast_hook_duration_seconds";
    let _ = writeln!(out, "# HELP {name} Time of a backend hook call.");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (h, c) in hooks.iter().zip(&sum) {
        let mut cumulative = 0;
        for (le, n) in LATENCY_BUCKETS_MS.iter().zip(c.latency_buckets) {
            cumulative += n;
            let le = *le as f64 / 1000.0;
            let _ = writeln!(
                out,
                "{name}_bucket{{hook=\"{h}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(out, "{name}_bucket{{hook=\"{h}\",le=\"+Inf\"}} {}", c.calls);
        let secs = c.latency_us_sum as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{hook=\"{h}\"}} {secs}");
        let _ = writeln!(out, "{name}_count{{hook=\"{h}\"}} {}", c.calls);
    }
}

/// The Prometheus text of the process: shard totals (and a few series per
/// shard), bridge, API.
pub fn render(shards: &[StatsSnapshot], bridge: &BridgeHealth, api: &ApiCounts) -> String {
    let mut total = StatsSnapshot::default();
    for s in shards {
        total.add(s);
    }
    let per_shard = |f: fn(&StatsSnapshot) -> u64| -> Vec<(String, u64)> {
        shards
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("{{shard=\"{i}\"}}"), f(s)))
            .collect()
    };
    let shard_conns = per_shard(|s| s.websocket + s.polling);
    let shard_queued = per_shard(|s| s.queued_bytes);
    let mut out = String::with_capacity(4096);
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    family(
        "ringcast_build_info",
        "gauge",
        "Build of this process (always 1).",
        &[(concat!("{version=\"", env!("CARGO_PKG_VERSION"), "\"}"), 1)],
    );
    family(
        "ringcast_connections",
        "gauge",
        "Open Engine.IO connections by transport.",
        &[
            ("{transport=\"websocket\"}", total.websocket),
            ("{transport=\"polling\"}", total.polling),
        ],
    );
    let shard_conns: Vec<(&str, u64)> = shard_conns.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    family(
        "ringcast_shard_connections",
        "gauge",
        "Open connections per shard.",
        &shard_conns,
    );
    let shard_queued: Vec<(&str, u64)> =
        shard_queued.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    family(
        "ringcast_shard_queued_bytes",
        "gauge",
        "Bytes queued for clients and not yet written, per shard.",
        &shard_queued,
    );
    family(
        "ringcast_sockets",
        "gauge",
        "Connected Socket.IO sockets (all namespaces).",
        &[("", total.sockets)],
    );
    family(
        "ringcast_connections_total",
        "counter",
        "Engine.IO connections opened since start.",
        &[("", total.sessions_opened)],
    );
    family(
        "ringcast_events_received_total",
        "counter",
        "EVENT packets received from clients.",
        &[("", total.events_received)],
    );
    family(
        "ringcast_deliveries_total",
        "counter",
        "Packets queued for clients (each broadcast receiver counts once).",
        &[("", total.deliveries)],
    );
    family(
        "ringcast_slow_consumer_disconnects_total",
        "counter",
        "Connections closed because their outgoing queue overflowed max_buffered_bytes.",
        &[("", total.slow_consumers)],
    );
    family(
        "ringcast_volatile_dropped_total",
        "counter",
        "Volatile packets dropped for receivers that could not take them.",
        &[("", total.volatile_dropped)],
    );
    family(
        "ringcast_handoffs_total",
        "counter",
        "Connections handed to the shard owning their session.",
        &[("", total.handoffs)],
    );
    let labelled = |key: &str, names: &[&str], values: &[u64]| -> Vec<(String, u64)> {
        names
            .iter()
            .zip(values)
            .map(|(n, v)| (format!("{{{key}=\"{n}\"}}"), *v))
            .collect()
    };
    let forwarded = labelled("kind", &FORWARD_KINDS, &total.forwarded);
    let forwarded: Vec<(&str, u64)> = forwarded.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    family(
        "ringcast_forwarded_requests_total",
        "counter",
        "Requests of sessions owned by another ringcast node, forwarded to it, by kind.",
        &forwarded,
    );
    let failures = labelled("reason", &FORWARD_FAILURES, &total.forward_failures);
    let failures: Vec<(&str, u64)> = failures.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    family(
        "ringcast_forward_failures_total",
        "counter",
        "Forwarded requests that failed, by reason (all but broken answer 400 unknown sid).",
        &failures,
    );
    family(
        "ringcast_received_bytes_total",
        "counter",
        "Bytes read from client connections (HTTP and WebSocket framing included).",
        &[("", total.received_bytes)],
    );
    family(
        "ringcast_sent_bytes_total",
        "counter",
        "Bytes written to client connections (HTTP and WebSocket framing included).",
        &[("", total.sent_bytes)],
    );
    let packets: Vec<(String, u64)> = PACKET_TYPES
        .iter()
        .zip(total.packets)
        .map(|(t, n)| (format!("{{type=\"{t}\"}}"), n))
        .collect();
    let packets: Vec<(&str, u64)> = packets.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    family(
        "ringcast_packets_received_total",
        "counter",
        "Packets received from clients, by Engine.IO or Socket.IO packet type.",
        &packets,
    );
    family(
        "ringcast_broadcasts_total",
        "counter",
        "Broadcasts delivered by this node: started here (sockets, server API, HTTP API) or received from other nodes through Redis.",
        &[
            ("{origin=\"local\"}", total.broadcasts),
            ("{origin=\"cluster\"}", bridge.broadcasts_received),
        ],
    );
    family(
        "ringcast_broadcast_receivers_total",
        "counter",
        "Sockets reached by broadcasts (fan-out), local and from other nodes.",
        &[("", total.broadcast_receivers)],
    );
    family(
        "ringcast_acks_pending",
        "gauge",
        "Acks awaited: per-socket emits with ack, and broadcast-with-ack aggregations.",
        &[
            ("{kind=\"socket\"}", total.acks_pending_socket),
            ("{kind=\"broadcast\"}", total.acks_pending_broadcast),
        ],
    );
    family(
        "ringcast_ack_timeouts_total",
        "counter",
        "Acks (per-socket or broadcast aggregations) that timed out.",
        &[("", total.ack_timeouts)],
    );
    family(
        "ringcast_recovery_kept_packets",
        "gauge",
        "Connection state recovery: packets kept for replay.",
        &[("", total.recovery_packets)],
    );
    family(
        "ringcast_recovery_kept_bytes",
        "gauge",
        "Connection state recovery: bytes kept, by what (bounded by recovery_max_bytes per shard).",
        &[
            ("{kind=\"packets\"}", total.recovery_packet_bytes),
            ("{kind=\"sessions\"}", total.recovery_session_bytes),
        ],
    );
    family(
        "ringcast_recovery_kept_sessions",
        "gauge",
        "Connection state recovery: disconnected sessions kept.",
        &[("", total.recovery_sessions)],
    );
    let disconnects: Vec<(String, u64)> = CLOSE_REASONS
        .iter()
        .zip(total.disconnects)
        .map(|(r, n)| (format!("{{reason=\"{r}\"}}"), n))
        .collect();
    let disconnects: Vec<(&str, u64)> = disconnects.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    family(
        "ringcast_disconnects_total",
        "counter",
        "Connections closed, by reason (namespace reasons: one socket left its namespace).",
        &disconnects,
    );
    let quotas: Vec<(String, u64)> = Quota::ALL
        .iter()
        .zip(total.refusals)
        .map(|(q, n)| (format!("{{quota=\"{}\"}}", q.as_str()), n))
        .collect();
    let quotas: Vec<(&str, u64)> = quotas.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    family(
        "ringcast_quota_refusals_total",
        "counter",
        "Requests refused by a quota, by quota.",
        &quotas,
    );
    let auth: Vec<(String, u64)> = AUTH_REASONS
        .iter()
        .zip(&AUTH_FAILURES)
        .map(|(r, n)| {
            (
                format!("{{reason=\"{}\"}}", r.reason()),
                n.load(Ordering::Relaxed),
            )
        })
        .collect();
    let auth: Vec<(&str, u64)> = auth.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    family(
        "ringcast_auth_failures_total",
        "counter",
        "Connections refused by token authentication, by reason.",
        &auth,
    );
    let api_counts: Vec<(String, u64)> = api
        .requests
        .borrow()
        .iter()
        .map(|((path, code), n)| (format!("{{path=\"{path}\",code=\"{code}\"}}"), *n))
        .collect();
    let api_counts: Vec<(&str, u64)> = api_counts.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    family(
        "ringcast_api_requests_total",
        "counter",
        "Requests to the [api] listener, by path and status code.",
        &api_counts,
    );
    family(
        "ringcast_redis_configured",
        "gauge",
        "1 when a Redis URL is configured (cluster mode).",
        &[("", u64::from(bridge.redis))],
    );
    family(
        "ringcast_redis_connected",
        "gauge",
        "1 while the Redis subscriber connection is up (0 without Redis).",
        &[("", u64::from(bridge.connected))],
    );
    family(
        "ringcast_redis_reconnects_total",
        "counter",
        "Times the Redis subscriber connection was lost.",
        &[("", bridge.reconnects)],
    );
    family(
        "ringcast_redis_published_total",
        "counter",
        "Messages published to Redis.",
        &[("", bridge.published)],
    );
    family(
        "ringcast_redis_received_total",
        "counter",
        "Messages received from Redis.",
        &[("", bridge.received)],
    );
    family(
        "ringcast_cluster_dropped_total",
        "counter",
        "Cluster bridge messages dropped, by where (queue full or Redis unreachable).",
        &[
            ("{where=\"from_shards\"}", bridge.dropped_from_shards),
            ("{where=\"to_shards\"}", bridge.dropped_to_shards),
            ("{where=\"publish\"}", bridge.dropped_publishes),
        ],
    );
    family(
        "ringcast_redis_decode_errors_total",
        "counter",
        "Messages from Redis that failed to decode.",
        &[("", bridge.decode_errors)],
    );
    api.render_latency(&mut out);
    out
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;

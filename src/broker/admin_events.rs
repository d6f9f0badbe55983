//! What the admin namespace sends and the commands it takes (shapes of
//! `@socket.io/admin-ui` 0.5's `dist/typed-events.d.ts`).
//!
//! - Events go to the admin namespace as broadcasts: every shard of this
//!   node and, with Redis, every node (as Node's `adminNamespace.emit`
//!   goes through the adapter), so a dashboard sees the sockets of the
//!   whole cluster whichever node it is connected to.
//! - `server_stats`: shard 0 of each node every 2 s, its own `serverId`;
//!   every shard publishes its [`ShardCounts`] on the same beat and shard 0
//!   sums the latest of each (the other shards' figures are at most 2 s
//!   old). `aggregatedEvents` holds `rawConnection` and `rawDisconnection`
//!   (Engine.IO sessions opened and closed since the previous report,
//!   without the close reason), `packetsIn` (Engine.IO messages received),
//!   `packetsOut` (packets queued to clients: emits and broadcast
//!   deliveries, not the heartbeat) and `bytesIn` / `bytesOut` (bytes on
//!   the client sockets, HTTP and websocket framing included), each the
//!   growth of the shards' counters since the previous report.
//! - Socket and room events come from a server-wide observer: one
//!   broadcast to the admin namespace per connect, disconnect, join and
//!   leave in any namespace (what Node's admin-ui costs in its default
//!   "development" mode). Sockets of the admin namespace are reported too,
//!   as Node does.
//! - Commands (`emit`, `join`, `leave`, `_disconnect`) act through the
//!   cluster operations of the library on every node: `to(filter)` then
//!   `emit` / `sockets_join` / `sockets_leave` / `disconnect_sockets`.
//!
//! - `event_received` / `event_sent` (feature `ALL_EVENTS`): every event a
//!   socket outside the admin namespace sends, and every `Socket::emit` to
//!   one (not broadcasts, as Node's `onAnyOutgoing`), from the same
//!   observer.
//! - All of the above per-socket traffic only in `mode = "development"`
//!   (Node's default); `"production"` sends `config` and `server_stats`
//!   only. `readonly` registers no commands and advertises none.
//!
//! `socket_updated` is sent for transport upgrades (not for changes of a
//! socket's data: `set_data` has no hook).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ahash::AHashMap;
use serde_json::{json, Map, Value};

use crate::server::{
    self, shard_counts, Builder, FetchedSocket, Lifecycle, NamespaceBuilder, Payload, ShardCounts,
    Socket,
};

/// The commands of `supportedFeatures` (Node with socket.io 4.x).
const COMMANDS: [&str; 7] = [
    "EMIT",
    "JOIN",
    "LEAVE",
    "DISCONNECT",
    "MJOIN",
    "MLEAVE",
    "MDISCONNECT",
];

/// `supportedFeatures` of `config`, as Node's `instrument` computes it:
/// no commands when `readonly`, `ALL_EVENTS` in development mode.
pub(super) fn features(readonly: bool, development: bool) -> Arc<[&'static str]> {
    let commands = if readonly { &[][..] } else { &COMMANDS[..] };
    let all_events = if development {
        &["ALL_EVENTS"][..]
    } else {
        &[]
    };
    [commands, &["AGGREGATED_EVENTS"], all_events]
        .concat()
        .into()
}

/// How often `server_stats` is sent (Node: 2 s).
const STATS_EVERY: Duration = Duration::from_secs(2);

/// The connect handler of the admin namespace: `session` (after a login by
/// password), `config`, then `all_sockets`.
pub(super) async fn greet(
    socket: Socket,
    session: Option<String>,
    features: Arc<[&'static str]>,
    development: bool,
) {
    if let Some(id) = session {
        let _ = socket.emit("session", id);
    }
    let _ = socket.emit("config", json!({ "supportedFeatures": &*features }));
    if !development {
        return;
    }
    let mut all = Vec::new();
    for (name, _) in shard_counts().namespaces {
        let Some(op) = server::of(&name) else {
            continue;
        };
        match op.fetch_sockets_async().await {
            Ok(sockets) => all.extend(sockets.iter().map(|s| fetched(s, &name))),
            Err(e) => tracing::debug!(nsp = %name, error = %e, "admin: fetch_sockets failed"),
        }
    }
    let _ = socket.emit("all_sockets", Value::Array(all));
}

/// The dashboard's commands.
pub(super) fn commands(ns: &mut NamespaceBuilder) {
    ns.on("emit", |_, ev| {
        // emit(nsp, filter | undefined, ev, ...args)
        let args = &ev.payload.args;
        let (Some(op), Some(event)) = (target(args, 1), args.get(2).and_then(Value::as_str)) else {
            return;
        };
        let payload = Payload::from_parts(args[3..].to_vec(), ev.payload.attachments.clone());
        if let Err(e) = op.emit(event, payload) {
            tracing::debug!(error = %e, "admin: emit refused");
        }
    });
    ns.on("join", |_, ev| {
        // join(nsp, room, filter?)
        let args = &ev.payload.args;
        if let (Some(op), Some(room)) = (target(args, 2), args.get(1).and_then(Value::as_str)) {
            op.sockets_join(room);
        }
    });
    ns.on("leave", |_, ev| {
        let args = &ev.payload.args;
        if let (Some(op), Some(room)) = (target(args, 2), args.get(1).and_then(Value::as_str)) {
            op.sockets_leave(room);
        }
    });
    ns.on("_disconnect", |_, ev| {
        // _disconnect(nsp, close, filter?)
        let args = &ev.payload.args;
        if let Some(op) = target(args, 2) {
            let close = args.get(1).and_then(Value::as_bool).unwrap_or(false);
            op.disconnect_sockets(close);
        }
    });
}

/// The sockets a command selects: namespace `args[0]`, narrowed to the
/// room (or socket id) `args[filter]` when it is a non-empty string.
/// None for an unknown namespace.
fn target(args: &[Value], filter: usize) -> Option<server::BroadcastOperator> {
    let op = server::of(args.first()?.as_str()?)?;
    Some(match args.get(filter).and_then(Value::as_str) {
        Some(room) if !room.is_empty() => op.to(room),
        _ => op,
    })
}

/// Adds the observer (development mode) and the statistics task.
pub(super) fn install(
    builder: Builder,
    nsp: String,
    server_id: Option<String>,
    development: bool,
) -> Builder {
    let stats = Arc::new(Stats::new(server_id, nsp.clone()));
    let builder = if development {
        let observed = nsp;
        builder.observe(move |socket, what| observe(&observed, socket, what))
    } else {
        builder
    };
    builder.on_shard_start(move |shard| {
        let stats = stats.clone();
        glommio::spawn_local(async move {
            loop {
                stats.publish(shard, shard_counts());
                if shard == 0 {
                    stats.emit();
                }
                glommio::timer::sleep(STATS_EVERY).await;
            }
        })
        .detach();
    })
}

/// Reports a socket's change to the admin namespace.
fn observe(admin: &str, socket: &Socket, what: Lifecycle<'_>) {
    let Some(to) = server::of(admin) else {
        return;
    };
    let now = js_now();
    let (event, payload) = match what {
        Lifecycle::Connected => (
            "socket_connected",
            Payload::new().arg(connected(socket)).arg(now),
        ),
        Lifecycle::Disconnected(reason) => (
            "socket_disconnected",
            Payload::new()
                .arg(socket.namespace())
                .arg(socket.id())
                .arg(reason.as_str())
                .arg(now),
        ),
        Lifecycle::Upgraded => (
            "socket_updated",
            Payload::new().arg(json!({
                "id": socket.id(),
                "nsp": socket.namespace(),
                "transport": socket.transport(),
            })),
        ),
        Lifecycle::RoomJoined(room) | Lifecycle::RoomLeft(room) => (
            if matches!(what, Lifecycle::RoomJoined(_)) {
                "room_joined"
            } else {
                "room_left"
            },
            Payload::new()
                .arg(socket.namespace())
                .arg(room)
                .arg(socket.id())
                .arg(now),
        ),
        // Not for the admin namespace's own sockets, as Node (the
        // dashboard's commands would echo back).
        Lifecycle::EventReceived(..) | Lifecycle::EventSent(..) if socket.namespace() == admin => {
            return
        }
        Lifecycle::EventReceived(name, args) => {
            ("event_received", event_args(socket, name, args, now))
        }
        Lifecycle::EventSent(name, args) => ("event_sent", event_args(socket, name, args, now)),
    };
    let _ = to.emit(event, payload);
}

/// `(nsp, id, [event, ...args], timestamp)` of `event_received` /
/// `event_sent`; binary arguments stay binary (their placeholders index
/// the same attachments).
fn event_args(socket: &Socket, name: &str, args: &Payload, now: String) -> Payload {
    let mut all = Vec::with_capacity(args.args.len() + 1);
    all.push(Value::from(name));
    all.extend(args.args.iter().cloned());
    let row = vec![
        Value::from(socket.namespace()),
        Value::from(socket.id()),
        Value::Array(all),
        Value::from(now),
    ];
    Payload::from_parts(row, args.attachments.clone())
}

/// A local socket as `SerializedSocket`, with its transport and client id.
fn connected(socket: &Socket) -> Value {
    let mut v = fetched(&socket.describe(), socket.namespace());
    let client: String = socket.engine_sid().chars().take(12).collect();
    v["clientId"] = Value::from(client);
    v["transport"] = Value::from(socket.transport());
    v
}

/// A socket from `fetch_sockets` as `SerializedSocket` (`clientId` and
/// `transport` unknown: `fetchSockets` does not carry them).
fn fetched(s: &FetchedSocket, nsp: &str) -> Value {
    let mut handshake = match &s.handshake {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    // Never to the dashboard: the CONNECT auth (tokens, the admin password).
    handshake.remove("auth");
    let forwarded = ["cf-connecting-ip", "x-forwarded-for"]
        .iter()
        .find_map(|h| {
            handshake
                .get("headers")?
                .get(h)?
                .as_str()
                .map(str::to_owned)
        });
    if let Some(address) = forwarded {
        handshake.insert("address".into(), Value::from(address));
    }
    json!({
        "id": s.id,
        "nsp": nsp,
        "data": s.data,
        "handshake": handshake,
        "rooms": s.rooms,
    })
}

/// The figures of `server_stats` for this node.
struct Stats {
    server_id: String,
    hostname: String,
    admin: String,
    started: Instant,
    /// The latest counts of each shard.
    shards: Mutex<AHashMap<usize, ShardCounts>>,
    /// The totals at the previous report (shard 0 only).
    previous: Mutex<Totals>,
}

impl Stats {
    fn new(server_id: Option<String>, admin: String) -> Self {
        let hostname = hostname();
        Self {
            server_id: server_id.unwrap_or_else(|| format!("{hostname}#{}", std::process::id())),
            hostname,
            admin,
            started: Instant::now(),
            shards: Mutex::new(AHashMap::new()),
            previous: Mutex::new(Totals::default()),
        }
    }

    fn publish(&self, shard: usize, counts: ShardCounts) {
        self.lock().insert(shard, counts);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AHashMap<usize, ShardCounts>> {
        self.shards.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sums the shards' counts and sends `server_stats`.
    fn emit(&self) {
        let (mut clients, mut polling) = (0, 0);
        let mut totals = Totals::default();
        let mut namespaces: Vec<(String, usize)> = Vec::new();
        for c in self.lock().values() {
            clients += c.clients;
            polling += c.polling_clients;
            totals.opened += c.sessions_opened;
            totals.packets_in += c.packets_in;
            totals.packets_out += c.packets_out;
            totals.bytes_in += c.bytes_in;
            totals.bytes_out += c.bytes_out;
            for (name, n) in &c.namespaces {
                match namespaces.iter_mut().find(|(m, _)| m == name) {
                    Some((_, total)) => *total += n,
                    None => namespaces.push((name.clone(), *n)),
                }
            }
        }
        let namespaces: Vec<Value> = namespaces
            .into_iter()
            .map(|(name, n)| json!({ "name": name, "socketsCount": n }))
            .collect();
        totals.open = clients as u64;
        let aggregated = self.aggregated(totals);
        let stats = json!({
            "serverId": self.server_id,
            "hostname": self.hostname,
            "pid": std::process::id(),
            "uptime": self.started.elapsed().as_secs_f64(),
            "clientsCount": clients,
            "pollingClientsCount": polling,
            "aggregatedEvents": aggregated,
            "namespaces": namespaces,
        });
        if let Some(to) = server::of(&self.admin) {
            let _ = to.emit("server_stats", stats);
        }
    }
}

/// The counters a report compares with the previous one.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    opened: u64,
    open: u64,
    packets_in: u64,
    packets_out: u64,
    bytes_in: u64,
    bytes_out: u64,
}

impl Stats {
    /// The `aggregatedEvents` since the previous report: `rawConnection` /
    /// `rawDisconnection` from the sessions opened in total and open now
    /// (each shard's pair comes from one snapshot, so closed = opened -
    /// growth is never negative), and the growth of the packet and byte
    /// counters. Kinds with a zero count are left out.
    fn aggregated(&self, now_totals: Totals) -> Vec<Value> {
        let mut previous = self.previous.lock().unwrap_or_else(PoisonError::into_inner);
        let was = std::mem::replace(&mut *previous, now_totals);
        let t = now_totals;
        let connections = t.opened.saturating_sub(was.opened);
        let disconnections = (was.open + connections).saturating_sub(t.open);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let second = now - now % 1000;
        [
            ("rawConnection", connections),
            ("rawDisconnection", disconnections),
            ("packetsIn", t.packets_in.saturating_sub(was.packets_in)),
            ("packetsOut", t.packets_out.saturating_sub(was.packets_out)),
            ("bytesIn", t.bytes_in.saturating_sub(was.bytes_in)),
            ("bytesOut", t.bytes_out.saturating_sub(was.bytes_out)),
        ]
        .into_iter()
        .filter(|&(_, count)| count > 0)
        .map(|(kind, count)| json!({ "timestamp": second, "type": kind, "count": count }))
        .collect()
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most
    // that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_owned();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Now as JSON writes a JavaScript `Date`: `2026-12-05T12:48:02.726Z`.
fn js_now() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    iso8601(ms)
}

/// Milliseconds since the epoch as ISO 8601 UTC (Howard Hinnant's
/// civil-from-days).
fn iso8601(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::iso8601;

    #[test]
    fn dates_as_javascript_writes_them() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        // new Date(1796474882726).toISOString()
        assert_eq!(iso8601(1_796_474_882_726), "2026-12-05T12:48:02.726Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}

//! The endpoints of the `[api]` listener: which path, which method, the
//! key, the JSON bodies, and the library call each one makes.
//!
//! `/api/*` calls are the library's cluster-wide operations on namespace
//! `nsp` of this node ([`crate::server::of`]): `emit` is a broadcast (Node's
//! `io.to(rooms).except(..).emit`), `join` / `leave` / `disconnect` are
//! `socketsJoin` / `socketsLeave` / `disconnectSockets` on the selected
//! sockets, `sockets` is `fetchSockets` and `rooms` is `allRooms` minus the
//! sockets' own id rooms. With Redis they reach every node (ringcast or
//! Node) through the bridge; the listing calls answer once every node has
//! answered (or its timeout passed: 504).

use std::collections::HashSet;
use std::rc::Rc;

use glommio::channels::local_channel;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Reply, Request, State};
use crate::broker::metrics;
use crate::server::{self, BroadcastOperator, ClusterError, FetchedSocket, Payload};
use crate::shard::Shard;
use ringcast_proto::http::Method;

/// Answers `req`; also returns the path label for the request counter
/// (a known path, or `other`, so hostile paths cannot grow the metrics).
pub(super) async fn handle(
    state: &State,
    shard: &Rc<Shard>,
    req: &Request,
) -> (&'static str, Reply) {
    let path = req.head.path.as_str();
    let (label, reply) = match path {
        "/metrics" => (
            "/metrics",
            only_get(req, || metrics_reply(state, shard)).await,
        ),
        "/healthz" => (
            "/healthz",
            only_get(req, || async {
                Reply::json(200, &json!({ "status": "ok" }))
            })
            .await,
        ),
        "/readyz" => ("/readyz", only_get(req, || readyz(shard)).await),
        _ if path == "/api" || path.starts_with("/api/") => api(state, shard, req).await,
        _ => ("other", Reply::error(404, "not found")),
    };
    (label, reply)
}

async fn only_get<F: std::future::Future<Output = Reply>>(
    req: &Request,
    f: impl FnOnce() -> F,
) -> Reply {
    if req.head.method == Method::Get {
        f().await
    } else {
        Reply::error(405, "method not allowed")
    }
}

async fn metrics_reply(state: &State, shard: &Rc<Shard>) -> Reply {
    let Some(shards) = metrics::gather(shard).await else {
        return Reply::error(500, "a shard did not answer");
    };
    let bridge = shard.mesh.cluster().map(|c| c.health()).unwrap_or_default();
    Reply {
        status: 200,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        body: {
            let stats: Vec<_> = shards.iter().map(|s| s.stats).collect();
            let mut text = metrics::render(&stats, &bridge, &state.counts);
            metrics::render_hooks(&shards, &mut text);
            text.into_bytes()
        },
    }
}

async fn readyz(shard: &Rc<Shard>) -> Reply {
    let not_ready = |why: &str| Reply::json(503, &json!({ "ready": false, "reason": why }));
    if shard.stopping.get() {
        return not_ready("shutting down");
    }
    let bridge = shard.mesh.cluster().map(|c| c.health()).unwrap_or_default();
    if bridge.redis && !bridge.connected {
        return not_ready("redis disconnected");
    }
    // Every shard answers a round trip: each executor runs (its listener
    // was bound before the shards started).
    if !metrics::ping(shard).await {
        return not_ready("a shard did not answer");
    }
    if shard.stopping.get() {
        return not_ready("shutting down");
    }
    Reply::json(200, &json!({ "ready": true }))
}

/// `/api/*`: key first (an unknown path is not revealed to a caller
/// without the key), then path, then method.
async fn api(state: &State, shard: &Shard, req: &Request) -> (&'static str, Reply) {
    if !authorized(state, req) {
        let label = known(&req.head.path).unwrap_or("other");
        return (label, Reply::error(401, "unauthorized"));
    }
    let Some(label) = known(&req.head.path) else {
        return ("other", Reply::error(404, "not found"));
    };
    let want = if matches!(label, "/api/sockets" | "/api/rooms") {
        Method::Get
    } else {
        Method::Post
    };
    if req.head.method != want {
        return (label, Reply::error(405, "method not allowed"));
    }
    let reply = match label {
        "/api/emit" => applied(emit(shard, req)).await,
        "/api/join" => applied(join(shard, req)).await,
        "/api/leave" => applied(leave(shard, req)).await,
        "/api/disconnect" => applied(disconnect(shard, req)).await,
        "/api/sockets" => sockets(shard, req).await,
        _ => rooms(req).await,
    };
    (label, reply.unwrap_or_else(|e| e))
}

fn known(path: &str) -> Option<&'static str> {
    [
        "/api/emit",
        "/api/join",
        "/api/leave",
        "/api/disconnect",
        "/api/sockets",
        "/api/rooms",
    ]
    .into_iter()
    .find(|p| *p == path)
}

/// `Authorization: Bearer <key>`, compared in constant time.
fn authorized(state: &State, req: &Request) -> bool {
    let Some(key) = state.key.as_deref() else {
        return false;
    };
    let given = req.head.headers.get("authorization").and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    given.is_some_and(|g| {
        g.len() == key.len()
            && g.bytes()
                .zip(key.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    })
}

type Answer = Result<Reply, Reply>;

/// What a write names to be waited on: the namespace the operation went to.
type Written = Result<String, Reply>;

/// `{"ok":true}` for namespace `nsp` once [`applied`] has waited on it.
fn ok(nsp: String) -> Written {
    Ok(nsp)
}

/// A room no socket is in (a client could join it; the answers would only
/// be larger).
const BARRIER_ROOM: &str = "\u{0}ringcast:api-barrier";

/// Answers a write (spec broker.md §5: "replies are sent once every node
/// has answered") once every shard of every node applied it: a fetch of a
/// room nobody is in, sent after the operation, travels behind it on every
/// path (this shard's mesh queue to each shard, its queue to the bridge,
/// the one Redis connection the bridge publishes on, each node's
/// subscription and its bridge-to-shard queues are all FIFO), so its last
/// answer comes after every node applied the operation. So a backend that
/// joins a socket through one node and then emits to the room through
/// another reaches it. A node that does not answer before the fetch times
/// out delays the reply, which is still `200`: the operation went out.
/// (With Redis Cluster's sharded channels two channels may be served by
/// different Redis nodes, so the order holds per channel only.)
async fn applied(written: Written) -> Answer {
    let nsp = written?;
    if let Ok(op) = namespace(&nsp) {
        let _ = fetch(op.to(BARRIER_ROOM)).await;
    }
    Ok(Reply::json(200, &json!({ "ok": true })))
}

fn default_nsp() -> String {
    "/".to_owned()
}

/// The body as `T`: 400 with serde's message for malformed JSON or a
/// missing / mistyped / unknown field.
fn body<T: for<'de> Deserialize<'de>>(req: &Request) -> Result<T, Reply> {
    serde_json::from_slice(&req.body).map_err(|e| {
        let what = if e.is_data() {
            format!("invalid request: {e}")
        } else {
            format!("malformed JSON: {e}")
        };
        Reply::error(400, what)
    })
}

/// The broadcast operator of namespace `nsp` (400 when it does not exist).
fn namespace(nsp: &str) -> Result<BroadcastOperator, Reply> {
    server::of(nsp).ok_or_else(|| Reply::error(400, format!("unknown namespace {nsp:?}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmitBody {
    #[serde(default = "default_nsp")]
    nsp: String,
    #[serde(default)]
    rooms: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
    event: String,
    #[serde(default)]
    args: Vec<Value>,
    #[serde(default)]
    volatile: bool,
}

fn emit(shard: &Shard, req: &Request) -> Written {
    let b: EmitBody = body(req)?;
    check_rooms(shard, b.rooms.iter().chain(&b.except))?;
    if server::is_reserved_event(&b.event) {
        return Err(Reply::error(
            400,
            format!("{:?} is a reserved event name", b.event),
        ));
    }
    if b.args.iter().any(has_placeholder) {
        return Err(Reply::error(
            400,
            "invalid request: args may not hold {\"_placeholder\": ...} objects",
        ));
    }
    let mut op = namespace(&b.nsp)?;
    for r in &b.rooms {
        op = op.to(r);
    }
    for r in &b.except {
        op = op.except(r);
    }
    if b.volatile {
        op = op.volatile();
    }
    op.emit(&b.event, Payload::from_parts(b.args, Vec::new()))
        .map_err(|e| Reply::error(400, e))?;
    ok(b.nsp)
}

/// 400 `{"error":"room name too long"}` when a room the call names is
/// over `max_room_name_bytes` (spec broker.md §8: "also for the HTTP API";
/// counted and logged as a quota refusal), before anything is done: the
/// library would otherwise refuse such a join per socket, silently, and
/// the caller would see 200.
fn check_rooms<'a>(
    shard: &Shard,
    rooms: impl IntoIterator<Item = &'a String>,
) -> Result<(), Reply> {
    rooms
        .into_iter()
        .try_for_each(|r| shard.check_room_name(r))
        .map_err(|e| Reply::error(400, e))
}

/// Socket.IO's binary placeholder shape, which a JSON-only API cannot
/// back with an attachment.
fn has_placeholder(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.contains_key("_placeholder") || m.values().any(has_placeholder),
        Value::Array(a) => a.iter().any(has_placeholder),
        _ => false,
    }
}

/// The selection of `/api/join`, `/api/leave`, `/api/disconnect`: the
/// socket `sid` and/or the members of `rooms` (one of them required).
macro_rules! select_body {
    ($name:ident { $($field:ident : $ty:ty $(= $default:ident)?),* }) => {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $name {
            #[serde(default = "default_nsp")]
            nsp: String,
            sid: Option<String>,
            #[serde(default)]
            rooms: Vec<String>,
            $($(#[serde($default)])? $field: $ty,)*
        }

        impl $name {
            fn target(&self) -> Result<BroadcastOperator, Reply> {
                target(&self.nsp, self.sid.as_deref(), &self.rooms)
            }
        }
    };
}

select_body!(JoinBody { join: Vec<String> });
select_body!(LeaveBody { leave: Vec<String> });
select_body!(DisconnectBody {
    close: bool = default
});

fn target(nsp: &str, sid: Option<&str>, rooms: &[String]) -> Result<BroadcastOperator, Reply> {
    if sid.is_none() && rooms.is_empty() {
        return Err(Reply::error(
            400,
            "invalid request: missing field `sid` or `rooms`",
        ));
    }
    let mut op = namespace(nsp)?;
    if let Some(sid) = sid {
        op = op.to(sid);
    }
    for r in rooms {
        op = op.to(r);
    }
    Ok(op)
}

fn join(shard: &Shard, req: &Request) -> Written {
    let b: JoinBody = body(req)?;
    check_rooms(shard, b.rooms.iter().chain(&b.join))?;
    let op = b.target()?;
    for room in &b.join {
        op.clone().sockets_join(room);
    }
    ok(b.nsp)
}

fn leave(shard: &Shard, req: &Request) -> Written {
    let b: LeaveBody = body(req)?;
    check_rooms(shard, b.rooms.iter().chain(&b.leave))?;
    let op = b.target()?;
    for room in &b.leave {
        op.clone().sockets_leave(room);
    }
    ok(b.nsp)
}

fn disconnect(shard: &Shard, req: &Request) -> Written {
    let b: DisconnectBody = body(req)?;
    check_rooms(shard, &b.rooms)?;
    b.target()?.disconnect_sockets(b.close);
    ok(b.nsp)
}

/// A one-shot on this shard for a callback-style library call; None when
/// the operation could not start (its callback was dropped uncalled).
async fn call<T: 'static>(start: impl FnOnce(Box<dyn FnOnce(T)>)) -> Option<T> {
    let (tx, rx) = local_channel::new_bounded(1);
    start(Box::new(move |v| {
        let _ = tx.try_send(v);
    }));
    rx.recv().await
}

fn cluster_error(e: &ClusterError) -> Reply {
    match e {
        ClusterError::Timeout { .. } => Reply::error(504, e),
        ClusterError::Unavailable => Reply::error(503, e),
    }
}

async fn fetch(op: BroadcastOperator) -> Result<Vec<FetchedSocket>, Reply> {
    match call(|cb| op.fetch_sockets(cb)).await {
        Some(Ok(s)) => Ok(s),
        Some(Err(e)) => Err(cluster_error(&e)),
        None => Err(cluster_error(&ClusterError::Unavailable)),
    }
}

async fn sockets(shard: &Shard, req: &Request) -> Answer {
    let q = &req.head.query;
    let nsp = q.get("nsp").unwrap_or_else(default_nsp);
    let mut op = namespace(&nsp)?;
    if let Some(room) = q.get("room") {
        check_rooms(shard, [&room])?;
        op = op.to(&room);
    }
    let list: Vec<Value> = fetch(op)
        .await?
        .into_iter()
        .map(|s| {
            // The broker puts a token's subject in room `user:<sub>`.
            let user = s
                .rooms
                .iter()
                .find_map(|r| r.strip_prefix("user:"))
                .map_or(Value::Null, |u| Value::from(u.to_owned()));
            json!({ "id": s.id, "user": user, "rooms": s.rooms, "data": s.data })
        })
        .collect();
    Ok(Reply::json(200, &json!({ "sockets": list })))
}

async fn rooms(req: &Request) -> Answer {
    let nsp = req.head.query.get("nsp").unwrap_or_else(default_nsp);
    let op = namespace(&nsp)?;
    let ids: HashSet<String> = fetch(op.clone()).await?.into_iter().map(|s| s.id).collect();
    let all = match call(|cb| op.all_rooms(cb)).await {
        Some(Ok(r)) => r,
        Some(Err(e)) => return Err(cluster_error(&e)),
        None => return Err(cluster_error(&ClusterError::Unavailable)),
    };
    let mut rooms: Vec<String> = all.into_iter().filter(|r| !ids.contains(r)).collect();
    rooms.sort();
    rooms.dedup();
    Ok(Reply::json(200, &json!({ "rooms": rooms })))
}

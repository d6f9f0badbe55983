//! The shard end of the bridge: one task per shard drains what the core
//! sends (woken by a byte on a socketpair read through glommio), and the
//! API calls that start cluster operations.

use std::cell::{Cell, RefCell};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;
use std::sync::atomic::Ordering;

use ahash::AHashMap;
use futures_lite::AsyncReadExt;
use ringcast_cluster_wire::FetchedSocket;
use serde_json::{Map, Value};

use super::{Apply, Op, OpResult, Part, Query, ShardEnd, Target, ToBridge, ToShard};
use crate::server::Socket;
use crate::shard::deliver::BRIDGE;
use crate::shard::{Shard, SocketKey};

type Callback = Box<dyn FnOnce(OpResult)>;

thread_local! {
    static PENDING: RefCell<AHashMap<u64, Callback>> = RefCell::new(AHashMap::new());
    static NEXT_TOKEN: Cell<u64> = const { Cell::new(0) };
}

/// Hands `op` to the bridge; `done` runs on this shard with the result.
/// False when there is no bridge or its queue is full.
pub(crate) fn start_op(shard: &Rc<Shard>, op: Op, done: Option<Callback>) -> bool {
    let token = NEXT_TOKEN.with(|t| {
        t.set(t.get() + 1);
        t.get()
    });
    let has_cb = done.is_some();
    if let Some(cb) = done {
        PENDING.with(|p| p.borrow_mut().insert(token, cb));
    }
    let ok = shard.mesh.to_bridge(ToBridge::Op {
        origin: shard.id,
        token,
        op,
    });
    if !ok && has_cb {
        PENDING.with(|p| p.borrow_mut().remove(&token));
    }
    ok
}

/// The task draining the core's messages for `shard`.
pub(crate) async fn pump(shard: Rc<Shard>, end: ShardEnd) {
    // SAFETY: the descriptor is one end of a socketpair we own.
    let mut wake = unsafe { glommio::net::UnixStream::from_raw_fd(end.wake.into_raw_fd()) };
    let mut buf = [0u8; 64];
    loop {
        match wake.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        end.armed.store(false, Ordering::SeqCst);
        while let Ok(msg) = end.rx.try_recv() {
            handle(&shard, msg);
        }
    }
}

fn handle(shard: &Rc<Shard>, msg: ToShard) {
    match msg {
        ToShard::Deliver(b) => {
            let count = shard.deliver_local(&b);
            if let Some((BRIDGE, key, _)) = b.ack {
                shard.mesh.to_bridge(ToBridge::AckCount { key, count });
            }
        }
        ToShard::Gather { gather, query } => {
            let part = match query {
                Query::Fetch(t) => Part::Sockets(fetch(shard, &t)),
                Query::Rooms(nsp) => Part::Rooms(rooms(shard, nsp)),
                Query::Ids(t) => Part::Ids(
                    targets(shard, &t)
                        .into_iter()
                        .filter_map(|k| shard.socket(k).map(|s| s.id.to_string()))
                        .collect(),
                ),
            };
            shard.mesh.to_bridge(ToBridge::Part { gather, part });
        }
        ToShard::Apply(a) => apply(shard, a),
        ToShard::ServerSide {
            nsp,
            args,
            request_id,
        } => {
            let ack = request_id.map(|request_id| {
                let s = shard.clone();
                Box::new(move |data: Value| {
                    s.mesh.to_bridge(ToBridge::ServerSideAck {
                        nsp,
                        request_id,
                        data,
                    });
                }) as Box<dyn FnOnce(Value)>
            });
            let app = shard.app.clone();
            app.handle_server_side(shard, nsp, args, ack);
        }
        ToShard::AckCount { req, count } => shard.handle_ack_count(req, count),
        ToShard::AckReply { req, reply } => shard.handle_ack_reply(req, reply),
        ToShard::Done { token, result } => {
            let cb = PENDING.with(|p| p.borrow_mut().remove(&token));
            if let Some(cb) = cb {
                cb(result);
            }
        }
    }
}

fn targets(shard: &Shard, t: &Target) -> Vec<SocketKey> {
    let rooms: Vec<Box<str>> = t.rooms.iter().map(|r| r.as_str().into()).collect();
    let except: Vec<Box<str>> = t.except.iter().map(|r| r.as_str().into()).collect();
    shard.resolve(t.nsp, &rooms, &except)
}

fn apply(shard: &Rc<Shard>, a: Apply) {
    match a {
        Apply::Join(t, rooms) => {
            for key in targets(shard, &t) {
                for r in &rooms {
                    // A refusal (room quotas) is counted and logged by the shard.
                    let _ = shard.join(key, r);
                }
            }
        }
        Apply::Leave(t, rooms) => {
            for key in targets(shard, &t) {
                for r in &rooms {
                    shard.leave(key, r);
                }
            }
        }
        Apply::Disconnect(t, close) => {
            for key in targets(shard, &t) {
                if let Some(s) = Socket::new(shard, key) {
                    s.disconnect(close);
                }
            }
        }
    }
}

fn rooms(shard: &Shard, nsp: u16) -> Vec<String> {
    let mut out: Vec<String> = shard.rooms.borrow()[nsp as usize]
        .names()
        .map(str::to_owned)
        .collect();
    out.extend(
        shard
            .sockets
            .borrow()
            .iter()
            .filter(|(_, s)| s.nsp == nsp && s.connected.get())
            .map(|(_, s)| s.id.to_string()),
    );
    out
}

fn fetch(shard: &Shard, t: &Target) -> Vec<FetchedSocket> {
    targets(shard, t)
        .into_iter()
        .filter_map(|key| shard.socket(key))
        .map(|s| {
            let h = &s.session.handshake;
            let mut headers = Map::new();
            for (k, v) in h.headers() {
                headers.insert(k.to_owned(), Value::from(v));
            }
            let xdomain = headers.contains_key("origin");
            let mut query = Map::new();
            for pair in h.query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let k = ringcast_proto::http::percent_decode(k);
                query
                    .entry(k)
                    .or_insert_with(|| Value::from(ringcast_proto::http::percent_decode(v)));
            }
            let handshake = ringcast_cluster_wire::Handshake {
                headers,
                time: super::time::js_date_string(h.issued),
                address: h.address.clone(),
                xdomain,
                secure: h.secure,
                issued: h.issued,
                url: format!("{}?{}", shard.config.path, h.query),
                query,
                auth: s.auth.clone(),
            };
            let mut rooms = vec![s.id.to_string()];
            rooms.extend(s.rooms.borrow().iter().map(|r| r.to_string()));
            FetchedSocket {
                id: s.id.to_string(),
                handshake: handshake.to_json(),
                rooms,
                data: Value::Object(Map::new()),
            }
        })
        .collect()
}

//! The core's decisions without Redis and without threads: shards are
//! plain channels, time is advanced by hand.

use serde_json::Value as Json;

use super::*;
use crate::shard::app::OneNamespace;

/// A core for `n` shards without Redis.
fn core(n: usize) -> Core {
    Core::new(
        Arc::new(OneNamespace),
        "socket.io",
        n,
        None,
        Arc::new(Counters::default()),
        None,
    )
}

/// What the core decided since the last call, per shard, plus the rest.
fn drain(core: &mut Core) -> (Vec<(usize, ToShard)>, Vec<Action>) {
    let (mut shards, mut other) = (Vec::new(), Vec::new());
    while let Some(a) = core.poll_action() {
        match a {
            Action::ToShard(i, m) => shards.push((i, m)),
            a => other.push(a),
        }
    }
    (shards, other)
}

fn fetch(origin: usize, token: u64) -> Event {
    Event::Shard(ToCluster::Op {
        origin,
        token,
        op: Op::Fetch(Target::default()),
    })
}

/// The gather id each shard was asked for, checking every shard was.
fn gathers(sent: Vec<(usize, ToShard)>, n: usize) -> Vec<u64> {
    assert_eq!(sent.len(), n);
    sent.into_iter()
        .enumerate()
        .map(|(i, (shard, m))| match m {
            ToShard::Gather { gather, .. } if shard == i => gather,
            other => panic!("expected a gather for shard {i}, got {other:?}"),
        })
        .collect()
}

fn socket(id: &str) -> FetchedSocket {
    FetchedSocket {
        id: id.into(),
        handshake: Json::Null,
        rooms: vec![id.into()],
        data: Json::Null,
    }
}

#[test]
fn fetch_gathers_every_shard_then_answers_the_origin() {
    let mut core = core(2);
    let t0 = Instant::now();
    core.handle_event(fetch(1, 7), t0);
    let g = gathers(drain(&mut core).0, 2);
    assert_eq!(g[0], g[1], "one gather for all shards");
    let part = |id: &str| {
        Event::Shard(ToCluster::Part {
            gather: g[0],
            part: Part::Sockets(vec![socket(id)]),
        })
    };
    core.handle_event(part("a"), t0);
    assert!(drain(&mut core).0.is_empty(), "waits for every shard");
    core.handle_event(part("b"), t0);
    let (mut sent, other) = drain(&mut core);
    assert!(other.is_empty(), "no Redis, nothing published");
    match sent.pop() {
        Some((
            1,
            ToShard::OpDone {
                token: 7,
                result: OpResult::Sockets(Ok(s)),
            },
        )) => {
            let mut ids: Vec<_> = s.iter().map(|s| s.id.as_str()).collect();
            ids.sort_unstable();
            assert_eq!(ids, ["a", "b"]);
        }
        other => panic!("expected the sockets for shard 1, got {other:?}"),
    }
    assert!(sent.is_empty(), "only the origin gets the result");
    assert!(core.idle());
}

#[test]
fn a_request_times_out_exactly_at_its_deadline() {
    let mut core = core(2);
    let t0 = Instant::now();
    core.handle_event(fetch(0, 3), t0);
    let _ = gathers(drain(&mut core).0, 2);
    // Shard 1 never answers its part.
    core.handle_timeout(t0 + REQUESTS_TIMEOUT - Duration::from_millis(1));
    assert!(drain(&mut core).0.is_empty(), "not before the deadline");
    core.handle_timeout(t0 + REQUESTS_TIMEOUT);
    match drain(&mut core).0.as_slice() {
        [(
            0,
            ToShard::OpDone {
                token: 3,
                result: OpResult::Sockets(Err(ClusterError::Timeout { .. })),
            },
        )] => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(core.idle());
}

#[test]
fn joins_apply_on_every_shard_at_once() {
    let mut core = core(3);
    core.handle_event(
        Event::Shard(ToCluster::Op {
            origin: 0,
            token: 1,
            op: Op::Join(Target::default(), vec!["r".into()]),
        }),
        Instant::now(),
    );
    let (sent, _) = drain(&mut core);
    assert_eq!(sent.len(), 3);
    for (i, (shard, m)) in sent.into_iter().enumerate() {
        assert_eq!(shard, i);
        assert!(matches!(m, ToShard::Apply(Apply::Join(_, rooms)) if rooms == ["r"]));
    }
    assert!(core.idle());
}

#[test]
fn remote_server_side_events_go_round_robin() {
    let mut core = core(2);
    let mut shards = Vec::new();
    for _ in 0..4 {
        // What a Node peer publishes for `io.serverSideEmit("ev", 1)`.
        let req = Request {
            uid: Some("other".into()),
            body: RequestBody::ServerSideEmit {
                request_id: None,
                data: vec![Value::from("ev"), Value::Int(1)],
            },
        };
        let payload = req.encode().expect("encodable request");
        let channel = core.nsps[0].1.request().to_owned();
        core.handle_event(Event::Incoming { channel, payload }, Instant::now());
        let (sent, _) = drain(&mut core);
        for (shard, m) in sent {
            assert!(matches!(m, ToShard::ServerSide { nsp: 0, .. }));
            shards.push(shard);
        }
    }
    assert_eq!(shards, [1, 0, 1, 0]);
}

// ----- connection state recovery across nodes ------------------------------

use crate::shard::msg::Msg;
use crate::shard::recovery::Offset;
use crate::shard::recovery_cluster::{SessionRecord, TAKE_TIMEOUT};

fn offset(seq: u64) -> Offset {
    Offset {
        node: 0xa,
        origin: 1,
        seq,
    }
}

fn record() -> SessionRecord {
    let o = offset(5);
    SessionRecord {
        pid: "0.a.xyz".into(),
        sid: "S".into(),
        nsp: 0,
        rooms: vec!["S".into(), "r".into()],
        data: Some(serde_json::json!({"k": [1, 2]})),
        watermark: vec![((0xa, 1), 5), ((0xb, 0), 9)],
        tail: vec![(
            o,
            Msg::socketio(&format!(r#"2["news",1,"{}"]"#, o.encode()), &[]),
        )],
        ttl: Duration::from_millis(1500),
        writer: Some(7),
    }
}

/// A core with Redis (its IO is not started: actions are only collected).
fn redis_core(n: usize) -> Core {
    let mut c = core(n).with_recovery(true);
    c.redis = true;
    c.counters
        .ordered
        .store(true, std::sync::atomic::Ordering::Relaxed);
    c
}

fn command(a: &Action) -> (Vec<String>, Option<u64>) {
    match a {
        Action::Command { args, token, .. } => (
            args.iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect(),
            *token,
        ),
        other => panic!("expected a command, got {other:?}"),
    }
}

#[test]
fn a_session_is_kept_with_a_ttl_and_taken_back_whole() {
    let mut core = redis_core(2);
    let t0 = Instant::now();
    core.handle_event(Event::Shard(ToCluster::KeepSession(Box::new(record()))), t0);
    let (_, other) = drain(&mut core);
    let (set, token) = command(&other[0]);
    assert_eq!(token, None);
    assert_eq!(set[0], "SET");
    assert_eq!(set[1], "ringcast:session:0.a.xyz");
    assert_eq!(set[3..], ["PX", "1500"]);
    let value = match &other[0] {
        Action::Command { args, .. } => args[2].clone(),
        _ => unreachable!(),
    };
    core.handle_event(
        Event::Shard(ToCluster::Op {
            origin: 1,
            token: 4,
            op: Op::TakeSession("0.a.xyz".into()),
        }),
        t0,
    );
    let (_, other) = drain(&mut core);
    let (getdel, token) = command(&other[0]);
    assert_eq!(getdel, ["GETDEL", "ringcast:session:0.a.xyz"]);
    assert!(!core.idle(), "waits for the reply");
    core.handle_event(
        Event::Reply {
            token: token.expect("a token"),
            value: Some(value),
        },
        t0,
    );
    let (mut sent, _) = drain(&mut core);
    let Some((
        1,
        ToShard::OpDone {
            token: 4,
            result: OpResult::Session(Some(r)),
        },
    )) = sent.pop()
    else {
        panic!("expected the session for shard 1");
    };
    let want = record();
    assert_eq!(
        (r.pid, r.sid, r.nsp, r.rooms),
        (want.pid, want.sid, 0, want.rooms)
    );
    assert_eq!(r.data, want.data);
    let mut wm = r.watermark.clone();
    wm.sort_unstable();
    assert_eq!(wm, want.watermark);
    assert_eq!(r.tail.len(), 1);
    assert_eq!(r.tail[0].0, offset(5));
    assert_eq!(
        r.tail[0].1.frames[0].payload(),
        want.tail[0].1.frames[0].payload()
    );
    assert!(core.idle());
}

#[test]
fn a_take_without_answer_fails_at_its_deadline_and_nil_fails_at_once() {
    let mut core = redis_core(1);
    let t0 = Instant::now();
    let take = |token| {
        Event::Shard(ToCluster::Op {
            origin: 0,
            token,
            op: Op::TakeSession("0.a.x".into()),
        })
    };
    core.handle_event(take(1), t0);
    let (_, other) = drain(&mut core);
    let (_, t1) = command(&other[0]);
    core.handle_timeout(t0 + TAKE_TIMEOUT - Duration::from_millis(1));
    assert!(drain(&mut core).0.is_empty(), "not before the deadline");
    core.handle_timeout(t0 + TAKE_TIMEOUT);
    assert!(matches!(
        drain(&mut core).0.as_slice(),
        [(
            0,
            ToShard::OpDone {
                token: 1,
                result: OpResult::Session(None)
            }
        )]
    ));
    // Redis answers late: ignored.
    core.handle_event(
        Event::Reply {
            token: t1.unwrap(),
            value: Some(Bytes::from_static(b"x")),
        },
        t0,
    );
    assert!(drain(&mut core).0.is_empty());
    // Nil (unknown or expired) or garbage: None at once.
    for value in [None, Some(Bytes::from_static(b"\xc1garbage"))] {
        core.handle_event(take(2), t0);
        let (_, other) = drain(&mut core);
        let (_, t) = command(&other[0]);
        core.handle_event(
            Event::Reply {
                token: t.unwrap(),
                value,
            },
            t0,
        );
        assert!(matches!(
            drain(&mut core).0.as_slice(),
            [(
                0,
                ToShard::OpDone {
                    token: 2,
                    result: OpResult::Session(None)
                }
            )]
        ));
    }
    assert!(core.idle());
    // Without Redis: None at once.
    let mut local = core_without_redis();
    local.handle_event(take(3), t0);
    assert!(matches!(
        drain(&mut local).0.as_slice(),
        [(
            0,
            ToShard::OpDone {
                token: 3,
                result: OpResult::Session(None)
            }
        )]
    ));
}

fn core_without_redis() -> Core {
    core(1).with_recovery(true)
}

/// A broadcast's offset travels in `flags` (the packet Node nodes see has
/// no extra argument) and a ringcast node with recovery puts it back.
#[test]
fn broadcast_offsets_travel_in_flags() {
    let mut a = redis_core(1);
    let o = offset(7);
    let b = Broadcast {
        nsp: 0,
        rooms: vec!["r".into()],
        except: Vec::new(),
        volatile: false,
        msg: Msg::socketio(&format!(r#"2["news",1,"{}"]"#, o.encode()), &[]),
        ack: None,
        local: false,
        timeout: None,
        offset: Some(o),
    };
    a.handle_event(
        Event::Shard(ToCluster::Broadcast(Arc::new(b))),
        Instant::now(),
    );
    let (_, other) = drain(&mut a);
    let Some(Action::Publish { channel, payload }) = other.into_iter().next() else {
        panic!("expected a publish");
    };
    let m = BroadcastMessage::decode(&payload).expect("decodes");
    assert_eq!(m.packet.data, [Value::from("news"), Value::Int(1)]);
    assert_eq!(
        m.opts.flags.get("ringcastOffset"),
        Some(&Value::Str(o.encode()))
    );
    // Node B (another uid) with recovery on: the offset is back.
    let mut b = redis_core(2);
    b.handle_event(
        Event::Incoming {
            channel: channel.clone(),
            payload: payload.clone(),
        },
        Instant::now(),
    );
    let (sent, _) = drain(&mut b);
    assert_eq!(sent.len(), 2);
    for (_, m) in sent {
        let ToShard::Broadcast(b) = m else {
            panic!("expected a broadcast")
        };
        assert_eq!(b.offset, Some(o));
        let text = String::from_utf8_lossy(b.msg.frames[0].payload()).into_owned();
        assert_eq!(text, format!(r#"42["news",1,"{}"]"#, o.encode()));
    }
    // Recovery off, or not in order (Redis Cluster, sharded): delivered
    // without the offset, not kept.
    let mut off = core(1);
    off.redis = true;
    let mut unordered = redis_core(1);
    unordered
        .counters
        .ordered
        .store(false, std::sync::atomic::Ordering::Relaxed);
    for c in [&mut off, &mut unordered] {
        let (channel, payload) = (channel.clone(), payload.clone());
        c.handle_event(Event::Incoming { channel, payload }, Instant::now());
        let (sent, _) = drain(c);
        let ToShard::Broadcast(b) = &sent[0].1 else {
            panic!("expected a broadcast")
        };
        assert_eq!(b.offset, None);
        assert_eq!(b.msg.frames[0].payload(), br#"42["news",1]"#);
    }
}

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

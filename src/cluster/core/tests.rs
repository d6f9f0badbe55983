//! The core's decisions without Redis and without threads: shards are
//! plain channels, time is advanced by hand.

use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;

use crossbeam_channel::Receiver;
use serde_json::Value as Json;

use super::*;
use crate::shard::app::{EngineMessage, Incoming, Refusal};
use crate::shard::session::{CloseReason, Session};
use crate::shard::{Shard, SocketKey};

/// One namespace, `/`; the core only reads the namespace names.
struct OneNamespace;

impl App for OneNamespace {
    fn namespace_count(&self) -> usize {
        1
    }
    fn namespace_index(&self, name: &str) -> Option<u16> {
        (name == "/").then_some(0)
    }
    fn namespace_name(&self, _idx: u16) -> &str {
        "/"
    }
    fn authorize(&self, _: u16, _: &Rc<Session>, _: &Json) -> Result<(), Refusal> {
        Ok(())
    }
    fn handle_connect(&self, _: &Rc<Shard>, _: SocketKey) {}
    fn handle_event(&self, _: &Rc<Shard>, _: SocketKey, _: Incoming) {}
    fn handle_disconnect(&self, _: &Rc<Shard>, _: SocketKey, _: CloseReason) {}
    fn handle_engine_message(&self, _: &Rc<Shard>, _: &Rc<Session>, _: EngineMessage) {}
}

/// A core for `n` shards without Redis, and what each shard receives.
fn core(n: usize) -> (Core, Vec<Receiver<ToShard>>, Vec<UnixStream>) {
    let counters = Arc::new(Counters::default());
    let (mut ports, mut rxs, mut wakes) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let (tx, rx) = crossbeam_channel::bounded(64);
        // The wake-up end is read by nobody here: non-blocking writes.
        let (a, b) = UnixStream::pair().expect("socketpair");
        a.set_nonblocking(true).expect("non-blocking socketpair");
        ports.push(ShardPort {
            tx,
            armed: Arc::new(AtomicBool::new(false)),
            wake: a,
            counters: counters.clone(),
        });
        rxs.push(rx);
        wakes.push(b);
    }
    let core = Core::new(&OneNamespace, "socket.io", ports, None, counters, None);
    (core, rxs, wakes)
}

fn fetch(origin: usize, token: u64) -> Event {
    Event::Shard(ToCluster::Op {
        origin,
        token,
        op: Op::Fetch(Target::default()),
    })
}

/// The gather id each shard was asked for.
fn gathers(rxs: &[Receiver<ToShard>]) -> Vec<u64> {
    rxs.iter()
        .map(|rx| match rx.try_recv() {
            Ok(ToShard::Gather { gather, .. }) => gather,
            other => panic!("expected a gather, got {other:?}"),
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
    let (mut core, rxs, _w) = core(2);
    let t0 = Instant::now();
    core.handle_event(fetch(1, 7), t0);
    let g = gathers(&rxs);
    assert_eq!(g[0], g[1], "one gather for all shards");
    core.handle_event(
        Event::Shard(ToCluster::Part {
            gather: g[0],
            part: Part::Sockets(vec![socket("a")]),
        }),
        t0,
    );
    assert!(rxs[1].try_recv().is_err(), "waits for every shard");
    core.handle_event(
        Event::Shard(ToCluster::Part {
            gather: g[0],
            part: Part::Sockets(vec![socket("b")]),
        }),
        t0,
    );
    match rxs[1].try_recv() {
        Ok(ToShard::OpDone {
            token: 7,
            result: OpResult::Sockets(Ok(s)),
        }) => {
            let mut ids: Vec<_> = s.iter().map(|s| s.id.as_str()).collect();
            ids.sort_unstable();
            assert_eq!(ids, ["a", "b"]);
        }
        other => panic!("expected the sockets, got {other:?}"),
    }
    assert!(
        rxs[0].try_recv().is_err(),
        "only the origin gets the result"
    );
    assert!(core.idle());
}

#[test]
fn a_request_times_out_exactly_at_its_deadline() {
    let (mut core, rxs, _w) = core(2);
    let t0 = Instant::now();
    core.handle_event(fetch(0, 3), t0);
    let _ = gathers(&rxs);
    // Shard 1 never answers its part.
    core.handle_timeout(t0 + REQUESTS_TIMEOUT - Duration::from_millis(1));
    assert!(rxs[0].try_recv().is_err(), "not before the deadline");
    core.handle_timeout(t0 + REQUESTS_TIMEOUT);
    match rxs[0].try_recv() {
        Ok(ToShard::OpDone {
            token: 3,
            result: OpResult::Sockets(Err(ClusterError::Timeout { .. })),
        }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(core.idle());
}

#[test]
fn joins_apply_on_every_shard_at_once() {
    let (mut core, rxs, _w) = core(3);
    core.handle_event(
        Event::Shard(ToCluster::Op {
            origin: 0,
            token: 1,
            op: Op::Join(Target::default(), vec!["r".into()]),
        }),
        Instant::now(),
    );
    for rx in &rxs {
        assert!(matches!(
            rx.try_recv(),
            Ok(ToShard::Apply(Apply::Join(_, rooms))) if rooms == ["r"]
        ));
    }
    assert!(core.idle());
}

//! Broadcast fan-out inside one shard: the cost per receiver.
//!
//! A broadcast is encoded once into a shared `Arc<Msg>` (complete websocket
//! frames); each receiver then costs one `Arc` clone pushed onto its
//! session's queue (`Session::push`) and the wake-up of the task parked on
//! that queue. Three levels, for N = 1k and 10k receivers (criterion reports
//! time per receiver via `Throughput::Elements(N)`):
//!
//! - `push_shared_msg`: only the per-receiver loop, `Session::push` of an
//!   already encoded message to N websocket sessions;
//! - `encode_once_then_push`: encode the event (`socketio::encode_event` +
//!   `Msg::socketio`, what `Payload::encode_event` does) and push it to N;
//! - `shard_deliver_local`: the real entry of a broadcast arriving on a
//!   shard, `Shard::deliver_local`: resolve the room's members in the
//!   `RoomTable`, look each socket up, push to its session.
//!
//! Every session has a writer parked (a no-op waker), as a websocket
//! connection task waiting for output, so each push also takes and wakes a
//! waker. Between iterations the queues are drained and the writers
//! re-parked outside the timed region.
//!
//! Run: `cargo bench --bench fanout` (add `-- --quick` for a short run).

use std::rc::Rc;
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringcast::server::Server;
use ringcast::shard::deliver::Broadcast;
use ringcast::shard::mesh::Mesh;
use ringcast::shard::msg::{Msg, OutItem};
use ringcast::shard::session::{Handshake, Push, Session, SessionKind, Transport};
use ringcast::shard::Shard;
use ringcast::Config;
use ringcast_proto::engineio::session::SessionConfig;
use ringcast_proto::socketio;
use serde_json::{json, Value};
use std::hint::black_box;

struct NoopWake;
impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

/// The event every benchmark broadcasts: `42["chat",{...}]` (~80 bytes).
fn encode_chat() -> Arc<Msg> {
    let data = [
        json!({"user": "alice", "room": "lobby", "text": "hello, world", "ts": 1_700_000_000_u64}),
    ];
    let mut out = String::with_capacity(64);
    socketio::encode_event(&mut out, "/", None, "chat", &data, 0);
    Msg::socketio(&out, &[])
}

fn new_session(i: usize, max_buffered: usize) -> Rc<Session> {
    let config = SessionConfig {
        ping_interval: Duration::from_secs(25),
        ping_timeout: Duration::from_secs(20),
        connect_timeout: None,
        max_buffered_bytes: max_buffered,
        protocol: ringcast_proto::engineio::Protocol::V4,
    };
    Session::new(
        format!("s{i:019}").as_str().into(),
        SessionKind::SocketIo,
        Transport::WebSocket,
        Handshake::default(),
        config,
        Instant::now(),
    )
}

/// Empties every queue and parks a writer again (outside the timed region).
fn drain(sessions: &[Rc<Session>], waker: &Waker, expect: usize) {
    for s in sessions {
        let mut st = s.st.borrow_mut();
        debug_assert_eq!(st.eio.queued().len(), expect);
        st.eio.clear_queue();
        st.writer = Some(waker.clone());
    }
}

/// Runs `f` `iters` times, timing only `f`, draining the queues after each.
fn timed(iters: u64, sessions: &[Rc<Session>], waker: &Waker, mut f: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let t = Instant::now();
        f();
        total += t.elapsed();
        drain(sessions, waker, 1);
    }
    total
}

fn fanout(c: &mut Criterion) {
    let waker = Waker::from(Arc::new(NoopWake));
    let mut g = c.benchmark_group("fanout");
    for n in [1_000usize, 10_000] {
        g.throughput(Throughput::Elements(n as u64));

        // Sessions alone (no shard tables).
        let sessions: Vec<Rc<Session>> = (0..n).map(|i| new_session(i, 4 << 20)).collect();
        drain(&sessions, &waker, 0);
        let msg = encode_chat();
        g.bench_with_input(BenchmarkId::new("push_shared_msg", n), &n, |b, _| {
            b.iter_custom(|iters| {
                timed(iters, &sessions, &waker, || {
                    // As `deliver_local`: one `Rc` per broadcast and shard.
                    let local = Rc::new(msg.clone());
                    for s in &sessions {
                        let r = s.push(OutItem::Msg(local.clone()), false);
                        debug_assert_eq!(r, Push::Queued);
                    }
                })
            })
        });
        g.bench_with_input(BenchmarkId::new("encode_once_then_push", n), &n, |b, _| {
            b.iter_custom(|iters| {
                timed(iters, &sessions, &waker, || {
                    let msg = Rc::new(encode_chat());
                    for s in &sessions {
                        s.push(OutItem::Msg(msg.clone()), false);
                    }
                })
            })
        });
        drop(sessions);

        // A whole shard: N sockets of namespace "/" in room "room".
        let app = Server::builder().namespace("/", |_| {}).build().into_app();
        let config = Arc::new(Config::default());
        let shard = Shard::install(0, 1, config.clone(), app, Mesh::new(vec![None]));
        let mut sessions = Vec::with_capacity(n);
        for i in 0..n {
            let s = new_session(i, config.max_buffered_bytes);
            shard.insert_session(s.clone());
            let key = shard.insert_socket(&s, 0, format!("k{i:019}").as_str().into(), Value::Null);
            shard
                .join(key, "room")
                .expect("one short room is within the quotas");
            sessions.push(s);
        }
        drain(&sessions, &waker, 0);
        let b = Broadcast {
            nsp: 0,
            rooms: vec!["room".into()],
            except: vec![],
            volatile: false,
            msg: encode_chat(),
            ack: None,
            local: true,
            timeout: None,
            offset: None,
        };
        g.bench_with_input(BenchmarkId::new("shard_deliver_local", n), &n, |bch, _| {
            bch.iter_custom(|iters| {
                timed(iters, &sessions, &waker, || {
                    let delivered = shard.deliver_local(black_box(&b));
                    debug_assert_eq!(delivered, n);
                })
            })
        });
        drop(sessions);
        drop(shard);
        Shard::uninstall();
    }
    g.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);

//! The cross-shard hop: a glommio `channel_mesh` between two executors (each
//! pinned to its own core when the machine has two) carrying
//! `ToShard::Broadcast(Arc<Broadcast>)`, one way, in batches of 10k messages.
//!
//! - `channel_mesh_send_to`: the sending executor awaits `Senders::send_to`
//!   for each message (the bounded SPSC channel itself, capacity
//!   `Config::mesh_capacity`);
//! - `mesh_send_via_forwarder`: the path a broadcast really takes in ringcast:
//!   `shard::mesh::Mesh::send` (synchronous, into a local unbounded queue, as
//!   handlers emit) and a forwarder task moving the queue into the
//!   `channel_mesh`, like `runtime::forward`.
//!
//! The receiving executor takes each message off the channel and drops it
//! (delivery itself is measured by the `fanout` benchmark). Every message is
//! a clone of the same `Arc`, so both cores touch one reference count. The
//! time runs from handing the batch to the sender until the receiver has
//! taken the last message; criterion reports messages/s
//! (`Throughput::Elements(10_000)` per iteration).
//!
//! Run: `cargo bench --bench cross_shard` (add `-- --quick` for a short run).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glommio::channels::channel_mesh::{Full, MeshBuilder};
use glommio::channels::local_channel;
use glommio::{LocalExecutorBuilder, Placement};
use ringcast::shard::deliver::Broadcast;
use ringcast::shard::mesh::Mesh;
use ringcast::shard::msg::Msg;
use ringcast::shard::port::ToShard;
use ringcast::Config;

const BATCH: u64 = 10_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    SendTo,
    ViaForwarder,
}

/// Two executors joined by a channel mesh; the main thread hands out batch
/// sizes and waits for the receiver's "done".
struct Pair {
    to_sender: mpsc::Sender<u64>,
    to_receiver: mpsc::Sender<u64>,
    done: mpsc::Receiver<()>,
    handles: Vec<glommio::ExecutorJoinHandle<()>>,
}

fn broadcast() -> Arc<Broadcast> {
    let mut sio = String::new();
    ringcast_proto::socketio::encode_event(
        &mut sio,
        "/",
        None,
        "chat",
        &[serde_json::json!({"user": "alice", "text": "hello, world"})],
        0,
    );
    Arc::new(Broadcast {
        nsp: 0,
        rooms: vec!["room".into()],
        except: vec![],
        volatile: false,
        msg: Msg::socketio(&sio, &[]),
        ack: None,
        local: false,
        timeout: None,
        offset: None,
    })
}

fn placement(id: usize) -> Placement {
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    if cpus >= 2 {
        Placement::Fixed(id)
    } else {
        Placement::Unbound
    }
}

impl Pair {
    fn start(path: Path) -> Self {
        let mesh = MeshBuilder::<ToShard, Full>::full(2, Config::default().mesh_capacity);
        let (to_sender, sender_cmds) = mpsc::channel::<u64>();
        let (to_receiver, receiver_cmds) = mpsc::channel::<u64>();
        let (done_tx, done) = mpsc::channel::<()>();

        let m = mesh.clone();
        let sender = LocalExecutorBuilder::new(placement(0))
            .name("bench-shard-0")
            .spawn(move || async move {
                let (senders, _receivers) = m.join().await.expect("mesh join");
                let senders = Rc::new(senders);
                let b = broadcast();
                // The real path's pieces: a local queue per peer + forwarder.
                let (tx, rx) = local_channel::new_unbounded::<ToShard>();
                let local = Mesh::new(vec![None, Some(tx)]);
                // The forwarder counts what it moved and says when a batch is
                // through (the sending task awaits that rather than spinning:
                // a task that keeps yielding keeps glommio from polling for
                // the peer's wake-ups until its 100 ms preempt timer fires).
                let (forwarded, target) = (Rc::new(Cell::new(0u64)), Rc::new(Cell::new(0u64)));
                let (batch_done, batch_through) = local_channel::new_unbounded::<()>();
                {
                    let (senders, forwarded, target) =
                        (senders.clone(), forwarded.clone(), target.clone());
                    glommio::spawn_local(async move {
                        while let Some(msg) = rx.recv().await {
                            if senders.send_to(1, msg).await.is_err() {
                                return;
                            }
                            forwarded.set(forwarded.get() + 1);
                            if forwarded.get() == target.get() {
                                let _ = batch_done.try_send(());
                            }
                        }
                    })
                    .detach();
                }
                // Blocking on the command channel parks this executor between
                // batches only; nothing of ours is pending then.
                while let Ok(n) = sender_cmds.recv() {
                    match path {
                        Path::SendTo => {
                            for _ in 0..n {
                                let msg = ToShard::Broadcast(b.clone());
                                if senders.send_to(1, msg).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Path::ViaForwarder => {
                            target.set(forwarded.get() + n);
                            for _ in 0..n {
                                local.send(1, ToShard::Broadcast(b.clone()));
                            }
                            if batch_through.recv().await.is_none() {
                                return;
                            }
                        }
                    }
                }
                senders.close();
            })
            .expect("sender executor");

        let receiver = LocalExecutorBuilder::new(placement(1))
            .name("bench-shard-1")
            .spawn(move || async move {
                let (_senders, mut receivers) = mesh.join().await.expect("mesh join");
                let (_, rx) = receivers.streams().pop().expect("one peer");
                while let Ok(n) = receiver_cmds.recv() {
                    for _ in 0..n {
                        match rx.recv().await {
                            Some(ToShard::Broadcast(b)) => drop(b),
                            Some(_) => unreachable!("only broadcasts are sent"),
                            None => return,
                        }
                    }
                    if done_tx.send(()).is_err() {
                        return;
                    }
                }
            })
            .expect("receiver executor");

        Self {
            to_sender,
            to_receiver,
            done,
            handles: vec![sender, receiver],
        }
    }

    /// Sends `n` messages one way; returns the time until the last arrived.
    fn run(&self, n: u64) -> Duration {
        let t = Instant::now();
        self.to_receiver.send(n).unwrap();
        self.to_sender.send(n).unwrap();
        self.done.recv().unwrap();
        t.elapsed()
    }

    fn stop(self) {
        drop(self.to_sender);
        drop(self.to_receiver);
        for h in self.handles {
            let _ = h.join();
        }
    }
}

fn cross_shard(c: &mut Criterion) {
    let mut g = c.benchmark_group("cross_shard");
    g.throughput(Throughput::Elements(BATCH));
    for (name, path) in [
        ("channel_mesh_send_to", Path::SendTo),
        ("mesh_send_via_forwarder", Path::ViaForwarder),
    ] {
        let pair = Pair::start(path);
        pair.run(BATCH); // warm the channel and the caches
        g.bench_function(name, |b| b.iter_custom(|iters| pair.run(iters * BATCH)));
        pair.stop();
    }
    g.finish();
}

criterion_group!(benches, cross_shard);
criterion_main!(benches);

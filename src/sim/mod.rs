//! A deterministic simulation of one ringcast node: N shards and scripted
//! clients in one thread, with no executor, no sockets and no sleeps.
//!
//! What is real: every [`Shard`] (sessions, sockets, rooms, broadcast and
//! ack aggregation, [`Shard::handle_inbound`]), the sans-IO Engine.IO
//! session in `ringcast_proto`, and the runtime's own IO-free decisions:
//! `runtime::route::route` (which shard serves a request),
//! `handshake::create_session` / `polling_open_body`,
//! `polling::get_body` / `handle_post_body`, `websocket::begin_upgrade` /
//! `probe_message` / `handle_message` and the websocket bytes of a queue
//! item (`io::ws_chunks`). The request heads are parsed by the real HTTP
//! parser.
//!
//! What is simulated: the shard mesh (one FIFO per ordered pair of shards,
//! as the runtime's channels are, built with [`Mesh::in_memory`]), the
//! cluster bridge (a [`ClusterPort`] recording what each shard hands it,
//! plus a queue into each shard), the clock (time only moves in
//! [`Sim::advance`], which fires every session deadline at its exact
//! instant, in order), and the sockets (a request is a string; a response
//! or websocket frame is read back as text).
//!
//! Determinism: the mesh is drained by [`Sim::run_until_idle`], which picks
//! the next non-empty queue with a seeded generator, so different seeds
//! interleave different senders differently while each pair stays in
//! order (the runtime's guarantee, nothing more). Session ids are random,
//! but only their owner shard matters, and that is fixed by where the
//! session was opened.

mod app;
mod client;
mod tests;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::shard::mesh::Mesh;
use crate::shard::port::{Adoption, ClusterPort, ToCluster, ToShard};
use crate::shard::Shard;
pub(crate) use app::SimApp;
pub(crate) use client::{Reply, Ws};

/// A queue of the simulated mesh or bridge.
type Queue<T> = Rc<RefCell<VecDeque<T>>>;

/// The simulated cluster bridge's port on one shard: records every
/// [`ToCluster`] the shard hands it.
struct BridgePort {
    out: Queue<ToCluster>,
}

impl ClusterPort for BridgePort {
    fn send(&self, msg: ToCluster) -> bool {
        self.out.borrow_mut().push_back(msg);
        true
    }
    /// A single node: nothing is published, so local broadcasts never
    /// reach the bridge (another node's messages are injected with
    /// [`Sim::bridge_delivers`]).
    fn publishes(&self) -> bool {
        false
    }
    fn tracks_rooms(&self) -> bool {
        false
    }
    fn tracks_socket_rooms(&self) -> bool {
        false
    }
}

/// N shards of one node, driven by hand.
pub(crate) struct Sim {
    /// The shards, by id.
    pub(crate) shards: Vec<Rc<Shard>>,
    /// The application every shard runs (its log of disconnects).
    pub(crate) app: Arc<SimApp>,
    /// `mesh[from][to]`: what shard `from` sent shard `to`, in order.
    mesh: Vec<Vec<Queue<ToShard>>>,
    /// What the bridge delivers to each shard, in order.
    bridge_in: Vec<Queue<ToShard>>,
    /// What each shard handed the bridge, in order.
    pub(crate) bridge_out: Vec<Queue<ToCluster>>,
    now: Instant,
    rng: u64,
    /// Connections adopted by a shard (`ToShard::Adopt`), not yet served.
    adopted: VecDeque<(usize, Adoption)>,
    /// Shards the last request visited, landing shard first.
    pub(crate) last_path: Vec<usize>,
}

impl Sim {
    /// `n` shards with `config`; `seed` picks the mesh interleaving.
    pub(crate) fn new(n: usize, config: Config, seed: u64) -> Self {
        let config = Arc::new(config);
        let app = Arc::new(SimApp::default());
        let mesh: Vec<Vec<Queue<ToShard>>> = (0..n)
            .map(|_| (0..n).map(|_| Queue::default()).collect())
            .collect();
        let bridge_out: Vec<Queue<ToCluster>> = (0..n).map(|_| Queue::default()).collect();
        let shards = (0..n)
            .map(|id| {
                let peers = (0..n)
                    .map(|to| (to != id).then(|| mesh[id][to].clone()))
                    .collect();
                let port = BridgePort {
                    out: bridge_out[id].clone(),
                };
                let mesh = Mesh::in_memory(peers).with_cluster(Box::new(port));
                Shard::install(id, n, config.clone(), app.clone(), mesh)
            })
            .collect();
        Self {
            shards,
            app,
            mesh,
            bridge_in: (0..n).map(|_| Queue::default()).collect(),
            bridge_out,
            // Any origin will do: only differences of instants matter.
            now: Instant::now(),
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            adopted: VecDeque::new(),
            last_path: Vec::new(),
        }
    }

    /// The bridge hands `msg` to `shard` (another node's message).
    pub(crate) fn bridge_delivers(&self, shard: usize, msg: ToShard) {
        self.bridge_in[shard].borrow_mut().push_back(msg);
    }

    /// Moves the clock `by` forward, firing the shards' session deadlines
    /// on the way at their exact instant (earliest first; shards in order on
    /// a tie, and within a shard in the order the deadlines were scheduled)
    /// through `Shard::handle_deadlines`, as the runtime's deadline driver
    /// does, and delivering what each firing sent.
    pub(crate) fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        loop {
            let next = self
                .shards
                .iter()
                .filter_map(|s| s.poll_deadline())
                .min()
                .filter(|&at| at <= target);
            let Some(at) = next else { break };
            self.now = at;
            for shard in &self.shards {
                // A deadline that is due but does not move fails here (a
                // debug assertion): the runtime's driver would spin on it.
                shard.handle_deadlines(at);
            }
            self.run_until_idle();
        }
        self.now = target;
    }

    /// Delivers every queued mesh and bridge message, choosing the next
    /// non-empty queue with the seeded generator (each queue in order).
    /// Returns the (from, to) pair of each mesh delivery, in order; the
    /// bridge is `from == n`.
    pub(crate) fn run_until_idle(&mut self) -> Vec<(usize, usize)> {
        let n = self.shards.len();
        let mut trace = Vec::new();
        loop {
            let mut ready: Vec<(usize, usize)> = Vec::new();
            for from in 0..n {
                for to in 0..n {
                    if !self.mesh[from][to].borrow().is_empty() {
                        ready.push((from, to));
                    }
                }
            }
            for to in 0..n {
                if !self.bridge_in[to].borrow().is_empty() {
                    ready.push((n, to));
                }
            }
            if ready.is_empty() {
                return trace;
            }
            let (from, to) = ready[self.next_random() % ready.len()];
            trace.push((from, to));
            self.deliver_one(from, to);
        }
    }

    /// Delivers the oldest message from `from` (the bridge when `from ==
    /// n`) to `to`; false when that queue is empty.
    fn deliver_one(&mut self, from: usize, to: usize) -> bool {
        let queue = if from == self.shards.len() {
            &self.bridge_in[to]
        } else {
            &self.mesh[from][to]
        };
        let Some(msg) = queue.borrow_mut().pop_front() else {
            return false;
        };
        if let Some(adoption) = self.shards[to].handle_inbound(msg) {
            self.adopted.push_back((to, adoption));
        }
        true
    }

    /// xorshift64*: a fixed sequence per seed.
    fn next_random(&mut self) -> usize {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        Shard::uninstall();
    }
}

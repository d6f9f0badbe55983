//! The IO shell: executors, listeners, the shard mesh and shutdown.
//!
//! `start` creates one glommio executor per shard (pinned to a core when
//! there are enough cores), each with its own SO_REUSEPORT listener so the
//! kernel spreads connections, and a full mesh of bounded channels between
//! shards, created before any executor runs and joined as each starts.
//! Each shard also gets its epoll set here (so that a failure stops the
//! start): its listener and client sockets (`socket.rs`) wait in it, and
//! its readiness task (`readiness.rs`) wakes them.
//!
//! Shutdown is a future (`shutdown`): each shard's main task awaits it, and
//! a [`Stopper`] (from [`Running::stop`], or the signal thread of
//! [`run_until_signal`]) completes it from any thread. An idle shard
//! therefore sleeps until there is work; nothing polls a flag.

mod accept;
mod conn;
mod deflate;
pub(crate) mod forward;
pub(crate) mod handshake;
pub(crate) mod io;
mod ip_limit;
pub(crate) mod polling;
pub(crate) mod readiness;
mod response;
pub(crate) mod route;
mod shutdown;
pub(crate) mod socket;
mod tasks;
pub(crate) mod websocket;

use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use glommio::channels::channel_mesh::{Full, MeshBuilder, Senders};
use glommio::channels::local_channel::{self, LocalReceiver};
use glommio::{LocalExecutorBuilder, Placement};
use thiserror::Error;

use shutdown::StopSignal;
pub use shutdown::Stopper;

use crate::config::{Config, ConfigError};
use crate::shard::mesh::Mesh;
use crate::shard::port::ToShard;
use crate::shard::session::CloseReason;
use crate::shard::{App, Shard};

/// Why the server could not start. The caller reports it and exits.
#[derive(Debug, Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A listener could not be created (address in use, permission).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// An executor thread could not be started.
    #[error("cannot start shard executor: {0}")]
    Executor(String),
}

/// A running server: its address, and the means to stop it.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    stop: Stopper,
    handles: Vec<glommio::ExecutorJoinHandle<()>>,
}

impl Running {
    /// The bound address (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops the server from any thread.
    pub fn stopper(&self) -> Stopper {
        self.stop.clone()
    }

    /// Asks every shard to close its sessions and exit.
    pub fn stop(&self) {
        self.stop.stop();
    }

    /// Waits until every shard has exited.
    pub fn join(self) {
        for h in self.handles {
            let _ = h.join();
        }
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<(OwnedFd, SocketAddr)> {
    use socket2::{Domain, Protocol, Socket, Type};
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let sk = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    sk.set_reuse_port(true)?;
    sk.set_reuse_address(true)?;
    sk.bind(&addr.into())?;
    sk.listen(4096)?;
    let local = sk
        .local_addr()?
        .as_socket()
        .ok_or_else(|| std::io::Error::other("not an inet socket"))?;
    // SAFETY: into_raw_fd transfers ownership of a valid descriptor.
    Ok((unsafe { OwnedFd::from_raw_fd(sk.into_raw_fd()) }, local))
}

/// Starts the server: one executor per shard. Returns once every listener
/// is bound.
pub fn start(config: Config, app: Arc<dyn App>) -> Result<Running, StartError> {
    let mut config = config.validate()?;
    if let Some(r) = config.connection_state_recovery.as_mut() {
        // This server's part of every recovery offset and pid.
        r.node = rand::random();
    }
    let n = config.shards;
    // Bind every listener here so port 0 resolves once and errors surface early.
    let (first, addr) = bind(config.listen).map_err(|source| StartError::Listen {
        addr: config.listen,
        source,
    })?;
    // Forwarding between ringcast nodes: the node directory in Redis, and
    // this node's tag in every sid (runtime::forward).
    let nodes = match (&config.redis_url, config.cluster_forward) {
        (Some(url), true) => {
            let nodes = crate::cluster::nodes::start(
                url,
                &config.cluster_key,
                config.cluster_advertise.as_deref(),
                addr,
            )
            .map_err(|e| StartError::Executor(format!("node directory: {e}")))?;
            config.node_tag = Some(nodes.tag().to_owned());
            Some(nodes)
        }
        _ => None,
    };
    let config = Arc::new(config);
    let mut listeners = vec![first];
    for _ in 1..n {
        let (fd, _) = bind(addr).map_err(|source| StartError::Listen { addr, source })?;
        listeners.push(fd);
    }
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    let mesh = MeshBuilder::<ToShard, Full>::full(n, config.mesh_capacity);
    let stop = Stopper(Arc::new(StopSignal::new(n)));
    let mut handles = Vec::with_capacity(n);
    // One cluster bridge per process (Redis when configured; else it only
    // coordinates the cluster API across this process's shards).
    let bridge = crate::cluster::start(&config, app.clone(), n)
        .map_err(|e| StartError::Executor(format!("cluster bridge: {e}")))?;
    let link = bridge.link;
    let mut ends = bridge.ends.into_iter();
    for (id, listener) in listeners.into_iter().enumerate() {
        let cluster = (link.clone(), ends.next());
        let placement = if config.pin_cores && n <= cpus {
            Placement::Fixed(id)
        } else {
            Placement::Unbound
        };
        let (config, app, mesh) = (config.clone(), app.clone(), mesh.clone());
        let stop = stop.0.clone();
        let nodes = nodes.clone();
        let epfd =
            readiness::epoll_set().map_err(|e| StartError::Executor(format!("epoll set: {e}")))?;
        let h = LocalExecutorBuilder::new(placement)
            .name(&format!("ringcast-{id}"))
            .ring_depth(RING_DEPTH)
            .io_memory(IO_MEMORY)
            .spawn(move || {
                forward::install(nodes);
                shard_main(id, n, config, app, mesh, listener, epfd, stop, cluster)
            })
            .map_err(|e| StartError::Executor(e.to_string()))?;
        handles.push(h);
    }
    tracing::info!(%addr, shards = n, "ringcast listening");
    Ok(Running {
        addr,
        stop,
        handles,
    })
}

/// Submission-queue entries of each of a shard's io_uring rings.
///
/// Not for throughput: the kernel sizes a ring's cancel hash table from its
/// completion queue (`ilog2(cq_entries) - 5` bits, at most 8), and every
/// cancel (glommio cancels a timeout or a dropped read poll on each park and
/// close) first walks one bucket of *all* armed polls, one per idle
/// connection. At glommio's default of 128 entries that is 8 buckets, so with
/// 10k connections a cancel walked ~1,000 entries and `io_poll_find` took a
/// quarter of a shard's CPU in a connect storm (perf, cpu-clock sampling).
/// 4,096 entries give the maximum of 256 buckets for ~1 MiB of rings per shard.
const RING_DEPTH: usize = 4096;

/// glommio's registered buffer pool per shard, for its file (DMA) I/O.
/// ringcast does no file I/O and glommio falls back to the heap when the pool
/// is empty, so it gets the minimum instead of the default 10 MiB, which the
/// kernel pins (RSS) at start: 2 shards started at ~48 MB RSS.
const IO_MEMORY: usize = 64 * 1024;

#[allow(clippy::too_many_arguments)]
async fn shard_main(
    id: usize,
    n: usize,
    config: Arc<Config>,
    app: Arc<dyn App>,
    mesh: MeshBuilder<ToShard, Full>,
    listener: OwnedFd,
    epfd: OwnedFd,
    stop: Arc<StopSignal>,
    cluster: (crate::cluster::Link, Option<crate::cluster::ShardEnd>),
) {
    let Ok((senders, mut receivers)) = mesh.join().await else {
        tracing::error!(shard = id, "mesh join failed");
        return;
    };
    let senders = Rc::new(senders);
    let mut locals = Vec::with_capacity(n);
    for peer in 0..n {
        if peer == id {
            locals.push(None);
            continue;
        }
        let (tx, rx) = local_channel::new_unbounded();
        locals.push(Some(tx));
        glommio::spawn_local(forward(senders.clone(), peer, rx)).detach();
    }
    let (link, end) = cluster;
    let shard = Shard::install(
        id,
        n,
        config,
        app,
        Mesh::new(locals).with_cluster(Box::new(link)),
    );
    if let Some(end) = end {
        glommio::spawn_local(crate::cluster::shard_side::pump(shard.clone(), end)).detach();
    }
    for (_, rx) in receivers.streams() {
        let shard = shard.clone();
        glommio::spawn_local(async move {
            while let Some(msg) = rx.recv().await {
                handle_mesh(&shard, msg);
            }
        })
        .detach();
    }
    let ready = glommio::spawn_local(readiness::run(readiness::Readiness::install(epfd)));
    let deadlines = glommio::spawn_local(tasks::drive_deadlines(shard.clone()));
    shard.app.handle_start(&shard);
    let accept = glommio::spawn_local(accept::accept_loop(shard.clone(), listener));
    let trim = (id == 0).then(|| glommio::spawn_local(trim_loop()));
    stop.wait(id).await;
    if let Some(trim) = trim {
        drop(trim.cancel());
    }
    // Graceful shutdown: stop accepting, close every session (clients get a
    // close), give writers a moment to flush.
    shard.stopping.set(true);
    drop(accept.cancel());
    let sessions: Vec<_> = shard.sessions.borrow().values().cloned().collect();
    for s in sessions {
        shard.close_session(&s, CloseReason::ServerShutdown);
    }
    glommio::timer::sleep(Duration::from_millis(200)).await;
    senders.close();
    drop(ready.cancel());
    drop(deadlines.cancel());
    readiness::Readiness::uninstall();
    tracing::debug!(shard = id, "shard stopped");
    Shard::uninstall();
}

/// Shard 0 returns freed heap memory to the OS this often.
const TRIM_EVERY: Duration = Duration::from_secs(10);

async fn trim_loop() {
    loop {
        glommio::timer::sleep(TRIM_EVERY).await;
        release_free_memory();
    }
}

/// Gives memory freed after a burst (deep queues drained) back to the OS.
/// glibc keeps freed pages in its arenas otherwise: measured, a burst that
/// queued 20 M deliveries left RSS at ~600 MB after every client had gone.
fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn forward(senders: Rc<Senders<ToShard>>, peer: usize, rx: LocalReceiver<ToShard>) {
    while let Some(msg) = rx.recv().await {
        if senders.send_to(peer, msg).await.is_err() {
            return;
        }
    }
}

fn handle_mesh(shard: &Rc<Shard>, msg: ToShard) {
    if let Some(adopt) = shard.handle_inbound(msg) {
        // The descriptor is a connected TCP socket handed over by its
        // previous shard, which no longer uses it.
        let socket = socket::Socket::new(adopt.fd);
        let conn = io::Conn::new(socket, BytesMut::from(&adopt.buffered[..]));
        glommio::spawn_local(conn::serve(shard.clone(), conn)).detach();
    }
}

/// Starts the server and runs it until SIGINT or SIGTERM, then shuts down
/// gracefully (clients get a close; every shard exits).
pub fn run_until_signal(config: Config, app: Arc<dyn App>) -> Result<(), StartError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let running = start(config, app)?;
    let stop = running.stopper();
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| StartError::Executor(format!("signal handler: {e}")))?;
    let handle = signals.handle();
    let waiter = std::thread::Builder::new()
        .name("ringcast-signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                stop.stop();
            }
        })
        .map_err(|e| StartError::Executor(format!("signal thread: {e}")))?;
    running.join();
    handle.close();
    let _ = waiter.join();
    tracing::info!("ringcast stopped");
    Ok(())
}

//! Redis cluster: ringcast nodes (the conformance example with `--redis-url`) and Node socket.io
//! nodes (`tests/cluster/node-peer.js`: socket.io 4.8 + @socket.io/redis-adapter 8.3.0) in one
//! cluster over a `redis-server` each test starts on a free port (and stops).
//!
//! Each test starts its nodes and runs one scenario of `tests/cluster/scenario.js` (the real npm
//! socket.io-client, plus @socket.io/redis-emitter 5.1.0) against them; the scenario sends from
//! every node in turn. Topologies: `rr` = two ringcast nodes (2 shards and 1 shard), `mixed` =
//! a Node node and a ringcast node (2 shards) — ringcast at both positions since every scenario
//! starts each operation from each node.
//!
//! Needs `redis-server`, Node 20 and `npm ci` in tests/cluster (scripts/test.sh does both);
//! `balancers.rs` also nginx and haproxy (scripts/test.sh installs them).
//! `RINGCAST_E2E=0` skips these tests. Tests run one at a time (a process-wide lock).

#[path = "common/conformance.rs"]
mod conformance;
use conformance::conformance_bin;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[path = "cluster/balancers.rs"]
mod balancers;
#[path = "broker_util/mod.rs"]
mod broker_util;
#[path = "cluster/forward_metrics.rs"]
mod forward_metrics;
#[path = "cluster/nosticky.rs"]
mod nosticky;
#[path = "cluster/redis.rs"]
mod redis;
#[path = "cluster/rr_proxy.rs"]
mod rr_proxy;
use redis::{Redis, RedisCluster};

/// What the nodes of a test share.
enum Backend {
    Single(Redis),
    Cluster(RedisCluster),
}

impl Backend {
    /// The `--redis-url` of ringcast (a seed list for a cluster: the first two nodes, so that
    /// discovery through seeds is exercised).
    fn ringcast_url(&self) -> String {
        match self {
            Self::Single(r) => r.url(),
            Self::Cluster(c) => {
                let urls = c.urls();
                urls.split(',').take(2).collect::<Vec<_>>().join(",")
            }
        }
    }
}

fn skip() -> bool {
    std::env::var("RINGCAST_E2E").is_ok_and(|v| v == "0")
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cluster_dir() -> PathBuf {
    root().join("tests").join("cluster")
}

use conformance::free_port;

fn log_file(name: &str) -> std::fs::File {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cluster");
    std::fs::create_dir_all(&dir).expect("log dir");
    std::fs::File::create(dir.join(name)).expect("log file")
}

/// A child process killed (with its process group) when dropped.
struct Proc {
    child: Child,
    what: String,
}

impl Proc {
    fn spawn(mut cmd: Command, what: &str, log: &str) -> Self {
        use std::os::unix::process::CommandExt;
        let out = log_file(log);
        let err = out.try_clone().expect("log clone");
        cmd.stdout(out)
            .stderr(err)
            .stdin(Stdio::null())
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        Self {
            child,
            what: what.to_owned(),
        }
    }

    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited: {status}", self.what);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_http(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "node on port {port} did not come up"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Ringcast(usize),
    Node,
}

struct Node {
    proc: Proc,
    url: String,
    name: String,
}

/// How the nodes of a test talk to Redis.
#[derive(Clone, Copy, Default)]
struct Mode {
    sharded: bool,
    /// Sharded: `subscriptionMode` (None: the default, dynamic).
    subscription: Option<&'static str>,
    /// Node peers answer requests on the requester's own channel
    /// (`publishOnSpecificResponseChannel: true`).
    specific_response: bool,
}

/// Starts one node. A ringcast node logs with `RUST_LOG=$RINGCAST_TEST_LOG` (default
/// `warn,ringcast=info`; `warn,ringcast=info,ringcast::cluster=debug` shows every step of the
/// Redis subscribers) to its file under `$CARGO_TARGET_TMPDIR/cluster`.
fn start_node(kind: Kind, redis: Option<&Backend>, name: &str, mode: Mode) -> Node {
    let port = free_port();
    let proc = match kind {
        Kind::Ringcast(shards) => {
            let mut cmd = Command::new(conformance_bin());
            cmd.args(["--port", &port.to_string(), "--shards", &shards.to_string()])
                .args(["--name", name])
                .env(
                    "RUST_LOG",
                    std::env::var("RINGCAST_TEST_LOG")
                        .unwrap_or_else(|_| "warn,ringcast=info".into()),
                );
            if let Some(r) = redis {
                cmd.args(["--redis-url", &r.ringcast_url()]);
            }
            if mode.sharded {
                cmd.env("REDIS_SHARDED", "1");
            }
            if let Some(m) = mode.subscription {
                cmd.args(["--redis-subscription-mode", m]);
            }
            Proc::spawn(
                cmd,
                &format!("ringcast {name}"),
                &format!("{name}-{port}.log"),
            )
        }
        Kind::Node => {
            let mut cmd = Command::new("node");
            cmd.arg(cluster_dir().join("node-peer.js"))
                .env("PORT", port.to_string())
                .env("NODE_NAME", name);
            match redis.expect("a Node node needs Redis") {
                Backend::Single(r) => cmd.env("REDIS_URL", r.url()),
                Backend::Cluster(c) => cmd.env("REDIS_CLUSTER", c.urls()),
            };
            if mode.sharded {
                cmd.env("SHARDED", "1");
            }
            if let Some(m) = mode.subscription {
                cmd.env("SUBSCRIPTION_MODE", m);
            }
            if mode.specific_response {
                cmd.env("SPECIFIC_RESPONSE", "1");
            }
            Proc::spawn(cmd, &format!("node {name}"), &format!("{name}-{port}.log"))
        }
    };
    wait_http(port);
    Node {
        proc,
        url: format!("http://127.0.0.1:{port}"),
        name: name.to_owned(),
    }
}

fn check_node_modules() {
    assert!(
        cluster_dir()
            .join("node_modules")
            .join("socket.io")
            .is_dir()
            && cluster_dir()
                .join("node_modules")
                .join("@socket.io")
                .join("redis-emitter")
                .is_dir(),
        "tests/cluster/node_modules missing: run `npm ci` in tests/cluster (scripts/test.sh does)"
    );
}

/// Starts redis and the nodes of `topology`, runs `scenario`, checks every node is still up.
fn run(scenario: &str, topology: &[Kind]) {
    run_with(scenario, topology, true);
}

fn run_with(scenario: &str, topology: &[Kind], with_redis: bool) {
    run_mode(
        scenario,
        topology,
        with_redis.then_some(false),
        Mode::default(),
    );
}

/// Sharded pub/sub mode: ringcast with `REDIS_SHARDED=1`, Node peers with
/// `createShardedAdapter` (`SHARDED=1`).
fn run_sharded(scenario: &str, topology: &[Kind]) {
    run_mode(scenario, topology, Some(false), SHARDED);
}

/// Against a 3-master Redis Cluster (ringcast with a seed list, Node with node-redis
/// `createCluster`).
fn run_cluster(scenario: &str, topology: &[Kind], mode: Mode) {
    run_mode(scenario, topology, Some(true), mode);
}

const SHARDED: Mode = Mode {
    sharded: true,
    subscription: None,
    specific_response: false,
};

/// `redis`: None = no Redis, Some(false) = one redis-server, Some(true) = a Redis Cluster.
fn run_mode(scenario: &str, topology: &[Kind], redis: Option<bool>, mode: Mode) {
    if skip() {
        eprintln!("RINGCAST_E2E=0: skipped");
        return;
    }
    let _guard = serial();
    check_node_modules();
    let sharded = mode.sharded;
    let redis = redis.map(|cluster| {
        if cluster {
            Backend::Cluster(RedisCluster::start(3))
        } else {
            Backend::Single(Redis::start())
        }
    });
    let mut nodes: Vec<Node> = topology
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let prefix = match k {
                Kind::Ringcast(_) => "rc",
                Kind::Node => "js",
            };
            let tag = match (&redis, sharded) {
                (Some(Backend::Cluster(_)), true) => "-rcluster-sharded",
                (Some(Backend::Cluster(_)), false) => "-rcluster",
                (_, true) => "-sharded",
                _ => "",
            };
            start_node(
                *k,
                redis.as_ref(),
                &format!("{prefix}{i}-{scenario}{tag}"),
                mode,
            )
        })
        .collect();
    let urls: Vec<&str> = nodes.iter().map(|n| n.url.as_str()).collect();
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    let mut cmd = Command::new("node");
    cmd.arg(cluster_dir().join("scenario.js"))
        .arg(scenario)
        .env("NODES", urls.join(","))
        .env("NAMES", names.join(","));
    if sharded {
        cmd.env("SHARDED", "1");
    }
    if let Some(m) = mode.subscription {
        cmd.env("SUBSCRIPTION_MODE", m);
    }
    match &redis {
        Some(Backend::Single(redis)) => {
            cmd.env("REDIS_URL", redis.url())
                .env("REDIS_PID", redis.pid().to_string())
                .env("REDIS_PIDFILE", &redis.pidfile);
        }
        Some(Backend::Cluster(c)) => {
            let first = c.urls().split(',').next().unwrap_or_default().to_owned();
            cmd.env("REDIS_URL", first).env("REDIS_CLUSTER", c.urls());
        }
        None => {}
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running node scenario.js");
    let stderr = child.stderr.take().expect("stderr");
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut s);
        s
    });
    let mut out = String::new();
    for line in BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .map_while(Result::ok)
    {
        println!("{line}");
        out.push_str(&line);
        out.push('\n');
    }
    let status = child.wait().expect("waiting for scenario.js");
    let err = err_thread.join().unwrap_or_default();
    for n in &mut nodes {
        n.proc.assert_running();
    }
    assert!(
        status.success(),
        "scenario {scenario} failed ({status}):\n{out}\n{err}\n(node logs in {}/cluster)",
        env!("CARGO_TARGET_TMPDIR")
    );
}

const RR: &[Kind] = &[Kind::Ringcast(2), Kind::Ringcast(1)];
const MIXED: &[Kind] = &[Kind::Node, Kind::Ringcast(2)];

#[test]
fn ringcast_only_broadcast() {
    run("broadcast", RR);
}

#[test]
fn mixed_broadcast() {
    run("broadcast", MIXED);
}

#[test]
fn ringcast_only_binary() {
    run("binary", RR);
}

#[test]
fn mixed_binary() {
    run("binary", MIXED);
}

#[test]
fn ringcast_only_requests() {
    run("requests", RR);
}

#[test]
fn mixed_requests() {
    run("requests", MIXED);
}

/// Node peers answering on the requester's specific response channel
/// (`socket.io-response#/#<uid>#`), which ringcast subscribes to.
#[test]
fn mixed_requests_specific_response_channel() {
    let mode = Mode {
        specific_response: true,
        ..Mode::default()
    };
    run_mode("requests", MIXED, Some(false), mode);
}

#[test]
fn ringcast_only_server_side_acks() {
    run("server_side_acks", RR);
}

#[test]
fn mixed_server_side_acks() {
    run("server_side_acks", MIXED);
}

#[test]
fn ringcast_only_all_rooms() {
    run("all_rooms", RR);
}

#[test]
fn mixed_all_rooms() {
    run("all_rooms", MIXED);
}

#[test]
fn ringcast_only_acks() {
    run("acks", RR);
}

#[test]
fn mixed_acks() {
    run("acks", MIXED);
}

#[test]
fn emitter_ringcast_only() {
    run("emitter", RR);
}

#[test]
fn emitter_mixed() {
    run("emitter", MIXED);
}

/// A dynamic namespace's child on every node: the emitter's broadcast on it reaches every node.
#[test]
fn dynamic_ringcast_only() {
    run("dynamic", RR);
}

/// Also a Node node's broadcast and fetchSockets on the child (ringcast answers).
#[test]
fn dynamic_mixed() {
    run("dynamic", MIXED);
}

/// Sharded: the child's namespace channel is SSUBSCRIBEd on creation.
#[test]
fn sharded_dynamic_mixed() {
    run_sharded("dynamic", MIXED);
}

#[test]
fn outage_ringcast_only() {
    run("outage", RR);
}

/// Without Redis the cluster API spans the shards of one process.
#[test]
fn single_node_requests_without_redis() {
    run_with("requests", &[Kind::Ringcast(2)], false);
}

/// Without Redis, broadcast acks are aggregated across the shards of one process.
#[test]
fn single_node_acks_without_redis() {
    run_with("acks", &[Kind::Ringcast(2)], false);
}

#[test]
fn outage_mixed() {
    run("outage", MIXED);
}

// ----- sharded pub/sub (Redis 7 SPUBLISH / SSUBSCRIBE, `createShardedAdapter`) ------------------

#[test]
fn sharded_ringcast_only_broadcast() {
    run_sharded("broadcast", RR);
}

#[test]
fn sharded_mixed_broadcast() {
    run_sharded("broadcast", MIXED);
}

/// To all, to a socket-id room (both on the namespace channel), dynamic room channels
/// (SSUBSCRIBE on the first member, SUNSUBSCRIBE after the last leaves), a message of a
/// third-party adapter node (JSON and msgpack) reaching everyone once.
#[test]
fn sharded_ringcast_only_channels() {
    run_sharded("sharded", RR);
}

#[test]
fn sharded_mixed_channels() {
    run_sharded("sharded", MIXED);
}

#[test]
fn sharded_ringcast_only_binary() {
    run_sharded("binary", RR);
}

#[test]
fn sharded_mixed_binary() {
    run_sharded("binary", MIXED);
}

#[test]
fn sharded_ringcast_only_requests() {
    run_sharded("requests", RR);
}

#[test]
fn sharded_mixed_requests() {
    run_sharded("requests", MIXED);
}

#[test]
fn sharded_ringcast_only_acks() {
    run_sharded("acks", RR);
}

#[test]
fn sharded_mixed_acks() {
    run_sharded("acks", MIXED);
}

#[test]
fn sharded_outage_ringcast_only() {
    run_sharded("outage", RR);
}

#[test]
fn sharded_outage_mixed() {
    run_sharded("outage", MIXED);
}

// ----- Redis Cluster (3 masters) ----------------------------------------------------------------

/// Rooms whose channels hash to three different masters: to a room / others / a socket id / all,
/// fetchSockets, serverSideEmit with acks, broadcast with acks, exactly once, from each node.
#[test]
fn redis_cluster_sharded_ringcast_only_slots() {
    run_cluster("slots", RR, SHARDED);
}

/// The same with a Node node (createShardedAdapter over node-redis `createCluster`).
#[test]
fn redis_cluster_sharded_mixed_slots() {
    run_cluster("slots", MIXED, SHARDED);
}

#[test]
fn redis_cluster_sharded_ringcast_only_requests() {
    run_cluster("requests", RR, SHARDED);
}

#[test]
fn redis_cluster_sharded_mixed_acks() {
    run_cluster("acks", MIXED, SHARDED);
}

/// The slots of a room channel and of the namespace channel move to another master
/// (`CLUSTER SETSLOT ... IMPORTING`, `MIGRATING`, then `NODE`, as a reshard does) while the
/// nodes run: Redis pushes `sunsubscribe`, the subscriptions follow, publishers follow `MOVED`.
#[test]
fn redis_cluster_sharded_ringcast_only_migration() {
    run_cluster("migrate", RR, SHARDED);
}

#[test]
fn redis_cluster_sharded_mixed_migration() {
    run_cluster("migrate", MIXED, SHARDED);
}

/// Classic PUBLISH / (P)SUBSCRIBE through the cluster bus; NUMSUB summed over the masters.
#[test]
fn redis_cluster_classic_ringcast_only_broadcast() {
    run_cluster("broadcast", RR, Mode::default());
}

#[test]
fn redis_cluster_classic_mixed_requests() {
    run_cluster("requests", MIXED, Mode::default());
}

#[test]
fn redis_cluster_classic_mixed_server_side_acks() {
    run_cluster("server_side_acks", MIXED, Mode::default());
}

// ----- subscriptionMode -------------------------------------------------------------------------

fn run_subscription(mode: &'static str, topology: &[Kind]) {
    run_mode(
        "modes",
        topology,
        Some(false),
        Mode {
            sharded: true,
            subscription: Some(mode),
            ..Mode::default()
        },
    );
}

#[test]
fn sharded_static_ringcast_only() {
    run_subscription("static", RR);
}

#[test]
fn sharded_static_mixed() {
    run_subscription("static", MIXED);
}

#[test]
fn sharded_dynamic_ringcast_only() {
    run_subscription("dynamic", RR);
}

#[test]
fn sharded_dynamic_private_ringcast_only() {
    run_subscription("dynamic-private", RR);
}

#[test]
fn sharded_dynamic_private_mixed() {
    run_subscription("dynamic-private", MIXED);
}

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
//! Needs `redis-server`, Node 20 and `npm ci` in tests/cluster (scripts/test.sh does both).
//! `RINGCAST_E2E=0` skips these tests. Tests run one at a time (a process-wide lock).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

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

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("finding a free port")
}

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

/// A `redis-server` on a free port; a restarted one (by the outage scenario) is found through
/// its pid file and killed too.
struct Redis {
    proc: Option<Proc>,
    port: u16,
    pidfile: PathBuf,
}

impl Redis {
    fn start() -> Self {
        let port = free_port();
        let mut cmd = Command::new("redis-server");
        cmd.args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--bind", "127.0.0.1"]);
        let proc = Proc::spawn(cmd, "redis-server", &format!("redis-{port}.log"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ping_redis(port) {
            assert!(
                Instant::now() < deadline,
                "redis-server did not come up on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let pidfile = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("cluster")
            .join(format!("redis-{port}.pid"));
        let _ = std::fs::remove_file(&pidfile);
        Self {
            proc: Some(proc),
            port,
            pidfile,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> u32 {
        self.proc.as_ref().map_or(0, |p| p.child.id())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.proc.take();
        if let Ok(pid) = std::fs::read_to_string(&self.pidfile) {
            let _ = Command::new("kill")
                .args(["-KILL", pid.trim()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn ping_redis(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// The conformance example, built by cargo for this test's profile when missing.
fn conformance_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("RINGCAST_CONFORMANCE_BIN") {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>/deps");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev".to_owned(),
            Some(p) => p.to_owned(),
            None => panic!("unexpected test location"),
        };
        let target_dir = profile_dir.parent().expect("target dir");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let status = Command::new(cargo)
            .current_dir(root())
            .args(["build", "--example", "conformance", "--profile", &profile])
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("running cargo");
        assert!(status.success(), "cargo build --example conformance failed");
        profile_dir.join("examples").join("conformance")
    })
    .clone()
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

fn start_node(kind: Kind, redis: Option<&Redis>, name: &str, sharded: bool) -> Node {
    let port = free_port();
    let proc = match kind {
        Kind::Ringcast(shards) => {
            let mut cmd = Command::new(conformance_bin());
            cmd.args(["--port", &port.to_string(), "--shards", &shards.to_string()])
                .args(["--name", name])
                .env("RUST_LOG", "warn,ringcast=info");
            if let Some(r) = redis {
                cmd.args(["--redis-url", &r.url()]);
            }
            if sharded {
                cmd.env("REDIS_SHARDED", "1");
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
                .env(
                    "REDIS_URL",
                    redis.map(Redis::url).expect("a Node node needs Redis"),
                )
                .env("NODE_NAME", name);
            if sharded {
                cmd.env("SHARDED", "1");
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
    run_mode(scenario, topology, with_redis, false);
}

/// Sharded pub/sub mode: ringcast with `REDIS_SHARDED=1`, Node peers with
/// `createShardedAdapter` (`SHARDED=1`).
fn run_sharded(scenario: &str, topology: &[Kind]) {
    run_mode(scenario, topology, true, true);
}

fn run_mode(scenario: &str, topology: &[Kind], with_redis: bool, sharded: bool) {
    if skip() {
        eprintln!("RINGCAST_E2E=0: skipped");
        return;
    }
    let _guard = serial();
    check_node_modules();
    let redis = with_redis.then(Redis::start);
    let mut nodes: Vec<Node> = topology
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let prefix = match k {
                Kind::Ringcast(_) => "rc",
                Kind::Node => "js",
            };
            let mode = if sharded { "-sharded" } else { "" };
            start_node(
                *k,
                redis.as_ref(),
                &format!("{prefix}{i}-{scenario}{mode}"),
                sharded,
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
    if let Some(redis) = &redis {
        cmd.env("REDIS_URL", redis.url())
            .env("REDIS_PID", redis.pid().to_string())
            .env("REDIS_PIDFILE", &redis.pidfile);
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

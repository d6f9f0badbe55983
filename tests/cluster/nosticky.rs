//! No sticky sessions (issue 14): two ringcast nodes (conformance example, 2 shards and 1
//! shard) sharing one `redis-server`, behind the round-robin HTTP proxy of `rr_proxy.rs`
//! (every request to the next live backend, no affinity; failures handled as nginx and HAProxy
//! handle them). The scenarios are `tests/cluster/scenario-nosticky.js`.

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::redis::{Redis, RedisCluster};
use super::rr_proxy::RoundRobin;
use super::{check_node_modules, cluster_dir, conformance_bin, free_port, serial, skip, wait_http};
use super::{Node, Proc};

/// Heartbeat of the nodes (ms): several heartbeats pass in each scenario.
pub(super) const PING_FAST: (u32, u32) = (400, 2000);
/// Heartbeat of the node-kill scenario: no ping, so no pong POST, can be on its way while a
/// node dies (a POST in flight through the dead node is lost, and no balancer resends a POST),
/// whatever the machine's speed: the scenario's kill window is far shorter than 30 s.
pub(super) const PING_SLOW: (u32, u32) = (30_000, 20_000);

pub(super) fn start_ringcast(
    redis_url: &str,
    shards: usize,
    name: &str,
    ping: (u32, u32),
) -> (Node, SocketAddr) {
    let port = free_port();
    let mut cmd = Command::new(conformance_bin());
    cmd.args(["--port", &port.to_string(), "--shards", &shards.to_string()])
        .args(["--name", name, "--redis-url", redis_url])
        .args(["--ping-interval", &ping.0.to_string()])
        .args(["--ping-timeout", &ping.1.to_string()])
        .args(["--cluster-advertise", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn,ringcast=info");
    let proc = Proc::spawn(
        cmd,
        &format!("ringcast {name}"),
        &format!("{name}-{port}.log"),
    );
    wait_http(port);
    let node = Node {
        proc,
        url: format!("http://127.0.0.1:{port}"),
        name: name.to_owned(),
    };
    (node, SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}

/// Starts Redis, two nodes and the proxy, runs `scenario`; `killed`: a node the scenario kills.
fn run_nosticky(scenario: &str, kills: bool) {
    run_nosticky_on(scenario, kills, false);
}

/// `redis_cluster`: a 3-master Redis Cluster instead of one redis-server (the node keys live on
/// one slot, `{socket.io-nodes}`).
fn run_nosticky_on(scenario: &str, kills: bool, redis_cluster: bool) {
    if skip() {
        eprintln!("RINGCAST_E2E=0: skipped");
        return;
    }
    let _guard = serial();
    check_node_modules();
    let (_single, _cluster, url, seed) = if redis_cluster {
        let c = RedisCluster::start(3);
        let urls = c.urls();
        let first = urls.split(',').next().unwrap_or_default().to_owned();
        (None, Some(c), urls, first)
    } else {
        let r = Redis::start();
        let url = r.url();
        (Some(r), None, url.clone(), url)
    };
    let name = |i: usize| {
        let suffix = if redis_cluster { "-rcluster" } else { "" };
        format!("rr{i}-nosticky-{scenario}{suffix}")
    };
    let ping = if kills { PING_SLOW } else { PING_FAST };
    let (mut a, addr_a) = start_ringcast(&url, 2, &name(0), ping);
    let (mut b, addr_b) = start_ringcast(&url, 1, &name(1), ping);
    let routes = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cluster")
        .join(format!("routes-{}.txt", name(0)));
    if let Some(dir) = routes.parent() {
        std::fs::create_dir_all(dir).expect("log dir");
    }
    let proxy = RoundRobin::start(vec![addr_a, addr_b], Some(routes.clone()));
    let env = ScenarioEnv {
        proxy: format!("http://{}", proxy.addr),
        nodes: [&a, &b],
        routes: Some(&routes),
        redis_url: &seed,
    };
    run_scenario(scenario, &env);
    let counts = proxy.counts();
    println!(
        "proxy requests per node: {counts:?}, idempotent requests retried: {}",
        proxy.retries()
    );
    assert!(
        scenario == "raw" || counts.iter().all(|&c| c >= 4),
        "the proxy alternated between both nodes: {counts:?}"
    );
    if !kills {
        a.proc.assert_running();
        b.proc.assert_running();
    }
    println!("nodes {} and {} ok", a.name, b.name);
}

/// What a client scenario is given.
pub(super) struct ScenarioEnv<'a> {
    /// The balancer's URL.
    pub(super) proxy: String,
    pub(super) nodes: [&'a Node; 2],
    /// Where the balancer records the node of each websocket upgrade (`rr_proxy.rs`).
    pub(super) routes: Option<&'a std::path::Path>,
    /// A Redis seed URL.
    pub(super) redis_url: &'a str,
}

/// Runs `scenario` of `scenario-nosticky.js` (or, for `python`, `nosticky_client.py`) against
/// `env`; panics with its output when it fails.
pub(super) fn run_scenario(scenario: &str, env: &ScenarioEnv<'_>) {
    let [a, b] = env.nodes;
    let pids = format!("{},{}", a.proc.child.id(), b.proc.child.id());
    let mut cmd = if scenario == "python" {
        let python = super::root()
            .join("tests")
            .join(".venv")
            .join("bin")
            .join("python");
        assert!(
            python.is_file(),
            "tests/.venv missing: python3 -m venv tests/.venv && tests/.venv/bin/pip install -r \
             tests/python/requirements.txt (scripts/test.sh does)"
        );
        let mut c = Command::new(python);
        c.arg(cluster_dir().join("nosticky_client.py"));
        c
    } else {
        let mut c = Command::new("node");
        c.arg(cluster_dir().join("scenario-nosticky.js"))
            .arg(scenario);
        c
    };
    let mut child = cmd
        .env("PROXY", &env.proxy)
        .env("NODES", format!("{},{}", a.url, b.url))
        .env("PIDS", pids)
        .env(
            "ROUTES",
            env.routes.map(|p| p.as_os_str()).unwrap_or_default(),
        )
        .env("REDIS_URL", env.redis_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running node scenario-nosticky.js");
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
    let status = child.wait().expect("waiting for scenario-nosticky.js");
    let err = err_thread.join().unwrap_or_default();
    assert!(
        status.success(),
        "scenario {scenario} failed ({status}):\n{out}\n{err}\n(logs in {}/cluster)",
        env!("CARGO_TARGET_TMPDIR")
    );
}

#[test]
fn nosticky_polling() {
    run_nosticky("polling", false);
}

#[test]
fn nosticky_upgrade() {
    run_nosticky("upgrade", false);
}

/// No proxy: a session opened on one node, all its requests sent to the other (polling POST and
/// GET forwarded, the websocket upgrade spliced): forwarding without chance.
#[test]
fn nosticky_raw_forwarding() {
    run_nosticky("raw", false);
}

/// The same against a Redis Cluster: the node directory follows the slot of its keys.
#[test]
fn nosticky_raw_forwarding_redis_cluster() {
    run_nosticky_on("raw", false, true);
}

#[test]
fn nosticky_python() {
    run_nosticky("python", false);
}

#[test]
fn nosticky_kill() {
    run_nosticky("kill", true);
}

/// One raw HTTP/1.1 request; returns the whole response (the node closes or answers with a
/// Content-Length body that is read fully).
pub(super) fn raw_request(addr: SocketAddr, req: &str) -> String {
    use std::io::Write;
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).expect("read");
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            if body.len() >= len {
                break;
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// A sid naming a ringcast node that is not in Redis (gone), and a request already forwarded
/// once: Engine.IO's unknown-sid answer, at once, never a hang or a loop.
#[test]
fn nosticky_unknown_owner() {
    if skip() {
        eprintln!("RINGCAST_E2E=0: skipped");
        return;
    }
    let _guard = serial();
    let redis = Redis::start();
    let (mut node, addr) = start_ringcast(&redis.url(), 2, "rr0-nosticky-unknown", PING_FAST);
    let sid = "AAAAAAAAAAAAAAAAAAAAzzzzzzzz";
    let get =
        format!("GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n");
    let res = raw_request(addr, &get);
    assert!(res.starts_with("HTTP/1.1 400"), "{res}");
    assert!(
        res.ends_with(r#"{"code":1,"message":"Session ID unknown"}"#),
        "{res}"
    );
    let body = "4hello";
    let post = format!(
        "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let res = raw_request(addr, &post);
    assert!(res.starts_with("HTTP/1.1 400"), "{res}");
    let ws = format!(
        "GET /socket.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\nHost: x\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let res = raw_request(addr, &ws);
    assert!(res.starts_with("HTTP/1.1 400"), "{res}");
    // Already forwarded by a node: served here, where the session is unknown.
    let hop = format!(
        "GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\
         X-Ringcast-Forwarded: yyyyyyyy\r\n\r\n"
    );
    let res = raw_request(addr, &hop);
    assert!(res.starts_with("HTTP/1.1 400"), "{res}");
    node.proc.assert_running();
}

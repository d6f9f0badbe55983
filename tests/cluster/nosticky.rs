//! No sticky sessions (issue 14): two ringcast nodes (conformance example, 2 shards and 1
//! shard) sharing one `redis-server`, behind a round-robin TCP proxy started here (each
//! incoming connection goes to the next live backend, no affinity; socket.io-client in Node
//! opens a connection per polling request, so each request goes to the next node). The
//! scenarios are `tests/cluster/scenario-nosticky.js`.

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::redis::{Redis, RedisCluster};
use super::{check_node_modules, cluster_dir, conformance_bin, free_port, serial, skip, wait_http};
use super::{Node, Proc};

/// A round-robin TCP proxy: per-backend connection counts, for the test to check that it
/// really alternated.
struct RoundRobin {
    addr: SocketAddr,
    counts: Arc<Vec<AtomicUsize>>,
}

impl RoundRobin {
    fn start(backends: Vec<SocketAddr>) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("proxy bind");
        let addr = listener.local_addr().expect("proxy addr");
        let counts: Arc<Vec<AtomicUsize>> =
            Arc::new(backends.iter().map(|_| AtomicUsize::new(0)).collect());
        let c = counts.clone();
        std::thread::spawn(move || {
            let mut next = 0usize;
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                // The next backend that accepts a connection (a dead one is skipped, as a load
                // balancer's health check would).
                let mut upstream = None;
                for k in 0..backends.len() {
                    let i = (next + k) % backends.len();
                    if let Ok(s) = TcpStream::connect_timeout(&backends[i], Duration::from_secs(1))
                    {
                        c[i].fetch_add(1, Ordering::Relaxed);
                        upstream = Some(s);
                        next = i + 1;
                        break;
                    }
                }
                let Some(up) = upstream else { continue };
                let _ = client.set_nodelay(true);
                let _ = up.set_nodelay(true);
                pipe(client, up);
            }
        });
        Self { addr, counts }
    }

    fn counts(&self) -> Vec<usize> {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }
}

/// Copies both ways; when either direction ends, both sockets are shut down.
fn pipe(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let one = move |mut from: TcpStream, mut to: TcpStream| {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    };
    std::thread::spawn(move || one(a, b));
    std::thread::spawn(move || one(b2, a2));
}

fn start_ringcast(redis_url: &str, shards: usize, name: &str) -> (Node, SocketAddr) {
    let port = free_port();
    let mut cmd = Command::new(conformance_bin());
    cmd.args(["--port", &port.to_string(), "--shards", &shards.to_string()])
        .args(["--name", name, "--redis-url", redis_url])
        .args(["--ping-interval", "400", "--ping-timeout", "2000"])
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
    let (mut a, addr_a) = start_ringcast(&url, 2, &name(0));
    let (mut b, addr_b) = start_ringcast(&url, 1, &name(1));
    let proxy = RoundRobin::start(vec![addr_a, addr_b]);
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
        .env("PROXY", format!("http://{}", proxy.addr))
        .env("NODES", format!("{},{}", a.url, b.url))
        .env("PIDS", pids)
        .env("REDIS_URL", seed)
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
        "scenario {scenario} failed ({status}):\n{out}\n{err}\n(node logs in {}/cluster)",
        env!("CARGO_TARGET_TMPDIR")
    );
    let counts = proxy.counts();
    println!("proxy connections per node: {counts:?}");
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
fn raw_request(addr: SocketAddr, req: &str) -> String {
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
    let (mut node, addr) = start_ringcast(&redis.url(), 2, "rr0-nosticky-unknown");
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

//! The README's round-robin load balancer configs, run for real (issue 14): two ringcast nodes
//! and a Redis, behind nginx, then HAProxy, each started with the config committed under
//! `docs/lb/` (the README shows the same text: `readme_shows_the_tested_configs` checks it), the
//! backend addresses and the listen port replaced. Through it a polling-only socket.io-client
//! and a default one (upgrading to websocket) connect, get acks and receive broadcasts from both
//! nodes (`scenarioBalancer` in `scenario-nosticky.js`); the balancer's own records (nginx's
//! access log, HAProxy's stats) prove that requests alternated between the nodes. The node-kill
//! scenario (polling clients) runs behind each too: the balancer resends the long-poll GET that
//! was waiting in the killed node, so the survivor's clients see nothing, and the killed node's
//! clients reconnect at their first attempt.
//!
//! Needs `nginx` and `haproxy` (Debian: nginx-light, haproxy; scripts/test.sh installs them).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::nosticky::{run_scenario, start_ringcast, ScenarioEnv, PING_FAST, PING_SLOW};
use super::redis::Redis;
use super::{check_node_modules, free_port, root, serial, skip, wait_http, Proc};

/// The example's placeholder addresses, in the order of the nodes.
const PLACEHOLDERS: [&str; 2] = ["10.0.0.1:3000", "10.0.0.2:3000"];

fn config(name: &str) -> String {
    let path = root().join("docs").join("lb").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` with the placeholder addresses replaced by the nodes' and `listen` by `with`.
fn instantiate(text: &str, nodes: [SocketAddr; 2], listen: &str, with: &str) -> String {
    assert!(text.contains(listen), "the example has `{listen}`");
    let mut out = text.replace(listen, with);
    for (p, a) in PLACEHOLDERS.iter().zip(nodes) {
        assert!(out.contains(p), "the example names {p}");
        out = out.replace(p, &a.to_string());
    }
    out
}

fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cluster")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("balancer dir");
    dir
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// The command for `tool`: on the PATH, else in /usr/sbin (where Debian puts both, off a
/// non-root PATH).
fn require(tool: &str) -> PathBuf {
    let on_path = Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success());
    if on_path {
        return PathBuf::from(tool);
    }
    let sbin = Path::new("/usr/sbin").join(tool);
    assert!(
        sbin.is_file(),
        "{tool} missing: apt-get install nginx-light haproxy (scripts/test.sh does)"
    );
    sbin
}

/// nginx in the foreground with `docs/lb/nginx-roundrobin.conf` inside a minimal `http` block
/// that logs each request's upstream; returns the process, its URL and the access log.
fn start_nginx(nodes: [SocketAddr; 2]) -> (Proc, String, PathBuf) {
    let nginx = require("nginx");
    let dir = work_dir("nginx");
    let port = free_port();
    let site = instantiate(
        &config("nginx-roundrobin.conf"),
        nodes,
        "listen 80;",
        &format!("listen 127.0.0.1:{port};"),
    );
    let d = dir.display();
    let user = if is_root() { "user root;\n" } else { "" };
    let conf = format!(
        "{user}daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 1024; }}\nhttp {{\n\
         client_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
         log_format upstreams '$upstream_addr $request_method $status';\n\
         access_log {d}/access.log upstreams;\n{site}}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("nginx.conf");
    let mut cmd = Command::new(nginx);
    cmd.arg("-p")
        .arg(&dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&path);
    let proc = Proc::spawn(cmd, "nginx", "nginx.log");
    wait_http(port);
    (
        proc,
        format!("http://127.0.0.1:{port}"),
        dir.join("access.log"),
    )
}

/// HAProxy in the foreground with `docs/lb/haproxy-roundrobin.cfg`, plus a stats listener (CSV)
/// for the per-server request counts; returns the process, its URL and the stats URL.
fn start_haproxy(nodes: [SocketAddr; 2]) -> (Proc, String, SocketAddr) {
    let haproxy = require("haproxy");
    let dir = work_dir("haproxy");
    let port = free_port();
    let stats = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let cfg = instantiate(
        &config("haproxy-roundrobin.cfg"),
        nodes,
        "bind :80",
        &format!("bind 127.0.0.1:{port}"),
    );
    let conf =
        format!("{cfg}\nlisten stats\n    bind {stats}\n    stats enable\n    stats uri /stats\n");
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, conf).expect("haproxy.cfg");
    let mut cmd = Command::new(haproxy);
    cmd.arg("-db").arg("-f").arg(&path);
    let proc = Proc::spawn(cmd, "haproxy", "haproxy.log");
    wait_http(port);
    wait_http(stats.port());
    (proc, format!("http://127.0.0.1:{port}"), stats)
}

/// Requests per node from nginx's access log (`$upstream_addr`; a retried request names each
/// upstream it tried).
fn nginx_counts(log: &Path, nodes: [SocketAddr; 2]) -> [usize; 2] {
    let text = std::fs::read_to_string(log).expect("nginx access log");
    let mut counts = [0; 2];
    for line in text.lines() {
        for (i, n) in nodes.iter().enumerate() {
            if line.contains(&n.to_string()) {
                counts[i] += 1;
            }
        }
    }
    counts
}

/// Sessions per server of backend `ringcast` from HAProxy's CSV stats (`stot`: with
/// `http-server-close`, one per request).
fn haproxy_counts(stats: SocketAddr) -> [usize; 2] {
    // HTTP/1.0: the answer ends with the connection (no chunked encoding to undo).
    let mut s = std::net::TcpStream::connect(stats).expect("stats connect");
    s.write_all(b"GET /stats;csv HTTP/1.0\r\n\r\n")
        .expect("stats request");
    let mut res = String::new();
    s.read_to_string(&mut res).expect("stats response");
    let mut lines = res.lines().skip_while(|l| !l.starts_with("# pxname"));
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_else(|| panic!("no CSV header in the stats: {res}"))
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect("csv column");
    let (px, sv, stot) = (col("pxname"), col("svname"), col("stot"));
    let mut counts = [0; 2];
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f.get(px) != Some(&"ringcast") {
            continue;
        }
        let n = f.get(stot).and_then(|v| v.parse().ok()).unwrap_or(0);
        match f.get(sv) {
            Some(&"a") => counts[0] = n,
            Some(&"b") => counts[1] = n,
            _ => {}
        }
    }
    counts
}

#[derive(Clone, Copy)]
enum Balancer {
    Nginx,
    Haproxy,
}

/// `scenario`: `balancer`, or `kill` (node 0 is killed; slow heartbeat, see `PING_SLOW`).
fn run_balancer(which: Balancer, scenario: &str) {
    if skip() {
        eprintln!("RINGCAST_E2E=0: skipped");
        return;
    }
    let _guard = serial();
    check_node_modules();
    let redis = Redis::start();
    let tag = match which {
        Balancer::Nginx => "nginx",
        Balancer::Haproxy => "haproxy",
    };
    let kills = scenario == "kill";
    let ping = if kills { PING_SLOW } else { PING_FAST };
    let name = |i: usize| format!("rr{i}-{tag}-{scenario}");
    let (mut a, addr_a) = start_ringcast(&redis.url(), 2, &name(0), ping);
    let (mut b, addr_b) = start_ringcast(&redis.url(), 1, &name(1), ping);
    let nodes = [addr_a, addr_b];
    let (mut lb, url, counts): (Proc, String, Box<dyn Fn() -> [usize; 2]>) = match which {
        Balancer::Nginx => {
            let (p, url, log) = start_nginx(nodes);
            (p, url, Box::new(move || nginx_counts(&log, nodes)))
        }
        Balancer::Haproxy => {
            let (p, url, stats) = start_haproxy(nodes);
            (p, url, Box::new(move || haproxy_counts(stats)))
        }
    };
    let env = ScenarioEnv {
        proxy: url,
        nodes: [&a, &b],
        routes: None,
        redis_url: &redis.url(),
    };
    run_scenario(scenario, &env);
    let counts = counts();
    println!("{tag}: requests per node {counts:?}");
    // The scenario makes about 25 requests through the balancer (handshakes, POSTs, GETs, the
    // upgrade): round robin gives each node about half.
    assert!(
        counts.iter().all(|&c| c >= 5),
        "{tag} alternated between both nodes: {counts:?}"
    );
    lb.assert_running();
    if !kills {
        a.proc.assert_running();
    }
    b.proc.assert_running();
}

#[test]
fn balancer_nginx_round_robin() {
    run_balancer(Balancer::Nginx, "balancer");
}

#[test]
fn balancer_haproxy_round_robin() {
    run_balancer(Balancer::Haproxy, "balancer");
}

#[test]
fn balancer_nginx_node_kill() {
    run_balancer(Balancer::Nginx, "kill");
}

#[test]
fn balancer_haproxy_node_kill() {
    run_balancer(Balancer::Haproxy, "kill");
}

/// The README shows the configs these tests run, word for word.
#[test]
fn readme_shows_the_tested_configs() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    for name in ["nginx-roundrobin.conf", "haproxy-roundrobin.cfg"] {
        let text = config(name);
        assert!(
            readme.contains(&text),
            "README.md shows docs/lb/{name} as is (copy it into the README's code block)"
        );
    }
}

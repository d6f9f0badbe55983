//! The Redis servers of tests/cluster.rs, each killed (with every process it started) when
//! dropped: a single `redis-server` on a free port, and a 3-master Redis Cluster
//! (`redis-server --cluster-enabled yes` on free ports whose bus port (+10000) is below the ephemeral range, the cluster bus being port +
//! 10000, slots assigned with `redis-cli --cluster create`).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, Proc};

/// A `redis-server` on a free port; a restarted one (by the outage scenario) is found through
/// its pid file and killed too.
pub(crate) struct Redis {
    proc: Option<Proc>,
    port: u16,
    pub(crate) pidfile: PathBuf,
}

impl Redis {
    pub(crate) fn start() -> Self {
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

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub(crate) fn pid(&self) -> u32 {
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

pub(crate) fn ping_redis(port: u16) -> bool {
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

/// Sends one inline command to `127.0.0.1:port` and returns the raw answer (enough for
/// `CLUSTER INFO` / `PING`).
fn redis_inline(port: u16, cmd: &str) -> Option<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    s.write_all(format!("{cmd}\r\n").as_bytes()).ok()?;
    let mut buf = vec![0u8; 8192];
    let n = s.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// A port whose cluster bus port (+10000) is free too, both below the
/// kernel's ephemeral range (`ip_local_port_range`): a bus port inside it
/// can be taken by any outgoing connection of a concurrent test or load
/// run between this check and `redis-server`'s bind (seen: "Could not
/// create server TCP listening socket 127.0.0.1:33090").
fn free_cluster_port(taken: &[u16]) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const BASE: u16 = 20000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let ephemeral_low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    // Ports p with p + 10000 < ephemeral_low (2,767 of them by default).
    let span = ephemeral_low.saturating_sub(BASE + 10000).clamp(100, 9000);
    if NEXT.load(Ordering::Relaxed) == 0 {
        NEXT.store(
            BASE + (std::process::id() % u32::from(span)) as u16,
            Ordering::Relaxed,
        );
    }
    loop {
        let p = NEXT.fetch_add(1, Ordering::Relaxed);
        let p = BASE + (p.wrapping_sub(BASE)) % span;
        let free = |port: u16| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok();
        if !taken.contains(&p) && free(p) && free(p + 10000) {
            return p;
        }
    }
}

/// A 3-master Redis Cluster (`redis-server --cluster-enabled yes` on free ports below the ephemeral range less 10000,
/// slots assigned with `redis-cli --cluster create`), stopped (every process) when dropped.
pub(crate) struct RedisCluster {
    procs: Vec<Proc>,
    ports: Vec<u16>,
}

impl RedisCluster {
    pub(crate) fn start(masters: usize) -> Self {
        let mut ports = Vec::new();
        let mut procs = Vec::new();
        for _ in 0..masters {
            let port = free_cluster_port(&ports);
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join("cluster")
                .join(format!("rc-{port}"));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("cluster dir");
            let mut cmd = Command::new("redis-server");
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-config-file"])
                .arg(dir.join(format!("nodes-{port}.conf")))
                .arg("--dir")
                .arg(&dir)
                .args(["--save", "", "--appendonly", "no"])
                .args(["--cluster-node-timeout", "2000"]);
            procs.push(Proc::spawn(
                cmd,
                "redis-server (cluster)",
                &format!("redis-cluster-{port}.log"),
            ));
            ports.push(port);
        }
        let this = Self { procs, ports };
        let deadline = Instant::now() + Duration::from_secs(10);
        for &p in &this.ports {
            while !ping_redis(p) {
                assert!(
                    Instant::now() < deadline,
                    "redis-server did not come up on {p}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let nodes: Vec<String> = this
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("running redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        for &p in &this.ports {
            while !redis_inline(p, "CLUSTER INFO").is_some_and(|i| i.contains("cluster_state:ok")) {
                assert!(Instant::now() < deadline, "cluster_state never ok on {p}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        this
    }

    /// Every node, comma-separated: the seed list.
    pub(crate) fn urls(&self) -> String {
        let urls: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect();
        urls.join(",")
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.procs.clear();
    }
}

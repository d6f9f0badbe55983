//! End-to-end: the external client and wire-protocol suites against the conformance example.
//!
//! Each test starts `examples/conformance --port P --shards N` on a free port, waits until
//! `GET /socket.io/?EIO=4&transport=polling` answers 200, runs a suite script with the URL
//! and kills the server again (also when the test panics):
//!
//! * `clients_shards_{1,2}`: `tests/run-clients.sh URL` (node, python and browser clients),
//!   server in the default `bench` profile;
//! * `protocol_shards_{1,2}`: `tests/protocol/run.sh URL` (raw wire tests), server with
//!   `PROFILE=suite`;
//! * `dynamic_namespaces_section_10`: raw websocket checks of conformance-app-2.md section 10
//!   (parent `^/dyn-\d+$`), server with `--shards 2` (no suite script: the Node peer the
//!   suites also run against has no such parent).
//!
//! The tests are serialized (a static mutex): the suites are timing sensitive and would starve
//! each other on a small machine. `RINGCAST_E2E=0` skips them (quick `cargo test`).
//! The example binary is (re)built by the test itself with `cargo build --example conformance`
//! in the test's own profile and target directory, so `cargo test --test e2e` never runs a stale
//! server; `RINGCAST_CONFORMANCE_BIN=/path` uses that binary instead.
//! Script output is streamed through the test's stdout (shown with `--nocapture`, or by the
//! test harness when the test fails); the server's log is printed when a test fails.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

#[path = "common/conformance.rs"]
mod conformance;
use conformance::conformance_bin;

#[path = "common/raw.rs"]
mod raw;

/// One suite at a time (across the tests of this binary).
static SERIAL: Mutex<()> = Mutex::new(());

const CLIENTS_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const PROTOCOL_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of script output repeated in the failure message.
const TAIL_LINES: usize = 40;

#[derive(Clone, Copy)]
enum Suite {
    /// `tests/run-clients.sh`, bench profile.
    Clients,
    /// `tests/protocol/run.sh`, suite profile.
    Protocol,
}

impl Suite {
    fn script(self) -> PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        match self {
            Self::Clients => root.join("tests/run-clients.sh"),
            Self::Protocol => root.join("tests/protocol/run.sh"),
        }
    }

    fn profile(self) -> &'static str {
        match self {
            Self::Clients => "bench",
            Self::Protocol => "suite",
        }
    }

    fn timeout(self) -> Duration {
        match self {
            Self::Clients => CLIENTS_TIMEOUT,
            Self::Protocol => PROTOCOL_TIMEOUT,
        }
    }
}

#[test]
fn clients_shards_1() {
    run_suite(Suite::Clients, 1);
}

#[test]
fn clients_shards_2() {
    run_suite(Suite::Clients, 2);
}

#[test]
fn protocol_shards_1() {
    run_suite(Suite::Protocol, 1);
}

#[test]
fn protocol_shards_2() {
    run_suite(Suite::Protocol, 2);
}

/// conformance-app-2.md section 10 on 2 shards: children of `^/dyn-\d+$` accept every
/// connection under their own name, handle `echo` like `/` (no `auth` emission), multiplex
/// with `/` on one connection; other names are refused as invalid namespaces.
#[test]
fn dynamic_namespaces_section_10() {
    if std::env::var_os("RINGCAST_E2E").is_some_and(|v| v == "0") {
        println!("RINGCAST_E2E=0: skipping the end-to-end suite (unset it to run)");
        return;
    }
    let _serial: MutexGuard<'_, ()> = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let server = Server::start(&conformance_bin(), 2, "bench");
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, server.port));
    for _ in 0..4 {
        let (mut ws, open) = raw::Ws::open(addr);
        assert!(open.starts_with("0{\"sid\""), "{open}");
        ws.send_text("40");
        let root = ws.recv_text().expect("CONNECT /");
        assert!(root.starts_with("40{\"sid\""), "{root}");
        assert_eq!(ws.recv_text().as_deref(), Some(r#"42["auth",{}]"#));
        for name in ["/dyn-0", "/dyn-42"] {
            ws.send_text(&format!(r#"40{name},{{"token":"x"}}"#));
            let reply = ws.recv_text().expect("CONNECT reply");
            assert!(reply.starts_with(&format!("40{name},{{\"sid\"")), "{reply}");
            // No `auth` emission: the next packet is the echo's ack.
            ws.send_text(&format!(r#"42{name},5["echo",{{"n":1}},"two"]"#));
            assert_eq!(
                ws.recv_text().as_deref(),
                Some(format!(r#"43{name},5[{{"n":1}},"two"]"#).as_str())
            );
        }
        for name in ["/dyn-x", "/dyn-7a", "/xdyn-7", "/dyn-"] {
            ws.send_text(&format!("40{name},"));
            assert_eq!(
                ws.recv_text().as_deref(),
                Some(format!(r#"44{name},{{"message":"Invalid namespace"}}"#).as_str())
            );
        }
        // `/` still answers on the same connection.
        ws.send_text(r#"427["echo","root"]"#);
        assert_eq!(ws.recv_text().as_deref(), Some(r#"437["root"]"#));
    }
    server.stop();
}

fn run_suite(suite: Suite, shards: usize) {
    if std::env::var_os("RINGCAST_E2E").is_some_and(|v| v == "0") {
        println!("RINGCAST_E2E=0: skipping the end-to-end suite (unset it to run)");
        return;
    }
    let _serial: MutexGuard<'_, ()> = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());

    let bin = conformance_bin();
    let server = Server::start(&bin, shards, suite.profile());
    let url = format!("http://127.0.0.1:{}", server.port);
    let script = suite.script();
    println!(
        "e2e: {} {url}  (server: --shards {shards}, PROFILE={})",
        script.display(),
        suite.profile()
    );

    let started = Instant::now();
    let outcome = run_script(&script, &url, suite.timeout());
    let elapsed = started.elapsed();
    // Stop the server before judging; its log is only interesting on failure.
    let server_log = server.stop();

    let ok = matches!(outcome.status, Some(s) if s.success());
    if ok {
        println!(
            "e2e: {} passed in {:.0?} (shards {shards})",
            script.display(),
            elapsed
        );
        return;
    }
    let what = match outcome.status {
        Some(s) => format!("exited with {s}"),
        None => format!("timed out after {:?} (killed)", suite.timeout()),
    };
    // The script's full output was streamed through stdout above (shown by the harness for a
    // failed test, or live with --nocapture); repeat its tail (the summary) in the panic message.
    eprintln!(
        "---- server log (--shards {shards}) ----\n{server_log}\n---- end of server log ----"
    );
    let lines: Vec<&str> = outcome.output.lines().collect();
    let tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
    panic!(
        "{} {url} {what} after {:.0?} (server --shards {shards}, PROFILE={})\n---- last {} lines of its output ----\n{tail}",
        script.display(),
        elapsed,
        suite.profile(),
        lines.len().min(TAIL_LINES),
    );
}

// --- the conformance binary --------------------------------------------------------------------

// --- the server --------------------------------------------------------------------------------

/// A running conformance server; killed when dropped (also while unwinding from a panic).
struct Server {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(bin: &Path, shards: usize, profile: &str) -> Self {
        let mut last_err = String::new();
        // A free port can be taken between probing and binding: retry a few times.
        for attempt in 1..=3 {
            let port = free_port();
            let log = log_path(shards, profile, port);
            let log_file =
                File::create(&log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
            let log_err = log_file.try_clone().expect("clone log file");
            let child = Command::new(bin)
                .arg("--port")
                .arg(port.to_string())
                .arg("--shards")
                .arg(shards.to_string())
                .env("PROFILE", profile)
                .env_remove("PORT")
                .env_remove("SHARDS")
                .env_remove("REDIS_URL")
                .stdin(Stdio::null())
                .stdout(log_file)
                .stderr(log_err)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
            let mut server = Self {
                child: Some(child),
                port,
                log,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(e) => {
                    let log = server.stop();
                    last_err = format!("attempt {attempt}: {e}\n---- server log ----\n{log}");
                    eprintln!("e2e: {last_err}");
                }
            }
        }
        panic!(
            "conformance server did not come up (--shards {shards}, PROFILE={profile}): {last_err}"
        );
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last = String::from("no answer yet");
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("server exited early with {status}"));
                }
            }
            match probe(self.port) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "GET /socket.io/?EIO=4&transport=polling on port {} not answered with 200 within {:?}: {last}",
            self.port, READY_TIMEOUT
        ))
    }

    /// Kills the server and returns its log, with a note when it had already exited by itself
    /// (a crash during the suite).
    fn stop(mut self) -> String {
        let exited = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        self.kill();
        let mut log = std::fs::read_to_string(&self.log).unwrap_or_default();
        if log.trim().is_empty() {
            log = "(empty)".into();
        }
        if let Some(status) = exited {
            log.push_str(&format!(
                "\n!!! the server had exited by itself ({status}) before the end of the suite"
            ));
        }
        log.push_str(&format!("\n(log file: {})", self.log.display()));
        log
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

use conformance::free_port;

fn log_path(shards: usize, profile: &str, port: u16) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e");
    std::fs::create_dir_all(&dir).expect("creating the e2e log directory");
    dir.join(format!("conformance-shards{shards}-{profile}-{port}.log"))
}

/// One Engine.IO handshake over plain HTTP/1.1: Ok when it answers 200.
fn probe(port: u16) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .and_then(|()| s.set_write_timeout(Some(Duration::from_secs(2))))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match s.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(e.to_string()),
        }
    }
    let status_line = String::from_utf8_lossy(&head[..n]);
    if status_line.starts_with("HTTP/1.1 200") || status_line.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        Err(format!("answered {status_line:?}"))
    }
}

// --- the suite script --------------------------------------------------------------------------

struct Outcome {
    /// `None` when the script ran past its timeout and was killed.
    status: Option<ExitStatus>,
    /// stdout and stderr, interleaved by line.
    output: String,
}

/// The script's process group; killed on drop so nothing outlives a panicking test.
struct ScriptGroup {
    child: Child,
    done: bool,
}

impl ScriptGroup {
    fn kill_group(&mut self) {
        // The script runs in its own process group (pgid = its pid): kill node/pytest/chromium too.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
    }
}

impl Drop for ScriptGroup {
    fn drop(&mut self) {
        if !self.done {
            self.kill_group();
            let _ = self.child.wait();
        }
    }
}

fn run_script(script: &Path, url: &str, timeout: Duration) -> Outcome {
    use std::os::unix::process::CommandExt;

    let child = Command::new("bash")
        .arg(script)
        .arg(url)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RINGCAST_URL", url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    let mut group = ScriptGroup { child, done: false };

    let output = Arc::new(Mutex::new(String::new()));
    let readers = [
        pump(
            group
                .child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            &output,
        ),
        pump(
            group
                .child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            &output,
        ),
    ];

    let deadline = Instant::now() + timeout;
    let status = loop {
        match group.child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                println!("e2e: {} ran past {timeout:?}; killing it", script.display());
                group.kill_group();
                let _ = group.child.wait();
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(200)),
            Err(e) => panic!("waiting for {}: {e}", script.display()),
        }
    };
    // Anything the script left behind in its group (it should be nothing) must not keep the pipes
    // open, or the readers below would never see EOF.
    group.kill_group();
    group.done = true;
    for r in readers.into_iter().flatten() {
        let _ = r.join();
    }
    let output = std::mem::take(&mut *output.lock().unwrap_or_else(|p| p.into_inner()));
    Outcome { status, output }
}

/// Copies a pipe line by line to this test's stdout (captured by the harness unless
/// `--nocapture`) and into `sink`.
fn pump(
    pipe: Option<Box<dyn Read + Send>>,
    sink: &Arc<Mutex<String>>,
) -> Option<thread::JoinHandle<()>> {
    let pipe = pipe?;
    let sink = Arc::clone(sink);
    Some(thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end_matches(['\n', '\r']);
                    println!("{text}");
                    let mut out = sink.lock().unwrap_or_else(|p| p.into_inner());
                    out.push_str(text);
                    out.push('\n');
                }
            }
        }
    }))
}

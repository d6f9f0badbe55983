//! Starting the broker binary for tests: free ports, a temp folder for
//! config files and keys, the process killed on drop, and the client suites
//! (tests/js/broker, tests/python) run against it.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The broker process; killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (See tests/common/port.rs for why it is not a `TcpListener` on port 0.)
pub fn free_port() -> u16 {
    port::free_port()
}

// Each shared test module brings its own copy: test crates include different sets of them.
#[allow(clippy::duplicate_mod)]
#[path = "../common/port.rs"]
mod port;

/// The broker command with no inherited settings (`PORT`, `HOST`,
/// `RINGCAST_CONFIG`, ... from the caller's environment).
pub fn broker() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ringcast"));
    for var in ["PORT", "HOST", "RINGCAST_CONFIG", "REDIS_URL", "NODE_NAME"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Waits until `port` accepts connections (the broker listens), or panics.
pub fn wait_listening(server: &mut Server, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("broker exited with {status} before listening");
        }
        assert!(Instant::now() < deadline, "broker did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts the broker on a free port with `--shards 2` and `args`.
pub fn start(args: &[&str]) -> (Server, String) {
    let port = free_port();
    let child = broker()
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--shards", "2", "--no-pin"])
        .args(args)
        .spawn()
        .expect("broker starts");
    let mut server = Server(child);
    wait_listening(&mut server, port);
    (server, format!("http://127.0.0.1:{port}"))
}

/// A fresh folder under the system temp folder, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("ringcast-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp folder");
        Self(path)
    }

    /// Writes `text` to `name` in the folder; returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("temp file writes");
        path
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// tests/js, or None when `RINGCAST_E2E=0` (client suites skipped).
pub fn js_dir() -> Option<&'static str> {
    if std::env::var("RINGCAST_E2E").as_deref() == Ok("0") {
        eprintln!("RINGCAST_E2E=0: skipping the broker client test");
        return None;
    }
    let js = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
    assert!(
        Path::new(js).join("node_modules").exists(),
        "tests/js/node_modules missing: run scripts/test.sh"
    );
    Some(js)
}

/// The python of tests/.venv (python-socketio), checked to exist.
pub fn venv_python() -> PathBuf {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/.venv/bin/python");
    assert!(
        py.exists(),
        "tests/.venv missing: run scripts/test.sh (or python3 -m venv tests/.venv && tests/.venv/bin/pip install -r tests/python/requirements.txt)"
    );
    py
}

/// Asserts that a client suite passed, showing its output otherwise.
pub fn assert_passed(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

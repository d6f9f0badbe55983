//! The conformance example's binary for integration tests: built once per
//! test process by cargo, for the test's own profile, target dir and target
//! triple (`RINGCAST_CONFORMANCE_BIN` overrides it). Included with
//! `#[path = "common/conformance.rs"] mod conformance;`.

#![allow(dead_code)]

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// A server process on `addr` (the conformance app from [`App::start`], or
/// any child a test spawns); killed on drop.
pub(crate) struct App {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl App {
    /// The conformance app on a free port with 2 shards and `flags`; its
    /// environment's `ALLOW_EIO3` and `REDIS_URL` are not inherited.
    pub(crate) fn start(flags: &[&str]) -> Self {
        let port = free_port();
        let child = Command::new(conformance_bin())
            .args(["--port", &port.to_string(), "--shards", "2", "--no-pin"])
            .args(flags)
            .env_remove("ALLOW_EIO3")
            .env_remove("REDIS_URL")
            .stdout(Stdio::null())
            .spawn()
            .expect("conformance starts");
        let app = Self {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        };
        app.wait_ready();
        app
    }

    /// Waits for the listener (a bounded number of tries, no timing
    /// assertion).
    pub(crate) fn wait_ready(&self) {
        for _ in 0..300 {
            if TcpStream::connect(self.addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server on {} never listened", self.addr);
    }

    /// `http://ADDR`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A port free now on 127.0.0.1.
/// (See tests/common/port.rs for why it is not a `TcpListener` on port 0.)
pub(crate) fn free_port() -> u16 {
    port::free_port()
}

// Each shared test module brings its own copy: test crates include different sets of them.
#[allow(clippy::duplicate_mod)]
#[path = "port.rs"]
mod port;

/// The conformance example next to this test executable
/// (`target/[<triple>/]<profile>/deps/e2e-xxx` → `target/[<triple>/]<profile>/examples/conformance`),
/// built first with cargo in the same profile and target directory.
pub(crate) fn conformance_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("RINGCAST_CONFORMANCE_BIN") {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("current_exe");
        let deps = exe.parent().expect("test executable has a directory");
        let profile_dir = deps.parent().expect("deps/ has a parent");
        let bin = profile_dir
            .join("examples")
            .join(format!("conformance{}", std::env::consts::EXE_SUFFIX));
        build_conformance(profile_dir);
        assert!(
            bin.is_file(),
            "conformance example not found at {} (cargo build --example conformance)",
            bin.display()
        );
        bin
    })
    .clone()
}

/// `cargo build --example conformance` for the profile/target dir this test was built in; a no-op
/// when `cargo test` already built it (plain `cargo test` builds examples, `--test e2e` does not).
fn build_conformance(profile_dir: &Path) {
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(other) => other.to_owned(),
        None => panic!(
            "unexpected test executable location {}",
            profile_dir.display()
        ),
    };
    let parent = profile_dir.parent().expect("profile dir has a parent");
    // Cargo marks its target directory with CACHEDIR.TAG; otherwise this is target/<triple>/.
    let (target_dir, triple) = if parent.join("CACHEDIR.TAG").is_file() {
        (parent.to_path_buf(), None)
    } else {
        let triple = parent.file_name().map(OsString::from);
        (parent.parent().unwrap_or(parent).to_path_buf(), triple)
    };
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(OsString::from))
        .unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--example", "conformance", "--profile", &profile])
        .arg("--target-dir")
        .arg(&target_dir);
    if let Some(triple) = triple {
        cmd.arg("--target").arg(triple);
    }
    println!("e2e: {cmd:?}");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running {cargo:?}: {e}"));
    assert!(
        status.success(),
        "cargo build --example conformance failed: {status}"
    );
}

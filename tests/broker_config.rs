//! The broker's config file against the binary: every mistake stops the
//! start with exit code 2 and one line naming the file, the key and what is
//! wrong (nothing listens), and values come from flag > env > file >
//! default (seen in the Engine.IO handshake: the port answering and its
//! `pingInterval`).

mod broker_util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use broker_util::{broker, free_port, wait_listening, Server, TempDir};

/// Runs the broker with `args` (on a free port) until it exits; returns
/// (exit code, stdout, stderr). Fails if it is still running after 20 s.
fn run_to_exit(mut cmd: Command, args: &[&str]) -> (Option<i32>, String, String, u16) {
    let port = free_port();
    let child = cmd
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--shards",
            "1",
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("broker starts");
    let mut server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.0.try_wait().expect("wait works").is_none() {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the broker listens despite a bad config"
        );
        assert!(Instant::now() < deadline, "the broker did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = server.0.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = server.0.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    let code = server.0.try_wait().ok().flatten().and_then(|s| s.code());
    (code, out, err, port)
}

#[test]
fn config_errors_exit_2_with_one_line() {
    let dir = TempDir::new("config-errors");
    dir.write("garbage.pem", "this is not a key\n");
    let cases: &[(&str, &str, &str)] = &[
        ("prot = 3000\n", "prot", "unknown key"),
        (
            "port = \"3000\"\n",
            "port",
            "expected an integer, found string",
        ),
        ("port = 99999\n", "port", "invalid value \"99999\""),
        (
            "no_pin = \"yes\"\n",
            "no_pin",
            "expected a boolean, found string",
        ),
        (
            "redis_subscription_mode = \"often\"\n",
            "redis_subscription_mode",
            "invalid value \"often\"",
        ),
        (
            "[auth]\njwt_hs256_secret = 42\n",
            "auth.jwt_hs256_secret",
            "expected a string, found integer",
        ),
        (
            "[auth]\njwt_secret = \"k\"\n",
            "auth.jwt_secret",
            "unknown key",
        ),
        (
            "[auth]\njwt_rs256_public_key_file = \"missing.pem\"\n",
            "auth.jwt_rs256_public_key_file",
            "cannot read",
        ),
        (
            "[auth]\njwt_es256_public_key_file = \"garbage.pem\"\n",
            "auth.jwt_es256_public_key_file",
            "is not an EC (P-256) public key in PEM",
        ),
        (
            "[[namespace]]\nname = \"/chat\"\nrooms = [\"chat:*:x\"]\n",
            "namespace[0].rooms[0]",
            "invalid pattern \"chat:*:x\"",
        ),
        (
            "[[namespace]]\nname = \"/\"\npublish = [\"{user}\"]\n",
            "namespace[0].publish[0]",
            "invalid pattern",
        ),
        (
            "[[namespace]]\nname = \"/\"\nanonymous = \"no\"\n",
            "namespace[0].anonymous",
            "expected a boolean",
        ),
        (
            "[[namespace]]\nname = \"chat\"\n",
            "namespace[0].name",
            "must start with '/'",
        ),
        (
            "[proxy]\nconnect_url = \"https://127.0.0.1:1/\"\n",
            "proxy.connect_url",
            "must start with http://",
        ),
        ("port = = 1\n", "line 1", "TOML syntax"),
    ];
    for (i, (toml, key, what)) in cases.iter().enumerate() {
        let file = dir.write(&format!("bad{i}.toml"), toml);
        let file = file.to_str().expect("temp paths are UTF-8");
        let (code, out, err, _) = run_to_exit(broker(), &["--config", file]);
        assert_eq!(code, Some(2), "{toml:?}: exit code; stderr: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{toml:?}: one line, got {err:?}");
        let prefix = format!("ringcast: {file}: {key}: ");
        assert!(
            lines[0].starts_with(&prefix) && lines[0].contains(what),
            "{toml:?}: {:?} should start with {prefix:?} and say {what:?}",
            lines[0]
        );
        assert!(!out.contains("listening"), "{toml:?}: it listened: {out}");
    }
    // An unreadable config file (also through RINGCAST_CONFIG).
    let missing = dir.path().join("nope.toml");
    let missing = missing.to_str().expect("temp paths are UTF-8");
    let mut cmd = broker();
    cmd.env("RINGCAST_CONFIG", missing);
    let (code, _, err, _) = run_to_exit(cmd, &[]);
    assert_eq!(code, Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(
        err.starts_with(&format!("ringcast: {missing}: cannot read")),
        "{err:?}"
    );
    // A value the runtime refuses (a path without slashes) also exits 2.
    let file = dir.write("path.toml", "path = \"socket.io\"\n");
    let file = file.to_str().expect("temp paths are UTF-8");
    let (code, _, err, _) = run_to_exit(broker(), &["--config", file]);
    assert_eq!(code, Some(2), "stderr: {err}");
    assert!(err.starts_with(&format!("ringcast: {file}: ")), "{err:?}");
}

/// The Engine.IO open packet's `pingInterval` of the broker on `port`.
fn ping_interval(port: u16) -> u64 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let req =
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    s.write_all(req.as_bytes()).expect("request sent");
    // Read up to the close (or a reset after it): whatever arrived counts.
    let mut raw = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(n @ 1..) = s.read(&mut chunk) {
        raw.extend_from_slice(&chunk[..n]);
    }
    let resp = String::from_utf8_lossy(&raw);
    let at = resp
        .find("\"pingInterval\":")
        .unwrap_or_else(|| panic!("no open packet in {resp:?}"))
        + "\"pingInterval\":".len();
    let digits: String = resp[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("a number")
}

/// Starts the broker with `env` and `args` (no port chosen here) and waits
/// for `port` to listen.
fn start_on(port: u16, env: &[(&str, String)], args: &[&str]) -> Server {
    let mut cmd = broker();
    cmd.args(["--host", "127.0.0.1", "--shards", "1"])
        .args(args)
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut server = Server(cmd.spawn().expect("broker starts"));
    wait_listening(&mut server, port);
    server
}

#[test]
fn precedence_flag_env_file_default() {
    // Every start gets ports no earlier start used: a killed broker's
    // io_uring-held listener can outlive the process for a moment, and a
    // connection it takes is reset.
    let dir = TempDir::new("config-precedence");
    let file_with = |port: u16| {
        let text = format!("port = {port}\nping_interval = 1111\n");
        let path = dir.write(&format!("ringcast-{port}.toml"), &text);
        path.to_str().expect("temp paths are UTF-8").to_owned()
    };

    // File over default (pingInterval default 25000).
    let port = free_port();
    let file = file_with(port);
    let s = start_on(port, &[], &["--config", &file]);
    assert_eq!(ping_interval(port), 1111);
    drop(s);

    // The same through RINGCAST_CONFIG.
    let port = free_port();
    let file = file_with(port);
    let s = start_on(port, &[("RINGCAST_CONFIG", file)], &[]);
    assert_eq!(ping_interval(port), 1111);
    drop(s);

    // Env over file: PORT wins over the file's port.
    let (file_port, env_port) = (free_port(), free_port());
    let file = file_with(file_port);
    let s = start_on(
        env_port,
        &[("PORT", env_port.to_string())],
        &["--config", &file],
    );
    assert_eq!(ping_interval(env_port), 1111);
    assert!(TcpStream::connect(("127.0.0.1", file_port)).is_err());
    drop(s);

    // Flag over env and file.
    let (file_port, env_port, flag_port) = (free_port(), free_port(), free_port());
    let file = file_with(file_port);
    let flag = flag_port.to_string();
    let s = start_on(
        flag_port,
        &[("PORT", env_port.to_string())],
        &[
            "--config",
            &file,
            "--port",
            &flag,
            "--ping-interval",
            "2222",
        ],
    );
    assert_eq!(ping_interval(flag_port), 2222);
    assert!(TcpStream::connect(("127.0.0.1", env_port)).is_err());
    assert!(TcpStream::connect(("127.0.0.1", file_port)).is_err());
    drop(s);

    // Default where nothing sets it.
    let port = free_port();
    let empty = dir.write("empty.toml", &format!("port = {port}\n"));
    let s = start_on(
        port,
        &[],
        &["--config", empty.to_str().expect("temp paths are UTF-8")],
    );
    assert_eq!(ping_interval(port), 25_000);
    drop(s);
}

/// The complete example config of README's "Deploying the broker" starts the
/// broker (with its key files generated beside it).
#[test]
fn readme_example_config_starts() {
    let readme = include_str!("../README.md");
    let section = readme
        .split("## Deploying the broker")
        .nth(1)
        .expect("README has the section");
    let example = section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section has a toml example");
    let dir = TempDir::new("config-readme");
    std::fs::create_dir_all(dir.path().join("keys")).expect("keys folder");
    let keys = Command::new("node")
        .args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js/broker/jwt.js"),
            "keys",
        ])
        .arg(dir.path().join("keys"))
        .output()
        .expect("node runs");
    assert!(keys.status.success(), "key generation: {keys:?}");
    let file = dir.write("ringcast.toml", example);
    let port = free_port();
    let s = start_on(
        port,
        &[],
        &[
            "--config",
            file.to_str().expect("temp paths are UTF-8"),
            "--port",
            &port.to_string(),
        ],
    );
    assert_eq!(ping_interval(port), 25_000);
    drop(s);
}

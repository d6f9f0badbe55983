//! `ringcast_forwarded_requests_total{kind}` and `ringcast_forward_failures_total{reason}` on
//! the broker's `/metrics` (issue 14): two brokers sharing a `redis-server`, a raw Engine.IO
//! session opened on one, its POST, GET and websocket upgrade sent to the other (which forwards
//! each to the owner), and a GET for a node that is not registered: the second broker's
//! counters say exactly that, the first's say nothing was forwarded. Also
//! `ringcast_broadcasts_total{origin}`: a broadcast published through one
//! node's HTTP API is `local` there and `cluster` on the other.

use std::net::{Ipv4Addr, SocketAddr};

use super::broker_util::{broker, free_port, wait_listening, Server, TempDir};
use super::nosticky::raw_request;
use super::redis::Redis;
use super::{serial, skip};

struct Broker {
    _server: Server,
    addr: SocketAddr,
    api: SocketAddr,
}

fn start_broker(dir: &TempDir, name: &str, redis_url: &str) -> Broker {
    let (port, api) = (free_port(), free_port());
    let cfg = format!(
        "redis_url = \"{redis_url}\"\n[api]\nlisten = \"127.0.0.1:{api}\"\nkey = \"key-0123456789abcdef\"\n"
    );
    let file = dir.write(&format!("{name}.toml"), &cfg);
    let child = broker()
        .arg("--config")
        .arg(&file)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--shards", "2", "--no-pin"])
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("broker starts");
    let mut server = Server(child);
    wait_listening(&mut server, port);
    wait_listening(&mut server, api);
    let at = |p| SocketAddr::from((Ipv4Addr::LOCALHOST, p));
    Broker {
        _server: server,
        addr: at(port),
        api: at(api),
    }
}

/// The value of sample `series` (name with its labels) in a scrape.
fn sample(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from /metrics:\n{metrics}"))
}

fn scrape(b: &Broker) -> String {
    let res = raw_request(
        b.api,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    res
}

#[test]
fn forward_metrics() {
    if skip() {
        eprintln!("RINGCAST_E2E=0: skipped");
        return;
    }
    let _guard = serial();
    let redis = Redis::start();
    let dir = TempDir::new("forward-metrics");
    let owner = start_broker(&dir, "owner", &redis.url());
    let other = start_broker(&dir, "other", &redis.url());
    let path = "/socket.io/?EIO=4&transport=polling";
    let open = raw_request(
        owner.addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"),
    );
    let (_, body) = open.split_once("\r\n\r\n").expect("handshake answer");
    let sid = body
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no sid in {open}"));
    assert_eq!(sid.len(), 28, "a cluster sid: {sid}");
    let post = raw_request(
        other.addr,
        &format!("POST {path}&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n40"),
    );
    assert!(post.starts_with("HTTP/1.1 200"), "forwarded POST: {post}");
    let get = raw_request(
        other.addr,
        &format!("GET {path}&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n"),
    );
    assert!(get.starts_with("HTTP/1.1 200"), "forwarded GET: {get}");
    let ws = raw_request(
        other.addr,
        &format!(
            "GET /socket.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\nHost: x\r\n\
             Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        ),
    );
    assert!(ws.starts_with("HTTP/1.1 101"), "forwarded upgrade: {ws}");
    let gone = raw_request(
        other.addr,
        &format!("GET {path}&sid=AAAAAAAAAAAAAAAAAAAAzzzzzzzz HTTP/1.1\r\nHost: x\r\n\r\n"),
    );
    assert!(gone.starts_with("HTTP/1.1 400"), "unknown owner: {gone}");

    let m = scrape(&other);
    let fwd = |kind: &str| {
        sample(
            &m,
            &format!("ringcast_forwarded_requests_total{{kind=\"{kind}\"}}"),
        )
    };
    let failed = |why: &str| {
        sample(
            &m,
            &format!("ringcast_forward_failures_total{{reason=\"{why}\"}}"),
        )
    };
    // The unknown owner's GET counts as a forwarded GET that failed.
    assert_eq!(fwd("polling_get"), 2, "{m}");
    assert_eq!(fwd("polling_post"), 1);
    assert_eq!(fwd("upgrade"), 1);
    assert_eq!(failed("unknown_owner"), 1);
    for why in ["connect", "timeout", "closed", "broken"] {
        assert_eq!(failed(why), 0, "{why}");
    }
    let m = scrape(&owner);
    for kind in ["polling_get", "polling_post", "upgrade"] {
        assert_eq!(
            sample(
                &m,
                &format!("ringcast_forwarded_requests_total{{kind=\"{kind}\"}}")
            ),
            0,
            "the owner served its own session"
        );
    }
}

#[test]
fn broadcasts_by_origin() {
    if skip() {
        eprintln!("RINGCAST_E2E=0: skipped");
        return;
    }
    let _guard = serial();
    let redis = Redis::start();
    let dir = TempDir::new("broadcast-origin");
    let a = start_broker(&dir, "a", &redis.url());
    let b = start_broker(&dir, "b", &redis.url());
    let body = r#"{"nsp":"/","rooms":["r"],"event":"ev","args":[1]}"#;
    let emit = format!(
        "POST /api/emit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Authorization: Bearer key-0123456789abcdef\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let cluster = |m: &str| sample(m, "ringcast_broadcasts_total{origin=\"cluster\"}");
    let local = |m: &str| sample(m, "ringcast_broadcasts_total{origin=\"local\"}");
    // B may still be subscribing when A first publishes (a broadcast to a
    // node not yet subscribed is not delivered, as in Node): publish until
    // B counts one. Bounded so that a broken bridge fails, not hangs.
    let mut sent = 0;
    let received = loop {
        let res = raw_request(a.api, &emit);
        assert!(res.starts_with("HTTP/1.1 200"), "{res}");
        sent += 1;
        let n = cluster(&scrape(&b));
        if n > 0 {
            break n;
        }
        assert!(sent < 3000, "node b never received a broadcast of node a");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(received <= sent);
    let m = scrape(&a);
    assert_eq!(local(&m), sent, "{m}");
    assert_eq!(
        cluster(&m),
        0,
        "a node does not count its own broadcasts back"
    );
    assert_eq!(local(&scrape(&b)), 0);
}

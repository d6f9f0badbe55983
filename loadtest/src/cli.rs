//! Command line: one subcommand per scenario, common options flattened in.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::engine::Target;

#[derive(Debug, Parser)]
#[command(
    name = "ringcast-load",
    version,
    about = "Socket.IO v4 load generator: fanout, echo, connect storm/churn, idle"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) cmd: Cmd,
}

#[derive(Debug, Clone, Subcommand)]
pub(crate) enum Cmd {
    /// N subscribers over R rooms, one publisher broadcasting M stamped messages.
    Fanout(FanoutArgs),
    /// C clients each doing K sequential `echo` calls with ack.
    Echo(EchoArgs),
    /// Connect storm (N connections, K at a time) or churn (--churn-seconds).
    Connect(ConnectArgs),
    /// Hold N connections for S seconds (answering pings); RSS per connection.
    Idle(IdleArgs),
}

#[derive(Debug, Clone, Args)]
pub(crate) struct Common {
    /// Server URL: ws://host:port[/path] or http://host:port[/path] (path
    /// defaults to /socket.io/). Several, comma-separated (the nodes of a
    /// cluster): client i of a process connects to URL i mod n, the first
    /// client (a fan-out's publisher) to the first.
    #[arg(long)]
    pub(crate) url: String,
    /// Offer permessage-deflate on WebSocket upgrades
    /// (`client_no_context_takeover; server_no_context_takeover`) and
    /// inflate every compressed message the server sends.
    #[arg(long)]
    pub(crate) deflate: bool,
    /// Fraction of the clients that use HTTP long-polling only (the rest use
    /// WebSocket only).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) polling_fraction: f64,
    /// Server process to sample (CPU per delivered message, RSS per
    /// connection); several, comma-separated, are summed (cluster nodes).
    #[arg(long, value_delimiter = ',')]
    pub(crate) server_pid: Vec<u32>,
    /// Print one JSON line on stdout (the table goes to stderr).
    #[arg(long)]
    pub(crate) json: bool,
    /// Sockets per process; more clients are spread over child processes
    /// that bind 127.0.0.2, 127.0.0.3, … as source addresses.
    #[arg(long, default_value_t = 18_000)]
    pub(crate) max_per_process: usize,
    /// Minimum number of processes (each is one event-loop thread).
    #[arg(long, default_value_t = 1)]
    pub(crate) processes: usize,
    /// Connection attempts in flight per process while setting up.
    #[arg(long, default_value_t = 256)]
    pub(crate) connect_concurrency: usize,
    /// Seconds allowed for the setup (connect, join) before the run starts
    /// with whoever is ready.
    #[arg(long, default_value_t = 60.0)]
    pub(crate) setup_timeout: f64,
    /// Seconds without progress after which the run ends and what is
    /// missing counts as lost.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) drain_timeout: f64,
    /// Socket.IO CONNECT auth payload (a JSON object), e.g.
    /// `{"token":"<jwt>"}` for the broker's connection tokens.
    #[arg(long)]
    pub(crate) auth: Option<String>,
    /// Internal: this process is child I of P.
    #[arg(long, hide = true)]
    pub(crate) child: Option<String>,
    /// Internal: source address to bind.
    #[arg(long, hide = true)]
    pub(crate) bind: Option<IpAddr>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct FanoutArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    #[arg(long)]
    pub(crate) subscribers: usize,
    #[arg(long, default_value_t = 1)]
    pub(crate) rooms: usize,
    #[arg(long)]
    pub(crate) messages: u64,
    /// Bytes of the stamped JSON object each message carries.
    #[arg(long, default_value_t = 64)]
    pub(crate) payload: usize,
    /// What pads the stamp to --payload bytes: `x` (one repeated byte) or
    /// `text` (words drawn at random, per message: compresses about as
    /// well as chat text or JSON, ~2-3x, for permessage-deflate runs).
    #[arg(long, value_enum, default_value_t = Pad::X)]
    pub(crate) pad: Pad,
    /// Publish at this many messages per second (still capped by --window).
    #[arg(long)]
    pub(crate) rate: Option<f64>,
    /// Messages published but not yet delivered to their whole room.
    #[arg(long, default_value_t = 64)]
    pub(crate) window: u64,
    /// Publish through the broker's HTTP API at this URL
    /// (`http://host:port`, `POST /api/emit`) instead of the publisher
    /// socket's `broadcast` event.
    #[arg(long)]
    pub(crate) api: Option<String>,
    /// Bearer key for `--api`.
    #[arg(long, default_value = "")]
    pub(crate) api_key: String,
    /// `--api`: keep-alive connections, one request in flight on each.
    #[arg(long, default_value_t = 4)]
    pub(crate) api_inflight: usize,
}

/// `fanout --pad`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Pad {
    X,
    Text,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct EchoArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    #[arg(long)]
    pub(crate) clients: usize,
    #[arg(long)]
    pub(crate) requests: u64,
    #[arg(long, default_value_t = 64)]
    pub(crate) payload: usize,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ConnectArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    #[arg(long, default_value_t = 1000)]
    pub(crate) connections: usize,
    /// Connections being established at once (storm) or loops (churn).
    #[arg(long, default_value_t = 100)]
    pub(crate) concurrency: usize,
    /// Churn instead of a storm: connect/disconnect loops for S seconds.
    #[arg(long)]
    pub(crate) churn_seconds: Option<f64>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct IdleArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    #[arg(long)]
    pub(crate) connections: usize,
    #[arg(long)]
    pub(crate) hold_seconds: f64,
}

impl Cmd {
    pub(crate) fn common(&self) -> &Common {
        match self {
            Self::Fanout(a) => &a.common,
            Self::Echo(a) => &a.common,
            Self::Connect(a) => &a.common,
            Self::Idle(a) => &a.common,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Fanout(_) => "fanout",
            Self::Echo(_) => "echo",
            Self::Connect(a) if a.churn_seconds.is_some() => "churn",
            Self::Connect(_) => "connect",
            Self::Idle(_) => "idle",
        }
    }
}

/// Resolves a comma-separated `--url` into connect targets (at least one).
pub(crate) fn parse_targets(
    urls: &str,
    bind: Option<IpAddr>,
    auth: Option<&str>,
) -> Result<Vec<Target>> {
    urls.split(',')
        .map(|u| parse_target(u.trim(), bind, auth))
        .collect()
}

/// Resolves one URL into a connect target.
pub(crate) fn parse_target(url: &str, bind: Option<IpAddr>, auth: Option<&str>) -> Result<Target> {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("http://"))
        .with_context(|| format!("{url}: only ws:// and http:// URLs are supported"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/socket.io/"),
    };
    let mut path = if path == "/" {
        "/socket.io/".to_owned()
    } else {
        path.to_owned()
    };
    if !path.ends_with('/') {
        path.push('/');
    }
    let with_port = if hostport.contains(':') && !hostport.ends_with(']') {
        hostport.to_owned()
    } else {
        format!("{hostport}:80")
    };
    let addr: SocketAddr = with_port
        .to_socket_addrs()
        .with_context(|| format!("resolving {with_port}"))?
        .next()
        .with_context(|| format!("{with_port} has no address"))?;
    if hostport.is_empty() {
        bail!("{url}: no host");
    }
    let mut connect_packet = b"0".to_vec();
    if let Some(auth) = auth {
        let v: serde_json::Value =
            serde_json::from_str(auth).with_context(|| format!("--auth {auth}: not JSON"))?;
        if !v.is_object() {
            bail!("--auth {auth}: the auth payload must be a JSON object");
        }
        connect_packet.extend_from_slice(v.to_string().as_bytes());
    }
    Ok(Target {
        addr,
        host: hostport.to_owned(),
        path,
        bind,
        connect_packet,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_target("ws://127.0.0.1:3000", None, None).unwrap();
        assert_eq!(
            (t.addr.port(), t.path.as_str(), t.host.as_str()),
            (3000, "/socket.io/", "127.0.0.1:3000")
        );
        let t = parse_target("http://localhost:8080/io", None, Some(r#"{"token":"t"}"#)).unwrap();
        assert_eq!((t.addr.port(), t.path.as_str()), (8080, "/io/"));
        assert_eq!(t.connect_packet, br#"0{"token":"t"}"#);
        assert!(parse_target("ws://127.0.0.1:1", None, Some("[1]")).is_err());
        assert!(parse_target("https://x", None, None).is_err());
        let ts = parse_targets("ws://127.0.0.1:1, ws://127.0.0.1:2", None, None).unwrap();
        assert_eq!(ts.iter().map(|t| t.addr.port()).collect::<Vec<_>>(), [1, 2]);
        assert!(parse_targets("ws://127.0.0.1:1,", None, None).is_err());
    }
}

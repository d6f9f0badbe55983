//! The conformance app (`shared/spec/conformance-app.md`): what the tests,
//! acceptance checks and peer benchmarks run against.
//!
//! `cargo run --release --example conformance -- --port 3000 [--profile suite|bench] [--shards N]`

use std::time::Duration;

use clap::Parser;
use ringcast::broker;
use ringcast::server::{Event, Payload, Refusal, Server, Socket};
use ringcast::shard::app::EngineMessage;
use ringcast::{Config, Cors};
use serde_json::Value;

#[derive(Debug, Parser)]
struct Args {
    /// Port (all interfaces).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    port: u16,
    /// Timings: `bench` (Socket.IO defaults) or `suite` (official suites).
    #[arg(long, env = "PROFILE", default_value = "bench")]
    profile: String,
    /// Shards; 0 = one per core.
    #[arg(long, env = "SHARDS", default_value_t = 0)]
    shards: usize,
    /// Redis URL (cluster mode; not yet supported).
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// Node name in a cluster.
    #[arg(long, env = "NODE_NAME")]
    name: Option<String>,
}

fn echo(_socket: &Socket, mut ev: Event) {
    if let Some(ack) = ev.take_ack() {
        ack.send(ev.payload);
    }
}

fn emit_auth(socket: &Socket) {
    socket.emit("auth", Payload::new().arg(socket.auth().clone()));
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let a = Args::parse();
    if a.redis_url.is_some() {
        eprintln!("conformance: --redis-url is not supported yet (issue: Redis bridge)");
        std::process::exit(2);
    }
    let _ = a.name;
    let mut config = Config {
        listen: ([0, 0, 0, 0], a.port).into(),
        shards: a.shards,
        cors: Cors::Any,
        engine_paths: vec!["/engine.io/".into()],
        ..Config::default()
    };
    match a.profile.as_str() {
        "suite" => {
            config.ping_interval = Duration::from_millis(300);
            config.ping_timeout = Duration::from_millis(200);
            config.connect_timeout = Duration::from_millis(1000);
        }
        "bench" => {}
        other => {
            eprintln!("conformance: unknown profile {other:?} (suite|bench)");
            std::process::exit(2);
        }
    }
    let app = Server::builder()
        .namespace("/", |ns| {
            ns.on_connect(emit_auth);
            ns.on("join", broker::handle_join);
            ns.on("leave", broker::handle_leave);
            ns.on("broadcast", broker::handle_broadcast);
            ns.on("broadcast_others", broker::handle_broadcast_others);
            ns.on("echo", echo);
            ns.on("message-with-ack", echo);
            ns.on("message", |socket, ev| {
                socket.emit("message-back", ev.payload)
            });
        })
        .namespace("/custom", |ns| {
            ns.on_connect(emit_auth);
            ns.on("echo", echo);
        })
        .namespace("/admin", |ns| {
            ns.use_middleware(|req| {
                if req.auth.get("token").and_then(Value::as_str) == Some("secret") {
                    Ok(())
                } else {
                    Err(Refusal::new("unauthorized"))
                }
            });
        })
        .engine(|socket, msg| match msg {
            EngineMessage::Text(t) => socket.send_text(&t),
            EngineMessage::Binary(b) => socket.send_binary(&b),
        })
        .build()
        .into_app();
    if let Err(e) = ringcast::runtime::run_until_signal(config, app) {
        eprintln!("conformance: {e}");
        std::process::exit(1);
    }
}

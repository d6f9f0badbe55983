//! The conformance app's namespace `/` (docs/contracts/conformance-app.md, section 2) on
//! socketioxide, as a benchmark peer of ringcast:
//!
//! | event (client -> server)              | server behaviour                                  |
//! | ------------------------------------- | ------------------------------------------------- |
//! | `join`(room, ack?)                    | `socket.join(room)`, then `ack(true)`             |
//! | `leave`(room, ack?)                   | `socket.leave(room)`, then `ack(true)`            |
//! | `broadcast`(room, event, data)        | `io.to(room).emit(event, data)` (sender included) |
//! | `broadcast_others`(room, event, data) | `socket.to(room).emit(event, data)` (sender excluded) |
//! | `echo`(...args, ack)                  | `ack(...args)`, binary preserved                  |
//!
//! socketioxide on a multi-thread tokio runtime (one worker per core) behind plain hyper 1
//! (HTTP/1.1 with upgrades), as in socketioxide's hyper example.
//!
//! Usage: `socketioxide-peer [--port PORT] [--profile bench|suite] [--max-buffer-size N]`
//! (or the `PORT`, `PROFILE`, `MAX_BUFFER_SIZE` environment variables).

use std::{
    convert::Infallible,
    fmt,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use rmpv::Value;
use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{SeqAccess, Visitor},
    ser::SerializeTuple,
};
use socketioxide::{
    SocketIo,
    extract::{AckSender, Data, SocketRef},
    handler::ConnectHandler,
};
use tokio::net::TcpListener;

/// All the arguments of an event, in order, binary attachments included.
///
/// socketioxide's common parser hands a binary placeholder to the visitor as bytes, and
/// `rmpv::Value` keeps them as `Value::Binary` (a `serde_json::Value` would turn them into
/// arrays of numbers); serializing `Value::Binary` writes a placeholder plus an attachment
/// again. Deserializing as a *tuple* makes the parser hand over every argument (a non-tuple
/// type gets only the first one); serializing as a tuple emits them as separate arguments.
struct Args(Vec<Value>);

impl<'de> Deserialize<'de> for Args {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ArgsVisitor;
        impl<'de> Visitor<'de> for ArgsVisitor {
            type Value = Args;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of event arguments")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Args, A::Error> {
                let mut args = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(v) = seq.next_element()? {
                    args.push(v);
                }
                Ok(Args(args))
            }
        }
        d.deserialize_tuple(usize::MAX, ArgsVisitor)
    }
}

impl Serialize for Args {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(self.0.len())?;
        for v in &self.0 {
            t.serialize_element(v)?;
        }
        t.end()
    }
}

/// Broadcasts that failed for at least one receiver (socketioxide drops the packet for a
/// receiver whose bounded queue, `max_buffer_size` packets, is full).
static BROADCAST_ERRORS: AtomicU64 = AtomicU64::new(0);

fn broadcast_failed(e: impl fmt::Display) {
    let n = BROADCAST_ERRORS.fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_power_of_two() {
        // the error lists one entry per failed receiver: keep the line short
        let e = e.to_string();
        let e = e.get(..160).unwrap_or(&e);
        eprintln!("broadcast errors so far: {n} (latest: {e})");
    }
}

/// Registers the event handlers of namespace `/` on a socket.
///
/// Called from a connect *middleware*, not from the connect handler: in socketioxide 0.18
/// handlers are async and the connect handler runs in a task spawned *after* the CONNECT
/// reply was sent, so a client emitting right on `connect` can race it and have its first
/// events dropped (no handler registered yet). Middlewares are awaited before the socket is
/// added to the namespace and before the CONNECT reply, so registering here loses nothing.
async fn register_handlers(s: SocketRef) -> Result<(), Infallible> {
    s.on(
        "join",
        async |s: SocketRef, ack: AckSender, Data::<String>(room)| {
            s.join(room);
            ack.send(&true).ok();
        },
    );
    s.on(
        "leave",
        async |s: SocketRef, ack: AckSender, Data::<String>(room)| {
            s.leave(room);
            ack.send(&true).ok();
        },
    );
    s.on(
        "broadcast",
        async |io: SocketIo, Data::<(String, String, Value)>((room, event, data))| {
            if let Err(e) = io.to(room).emit(&event, &data).await {
                broadcast_failed(e);
            }
        },
    );
    s.on(
        "broadcast_others",
        async |s: SocketRef, Data::<(String, String, Value)>((room, event, data))| {
            if let Err(e) = s.to(room).emit(&event, &data).await {
                broadcast_failed(e);
            }
        },
    );
    s.on("echo", async |ack: AckSender, Data::<Args>(args)| {
        // without an ack id, send() does nothing
        ack.send(&args).ok();
    });
    Ok(())
}

async fn on_connect(_s: SocketRef) {}

struct Opts {
    port: u16,
    profile: String,
    max_buffer_size: usize,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "{msg}\nusage: socketioxide-peer [--port PORT] [--profile bench|suite] [--max-buffer-size N]"
    );
    std::process::exit(2);
}

fn parse_opts() -> Opts {
    let mut port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let mut profile = std::env::var("PROFILE").unwrap_or_else(|_| "bench".into());
    // socketioxide's own default (engineioxide EngineIoConfig::max_buffer_size)
    let mut max_buffer_size = std::env::var("MAX_BUFFER_SIZE").unwrap_or_else(|_| "128".into());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let slot = match key.as_str() {
            "--port" => &mut port,
            "--profile" => &mut profile,
            "--max-buffer-size" => &mut max_buffer_size,
            "-h" | "--help" => usage("socketioxide peer for the ringcast benchmarks"),
            _ => usage(&format!("unexpected argument: {a}")),
        };
        *slot = match inline.or_else(|| args.next()) {
            Some(v) => v,
            None => usage(&format!("missing value for {key}")),
        };
    }
    let port = port
        .parse()
        .unwrap_or_else(|_| usage(&format!("invalid port: {port}")));
    let max_buffer_size = match max_buffer_size.parse() {
        Ok(n) if n > 0 => n,
        _ => usage(&format!("invalid max buffer size: {max_buffer_size}")),
    };
    if profile != "bench" && profile != "suite" {
        usage(&format!(
            "invalid profile: {profile} (expected bench or suite)"
        ));
    }
    Opts {
        port,
        profile,
        max_buffer_size,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let opts = parse_opts();
    // (pingInterval, pingTimeout, connectTimeout) in ms, as in the conformance spec
    let (ping_interval, ping_timeout, connect_timeout) = match opts.profile.as_str() {
        "suite" => (300, 200, 1000),
        _ => (25_000, 20_000, 45_000),
    };
    let (svc, io) = SocketIo::builder()
        .ping_interval(Duration::from_millis(ping_interval))
        .ping_timeout(Duration::from_millis(ping_timeout))
        .connect_timeout(Duration::from_millis(connect_timeout))
        // the spec's maxPayload (Node's maxHttpBufferSize default); socketioxide's is 100 kB
        .max_payload(1_000_000)
        .max_buffer_size(opts.max_buffer_size)
        .build_svc();
    io.ns("/", on_connect.with(register_handlers));

    let listener = TcpListener::bind(("0.0.0.0", opts.port)).await?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "socketioxide peer listening on port {} (profile {}, max_buffer_size {}, {workers} tokio workers)",
        listener.local_addr()?.port(),
        opts.profile,
        opts.max_buffer_size,
    );

    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // e.g. EMFILE: back off instead of spinning
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        stream.set_nodelay(true).ok();
        let svc = svc.clone();
        tokio::spawn(async move {
            // errors here are the client's (reset, bad request): nothing to do
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}

//! Calling tokio-based crates (here the `redis` crate's async client) from
//! ringcast handlers.
//!
//!   cargo run --example tokio_interop -- 3000 redis://127.0.0.1:6379
//!
//! ringcast's shards are glommio executors; crates such as sqlx, reqwest,
//! tonic or redis-rs need a tokio runtime. The pattern: one tokio runtime
//! on its own threads (2 workers here), its `Handle` in application state,
//! and a handler that spawns the tokio work there and awaits the
//! `JoinHandle` on its shard. A `JoinHandle` is an ordinary future: the
//! tokio worker wakes the shard's task when the work is done (a
//! cross-thread wake), so the shard keeps serving other sockets meanwhile.
//! Cost per call: see docs/benchmarks.md (`cargo bench --bench
//! tokio_bridge`).
//!
//! Client protocol: `emitWithAck("visit", page)` → `{page, visits}`
//! (`INCR visits:<page>` in Redis), or `{error}` when Redis fails.

use std::future::Future;
use std::sync::Arc;

use ringcast::server::{Data, Server, ServerApp};
use serde_json::json;

/// The tokio side: a runtime on its own threads and a Redis connection
/// (multiplexed: one connection shared by every call).
pub(crate) struct Tokio {
    runtime: tokio::runtime::Runtime,
    redis: redis::aio::MultiplexedConnection,
}

impl Tokio {
    /// Starts the runtime and connects to Redis at `url`.
    pub(crate) fn start(url: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tokio-interop")
            .enable_all()
            .build()?;
        let client = redis::Client::open(url)?;
        let redis = runtime.block_on(client.get_multiplexed_async_connection())?;
        Ok(Self { runtime, redis })
    }

    /// Runs `work` on the tokio runtime and awaits its result from any
    /// executor (here a ringcast shard). `Err` when the task panicked or
    /// the runtime is shutting down.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = Result<T, tokio::task::JoinError>> {
        self.runtime.spawn(work)
    }
}

/// The application: `visit` counts page visits in Redis.
pub(crate) fn app(tokio: Tokio) -> ServerApp {
    Server::builder()
        .state(tokio)
        .namespace("/", |ns| {
            ns.on_typed("visit", |socket, page: Data<String>| async move {
                let page = page.args;
                let Some(tokio) = socket.state::<Tokio>() else {
                    return json!({"error": "no tokio runtime"});
                };
                let mut con = tokio.redis.clone();
                let key = format!("visits:{page}");
                let counted = tokio
                    .run(async move {
                        redis::cmd("INCR")
                            .arg(&key)
                            .query_async::<i64>(&mut con)
                            .await
                    })
                    .await;
                match counted {
                    Ok(Ok(visits)) => json!({"page": page, "visits": visits}),
                    Ok(Err(e)) => json!({"error": e.to_string()}),
                    Err(e) => json!({"error": e.to_string()}),
                }
            });
        })
        .build()
}

#[allow(dead_code)] // tests/tokio_interop.rs includes this file for `app()` only
fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    let tokio = match Tokio::start(&url) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tokio_interop: {e}");
            std::process::exit(1);
        }
    };
    let config = ringcast::Config {
        listen: ([0, 0, 0, 0], port).into(),
        ..ringcast::Config::default()
    };
    let app: Arc<dyn ringcast::shard::App> = app(tokio).into_app();
    if let Err(e) = ringcast::runtime::run_until_signal(config, app) {
        eprintln!("tokio_interop: {e}");
        std::process::exit(1);
    }
}

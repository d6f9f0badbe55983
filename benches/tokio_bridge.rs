//! The cost of calling into a tokio runtime from a ringcast shard, the
//! pattern of examples/tokio_interop.rs: a glommio task spawns work on a
//! tokio multi-thread runtime (its own threads) and awaits the
//! `JoinHandle`; the tokio worker wakes the shard's task across threads.
//!
//! - `tokio_spawn_await`: one round trip (spawn an empty future on tokio,
//!   await its handle on the shard), one call at a time: the latency a
//!   handler adds per call;
//! - `tokio_spawn_await_x16`: 16 calls in flight from one shard task, per
//!   call: the throughput when many handlers call at once;
//! - `glommio_spawn_local_await`: the same round trip staying on the shard
//!   (`glommio::spawn_local`), for reference.
//!
//! Run: `cargo bench --bench tokio_bridge` (add `-- --quick` for a short run).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glommio::{LocalExecutorBuilder, Placement};

fn bench(c: &mut Criterion) {
    let runtime = std::sync::Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime"),
    );
    let mut g = c.benchmark_group("tokio_bridge");
    g.throughput(Throughput::Elements(1));
    let rt = runtime.clone();
    g.bench_function("tokio_spawn_await", move |b| {
        b.iter_custom(|iters| {
            let handle = rt.handle().clone();
            run_on_shard(move || async move {
                let start = Instant::now();
                for i in 0..iters {
                    let v = handle.spawn(async move { i }).await.expect("joined");
                    std::hint::black_box(v);
                }
                start.elapsed()
            })
        })
    });
    let rt = runtime.clone();
    g.throughput(Throughput::Elements(16));
    g.bench_function("tokio_spawn_await_x16", move |b| {
        b.iter_custom(|iters| {
            let handle = rt.handle().clone();
            run_on_shard(move || async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let calls: Vec<_> =
                        (0..16u64).map(|i| handle.spawn(async move { i })).collect();
                    for c in calls {
                        std::hint::black_box(c.await.expect("joined"));
                    }
                }
                start.elapsed()
            })
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("glommio_spawn_local_await", |b| {
        b.iter_custom(|iters| {
            run_on_shard(move || async move {
                let start = Instant::now();
                for i in 0..iters {
                    let v = glommio::spawn_local(async move { i }).await;
                    std::hint::black_box(v);
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// Runs `f` to completion on a fresh glommio executor thread.
fn run_on_shard<F>(f: impl FnOnce() -> F + Send + 'static) -> Duration
where
    F: std::future::Future<Output = Duration> + 'static,
{
    LocalExecutorBuilder::new(Placement::Unbound)
        .name("bench-shard")
        .spawn(f)
        .expect("executor starts")
        .join()
        .expect("executor ends")
}

criterion_group!(benches, bench);
criterion_main!(benches);

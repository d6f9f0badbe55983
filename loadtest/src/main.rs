//! `ringcast-load`: a Socket.IO v4 load generator for any socket.io server
//! (ws:// or http://, WebSocket and/or long-polling clients).
//!
//! One event-loop thread per process (`mio`, non-blocking sockets, batched
//! reads into a shared buffer, no per-message allocation on the receive
//! path); beyond `--max-per-process` sockets (or with `--processes`) the
//! run is split over child processes whose results (HdrHistograms included)
//! are merged. See loadtest/README.md.

mod cli;
mod driver;
mod engine;
mod multi;
mod procstat;
mod report;
mod scenario;
mod sio;
mod stats;
mod transport;
mod wire;

use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget};

use cli::{Cli, Cmd, Common};
use driver::{Driver, Side};
use engine::Engine;
use multi::{Children, ParentLink};
use scenario::{Scenario, Share};

fn main() {
    if let Err(e) = real_main() {
        eprintln!("ringcast-load: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    raise_nofile_limit();
    let cmd = cli.cmd;
    let common = cmd.common().clone();
    if !(0.0..=1.0).contains(&common.polling_fraction) {
        bail!("--polling-fraction must be within 0..=1");
    }
    let (index, count) = match &common.child {
        Some(c) => {
            let (i, n) = c.split_once('/').context("--child I/N")?;
            (i.parse()?, n.parse()?)
        }
        None => (0, process_count(&cmd, &common)),
    };
    let share = Share {
        index,
        count,
        polling_fraction: common.polling_fraction,
    };
    let name = cmd.name();
    match cmd {
        Cmd::Fanout(a) => run(
            scenario::fanout::Fanout::new(a, share),
            name,
            &common,
            count,
        ),
        Cmd::Echo(a) => run(scenario::echo::Echo::new(a, share), name, &common, count),
        Cmd::Connect(a) => run(
            scenario::connect::Connect::new(a, share),
            name,
            &common,
            count,
        ),
        Cmd::Idle(a) => run(scenario::idle::Idle::new(a, share), name, &common, count),
    }
}

/// Processes needed so that none holds more than `--max-per-process`
/// sockets (a polling client holds two).
fn process_count(cmd: &Cmd, c: &Common) -> usize {
    let clients = match cmd {
        Cmd::Fanout(a) => a.subscribers + 1,
        Cmd::Echo(a) => a.clients,
        Cmd::Connect(a) if a.churn_seconds.is_some() => a.concurrency,
        Cmd::Connect(a) => a.connections,
        Cmd::Idle(a) => a.connections,
    };
    let sockets = (clients as f64 * (1.0 + c.polling_fraction)).ceil() as usize;
    sockets
        .div_ceil(c.max_per_process.max(1))
        .max(c.processes)
        .max(1)
}

fn run<S: Scenario>(sc: S, name: &'static str, common: &Common, count: usize) -> Result<()> {
    let is_child = common.child.is_some();
    let pids: &[u32] = if is_child { &[] } else { &common.server_pid };
    let targets = cli::parse_targets(&common.url, common.bind, common.auth.as_deref())?;
    let before = procstat::sample_all(pids);
    if !pids.is_empty() && before.is_none() {
        bail!("cannot read /proc/PID/stat and status of every --server-pid {pids:?}");
    }
    let side = if is_child {
        Side::Child(ParentLink::new())
    } else {
        let children = if count > 1 {
            Some(Children::spawn(count, targets[0].addr.ip())?)
        } else {
            None
        };
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(10));
        Side::Parent { children, bar }
    };
    let seed = u64::from(std::process::id()) << 32 ^ stats::now_us();
    let mut eng = Engine::new(targets, common.deflate, seed).context("creating the event loop")?;
    let mut drv = Driver::new(
        sc,
        side,
        common.setup_timeout,
        common.drain_timeout,
        pids.to_vec(),
    );
    drv.sc.start(&mut eng);
    eng.run(&mut drv);
    let mut part = drv.sc.part();
    for (k, v) in &eng.errors {
        *part.errors.entry(k.clone()).or_insert(0) += v;
    }
    if common.deflate {
        let names = ["sockets", "messages", "wire_bytes", "inflated_bytes"];
        for (name, v) in names.iter().zip(eng.deflate_stats) {
            *part
                .counters
                .entry(format!("ws_deflate_{name}"))
                .or_insert(0) += v;
        }
    }
    if let Side::Child(link) = &drv.side {
        link.say(&format!("RESULT {}", serde_json::to_string(&part)?));
        return Ok(());
    }
    if let Some(bar) = drv.bar() {
        bar.finish_and_clear();
    }
    if let Some(children) = drv.take_children() {
        for p in children.collect(Duration::from_secs(30)) {
            part.merge(&p);
        }
    }
    let info = report::RunInfo {
        scenario: name,
        url: &common.url,
        processes: count,
        polling_fraction: common.polling_fraction,
        go_us: drv.go_us,
        end_us: drv.end_us,
        end_reason: drv.end_reason,
        server_pids: pids,
        before,
        at_go: drv.at_go,
        at_end: drv.at_end,
    };
    let m = report::build(&drv.sc, &info, &part);
    report::print(&m, common.json);
    Ok(())
}

/// Raises the soft open-files limit to the hard one.
fn raise_nofile_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

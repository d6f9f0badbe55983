//! The final report: one JSON object (printed as one line with `--json`)
//! and the same fields as a human-readable table.

use std::io::Write;

use serde_json::{json, Map, Value};

use crate::procstat::Sample;
use crate::scenario::Scenario;
use crate::stats::Part;

/// Timings and server samples of a run.
pub(crate) struct RunInfo<'a> {
    pub(crate) scenario: &'static str,
    pub(crate) url: &'a str,
    pub(crate) processes: usize,
    pub(crate) polling_fraction: f64,
    pub(crate) go_us: u64,
    pub(crate) end_us: u64,
    pub(crate) end_reason: &'static str,
    /// `--server-pid`: the processes whose CPU and RSS are summed.
    pub(crate) server_pids: &'a [u32],
    pub(crate) before: Option<Sample>,
    pub(crate) at_go: Option<Sample>,
    pub(crate) at_end: Option<Sample>,
}

/// Builds the report object.
pub(crate) fn build<S: Scenario>(sc: &S, run: &RunInfo<'_>, total: &Part) -> Map<String, Value> {
    let run_s = run.end_us.saturating_sub(run.go_us) as f64 / 1e6;
    // Rates run from GO to the last measured event (the drain wait after it
    // does not count), or to the end of the run when nothing happened.
    let elapsed_s = if total.last_us > run.go_us {
        (total.last_us - run.go_us) as f64 / 1e6
    } else {
        run_s
    };
    let mut m = Map::new();
    m.insert("scenario".into(), json!(run.scenario));
    m.insert("url".into(), json!(run.url));
    m.insert("processes".into(), json!(run.processes));
    m.insert("polling_fraction".into(), json!(run.polling_fraction));
    m.insert("delivered".into(), json!(total.delivered));
    sc.report(total, elapsed_s, &mut m);
    m.insert("duplicated".into(), json!(total.duplicated));
    m.insert("out_of_order".into(), json!(total.out_of_order));
    m.insert("misrouted".into(), json!(total.misrouted));
    m.insert("corrupt".into(), json!(total.corrupt));
    m.insert("connected".into(), json!(total.connected));
    m.insert("connect_failed".into(), json!(total.connect_failed));
    m.insert("dropped".into(), json!(total.dropped));
    for (k, v) in &total.counters {
        m.insert(k.clone(), json!(v));
    }
    m.insert("elapsed_s".into(), json!(round3(elapsed_s)));
    m.insert("run_s".into(), json!(round3(run_s)));
    m.insert("end_reason".into(), json!(run.end_reason));
    m.insert("latency_us".into(), total.latency.summary());
    m.insert("latency_us_polling".into(), total.latency_polling.summary());
    m.insert("connect_us".into(), total.connect.summary());
    m.insert("server_pid".into(), json!(run.server_pids.first()));
    if run.server_pids.len() > 1 {
        m.insert("server_pids".into(), json!(run.server_pids));
    }
    let delivered = m.get("delivered").and_then(Value::as_u64).unwrap_or(0);
    let per_msg = |us: Option<u64>| match us {
        Some(c) if delivered > 0 => json!(round3(c as f64 / delivered as f64)),
        _ => Value::Null,
    };
    let cpu = match (run.at_go, run.at_end) {
        (Some(a), Some(b)) => Some(crate::procstat::cpu_delta_us(&a, &b)),
        _ => None,
    };
    m.insert("server_cpu_us".into(), json!(cpu));
    m.insert("server_cpu_us_per_delivered_msg".into(), per_msg(cpu));
    // The servers' own cores (one core each), interrupt-level work included.
    let core = match (run.at_go, run.at_end) {
        (Some(a), Some(b)) => crate::procstat::core_delta_us(&a, &b),
        _ => None,
    };
    m.insert("server_core_cpu_us".into(), json!(core));
    m.insert("server_core_cpu_us_per_delivered_msg".into(), per_msg(core));
    m.insert(
        "server_cpu_cores".into(),
        match cpu {
            Some(c) if run_s > 0.0 => json!(round3(c as f64 / 1e6 / run_s)),
            _ => Value::Null,
        },
    );
    let conns = sc.connections();
    m.insert(
        "server_rss_before_bytes".into(),
        json!(run.before.map(|s| s.rss_bytes)),
    );
    m.insert(
        "server_rss_bytes".into(),
        json!(run.at_end.map(|s| s.rss_bytes)),
    );
    m.insert(
        "server_rss_bytes_per_connection".into(),
        match (run.before, run.at_end) {
            (Some(b), Some(e)) if conns > 0 => {
                json!(((e.rss_bytes as f64 - b.rss_bytes as f64) / conns as f64).round())
            }
            _ => Value::Null,
        },
    );
    m.insert("errors".into(), json!(total.errors));
    m
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Prints the table (stdout, or stderr with `--json`) and the JSON line.
pub(crate) fn print(m: &Map<String, Value>, json_line: bool) {
    let mut table = String::new();
    for (k, v) in m {
        let shown = match v {
            Value::Object(o) if o.is_empty() => "-".to_owned(),
            Value::Object(o) => o
                .iter()
                .map(|(k, v)| format!("{k} {}", plain(v)))
                .collect::<Vec<_>>()
                .join(", "),
            other => plain(other),
        };
        table.push_str(&format!("  {k:<34} {shown}\n"));
    }
    if json_line {
        eprint!("{table}");
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", Value::Object(m.clone()));
    } else {
        print!("{table}");
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

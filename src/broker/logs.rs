//! The broker's log output (spec broker.md §6): stderr, `text` or `json`
//! (`--log-format`), level from `RUST_LOG` (default `info`).
//!
//! Terminal colour codes are written only when stderr is a terminal: a log
//! collected from a pipe or a file carries no escape bytes. JSON lines are
//! tracing-subscriber's format: one object a line with `timestamp`,
//! `level`, `target` and `fields` (`message` and the event's fields).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the process's log subscriber. Call once, before anything logs.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

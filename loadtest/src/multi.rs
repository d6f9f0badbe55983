//! Multi-process runs. One process can hold about 19,000 sockets (open-files
//! limit 20,000), so beyond `--max-per-process` the parent re-executes
//! itself as children, each with a share of the clients and, against a
//! loopback target, its own source address (127.0.0.2, 127.0.0.3, …) so the
//! ephemeral port range is per process.
//!
//! Line protocol (children's stdout is reserved for it; their stderr is
//! inherited):
//! - child -> parent: `READY` (setup done), `P <connected> <failed>
//!   <delivered> <finished 0|1>` (progress, when it changes),
//!   `RESULT <Part as JSON>` (histograms as base64 HdrHistogram V2).
//! - parent -> child: `GO` (start the measured run), `END` (stop, report).

use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::scenario::Progress;
use crate::stats::Part;

/// What a child said.
#[derive(Debug)]
enum Msg {
    Line(String),
    Exited,
}

#[derive(Debug)]
struct Kid {
    child: Child,
    stdin: Option<ChildStdin>,
    ready: bool,
    exited: bool,
    progress: Progress,
    result: Option<Part>,
}

/// The parent's handle on its children.
#[derive(Debug)]
pub(crate) struct Children {
    kids: Vec<Kid>,
    rx: Receiver<(usize, Msg)>,
}

/// Source address of process `index` (0 = the parent, unbound).
pub(crate) fn source_ip(index: usize, target: IpAddr) -> Option<IpAddr> {
    match target {
        IpAddr::V4(v4) if v4.is_loopback() && index > 0 && index < 254 => {
            Some(IpAddr::from([127, 0, 0, 1 + index as u8]))
        }
        _ => None,
    }
}

impl Children {
    /// Starts processes 1..count with this process's arguments plus
    /// `--child i/count [--bind IP]`.
    pub(crate) fn spawn(count: usize, target: IpAddr) -> Result<Self> {
        let exe = std::env::current_exe().context("current_exe")?;
        let args: Vec<_> = std::env::args_os().skip(1).collect();
        let (tx, rx) = channel();
        let mut kids = Vec::new();
        for i in 1..count {
            let mut cmd = Command::new(&exe);
            cmd.args(&args).arg("--child").arg(format!("{i}/{count}"));
            if let Some(ip) = source_ip(i, target) {
                cmd.arg("--bind").arg(ip.to_string());
            }
            let mut child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .with_context(|| format!("spawning child {i}"))?;
            let stdout = child.stdout.take().context("child stdout")?;
            let tx = tx.clone();
            let idx = kids.len();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((idx, Msg::Line(line))).is_err() {
                        return;
                    }
                }
                let _ = tx.send((idx, Msg::Exited));
            });
            kids.push(Kid {
                stdin: child.stdin.take(),
                child,
                ready: false,
                exited: false,
                progress: Progress::default(),
                result: None,
            });
        }
        Ok(Self { kids, rx })
    }

    fn handle(&mut self, idx: usize, msg: Msg) {
        let k = &mut self.kids[idx];
        match msg {
            Msg::Exited => {
                if k.result.is_none() {
                    eprintln!("ringcast-load: child {} exited without a result", idx + 1);
                }
                k.exited = true;
                k.ready = true;
                k.progress.finished = true;
            }
            Msg::Line(l) if l == "READY" => k.ready = true,
            Msg::Line(l) if l.starts_with("P ") => {
                if let Some(p) = parse_progress(&l[2..]) {
                    k.progress = p;
                }
            }
            Msg::Line(l) if l.starts_with("RESULT ") => match serde_json::from_str(&l[7..]) {
                Ok(p) => k.result = Some(p),
                Err(e) => eprintln!("ringcast-load: bad result from child {}: {e}", idx + 1),
            },
            Msg::Line(l) => eprintln!("ringcast-load: child {}: {l}", idx + 1),
        }
    }

    /// Handles whatever the children said since the last call.
    pub(crate) fn poll(&mut self) {
        while let Ok((i, m)) = self.rx.try_recv() {
            self.handle(i, m);
        }
    }

    pub(crate) fn all_ready(&self) -> bool {
        self.kids.iter().all(|k| k.ready)
    }

    /// Sum of the children's progress (`finished` when all are, low water
    /// the minimum).
    pub(crate) fn progress(&self) -> Progress {
        let mut t = Progress {
            finished: true,
            ..Progress::default()
        };
        for k in &self.kids {
            t.connected += k.progress.connected;
            t.failed += k.progress.failed;
            t.delivered += k.progress.delivered;
            t.finished &= k.progress.finished;
        }
        t
    }

    /// Per-child readiness and exit flags, for `RINGCAST_LOAD_DEBUG`.
    pub(crate) fn debug(&self) -> String {
        self.kids
            .iter()
            .map(|k| format!("[ready {} exited {} {:?}]", k.ready, k.exited, k.progress))
            .collect()
    }

    pub(crate) fn broadcast(&mut self, line: &str) {
        for k in &mut self.kids {
            if let Some(s) = k.stdin.as_mut() {
                let _ = writeln!(s, "{line}").and_then(|()| s.flush());
            }
        }
    }

    /// Waits (up to `timeout`) for every child's result and exit.
    pub(crate) fn collect(mut self, timeout: Duration) -> Vec<Part> {
        let deadline = Instant::now() + timeout;
        while self.kids.iter().any(|k| k.result.is_none() && !k.exited) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok((i, m)) => self.handle(i, m),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        let mut parts = Vec::new();
        for (i, k) in self.kids.iter_mut().enumerate() {
            k.stdin = None;
            match k.result.take() {
                Some(p) => parts.push(p),
                None => {
                    let _ = k.child.kill();
                    let mut p = Part::default();
                    p.errors
                        .insert(format!("child process {} gave no result", i + 1), 1);
                    parts.push(p);
                }
            }
            let _ = k.child.wait();
        }
        parts
    }
}

fn parse_progress(s: &str) -> Option<Progress> {
    let mut f = s.split(' ').map(str::parse::<u64>);
    Some(Progress {
        connected: f.next()?.ok()?,
        failed: f.next()?.ok()?,
        delivered: f.next()?.ok()?,
        finished: f.next()?.ok()? == 1,
    })
}

/// Formats a progress line for the parent.
pub(crate) fn progress_line(p: &Progress) -> String {
    format!(
        "P {} {} {} {}",
        p.connected,
        p.failed,
        p.delivered,
        u8::from(p.finished)
    )
}

/// A child's view of its parent: the lines arriving on stdin.
pub(crate) struct ParentLink {
    rx: Receiver<String>,
}

impl ParentLink {
    pub(crate) fn new() -> Self {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    return;
                }
            }
            let _ = tx.send("END".to_owned());
        });
        Self { rx }
    }

    /// The next command, if one arrived.
    pub(crate) fn try_recv(&self) -> Option<String> {
        self.rx.try_recv().ok()
    }

    /// Writes a protocol line to the parent.
    pub(crate) fn say(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_roundtrip() {
        let p = Progress {
            connected: 5,
            failed: 1,
            delivered: 99,
            finished: true,
        };
        let l = progress_line(&p);
        assert_eq!(parse_progress(&l[2..]), Some(p));
        assert_eq!(
            source_ip(2, "127.0.0.1".parse().unwrap()),
            Some("127.0.0.3".parse().unwrap())
        );
        assert_eq!(source_ip(0, "127.0.0.1".parse().unwrap()), None);
        assert_eq!(source_ip(1, "10.0.0.1".parse().unwrap()), None);
    }
}

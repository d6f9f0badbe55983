//! `connect`: a storm (N connections, at most K being established at once;
//! fully connected = Socket.IO CONNECT acked with `40{"sid"…}`), held until
//! the end of the run so the server's RSS can be read with all of them;
//! or, with `--churn-seconds S`, K loops of connect / CONNECT ack /
//! disconnect for S seconds (cycles per second).

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::fanout::rate;
use super::{Connector, Progress, Scenario, Share};
use crate::cli::ConnectArgs;
use crate::engine::Engine;
use crate::stats::{now_us, Part};

pub(crate) struct Connect {
    a: ConnectArgs,
    share: Share,
    cids: Vec<usize>,
    conn: Connector,
    part: Part,
    running: bool,
    go_us: u64,
    churn_over: bool,
}

impl Connect {
    pub(crate) fn new(a: ConnectArgs, share: Share) -> Self {
        let k = share.split(a.concurrency);
        Self {
            a,
            share,
            cids: Vec::new(),
            conn: Connector::new(k),
            part: Part::default(),
            running: false,
            go_us: 0,
            churn_over: false,
        }
    }

    fn churn_us(&self) -> Option<u64> {
        self.a.churn_seconds.map(|s| (s * 1e6) as u64)
    }
}

impl Scenario for Connect {
    fn start(&mut self, eng: &mut Engine) {
        // Churn reuses K clients; a storm has one client per connection.
        let n = if self.a.churn_seconds.is_some() {
            self.a.concurrency
        } else {
            self.a.connections
        };
        for g in self.share.range(n) {
            self.cids.push(eng.add_client(self.share.kind(g)));
        }
    }

    fn on_connected(&mut self, eng: &mut Engine, cid: usize) {
        let Some(_) = self.conn.connected(cid) else {
            return;
        };
        let now = now_us();
        self.part.touch(now);
        if self.churn_us().is_some() {
            self.part.cycles += 1;
            eng.disconnect(cid);
            if !self.churn_over {
                self.conn.push(cid);
            }
        } else {
            self.part.delivered += 1;
        }
        self.conn.pump(eng);
    }

    fn on_event(&mut self, _eng: &mut Engine, _cid: usize, _name: &[u8], _args: &[u8]) {}

    fn on_ack(&mut self, _eng: &mut Engine, _cid: usize, _id: u64, _args: &[u8]) {}

    fn on_closed(&mut self, eng: &mut Engine, cid: usize, _reason: &str) {
        if self.conn.closed(cid) {
            if self.churn_us().is_some() && !self.churn_over {
                self.conn.push(cid);
            }
            self.conn.pump(eng);
        } else {
            self.part.dropped += 1;
        }
    }

    fn tick(&mut self, _eng: &mut Engine, _now: Instant) -> Duration {
        if let (Some(s), true) = (self.churn_us(), self.running) {
            if now_us().saturating_sub(self.go_us) >= s {
                self.churn_over = true;
            }
        }
        Duration::from_millis(10)
    }

    fn ready(&self) -> bool {
        true
    }

    fn go(&mut self, eng: &mut Engine, _now: Instant) {
        self.running = true;
        self.go_us = now_us();
        for &cid in self.cids.iter().rev() {
            self.conn.push(cid);
        }
        self.conn.pump(eng);
    }

    fn progress(&self) -> Progress {
        let finished = self.running
            && if self.churn_us().is_some() {
                self.churn_over
            } else {
                self.conn.idle()
            };
        Progress {
            connected: self.conn.connected,
            failed: self.conn.failed,
            delivered: if self.churn_us().is_some() {
                self.part.cycles
            } else {
                self.part.delivered
            },
            finished,
        }
    }

    fn live(&self, total: u64, secs: f64) -> String {
        let rate = if secs > 0.0 { total as f64 / secs } else { 0.0 };
        let what = if self.churn_us().is_some() {
            "cycles"
        } else {
            "connections"
        };
        format!("{total} {what}, {rate:.0}/s")
    }

    fn stalls(&self) -> bool {
        self.churn_us().is_none()
    }

    fn stop(&mut self, eng: &mut Engine) {
        for &cid in &self.cids {
            eng.disconnect(cid);
        }
    }

    fn part(&self) -> Part {
        let mut p = self.part.clone();
        p.connected = self.conn.connected;
        p.connect_failed = self.conn.failed;
        p.latency = self.conn.hist.clone();
        p.connect = self.conn.hist.clone();
        p
    }

    fn report(&self, total: &Part, elapsed_s: f64, out: &mut Map<String, Value>) {
        out.insert("concurrency".into(), json!(self.a.concurrency));
        if let Some(s) = self.a.churn_seconds {
            out.insert("expected".into(), Value::Null);
            out.insert("delivered".into(), json!(total.cycles));
            out.insert("churn_seconds".into(), json!(s));
            out.insert("cycles".into(), json!(total.cycles));
            out.insert("cycles_per_s".into(), rate(total.cycles, s));
            out.insert("delivered_per_s".into(), rate(total.cycles, s));
        } else {
            out.insert("expected".into(), json!(self.a.connections));
            out.insert("connections".into(), json!(self.a.connections));
            out.insert("connections_per_s".into(), rate(total.delivered, elapsed_s));
            out.insert("delivered_per_s".into(), rate(total.delivered, elapsed_s));
        }
    }

    fn connections(&self) -> u64 {
        if self.a.churn_seconds.is_some() {
            self.a.concurrency as u64
        } else {
            self.a.connections as u64
        }
    }
}

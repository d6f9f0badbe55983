//! `idle`: connect N clients, then hold them for S seconds (the engine
//! answers the server's pings) and count how many the server dropped. With
//! `--server-pid` the report has the server's RSS per connection.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::{Connector, Progress, Scenario, Share};
use crate::cli::IdleArgs;
use crate::engine::{Engine, State};
use crate::stats::{now_us, Part};

pub(crate) struct Idle {
    a: IdleArgs,
    share: Share,
    cids: Vec<usize>,
    conn: Connector,
    part: Part,
    go_us: Option<u64>,
    held: bool,
}

impl Idle {
    pub(crate) fn new(a: IdleArgs, share: Share) -> Self {
        let limit = a.common.connect_concurrency;
        Self {
            a,
            share,
            cids: Vec::new(),
            conn: Connector::new(limit),
            part: Part::default(),
            go_us: None,
            held: false,
        }
    }
}

impl Scenario for Idle {
    fn start(&mut self, eng: &mut Engine) {
        for g in self.share.range(self.a.connections) {
            self.cids.push(eng.add_client(self.share.kind(g)));
        }
        for &cid in self.cids.iter().rev() {
            self.conn.push(cid);
        }
        self.conn.pump(eng);
    }

    fn on_connected(&mut self, eng: &mut Engine, cid: usize) {
        self.conn.connected(cid);
        self.conn.pump(eng);
    }

    fn on_event(&mut self, _eng: &mut Engine, _cid: usize, _name: &[u8], _args: &[u8]) {}

    fn on_ack(&mut self, _eng: &mut Engine, _cid: usize, _id: u64, _args: &[u8]) {}

    fn on_closed(&mut self, eng: &mut Engine, cid: usize, _reason: &str) {
        if self.conn.closed(cid) {
            self.conn.pump(eng);
        } else {
            self.part.dropped += 1;
        }
    }

    fn tick(&mut self, eng: &mut Engine, _now: Instant) -> Duration {
        if let Some(go) = self.go_us {
            let now = now_us();
            if !self.held && now.saturating_sub(go) as f64 >= self.a.hold_seconds * 1e6 {
                self.held = true;
                self.part.delivered = self
                    .cids
                    .iter()
                    .filter(|&&c| eng.clients[c].state == State::Connected)
                    .count() as u64;
                self.part.touch(now);
            }
        }
        Duration::from_millis(100)
    }

    fn ready(&self) -> bool {
        self.conn.idle()
    }

    fn go(&mut self, _eng: &mut Engine, _now: Instant) {
        let now = now_us();
        self.go_us = Some(now);
        self.part.touch(now);
    }

    fn progress(&self) -> Progress {
        Progress {
            connected: self.conn.connected,
            failed: self.conn.failed,
            delivered: self.conn.connected - self.part.dropped.min(self.conn.connected),
            finished: self.held,
        }
    }

    fn live(&self, total: u64, secs: f64) -> String {
        format!(
            "holding {total} connections, {secs:.0}/{:.0} s",
            self.a.hold_seconds
        )
    }

    fn stalls(&self) -> bool {
        false
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
        p.connect = self.conn.hist.clone();
        p.latency = self.conn.hist.clone();
        p
    }

    fn report(&self, _total: &Part, _elapsed_s: f64, out: &mut Map<String, Value>) {
        out.insert("expected".into(), json!(self.a.connections));
        out.insert("connections".into(), json!(self.a.connections));
        out.insert("hold_seconds".into(), json!(self.a.hold_seconds));
        out.insert("delivered_per_s".into(), Value::Null);
    }

    fn connections(&self) -> u64 {
        self.a.connections as u64
    }
}

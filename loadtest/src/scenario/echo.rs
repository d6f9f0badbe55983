//! `echo`: C clients, each doing K sequential `echo`(stamp, ack) calls;
//! the RTT of every call goes into the histogram and the ack must carry the
//! stamp that was sent.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::fanout::rate;
use super::{Connector, Progress, Scenario, Share};
use crate::cli::EchoArgs;
use crate::engine::{Engine, Kind};
use crate::sio;
use crate::stats::{now_us, Part};

#[derive(Debug, Clone, Copy, Default)]
struct Caller {
    connected: bool,
    done: u64,
    sent_us: u64,
    waiting: bool,
    gone: bool,
}

pub(crate) struct Echo {
    a: EchoArgs,
    share: Share,
    cids: Vec<usize>,
    callers: Vec<Caller>,
    conn: Connector,
    part: Part,
    running: bool,
    active: usize,
    buf: Vec<u8>,
}

impl Echo {
    pub(crate) fn new(a: EchoArgs, share: Share) -> Self {
        let limit = a.common.connect_concurrency;
        Self {
            a,
            share,
            cids: Vec::new(),
            callers: Vec::new(),
            conn: Connector::new(limit),
            part: Part::default(),
            running: false,
            active: 0,
            buf: Vec::with_capacity(256),
        }
    }

    fn call(&mut self, eng: &mut Engine, cid: usize) {
        let c = &mut self.callers[cid];
        let now = now_us();
        c.sent_us = now;
        c.waiting = true;
        let ack = c.done + 1;
        self.buf.clear();
        sio::event_head(&mut self.buf, Some(ack), "echo");
        self.buf.push(b',');
        sio::write_stamp(&mut self.buf, cid as u64, now, self.a.payload);
        self.buf.push(b']');
        eng.send(cid, &self.buf);
    }

    /// A caller stops (done or gone).
    fn retire(&mut self) {
        self.active -= 1;
    }
}

impl Scenario for Echo {
    fn start(&mut self, eng: &mut Engine) {
        for g in self.share.range(self.a.clients) {
            let cid = eng.add_client(self.share.kind(g));
            self.cids.push(cid);
        }
        self.callers = vec![Caller::default(); eng.clients.len()];
        for &cid in self.cids.iter().rev() {
            self.conn.push(cid);
        }
        self.conn.pump(eng);
    }

    fn on_connected(&mut self, eng: &mut Engine, cid: usize) {
        self.conn.connected(cid);
        self.callers[cid].connected = true;
        self.conn.pump(eng);
    }

    fn on_event(&mut self, _eng: &mut Engine, _cid: usize, _name: &[u8], _args: &[u8]) {}

    fn on_ack(&mut self, eng: &mut Engine, cid: usize, id: u64, args: &[u8]) {
        let now = now_us();
        let k = self.a.requests;
        let c = &mut self.callers[cid];
        if !c.waiting || id != c.done + 1 {
            self.part.corrupt += 1;
            return;
        }
        c.waiting = false;
        c.done += 1;
        if sio::scan_stamp(args) != Some((cid as u64, c.sent_us)) {
            self.part.corrupt += 1;
        }
        self.part.delivered += 1;
        self.part.touch(now);
        self.part.latency.record(now.saturating_sub(c.sent_us));
        if eng.clients[cid].kind == Kind::Polling {
            self.part
                .latency_polling
                .record(now.saturating_sub(c.sent_us));
        }
        if c.done < k {
            self.call(eng, cid);
        } else {
            self.retire();
        }
    }

    fn on_closed(&mut self, eng: &mut Engine, cid: usize, _reason: &str) {
        if self.conn.closed(cid) {
            self.conn.pump(eng);
            return;
        }
        self.part.dropped += 1;
        let c = &mut self.callers[cid];
        c.gone = true;
        if self.running && c.done < self.a.requests {
            self.retire();
        }
    }

    fn tick(&mut self, _eng: &mut Engine, _now: Instant) -> Duration {
        Duration::from_millis(20)
    }

    fn ready(&self) -> bool {
        self.conn.idle()
    }

    fn go(&mut self, eng: &mut Engine, _now: Instant) {
        self.running = true;
        for i in 0..self.cids.len() {
            let cid = self.cids[i];
            let c = self.callers[cid];
            if c.connected && !c.gone && self.a.requests > 0 {
                self.active += 1;
                self.call(eng, cid);
            }
        }
    }

    fn progress(&self) -> Progress {
        Progress {
            connected: self.conn.connected,
            failed: self.conn.failed,
            delivered: self.part.delivered,
            finished: self.running && self.active == 0,
        }
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
        p
    }

    fn report(&self, total: &Part, elapsed_s: f64, out: &mut Map<String, Value>) {
        let expected = self.a.clients as u64 * self.a.requests;
        out.insert("expected".into(), json!(expected));
        out.insert(
            "lost".into(),
            json!(expected.saturating_sub(total.delivered)),
        );
        out.insert("clients".into(), json!(self.a.clients));
        out.insert("requests_per_client".into(), json!(self.a.requests));
        out.insert("payload_bytes".into(), json!(self.a.payload));
        out.insert("delivered_per_s".into(), rate(total.delivered, elapsed_s));
        out.insert("requests_per_s".into(), rate(total.delivered, elapsed_s));
    }

    fn connections(&self) -> u64 {
        self.a.clients as u64
    }
}

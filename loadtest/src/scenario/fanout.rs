//! `fanout`: N subscribers over R rooms (subscriber g joins `room-{g % R}`
//! and waits for the ack), one publisher that is in no room sending M
//! `broadcast`(room, "msg", {"s":seq,"t":µs,"p":pad}) round-robin over the
//! rooms (message s goes to room s % R), at a fixed rate or as fast as the
//! in-flight window allows.
//!
//! In flight = published but not yet delivered to the whole room, tracked
//! by counting deliveries: the deliveries the published messages call for
//! (room sizes) minus those counted by every process (children report
//! theirs every few milliseconds), divided by the mean room size. A
//! subscriber that stops receiving therefore slows the publisher only in
//! proportion to its share, and a run that stops progressing ends after
//! `--drain-timeout` with the rest counted as lost. Every subscriber keeps
//! one bit per message of its room: a second copy is a duplicate, a
//! sequence below the highest one seen is out of order.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::api::ApiPublisher;
use super::{room_name, Connector, Progress, Scenario, Share};
use crate::cli::{FanoutArgs, Pad};
use crate::engine::{Engine, Kind};
use crate::sio;
use crate::stats::{now_us, Part};

const PUBLISHER: u32 = u32::MAX;
const NONE: u32 = u32::MAX - 1;

#[derive(Debug)]
struct Sub {
    room: u32,
    joined: bool,
    polling: bool,
    /// Messages received (first copies).
    got: u64,
    /// Highest in-room index seen, -1 before the first message.
    max_idx: i64,
    seen: Vec<u64>,
}

pub(crate) struct Fanout {
    a: FanoutArgs,
    share: Share,
    subs: Vec<Sub>,
    /// cid -> local subscriber index (or PUBLISHER / NONE).
    owner: Vec<u32>,
    cids: Vec<usize>,
    publisher: Option<usize>,
    conn: Connector,
    pending_joins: u64,
    /// Deliveries this process expects for all M messages.
    expected_local: u64,
    /// Joined local subscribers per room.
    members: Vec<u64>,
    room_names: Vec<String>,
    part: Part,
    running: bool,
    go_us: u64,
    last_publish_us: u64,
    published: u64,
    /// Deliveries the published messages call for (intended room sizes).
    published_deliveries: u64,
    remote_delivered: u64,
    publisher_lost: bool,
    buf: Vec<u8>,
    /// `--api`: the HTTP publisher (parent only), started at GO.
    api: Option<ApiPublisher>,
    /// `--api`: requests accepted / failed when the run ended.
    api_done: (u64, u64),
}

impl Fanout {
    pub(crate) fn new(a: FanoutArgs, share: Share) -> Self {
        let limit = a.common.connect_concurrency;
        Self {
            a,
            share,
            subs: Vec::new(),
            owner: Vec::new(),
            cids: Vec::new(),
            publisher: None,
            conn: Connector::new(limit),
            pending_joins: 0,
            expected_local: 0,
            members: Vec::new(),
            room_names: Vec::new(),
            part: Part::default(),
            running: false,
            go_us: 0,
            last_publish_us: 0,
            published: 0,
            published_deliveries: 0,
            remote_delivered: 0,
            publisher_lost: false,
            buf: Vec::with_capacity(256),
            api: None,
            api_done: (0, 0),
        }
    }

    fn rooms(&self) -> u64 {
        self.a.rooms.max(1) as u64
    }

    /// Subscribers of room `r` (all processes, as intended).
    fn room_size(&self, r: u64) -> u64 {
        let (n, rooms) = (self.a.subscribers as u64, self.rooms());
        n / rooms + u64::from(r < n % rooms)
    }

    /// Messages in flight, estimated from delivery counts.
    fn in_flight(&self) -> u64 {
        let delivered = self.part.delivered + self.remote_delivered;
        let outstanding = self.published_deliveries.saturating_sub(delivered);
        let mean_room = (self.a.subscribers as u64 / self.rooms()).max(1);
        outstanding.div_ceil(mean_room)
    }

    fn publish(&mut self, eng: &mut Engine, cid: usize, now: u64) {
        let seq = self.published;
        let room = (seq % self.rooms()) as usize;
        self.buf.clear();
        if let Some(api) = &self.api {
            self.buf.extend_from_slice(br#"{"rooms":[""#);
            self.buf.extend_from_slice(self.room_names[room].as_bytes());
            self.buf.extend_from_slice(br#""],"event":"msg","args":["#);
            sio::write_stamp_padded(
                &mut self.buf,
                seq,
                now,
                self.a.payload,
                self.a.pad == Pad::Text,
            );
            self.buf.extend_from_slice(b"]}");
            api.send(self.buf.clone());
            self.published_deliveries += self.room_size(room as u64);
            self.last_publish_us = now;
            self.published += 1;
            return;
        }
        sio::event_head(&mut self.buf, None, "broadcast");
        self.buf.extend_from_slice(b",\"");
        self.buf.extend_from_slice(self.room_names[room].as_bytes());
        self.buf.extend_from_slice(b"\",\"msg\",");
        sio::write_stamp_padded(
            &mut self.buf,
            seq,
            now,
            self.a.payload,
            self.a.pad == Pad::Text,
        );
        self.buf.push(b']');
        eng.send(cid, &self.buf);
        self.published_deliveries += self.room_size(room as u64);
        self.last_publish_us = now;
        self.published += 1;
    }
}

impl Scenario for Fanout {
    fn start(&mut self, eng: &mut Engine) {
        let rooms = self.rooms() as usize;
        self.members = vec![0; rooms];
        self.room_names = (0..rooms).map(room_name).collect();
        if self.share.is_parent() {
            let cid = eng.add_client(Kind::WebSocket);
            self.owner.push(PUBLISHER);
            self.publisher = Some(cid);
        }
        for g in self.share.range(self.a.subscribers) {
            let kind = self.share.kind(g);
            let cid = eng.add_client(kind);
            self.owner.resize(cid + 1, NONE);
            self.owner[cid] = self.subs.len() as u32;
            self.cids.push(cid);
            self.subs.push(Sub {
                room: (g % rooms) as u32,
                joined: false,
                polling: kind == Kind::Polling,
                got: 0,
                max_idx: -1,
                seen: Vec::new(),
            });
        }
        for &cid in self.cids.iter().rev() {
            self.conn.push(cid);
        }
        if let Some(p) = self.publisher {
            // The queue pops from the end: the publisher connects first.
            self.conn.push(p);
        }
        self.conn.pump(eng);
    }

    fn on_connected(&mut self, eng: &mut Engine, cid: usize) {
        self.conn.connected(cid);
        self.conn.pump(eng);
        let i = self.owner[cid];
        if i == PUBLISHER || i == NONE {
            return;
        }
        let room = room_name(self.subs[i as usize].room as usize);
        let mut s = String::new();
        ringcast_proto::socketio::encode_event(
            &mut s,
            "/",
            Some(1),
            "join",
            &[Value::String(room)],
            0,
        );
        eng.send(cid, s.as_bytes());
        self.pending_joins += 1;
    }

    fn on_ack(&mut self, _eng: &mut Engine, cid: usize, id: u64, args: &[u8]) {
        let i = self.owner[cid];
        if i == PUBLISHER || i == NONE || id != 1 {
            return;
        }
        // Ready to receive from the ack on: the publisher may start (GO)
        // before this process hears of it.
        let rooms = self.rooms();
        let m = self.a.messages;
        let sub = &mut self.subs[i as usize];
        if !sub.joined {
            sub.joined = true;
            sub.seen = vec![0; m.div_ceil(rooms).div_ceil(64) as usize];
            let r = u64::from(sub.room);
            self.members[r as usize] += 1;
            self.expected_local += m / rooms + u64::from(r < m % rooms);
            self.pending_joins -= 1;
            if args != b"true" {
                self.part.corrupt += 1;
            }
        }
    }

    fn on_event(&mut self, _eng: &mut Engine, cid: usize, name: &[u8], args: &[u8]) {
        if name != b"msg" {
            return;
        }
        let i = self.owner[cid];
        if i == PUBLISHER || i == NONE || !self.subs[i as usize].joined {
            self.part.misrouted += 1;
            return;
        }
        let now = now_us();
        let Some((seq, t)) = sio::scan_stamp(args).filter(|&(s, _)| s < self.a.messages) else {
            self.part.corrupt += 1;
            return;
        };
        let rooms = self.rooms();
        let sub = &mut self.subs[i as usize];
        if seq % rooms != u64::from(sub.room) {
            self.part.misrouted += 1;
            return;
        }
        let idx = (seq / rooms) as usize;
        let (word, bit) = (idx / 64, 1u64 << (idx % 64));
        if sub.seen[word] & bit != 0 {
            self.part.duplicated += 1;
            return;
        }
        sub.seen[word] |= bit;
        sub.got += 1;
        if (idx as i64) < sub.max_idx {
            self.part.out_of_order += 1;
        } else {
            sub.max_idx = idx as i64;
        }
        self.part.delivered += 1;
        self.part.touch(now);
        self.part.latency.record(now.saturating_sub(t));
        if sub.polling {
            self.part.latency_polling.record(now.saturating_sub(t));
        }
    }

    fn on_closed(&mut self, eng: &mut Engine, cid: usize, _reason: &str) {
        if self.conn.closed(cid) {
            self.conn.pump(eng);
            return;
        }
        self.part.dropped += 1;
        match self.owner[cid] {
            PUBLISHER => self.publisher_lost = true,
            NONE => {}
            i if !self.subs[i as usize].joined && !self.running => self.pending_joins -= 1,
            _ => {}
        }
    }

    fn tick(&mut self, eng: &mut Engine, now: Instant) -> Duration {
        let idle = Duration::from_millis(20);
        let (Some(cid), true) = (self.publisher, self.running) else {
            return idle;
        };
        if self.publisher_lost || self.published >= self.a.messages {
            return idle;
        }
        let t = now_us();
        let mut due = self.a.messages;
        let mut wait = Duration::from_millis(1);
        if let Some(rate) = self.a.rate {
            let elapsed = t.saturating_sub(self.go_us) as f64 / 1e6;
            due = due.min((elapsed * rate) as u64 + 1);
            let next = (due as f64 / rate - elapsed).max(0.0);
            wait = Duration::from_secs_f64(next.min(0.005));
        }
        while self.published < due && self.in_flight() < self.a.window.max(1) {
            self.publish(eng, cid, t);
        }
        let _ = now;
        wait
    }

    fn ready(&self) -> bool {
        self.conn.idle() && self.pending_joins == 0
    }

    fn go(&mut self, _eng: &mut Engine, _now: Instant) {
        if let (Some(url), true) = (&self.a.api, self.share.is_parent()) {
            match ApiPublisher::start(url, &self.a.api_key, self.a.api_inflight) {
                Ok(p) => self.api = Some(p),
                Err(e) => {
                    eprintln!("ringcast-load: {e:#}");
                    self.publisher_lost = true;
                }
            }
        }
        self.go_us = now_us();
        self.running = true;
    }

    fn progress(&self) -> Progress {
        let publishing =
            self.publisher.is_some() && !self.publisher_lost && self.published < self.a.messages;
        Progress {
            connected: self.conn.connected,
            failed: self.conn.failed,
            delivered: self.part.delivered,
            finished: self.running && !publishing && self.part.delivered >= self.expected_local,
        }
    }

    fn set_remote_delivered(&mut self, n: u64) {
        self.remote_delivered = n;
    }

    fn stop(&mut self, eng: &mut Engine) {
        if let Some(api) = &mut self.api {
            api.finish();
            self.api_done = (api.accepted(), api.failed());
        }
        for cid in self.cids.iter().copied().chain(self.publisher) {
            eng.disconnect(cid);
        }
    }

    fn part(&self) -> Part {
        let mut p = self.part.clone();
        p.room_members.clone_from(&self.members);
        p.connected = self.conn.connected;
        p.connect_failed = self.conn.failed;
        p.connect = self.conn.hist.clone();
        // Subscribers that got nothing, or less than the best-served
        // subscriber of their room in this process.
        let mut best = vec![0u64; self.rooms() as usize];
        for s in self.subs.iter().filter(|s| s.joined) {
            best[s.room as usize] = best[s.room as usize].max(s.got);
        }
        for s in self.subs.iter().filter(|s| s.joined) {
            let t = if s.polling { "polling" } else { "websocket" };
            let b = best[s.room as usize];
            if s.got == 0 && b > 0 {
                *p.counters
                    .entry(format!("subscribers_silent_{t}"))
                    .or_insert(0) += 1;
            } else if s.got < b {
                *p.counters
                    .entry(format!("subscribers_partial_{t}"))
                    .or_insert(0) += 1;
            }
        }
        p
    }

    fn report(&self, total: &Part, elapsed_s: f64, out: &mut Map<String, Value>) {
        let rooms = self.rooms();
        let p = self.published;
        let expected: u64 = (0..rooms)
            .map(|r| {
                total.room_members.get(r as usize).copied().unwrap_or(0)
                    * (p / rooms + u64::from(r < p % rooms))
            })
            .sum();
        let joined: u64 = total.room_members.iter().sum();
        let publish_s = self.last_publish_us.saturating_sub(self.go_us) as f64 / 1e6;
        out.insert("expected".into(), json!(expected));
        out.insert(
            "lost".into(),
            json!(expected.saturating_sub(total.delivered)),
        );
        out.insert("published".into(), json!(p));
        out.insert("publish_rate_per_s".into(), json!(rate(p, publish_s)));
        out.insert("subscribers".into(), json!(self.a.subscribers));
        out.insert("subscribers_joined".into(), json!(joined));
        out.insert("rooms".into(), json!(rooms));
        out.insert("messages".into(), json!(self.a.messages));
        out.insert("payload_bytes".into(), json!(self.a.payload));
        out.insert(
            "pad".into(),
            json!(if self.a.pad == Pad::Text { "text" } else { "x" }),
        );
        out.insert("window".into(), json!(self.a.window));
        out.insert("rate".into(), json!(self.a.rate));
        if let Some(api) = &self.api {
            let (ok, failed) = self.api_done;
            out.insert("api_inflight".into(), json!(self.a.api_inflight));
            out.insert("api_accepted".into(), json!(ok));
            out.insert("api_failed".into(), json!(failed));
            out.insert("api_accepted_per_s".into(), json!(rate(ok, elapsed_s)));
            out.insert("api_errors".into(), json!(api.errors()));
            out.insert("api_request_us".into(), api.request_us().summary());
        }
        out.insert(
            "delivered_per_s".into(),
            json!(rate(total.delivered, elapsed_s)),
        );
    }

    fn connections(&self) -> u64 {
        self.a.subscribers as u64 + 1
    }
}

/// `n / secs`, rounded, `null` for an empty interval.
pub(crate) fn rate(n: u64, secs: f64) -> Value {
    if secs > 0.0 {
        json!((n as f64 / secs).round())
    } else {
        Value::Null
    }
}

//! Connection state recovery across nodes, the bridge's part
//! (`crate::shard::recovery_cluster` has the design and the exactly-once
//! argument): offsets on published broadcasts, and the session records in
//! Redis.
//!
//! - A broadcast with an offset is published with the offset moved from
//!   the packet's last argument to `opts.flags.ringcastOffset` ([`OFFSET_FLAG`];
//!   Node nodes ignore unknown flags and deliver the packet unchanged); a
//!   node with recovery on appends it again on receipt and hands the shards
//!   the offset, so every node keeps the packet under the same one.
//! - `KeepSession`: `SET ringcast:session:<pid> <record> PX <ttl>`;
//!   `DropSession`: `DEL`; `TakeSession`: `GETDEL`, answered to the shard
//!   that asked with the decoded record, or `None` (nil, undecodable, or no
//!   answer within [`TAKE_TIMEOUT`]: Redis unreachable).
//! - The record is a msgpack map (cluster-wire's codec): `v` (1), `pid`,
//!   `sid`, `nsp` (the name: indices differ between nodes), `rooms`,
//!   `data` (JSON text or nil), `wm` (offsets: the watermark as
//!   `<node>.<origin>.<seq>`), `tail` (`[offset, adapter packet]` pairs),
//!   `by` (the node that wrote it: where the socket last lived).

use std::time::Instant;

use bytes::Bytes;
use ringcast_cluster_wire::{decode, encode, Packet, Value};

use super::super::convert::{msg_to_packet, packet_to_msg};
use super::{Action, Core, OpResult, ToShard};
use crate::shard::recovery::Offset;
use crate::shard::recovery_cluster::{session_key, SessionRecord, TAKE_TIMEOUT};

/// The broadcast flag carrying a packet's offset between ringcast nodes.
pub(crate) const OFFSET_FLAG: &str = "ringcastOffset";

/// A `GETDEL` waiting for Redis.
pub(super) struct Take {
    origin: usize,
    token: u64,
    deadline: Instant,
}

/// Moves the offset of an outgoing broadcast from the packet's last
/// argument into `flags`; None when it is not there (left unchanged).
pub(super) fn strip_offset(packet: &mut Packet, offset: Offset) -> Option<Value> {
    let s = offset.encode();
    match packet.data.last() {
        Some(Value::Str(last)) if *last == s => {
            packet.data.pop();
            Some(Value::Str(s))
        }
        _ => None,
    }
}

/// The offset of an incoming broadcast's flag, appended back to its packet.
pub(super) fn restore_offset(packet: &mut Packet, flag: Option<&Value>) -> Option<Offset> {
    let s = flag?.as_str()?;
    let offset = Offset::parse(s)?;
    packet.data.push(Value::Str(s.to_owned()));
    Some(offset)
}

fn strs(items: &[Box<str>]) -> Value {
    Value::Array(items.iter().map(|s| Value::Str(s.to_string())).collect())
}

fn read_strs(v: Option<&Value>) -> Option<Vec<Box<str>>> {
    v?.as_array()?
        .iter()
        .map(|x| x.as_str().map(Into::into))
        .collect()
}

/// The record's bytes (`nsp` named `name`).
pub(super) fn encode_record(name: &str, r: &SessionRecord) -> Option<Bytes> {
    let wm = r
        .watermark
        .iter()
        .map(|&((node, origin), seq)| Value::Str(Offset { node, origin, seq }.encode()))
        .collect();
    let mut tail = Vec::with_capacity(r.tail.len());
    for (o, m) in &r.tail {
        let p = msg_to_packet(name, m)?;
        tail.push(Value::Array(vec![Value::Str(o.encode()), p.to_value()]));
    }
    let data = match &r.data {
        Some(d) => Value::Str(d.to_string()),
        None => Value::Nil,
    };
    let v = Value::map([
        ("v", Value::Int(1)),
        ("pid", Value::Str(r.pid.to_string())),
        ("sid", Value::Str(r.sid.to_string())),
        ("nsp", Value::Str(name.to_owned())),
        ("rooms", strs(&r.rooms)),
        ("data", data),
        ("wm", Value::Array(wm)),
        ("tail", Value::Array(tail)),
        (
            "by",
            r.writer.map_or(Value::Nil, |n| Value::Int(i64::from(n))),
        ),
    ]);
    encode(&v).ok()
}

impl Core {
    /// Publishes a vanished socket's session.
    pub(super) fn keep_session(&self, r: &SessionRecord) {
        if !self.redis {
            return;
        }
        let Some((name, _)) = self.nsps.get(r.nsp as usize) else {
            return;
        };
        let Some(value) = encode_record(name, r) else {
            return tracing::warn!("cannot encode a recovery session");
        };
        let key = session_key(&r.pid);
        let ttl = r.ttl.as_millis().max(1).to_string();
        let args = vec![
            Bytes::from_static(b"SET"),
            Bytes::from(key.clone()),
            value,
            Bytes::from_static(b"PX"),
            Bytes::from(ttl),
        ];
        self.act(Action::Command {
            key,
            args,
            token: None,
        });
    }

    /// Deletes a session's copy (taken on this node).
    pub(super) fn drop_session(&self, pid: &str) {
        if !self.redis {
            return;
        }
        let key = session_key(pid);
        let args = vec![Bytes::from_static(b"DEL"), Bytes::from(key.clone())];
        self.act(Action::Command {
            key,
            args,
            token: None,
        });
    }

    /// `GETDEL` of a session for shard `origin`'s operation `token`.
    pub(super) fn take_session(&mut self, origin: usize, token: u64, pid: &str) {
        if !self.redis {
            return self.answer_take(origin, token, None);
        }
        let t = self.id();
        self.takes.insert(
            t,
            Take {
                origin,
                token,
                deadline: self.now + TAKE_TIMEOUT,
            },
        );
        let key = session_key(pid);
        let args = vec![Bytes::from_static(b"GETDEL"), Bytes::from(key.clone())];
        self.act(Action::Command {
            key,
            args,
            token: Some(t),
        });
    }

    /// Redis answered command `token` (`None`: nil, or it failed).
    pub(super) fn handle_reply(&mut self, token: u64, value: Option<Bytes>) {
        let Some(take) = self.takes.remove(&token) else {
            return; // answered already (timed out)
        };
        let record = value.and_then(|v| self.decode_record(&v));
        self.answer_take(take.origin, take.token, record);
    }

    fn answer_take(&self, origin: usize, token: u64, record: Option<SessionRecord>) {
        self.act(Action::ToShard(
            origin,
            ToShard::OpDone {
                token,
                result: OpResult::Session(record.map(Box::new)),
            },
        ));
    }

    /// Answers `None` to every take past its deadline.
    pub(super) fn expire_takes(&mut self, now: Instant) {
        let late: Vec<u64> = self
            .takes
            .iter()
            .filter(|(_, t)| t.deadline <= now)
            .map(|(&k, _)| k)
            .collect();
        for k in late {
            if let Some(t) = self.takes.remove(&k) {
                self.answer_take(t.origin, t.token, None);
            }
        }
    }

    /// A record read back from Redis, its packets encoded for our clients;
    /// None when malformed or for a namespace this node lacks.
    pub(super) fn decode_record(&mut self, bytes: &Bytes) -> Option<SessionRecord> {
        let v = decode(bytes).ok()?;
        if v.get("v")?.as_i64()? != 1 {
            return None;
        }
        let name = v.get("nsp")?.as_str()?;
        self.sync_namespaces();
        let nsp = self.nsps.iter().position(|(n, _)| n == name)? as u16;
        let data = match v.get("data")? {
            Value::Nil => None,
            d => Some(serde_json::from_str(d.as_str()?).ok()?),
        };
        let watermark = v
            .get("wm")?
            .as_array()?
            .iter()
            .map(|o| {
                let o = Offset::parse(o.as_str()?)?;
                Some(((o.node, o.origin), o.seq))
            })
            .collect::<Option<_>>()?;
        let mut tail = Vec::new();
        for e in v.get("tail")?.as_array()? {
            let [o, p] = e.as_array()? else {
                return None;
            };
            let o = Offset::parse(o.as_str()?)?;
            let p = Packet::from_value(p).ok()?;
            tail.push((o, packet_to_msg(self.parser, name, &p, None)?));
        }
        Some(SessionRecord {
            pid: v.get("pid")?.as_str()?.into(),
            sid: v.get("sid")?.as_str()?.into(),
            nsp,
            rooms: read_strs(v.get("rooms"))?,
            data,
            watermark,
            tail,
            ttl: std::time::Duration::ZERO,
            writer: v
                .get("by")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok()),
        })
    }
}

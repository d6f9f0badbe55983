//! Connection state recovery on the shard: persisting a vanished socket's
//! session, and the CONNECT that names one (`{"pid", "offset"}` in its
//! auth). The store and the exactly-once argument are in `recovery`.
//!
//! A `pid` names the node and shard that own the session. A CONNECT on
//! that shard recovers at once; on another shard it asks the owner through
//! the mesh ([`ToShard::Run`]); with another node's pid it asks the
//! cluster bridge for the session that node published (`GETDEL`,
//! `recovery_cluster`). Meanwhile the socket's namespace counts as
//! `connecting`. Any failure (unknown pid, expired, offset no longer kept,
//! session closed meanwhile, Redis unreachable) is an ordinary new
//! connection: middlewares run, new sid and pid.

use std::rc::Rc;
use std::time::Instant;

use serde_json::Value;

use super::app::{Authorization, SocketData, Verdict};
use super::encode;
use super::id_key::IdKey;
use super::ops::{start_op, Op, OpResult};
use super::port::{ShardTask, ToCluster, ToShard};
use super::recovery::{new_pid, pid_owner, Persisted, Recovered};
use super::recovery_cluster::{SessionRecord, TAIL_BYTES, TAIL_MAX};
use super::session::{CloseReason, Session};
use super::socket::SocketState;
use super::Shard;

/// Node's `RECOVERABLE_DISCONNECT_REASONS`: the connection dropped, the
/// client did not leave.
fn recoverable(reason: CloseReason) -> bool {
    matches!(
        reason,
        CloseReason::TransportClose
            | CloseReason::TransportError
            | CloseReason::PingTimeout
            | CloseReason::ServerShutdown
            | CloseReason::ForcedServerClose
            | CloseReason::SlowConsumer
            | CloseReason::ConnectTimeout
    )
}

/// The `pid` and `offset` strings of a CONNECT's auth, if both are there.
fn recovery_request(auth: &Value) -> Option<(Box<str>, Box<str>)> {
    let pid = auth.get("pid")?.as_str()?;
    let offset = auth.get("offset")?.as_str()?;
    Some((pid.into(), offset.into()))
}

impl Shard {
    /// Keeps the session of a socket that vanished for a recoverable reason.
    pub(crate) fn persist_session(&self, state: &SocketState, reason: CloseReason) {
        let Some(store) = &self.recovery else {
            return;
        };
        if !recoverable(reason) {
            return;
        }
        let Some(pid) = state.pid.borrow_mut().take() else {
            return;
        };
        let rooms: Vec<Box<str>> = std::iter::once(Box::<str>::from(state.id.as_str()))
            .chain(state.rooms.borrow().iter().cloned())
            .collect();
        let data = state.data.borrow_mut().take();
        let record = || {
            let s = store.borrow();
            SessionRecord {
                pid: pid.clone(),
                sid: state.id.as_str().into(),
                nsp: state.nsp,
                tail: s.tail(state.nsp, &rooms, TAIL_MAX, TAIL_BYTES),
                rooms: rooms.clone(),
                data: data.as_ref().map(|d| d.to_json()),
                watermark: s.watermark(),
                ttl: self
                    .config
                    .connection_state_recovery
                    .as_ref()
                    .map_or_else(Default::default, |c| c.max_disconnection_duration),
                writer: Some(s.node()),
            }
        };
        if self.mesh.ordered() {
            // Also for the other nodes (`recovery_cluster`).
            self.mesh
                .to_cluster(ToCluster::KeepSession(Box::new(record())));
        }
        let node = store.borrow().node();
        match pid_owner(&pid) {
            Some((n, owner)) if n == node && owner == self.id => {}
            Some((n, owner)) if n == node && owner < self.nshards => {
                // Recovered here from another shard: the pid still names
                // that shard, which is where the next recovery looks.
                let record = record();
                self.mesh.send(
                    owner,
                    ToShard::Run(ShardTask(Box::new(move |owner: &Rc<Self>| {
                        if let Some(s) = &owner.recovery {
                            s.borrow_mut().keep_record(record, Instant::now());
                        }
                    }))),
                );
                return;
            }
            // Another node's pid (recovered here from that node): only the
            // copy in Redis can be found again.
            _ => return,
        }
        store.borrow_mut().persist(
            pid,
            Persisted {
                sid: state.id.as_str().into(),
                nsp: state.nsp,
                rooms,
                data,
                at: Instant::now(),
            },
        );
    }

    /// A CONNECT to `nsp`: recovers the session it names, when recovery is
    /// on and it names one; else `false` (the caller connects as usual).
    pub(crate) fn handle_recovery_connect(
        self: &Rc<Self>,
        session: &Rc<Session>,
        nsp: u16,
        auth: &Value,
    ) -> bool {
        let Some(store) = &self.recovery else {
            return false;
        };
        let Some((pid, offset)) = recovery_request(auth) else {
            return false;
        };
        let Some((node, owner)) = pid_owner(&pid) else {
            return false;
        };
        if node != store.borrow().node() {
            // Exactly once needs each origin's packets in order on every
            // node: not so on a Redis Cluster or in sharded mode.
            return self.mesh.ordered()
                && self.recover_through_redis(session, nsp, auth, pid, offset, None);
        }
        if owner >= self.nshards {
            return false;
        }
        if self.mesh.ordered() {
            // Redis has the session's latest copy: this node's, or that of
            // a node the socket was recovered on since (A → B → A), whose
            // rooms, data and tail are newer than this node's copy.
            return self.recover_through_redis(session, nsp, auth, pid, offset, Some(owner));
        }
        if self.mesh.publishes() {
            // A pid is good for one attempt: a copy other nodes could read
            // goes too.
            self.mesh.to_cluster(ToCluster::DropSession(pid.clone()));
        }
        self.recover_here(session, nsp, auth.clone(), pid, offset, owner)
    }

    /// Recovers session `pid` from this node's copy, kept by shard
    /// `owner`; false when this shard is the owner and has no usable copy
    /// (the caller connects as new).
    fn recover_here(
        self: &Rc<Self>,
        session: &Rc<Session>,
        nsp: u16,
        auth: Value,
        pid: Box<str>,
        offset: Box<str>,
        owner: usize,
    ) -> bool {
        let Some(store) = &self.recovery else {
            return false;
        };
        if owner == self.id {
            let taken = store.borrow_mut().take(&pid, &offset, nsp, Instant::now());
            let Ok((recovered, data)) = taken else {
                return false;
            };
            self.resume(session, nsp, auth, recovered, data);
            return true;
        }
        session.st.borrow_mut().connecting.push(nsp);
        let sid = session.sid.clone();
        let here = self.id;
        self.mesh.send(
            owner,
            ToShard::Run(ShardTask(Box::new(move |owner: &Rc<Self>| {
                let taken = owner
                    .recovery
                    .as_ref()
                    .and_then(|s| s.borrow_mut().take(&pid, &offset, nsp, Instant::now()).ok());
                let taken = taken.map(|(mut r, data)| {
                    r.data_json = data.map(|d| d.to_json());
                    r
                });
                owner.mesh.send(
                    here,
                    ToShard::Run(ShardTask(Box::new(move |shard: &Rc<Self>| {
                        shard.handle_remote_recovery(&sid, nsp, auth, taken);
                    }))),
                );
            }))),
        );
        true
    }

    /// Takes session `pid` from Redis (`GETDEL`); the answer comes back on
    /// this shard. `here` is the shard of this node that owns the pid, None
    /// for another node's pid (its session as that node, or the last node
    /// the socket lived on, published it). For this node's pid, a record
    /// this node wrote means its own copy is the latest (and holds more
    /// than the record's tail): recover from it; a record another node
    /// wrote wins over this node's copy, which is forgotten; no record
    /// (taken by the node the client is on now, expired, or Redis
    /// unreachable) is a new session, since this node's copy may be stale.
    /// False when the bridge cannot take the request (the caller connects
    /// as new).
    fn recover_through_redis(
        self: &Rc<Self>,
        session: &Rc<Session>,
        nsp: u16,
        auth: &Value,
        pid: Box<str>,
        offset: Box<str>,
        here: Option<usize>,
    ) -> bool {
        let Some(node) = self.recovery.as_ref().map(|s| s.borrow().node()) else {
            return false;
        };
        session.st.borrow_mut().connecting.push(nsp);
        let shard = Rc::downgrade(self);
        let sid = session.sid.clone();
        let auth = auth.clone();
        let op_pid = pid.clone();
        let done = Box::new(move |result: OpResult| {
            let Some(shard) = shard.upgrade() else {
                return;
            };
            let record = match result {
                OpResult::Session(record) => record,
                _ => None,
            };
            let ours = record.as_ref().is_some_and(|r| r.writer == Some(node));
            if let (true, Some(owner)) = (ours, here) {
                let Some(session) = shard.session(&sid) else {
                    return;
                };
                session.st.borrow_mut().connecting.retain(|&n| n != nsp);
                if session.is_closed() {
                    return;
                }
                if !shard.recover_here(&session, nsp, auth.clone(), pid, offset, owner) {
                    shard.authorize_then_connect(&session, nsp, auth);
                }
                return;
            }
            if let Some(owner) = here {
                shard.forget_session(&pid, owner);
            }
            let taken = record.and_then(|r| r.recover(&offset, nsp).ok());
            shard.handle_remote_recovery(&sid, nsp, auth, taken);
        });
        if start_op(self, Op::TakeSession(op_pid), Some(done)) {
            return true;
        }
        session.st.borrow_mut().connecting.retain(|&n| n != nsp);
        false
    }

    /// Drops this node's copy of session `pid`, kept by shard `owner`.
    fn forget_session(self: &Rc<Self>, pid: &str, owner: usize) {
        if owner == self.id {
            if let Some(s) = &self.recovery {
                s.borrow_mut().forget(pid);
            }
            return;
        }
        let pid: Box<str> = pid.into();
        self.mesh.send(
            owner,
            ToShard::Run(ShardTask(Box::new(move |owner: &Rc<Self>| {
                if let Some(s) = &owner.recovery {
                    s.borrow_mut().forget(&pid);
                }
            }))),
        );
    }

    /// The owner's answer (another shard, or another node through the
    /// bridge): attach the recovered socket, or connect as new when it
    /// failed.
    fn handle_remote_recovery(
        self: &Rc<Self>,
        sid: &str,
        nsp: u16,
        auth: Value,
        taken: Option<Recovered>,
    ) {
        let Some(session) = self.session(sid) else {
            return;
        };
        session.st.borrow_mut().connecting.retain(|&n| n != nsp);
        if session.is_closed() {
            return;
        }
        match taken {
            Some(mut r) => {
                let data = r
                    .data_json
                    .take()
                    .map(|v| Box::new(v) as Box<dyn SocketData>);
                self.resume(&session, nsp, auth, r, data);
            }
            None => self.authorize_then_connect(&session, nsp, auth),
        }
    }

    /// A session was found: middlewares unless skipped, then attach.
    fn resume(
        self: &Rc<Self>,
        session: &Rc<Session>,
        nsp: u16,
        auth: Value,
        r: Recovered,
        data: Option<Box<dyn SocketData>>,
    ) {
        let skip = self
            .config
            .connection_state_recovery
            .as_ref()
            .is_some_and(|c| c.skip_middlewares);
        if skip {
            return self.attach_recovered(session, nsp, auth, r, data);
        }
        match self.app.authorize(nsp, session, &r.sid, &auth) {
            Authorization::Ready(v) => self.finish_recovered(session, nsp, auth, r, data, v),
            Authorization::Pending(verdict) => {
                session.st.borrow_mut().connecting.push(nsp);
                let shard = self.clone();
                let session = session.clone();
                glommio::spawn_local(async move {
                    let v = verdict.await;
                    session.st.borrow_mut().connecting.retain(|&n| n != nsp);
                    shard.finish_recovered(&session, nsp, auth, r, data, v);
                })
                .detach();
            }
        }
    }

    fn finish_recovered(
        self: &Rc<Self>,
        session: &Rc<Session>,
        nsp: u16,
        auth: Value,
        r: Recovered,
        data: Option<Box<dyn SocketData>>,
        verdict: Verdict,
    ) {
        match verdict {
            // A middleware's data replaces the kept one.
            Ok(d) => self.attach_recovered(session, nsp, auth, r, d.or(data)),
            Err(_) => self.finish_connect(session, nsp, IdKey::new(&r.sid), auth, verdict),
        }
    }

    /// Writes the CONNECT reply and the missed packets, then attaches the
    /// socket with its id, rooms and data; one synchronous step, so every
    /// later packet is delivered live. When packets the owner had not seen
    /// were evicted here meanwhile, connects as new instead.
    fn attach_recovered(
        self: &Rc<Self>,
        session: &Rc<Session>,
        nsp: u16,
        auth: Value,
        r: Recovered,
        data: Option<Box<dyn SocketData>>,
    ) {
        if session.is_closed() {
            return;
        }
        let extra = self
            .recovery
            .as_ref()
            .and_then(|s| s.borrow().replay_after(&r.watermark, nsp, &r.rooms));
        let Some(extra) = extra else {
            return self.authorize_then_connect(session, nsp, auth);
        };
        let name = self.app.namespace_name(nsp).to_owned();
        let reply = encode::connect(self.config.parser, &name, &r.sid, Some(&r.pid));
        self.push_to_session(session, &reply, false);
        for m in r.missed.iter().chain(&extra) {
            self.push_to_session(session, m, false);
        }
        let key = self.insert_socket(session, nsp, IdKey::new(&r.sid), auth);
        for room in r.rooms.iter().filter(|room| **room != r.sid) {
            // Exempt from the room quotas: the socket had these rooms.
            let _ = self.join_exempt(key, room);
        }
        if let Some(state) = self.socket(key) {
            *state.data.borrow_mut() = data;
            *state.pid.borrow_mut() = Some(r.pid);
            state.recovered.set(true);
        }
        self.app.handle_connect(self, key);
    }

    /// A new `pid` for a socket connecting here, when recovery is on.
    pub(crate) fn new_pid(&self) -> Option<Box<str>> {
        self.recovery
            .as_ref()
            .map(|s| new_pid(s.borrow().node(), self.id))
    }
}

//! The core's side facing the shards: their messages ([`ToCluster`]),
//! broadcasts to publish, cluster operations started on this node, the
//! gathers of local parts, and request deadlines.

use super::*;

impl Core {
    pub(super) fn shard_msg(&mut self, m: ToCluster) {
        match m {
            ToCluster::Broadcast(b) => self.publish_broadcast(&b),
            ToCluster::KeepSession(r) => self.keep_session(&r),
            ToCluster::DropSession(pid) => self.drop_session(&pid),
            ToCluster::AckCount { key, count } => {
                let done = self.remote_acks.get_mut(&key).and_then(|r| {
                    r.remaining = r.remaining.saturating_sub(1);
                    r.total += count;
                    (r.remaining == 0).then(|| (r.nsp, r.to.clone(), r.request_id.clone(), r.total))
                });
                if let Some((nsp, to, request_id, total)) = done {
                    self.publish_response(
                        nsp,
                        to.as_deref(),
                        &Response::BroadcastClientCount {
                            request_id,
                            client_count: total as u64,
                        },
                    );
                }
            }
            ToCluster::AckReply { key, reply } => {
                if let Some(r) = self.remote_acks.get(&key) {
                    let resp = Response::BroadcastAck {
                        request_id: r.request_id.clone(),
                        packet: first_arg(&reply.args, &reply.attachments),
                    };
                    self.publish_response(r.nsp, r.to.as_deref(), &resp);
                }
            }
            ToCluster::Room { nsp, room, created } => self.room_changed(nsp, room, created),
            // Subscribed by `sync_namespaces`, run before every shard message.
            ToCluster::Namespace { .. } => {}
            ToCluster::Op { origin, token, op } => self.op(origin, token, op),
            ToCluster::Part { gather, part } => {
                let done = match self.gathers.get_mut(&gather) {
                    Some(g) => {
                        g.parts.push(part);
                        g.remaining -= 1;
                        g.remaining == 0
                    }
                    None => false,
                };
                if done {
                    if let Some(g) = self.gathers.remove(&gather) {
                        self.gathered(g);
                    }
                }
            }
            ToCluster::ServerSideAck {
                nsp,
                request_id,
                data,
            } => {
                let to = self.requesters.remove(&request_id).map(|(uid, _)| uid);
                self.publish_response(
                    nsp,
                    to.as_deref(),
                    &Response::ServerSideEmit {
                        request_id,
                        data: from_json(&data),
                    },
                );
            }
        }
    }

    pub(super) fn publish_broadcast(&mut self, b: &Broadcast) {
        let Some((name, channels)) = self.nsps.get(b.nsp as usize) else {
            return;
        };
        let Some(mut packet) = msg_to_packet(name, &b.msg) else {
            return;
        };
        let mut flags = Flags::default();
        if let Some(offset) = b.offset {
            if let Some(v) = sessions::strip_offset(&mut packet, offset) {
                flags.set(sessions::OFFSET_FLAG, v);
            }
        }
        if b.volatile {
            flags.set("volatile", Value::Bool(true));
        }
        let timeout = b.timeout.unwrap_or(REQUESTS_TIMEOUT);
        if b.ack.is_some() {
            flags.set("timeout", Value::Int(timeout.as_millis() as i64));
        }
        let opts = BroadcastOpts {
            rooms: b.rooms.iter().map(|r| r.to_string()).collect(),
            except: b.except.iter().map(|r| r.to_string()).collect(),
            flags,
            order: OptsOrder::Adapter,
        };
        match b.ack {
            None if self.sharded => {
                self.publish_sharded(b.nsp, ShardedBody::Broadcast { packet, opts });
            }
            None => {
                let channel = channels.for_rooms(&opts.rooms).into_owned();
                let m = BroadcastMessage {
                    uid: Some(self.uid.clone()),
                    packet,
                    opts,
                };
                match m.encode() {
                    Ok(bytes) => self.publish(channel, bytes),
                    Err(e) => tracing::warn!(error = %e, "cannot encode broadcast"),
                }
            }
            Some(BroadcastAck {
                origin: AckOrigin::Shard { shard, req },
                ..
            }) => {
                let p = self.pending(
                    RequestType::Broadcast,
                    shard,
                    req,
                    timeout + Duration::from_secs(1),
                );
                self.start_request(b.nsp, p, |request_id| RequestBody::Broadcast {
                    request_id,
                    packet,
                    opts,
                });
            }
            // Another node's broadcast is delivered locally only (`local`),
            // never handed back to be published.
            Some(BroadcastAck {
                origin: AckOrigin::Bridge { .. },
                ..
            }) => {}
        }
    }

    pub(super) fn op(&mut self, origin: usize, token: u64, op: Op) {
        match op {
            Op::TakeSession(pid) => self.take_session(origin, token, &pid),
            Op::Fetch(t) => {
                let nsp = t.nsp;
                let mut p = self.pending(RequestType::RemoteFetch, origin, token, REQUESTS_TIMEOUT);
                p.local_done = false;
                let opts = RoomFilter {
                    rooms: t.rooms.clone(),
                    except: t.except.clone(),
                };
                let rid = self.start_request_id(nsp, p, |request_id| RequestBody::RemoteFetch {
                    request_id,
                    opts,
                });
                self.gather(Query::Fetch(t), Then::Request(rid));
            }
            Op::AllRooms(nsp) if self.sharded => {
                // The sharded adapter has no allRooms request: local rooms.
                let g = self.id();
                let mut p = self.pending(RequestType::AllRooms, origin, token, REQUESTS_TIMEOUT);
                p.local_done = false;
                p.expected = Some(0);
                let rid = format!("local-{g}");
                self.requests.insert(rid.clone(), p);
                self.gather(Query::Rooms(nsp), Then::Request(rid));
            }
            Op::AllRooms(nsp) => {
                let mut p = self.pending(RequestType::AllRooms, origin, token, REQUESTS_TIMEOUT);
                p.local_done = false;
                let rid = self
                    .start_request_id(nsp, p, |request_id| RequestBody::AllRooms { request_id });
                self.gather(Query::Rooms(nsp), Then::Request(rid));
            }
            Op::Join(t, rooms) => {
                self.to_all(|| ToShard::Apply(Apply::Join(t.clone(), rooms.clone())));
                let opts = filter(&t);
                self.publish_request(t.nsp, RequestBody::RemoteJoin { opts, rooms });
            }
            Op::Leave(t, rooms) => {
                self.to_all(|| ToShard::Apply(Apply::Leave(t.clone(), rooms.clone())));
                let opts = filter(&t);
                self.publish_request(t.nsp, RequestBody::RemoteLeave { opts, rooms });
            }
            Op::Disconnect(t, close) => {
                self.to_all(|| ToShard::Apply(Apply::Disconnect(t.clone(), close)));
                let opts = filter(&t);
                self.publish_request(t.nsp, RequestBody::RemoteDisconnect { opts, close });
            }
            Op::ServerSideEmit { nsp, data, ack } => {
                let data: Vec<Value> = data.iter().map(from_json).collect();
                if ack {
                    let p =
                        self.pending(RequestType::ServerSideEmit, origin, token, REQUESTS_TIMEOUT);
                    self.start_request(nsp, p, |request_id| RequestBody::ServerSideEmit {
                        request_id: Some(request_id),
                        data,
                    });
                } else {
                    self.publish_request(
                        nsp,
                        RequestBody::ServerSideEmit {
                            request_id: None,
                            data,
                        },
                    );
                }
            }
        }
    }

    pub(super) fn start_request_id(
        &mut self,
        nsp: u16,
        p: Pending,
        body: impl FnOnce(String) -> RequestBody,
    ) -> String {
        let mut rid = String::new();
        self.start_request(nsp, p, |r| {
            rid = r.clone();
            body(r)
        });
        rid
    }

    pub(super) fn gathered(&mut self, g: Gather) {
        match g.then {
            Then::Request(rid) => {
                if let Some(p) = self.requests.get_mut(&rid) {
                    for part in g.parts {
                        match part {
                            Part::Sockets(s) => p.sockets.extend(s),
                            Part::Rooms(r) => p.rooms.extend(r),
                            Part::Ids(_) => {}
                        }
                    }
                    p.local_done = true;
                }
                self.check(&rid);
            }
            Then::Answer {
                nsp,
                to,
                kind,
                request_id,
            } => {
                let resp = match kind {
                    RequestType::RemoteFetch => Response::RemoteFetch {
                        request_id,
                        sockets: g
                            .parts
                            .into_iter()
                            .flat_map(|p| match p {
                                Part::Sockets(s) => s,
                                _ => Vec::new(),
                            })
                            .collect(),
                    },
                    RequestType::AllRooms => {
                        let mut set = AHashSet::new();
                        let mut rooms = Vec::new();
                        for p in g.parts {
                            if let Part::Rooms(r) = p {
                                for room in r {
                                    if set.insert(room.clone()) {
                                        rooms.push(room);
                                    }
                                }
                            }
                        }
                        Response::AllRooms { request_id, rooms }
                    }
                    _ => Response::Sockets {
                        request_id,
                        sockets: g
                            .parts
                            .into_iter()
                            .flat_map(|p| match p {
                                Part::Ids(s) => s,
                                _ => Vec::new(),
                            })
                            .collect(),
                    },
                };
                self.publish_response(nsp, to.as_deref(), &resp);
            }
        }
    }

    /// Completes request `rid` when every answer (and the local part) is in.
    pub(super) fn check(&mut self, rid: &str) {
        let Some(p) = self.requests.get_mut(rid) else {
            return;
        };
        let Some(expected) = p.expected else {
            return;
        };
        if p.answers < expected || !p.local_done {
            return;
        }
        if p.kind == RequestType::Broadcast {
            if !p.count_sent {
                p.count_sent = true;
                let (origin, req, count) = (p.origin, p.token, p.remote_clients);
                self.send_to(origin, ToShard::AckCount { req, count });
            }
            // Kept until its deadline: the acks are still coming.
            return;
        }
        if let Some(p) = self.requests.remove(rid) {
            let result = match p.kind {
                RequestType::RemoteFetch => OpResult::Sockets(Ok(p.sockets)),
                RequestType::AllRooms => OpResult::Rooms(Ok(p.rooms.into_iter().collect())),
                _ => OpResult::Acks(Ok(p.acks)),
            };
            self.send_to(
                p.origin,
                ToShard::OpDone {
                    token: p.token,
                    result,
                },
            );
        }
    }

    pub(super) fn send_to(&self, shard: usize, m: ToShard) {
        self.act(Action::ToShard(shard, m));
    }

    /// Whether no request, remote ack or requester is waiting on a deadline.
    pub(super) fn idle(&self) -> bool {
        self.requests.is_empty()
            && self.remote_acks.is_empty()
            && self.requesters.is_empty()
            && self.takes.is_empty()
    }

    pub(super) fn expire(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .requests
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for rid in expired {
            let Some(p) = self.requests.remove(&rid) else {
                continue;
            };
            let err = ClusterError::Timeout {
                received: p.answers,
                expected: p.expected.unwrap_or(p.answers + 1),
            };
            let result = match p.kind {
                RequestType::Broadcast => continue,
                RequestType::RemoteFetch => OpResult::Sockets(Err(err)),
                RequestType::AllRooms => OpResult::Rooms(Err(err)),
                _ => OpResult::Acks(Err((err, p.acks))),
            };
            self.send_to(
                p.origin,
                ToShard::OpDone {
                    token: p.token,
                    result,
                },
            );
        }
        self.expire_takes(now);
        self.remote_acks.retain(|_, r| r.deadline > now);
        self.requesters.retain(|_, (_, t)| *t > now);
        if self.gathers.len() > 10_000 {
            // Shards answer every gather; this only guards against a shard
            // that stopped answering (its queue overflowed).
            self.gathers.clear();
        }
    }
}

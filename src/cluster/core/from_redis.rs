//! The core's side facing Redis: broadcasts, requests and responses that
//! other nodes (or the emitter) published, and room channel subscriptions of
//! sharded mode.

use super::*;

impl Core {
    /// Sharded mode: a message on `<key>#<nsp>#[<x>#]` (namespace channel,
    /// room channel or this node's response channel).
    pub(super) fn incoming_sharded(&mut self, channel: &str, payload: &Bytes) {
        let Some(nsp) = self
            .nsps
            .iter()
            .position(|(_, c)| c.classify(channel).is_some())
        else {
            return;
        };
        let nsp = nsp as u16;
        let m = match ShardedMessage::decode(payload) {
            Ok(m) => m,
            Err(e) => return self.decode_error("sharded message", &e),
        };
        if m.uid.as_deref() == Some(self.uid.as_str()) {
            return;
        }
        if m.nsp
            .as_deref()
            .is_some_and(|n| n != self.nsps[nsp as usize].0)
        {
            return;
        }
        match m.body {
            ShardedBody::Broadcast { packet, opts } => self.deliver_broadcast(
                nsp,
                BroadcastMessage {
                    uid: m.uid,
                    packet,
                    opts,
                },
            ),
            ShardedBody::Request(body) => {
                if let (
                    RequestBody::ServerSideEmit {
                        request_id: Some(id),
                        ..
                    },
                    Some(uid),
                ) = (&body, &m.uid)
                {
                    let deadline = self.now + REQUESTS_TIMEOUT + Duration::from_secs(1);
                    self.requesters.insert(id.clone(), (uid.clone(), deadline));
                }
                self.handle_request(nsp, Request { uid: m.uid, body });
            }
            ShardedBody::Response(resp) => {
                let kind = self.requests.get(resp.request_id()).map(|p| p.kind);
                let fits = matches!(
                    (kind, &resp),
                    (Some(RequestType::RemoteFetch), Response::RemoteFetch { .. })
                        | (
                            Some(RequestType::ServerSideEmit),
                            Response::ServerSideEmit { .. }
                        )
                        | (
                            Some(RequestType::Broadcast),
                            Response::BroadcastClientCount { .. } | Response::BroadcastAck { .. }
                        )
                );
                if fits {
                    self.handle_response(resp);
                }
            }
            ShardedBody::Other(_) => {}
        }
    }

    /// Sharded mode: a shard created / deleted `room`; the room channel is
    /// held while some shard has the room.
    pub(super) fn room_changed(&mut self, nsp: u16, room: Box<str>, created: bool) {
        if !self.sharded {
            return;
        }
        let Some((_, channels)) = self.nsps.get(nsp as usize) else {
            return;
        };
        let channel = channels.room(&room);
        if *room == *self.uid {
            // `<key>#<nsp>#<uid>#` is this node's response channel: held
            // for good, never dropped with a room of that name.
            return;
        }
        let key = (nsp, room);
        if created {
            let n = self.room_refs.entry(key).or_insert(0);
            *n += 1;
            if *n == 1 {
                self.act(Action::Subscribe(channel));
            }
        } else if let Some(n) = self.room_refs.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.room_refs.remove(&key);
                self.act(Action::Unsubscribe(channel));
            }
        }
    }

    pub(super) fn incoming(&mut self, channel: &str, payload: &Bytes) {
        if self.sharded {
            return self.incoming_sharded(channel, payload);
        }
        enum Kind {
            Broadcast,
            Request,
            Response,
        }
        let found = self.nsps.iter().enumerate().find_map(|(i, (_, c))| {
            let kind = match c.classify(channel)? {
                ChannelKind::Request => Kind::Request,
                ChannelKind::Response(_) => Kind::Response,
                ChannelKind::Broadcast | ChannelKind::Room(_) => Kind::Broadcast,
            };
            Some((i as u16, kind))
        });
        match found {
            Some((nsp, Kind::Request)) => self.request(nsp, payload),
            Some((_, Kind::Response)) => self.response(payload),
            Some((nsp, Kind::Broadcast)) => self.broadcast(nsp, payload),
            None => {}
        }
    }

    pub(super) fn decode_error(&self, what: &str, e: &dyn std::fmt::Display) {
        let n = bump(&self.counters.decode_errors);
        if n.is_power_of_two() {
            tracing::warn!(error = %e, errors = n, "undecodable cluster {what} dropped");
        }
    }

    pub(super) fn broadcast(&mut self, nsp: u16, payload: &Bytes) {
        match BroadcastMessage::decode(payload) {
            Ok(m) => self.deliver_broadcast(nsp, m),
            Err(e) => self.decode_error("broadcast", &e),
        }
    }

    /// Decoded once here; the same encoded `Broadcast` goes to every shard.
    pub(super) fn deliver_broadcast(&mut self, nsp: u16, mut m: BroadcastMessage) {
        if m.uid.as_deref() == Some(self.uid.as_str()) {
            return;
        }
        let name = &self.nsps[nsp as usize].0;
        if !m.is_for(name) || m.opts.flags.local() {
            return;
        }
        // Another ringcast node's offset: kept under it here too, when
        // each origin's packets arrive in order (`Counters::ordered`; else
        // the watermarks of `shard::recovery` would not hold).
        let ordered = self
            .counters
            .ordered
            .load(std::sync::atomic::Ordering::Relaxed);
        let offset = if self.recovery && ordered && !m.opts.flags.volatile() {
            let flag = m.opts.flags.get(sessions::OFFSET_FLAG);
            sessions::restore_offset(&mut m.packet, flag)
        } else {
            None
        };
        let Some(msg) = packet_to_msg(self.parser, name, &m.packet, None) else {
            return;
        };
        let b = Arc::new(Broadcast {
            nsp,
            rooms: m.opts.rooms.iter().map(|r| r.as_str().into()).collect(),
            except: m.opts.except.iter().map(|r| r.as_str().into()).collect(),
            volatile: m.opts.flags.volatile(),
            msg,
            ack: None,
            local: true,
            timeout: None,
            offset,
        });
        self.counters
            .broadcasts_received
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.to_all(|| ToShard::Broadcast(b.clone()));
    }

    pub(super) fn request(&mut self, nsp: u16, payload: &Bytes) {
        match Request::decode(payload) {
            Ok(r) => self.handle_request(nsp, r),
            Err(e) => self.decode_error("request", &e),
        }
    }

    pub(super) fn handle_request(&mut self, nsp: u16, req: Request) {
        if req.uid.as_deref() == Some(self.uid.as_str()) {
            return;
        }
        let target = |f: RoomFilter| Target {
            nsp,
            rooms: f.rooms,
            except: f.except,
        };
        match req.body {
            RequestBody::Sockets { request_id, rooms } => self.gather(
                Query::Ids(Target {
                    nsp,
                    rooms,
                    except: Vec::new(),
                }),
                Then::Answer {
                    nsp,
                    to: req.uid.clone(),
                    kind: RequestType::Sockets,
                    request_id,
                },
            ),
            RequestBody::AllRooms { request_id } => self.gather(
                Query::Rooms(nsp),
                Then::Answer {
                    nsp,
                    to: req.uid.clone(),
                    kind: RequestType::AllRooms,
                    request_id,
                },
            ),
            RequestBody::RemoteFetch { request_id, opts } => self.gather(
                Query::Fetch(target(opts)),
                Then::Answer {
                    nsp,
                    to: req.uid.clone(),
                    kind: RequestType::RemoteFetch,
                    request_id,
                },
            ),
            RequestBody::RemoteJoin { opts, rooms } => {
                let t = target(opts);
                self.to_all(|| ToShard::Apply(Apply::Join(t.clone(), rooms.clone())));
            }
            RequestBody::RemoteLeave { opts, rooms } => {
                let t = target(opts);
                self.to_all(|| ToShard::Apply(Apply::Leave(t.clone(), rooms.clone())));
            }
            RequestBody::RemoteDisconnect { opts, close } => {
                let t = target(opts);
                self.to_all(|| ToShard::Apply(Apply::Disconnect(t.clone(), close)));
            }
            RequestBody::LegacyJoin { sid, room, .. } => {
                let t = target(RoomFilter {
                    rooms: vec![sid],
                    except: Vec::new(),
                });
                self.to_all(|| ToShard::Apply(Apply::Join(t.clone(), vec![room.clone()])));
            }
            RequestBody::LegacyLeave { sid, room, .. } => {
                let t = target(RoomFilter {
                    rooms: vec![sid],
                    except: Vec::new(),
                });
                self.to_all(|| ToShard::Apply(Apply::Leave(t.clone(), vec![room.clone()])));
            }
            RequestBody::LegacyDisconnect { sid, close, .. } => {
                let t = target(RoomFilter {
                    rooms: vec![sid],
                    except: Vec::new(),
                });
                self.to_all(|| ToShard::Apply(Apply::Disconnect(t.clone(), close)));
            }
            RequestBody::ServerSideEmit { request_id, data } => {
                if self.nshards == 0 {
                    return;
                }
                let args = data.iter().map(to_json).collect();
                self.round_robin = (self.round_robin + 1) % self.nshards;
                self.act(Action::ToShard(
                    self.round_robin,
                    ToShard::ServerSide {
                        nsp,
                        args,
                        request_id,
                    },
                ));
            }
            RequestBody::Broadcast {
                request_id,
                packet,
                opts,
            } => {
                if self.requests.contains_key(&request_id) {
                    return;
                }
                let key = self.id();
                let ack_id = BRIDGE_ACK_BASE + key;
                let name = &self.nsps[nsp as usize].0;
                let Some(msg) = packet_to_msg(self.parser, name, &packet, Some(ack_id)) else {
                    return;
                };
                let timeout = opts
                    .flags
                    .timeout()
                    .map_or(REQUESTS_TIMEOUT, Duration::from_millis);
                self.remote_acks.insert(
                    key,
                    RemoteAck {
                        nsp,
                        to: req.uid.clone(),
                        request_id,
                        remaining: self.nshards,
                        total: 0,
                        deadline: self.now + timeout + Duration::from_secs(1),
                    },
                );
                let b = Arc::new(Broadcast {
                    nsp,
                    rooms: opts.rooms.iter().map(|r| r.as_str().into()).collect(),
                    except: opts.except.iter().map(|r| r.as_str().into()).collect(),
                    volatile: opts.flags.volatile(),
                    msg,
                    ack: Some(BroadcastAck {
                        origin: AckOrigin::Bridge { key },
                        id: ack_id,
                    }),
                    local: true,
                    timeout: None,
                    offset: None,
                });
                self.counters
                    .broadcasts_received
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.to_all(|| ToShard::Broadcast(b.clone()));
            }
        }
    }

    pub(super) fn response(&mut self, payload: &Bytes) {
        let requests = &self.requests;
        match Response::decode(payload, |id| requests.get(id).map(|p| p.kind)) {
            Ok(Some(r)) => self.handle_response(r),
            Ok(None) => {}
            Err(e) => self.decode_error("response", &e),
        }
    }

    pub(super) fn handle_response(&mut self, resp: Response) {
        let rid = resp.request_id().to_owned();
        let Some(p) = self.requests.get_mut(&rid) else {
            return;
        };
        match resp {
            Response::RemoteFetch { sockets, .. } => {
                p.answers += 1;
                p.sockets.extend(sockets);
            }
            Response::AllRooms { rooms, .. } => {
                p.answers += 1;
                p.rooms.extend(rooms);
            }
            Response::ServerSideEmit { data, .. } => {
                p.answers += 1;
                p.acks.push(to_json(&data));
            }
            Response::BroadcastClientCount { client_count, .. } => {
                p.answers += 1;
                p.remote_clients += client_count as usize;
            }
            Response::BroadcastAck { packet, .. } => {
                let (json, attachments) = ringcast_cluster_wire::to_placeholders(&packet);
                let (origin, req) = (p.origin, p.token);
                self.send_to(
                    origin,
                    ToShard::AckReply {
                        req,
                        reply: AckReply {
                            args: vec![json],
                            attachments,
                        },
                    },
                );
                return;
            }
            Response::Sockets { .. } | Response::LegacyAck { .. } => {
                p.answers += 1;
            }
        }
        self.check(&rid);
    }
}

//! Wire codec of [`Request`] on `<key>-request#<nsp>#` (contract 3.3).
//!
//! Types 0-6 travel as JSON, type 7 (broadcast with ack) as msgpack; a
//! payload is JSON exactly when its first byte is `{`. Decoding accepts
//! either encoding for every type (the Node adapter does); encoding writes
//! each type the way Node does, keys in Node's order:
//!
//! | type | JSON / msgpack keys |
//! | --- | --- |
//! | 0 SOCKETS | `uid, requestId, type, rooms` |
//! | 1 ALL_ROOMS | `uid, requestId, type` |
//! | 2 / 3 REMOTE_JOIN / LEAVE | `uid, type, opts{rooms, except}, rooms` |
//! | 2 / 3 legacy | `uid, requestId, type, sid, room` |
//! | 4 REMOTE_DISCONNECT | `uid, type, opts{rooms, except}, close` |
//! | 4 legacy | `uid, requestId, type, sid, close` |
//! | 5 REMOTE_FETCH | `uid, requestId, type, opts{rooms, except}` |
//! | 6 SERVER_SIDE_EMIT | `uid, [requestId,] type, data` |
//! | 7 BROADCAST (msgpack) | `uid, requestId, type, packet, opts{rooms, except, flags}` |
//!
//! # Invariants
//! - `uid: None` (key absent) is the emitter's socketsJoin / socketsLeave /
//!   disconnectSockets; every node, the publisher included, applies 2/3/4.
//! - Types 2/3/4 are the room-filter form when `opts` is present (Node's
//!   `if (request.opts)`), else the legacy single-socket form.
//! - Binary inside a JSON request's `data` is written as Node's
//!   `JSON.stringify` writes a Buffer (`{"type":"Buffer","data":[..]}`).

use bytes::Bytes;
use serde_json::{Map, Value as Json};

use crate::encode::check_depth;
use crate::fields::{self, json_bytes, json_strings};
use crate::{
    encode, json, BroadcastOpts, DecodeError, EncodeError, Limits, Packet, Request, RequestBody,
    RequestType, RoomFilter, Value,
};

impl Request {
    /// Decodes with the default [`Limits`].
    pub fn decode(payload: &Bytes) -> Result<Self, DecodeError> {
        Self::decode_with(payload, &Limits::DEFAULT)
    }

    /// Decodes a request payload (JSON if it starts with `{`, else msgpack).
    pub fn decode_with(payload: &Bytes, limits: &Limits) -> Result<Self, DecodeError> {
        let m = fields::payload_map(payload, limits)?;
        let uid = fields::opt_string(&m, "uid", "uid")?;
        let t = fields::type_num(&m)?;
        let kind = RequestType::from_number(t).ok_or(DecodeError::UnknownType(t))?;
        let request_id = || fields::string(&m, "requestId", "requestId");
        let legacy = fields::get(&m, "opts").is_none();
        let filter = || RoomFilter::from_value(fields::map(&m, "opts", "opts")?);
        let body = match kind {
            RequestType::Sockets => RequestBody::Sockets {
                request_id: request_id()?,
                rooms: fields::rooms(&m, "rooms", "rooms")?,
            },
            RequestType::AllRooms => RequestBody::AllRooms {
                request_id: request_id()?,
            },
            RequestType::RemoteJoin | RequestType::RemoteLeave if legacy => {
                let (request_id, sid) = (request_id()?, fields::string(&m, "sid", "sid")?);
                let room = match fields::get(&m, "room") {
                    Some(r) => fields::room(r, "room")?,
                    None => return Err(DecodeError::field("room", "a string")),
                };
                if kind == RequestType::RemoteJoin {
                    RequestBody::LegacyJoin {
                        request_id,
                        sid,
                        room,
                    }
                } else {
                    RequestBody::LegacyLeave {
                        request_id,
                        sid,
                        room,
                    }
                }
            }
            RequestType::RemoteJoin => RequestBody::RemoteJoin {
                opts: filter()?,
                rooms: fields::rooms(&m, "rooms", "rooms")?,
            },
            RequestType::RemoteLeave => RequestBody::RemoteLeave {
                opts: filter()?,
                rooms: fields::rooms(&m, "rooms", "rooms")?,
            },
            RequestType::RemoteDisconnect if legacy => RequestBody::LegacyDisconnect {
                request_id: request_id()?,
                sid: fields::string(&m, "sid", "sid")?,
                close: fields::flag(&m, "close", "close")?,
            },
            RequestType::RemoteDisconnect => RequestBody::RemoteDisconnect {
                opts: filter()?,
                close: fields::flag(&m, "close", "close")?,
            },
            RequestType::RemoteFetch => RequestBody::RemoteFetch {
                request_id: request_id()?,
                opts: filter()?,
            },
            RequestType::ServerSideEmit => RequestBody::ServerSideEmit {
                request_id: fields::opt_string(&m, "requestId", "requestId")?,
                data: match fields::get(&m, "data") {
                    Some(Value::Array(items)) => items.clone(),
                    _ => return Err(DecodeError::field("data", "an array")),
                },
            },
            RequestType::Broadcast => RequestBody::Broadcast {
                request_id: request_id()?,
                packet: Packet::from_value(fields::map(&m, "packet", "packet")?)?,
                opts: BroadcastOpts::from_value(fields::map(&m, "opts", "opts")?)?,
            },
            RequestType::BroadcastClientCount | RequestType::BroadcastAck => {
                return Err(DecodeError::UnknownType(t))
            }
        };
        Ok(Self { uid, body })
    }

    /// The payload as Node publishes it: JSON for types 0-6, msgpack for 7.
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        if let RequestBody::Broadcast {
            request_id,
            packet,
            opts,
        } = &self.body
        {
            let mut m = Vec::with_capacity(5);
            if let Some(uid) = &self.uid {
                m.push(("uid".to_owned(), Value::from(uid.as_str())));
            }
            m.push(("requestId".to_owned(), Value::from(request_id.as_str())));
            m.push(("type".to_owned(), Value::Int(RequestType::Broadcast as i64)));
            m.push(("packet".to_owned(), packet.to_value()));
            m.push(("opts".to_owned(), opts.to_value()));
            return encode(&Value::Map(m));
        }
        let mut m = Map::new();
        if let Some(uid) = &self.uid {
            m.insert("uid".to_owned(), Json::from(uid.as_str()));
        }
        if let Some(id) = self.request_id() {
            m.insert("requestId".to_owned(), Json::from(id));
        }
        m.insert("type".to_owned(), Json::from(self.request_type() as u8));
        let mut put = |k: &str, v: Json| m.insert(k.to_owned(), v);
        match &self.body {
            RequestBody::Sockets { rooms, .. } => put("rooms", json_strings(rooms)),
            RequestBody::AllRooms { .. } | RequestBody::Broadcast { .. } => None,
            RequestBody::RemoteJoin { opts, rooms } | RequestBody::RemoteLeave { opts, rooms } => {
                put("opts", opts.to_json());
                put("rooms", json_strings(rooms))
            }
            RequestBody::RemoteDisconnect { opts, close } => {
                put("opts", opts.to_json());
                put("close", Json::Bool(*close))
            }
            RequestBody::LegacyJoin { sid, room, .. }
            | RequestBody::LegacyLeave { sid, room, .. } => {
                put("sid", Json::from(sid.as_str()));
                put("room", Json::from(room.as_str()))
            }
            RequestBody::LegacyDisconnect { sid, close, .. } => {
                put("sid", Json::from(sid.as_str()));
                put("close", Json::Bool(*close))
            }
            RequestBody::RemoteFetch { opts, .. } => put("opts", opts.to_json()),
            RequestBody::ServerSideEmit { data, .. } => {
                data.iter().try_for_each(check_depth)?;
                put(
                    "data",
                    Json::Array(data.iter().map(json::to_json).collect()),
                )
            }
        };
        Ok(json_bytes(m))
    }
}

//! Responses on `<key>-response#<nsp>#` (or `...#<uid>#`), contract 3.3.
//!
//! | answer to | payload |
//! | --- | --- |
//! | 0 SOCKETS | `{"requestId","sockets":[sid..]}` |
//! | 1 ALL_ROOMS | `{"requestId","rooms":[..]}` |
//! | legacy 2/3/4 | `{"requestId"}` |
//! | 5 REMOTE_FETCH | `{"requestId","sockets":[{"id","handshake","rooms","data"}]}` |
//! | 6 SERVER_SIDE_EMIT | `{"type":6,"requestId","data":<ack arg>}` |
//! | 7 BROADCAST | `{"type":8,"requestId","clientCount":n}` then msgpack `{type: 9, requestId, packet: <ack arg>}` per client ack |
//!
//! Most answers carry no `type`: like the Node adapter, the requester
//! decides what an answer is from the request it is waiting for. So
//! [`Response::decode_with`] asks the caller, through `lookup`, for the
//! type of the pending request with that `requestId`; an id nobody waits
//! for yields `Ok(None)` (somebody else's answer: ignore, no error).
//!
//! # Invariants
//! - Only type 9 is msgpack (its ack argument may hold binary); every
//!   other answer is JSON, keys in Node's order.
//! - The answer to a pending type-7 request is read by its `type` (8 or 9).

use bytes::Bytes;
use serde_json::{Map, Value as Json};

use crate::encode::check_depth;
use crate::fields::{self, json_bytes, json_strings};
use crate::{encode, json, DecodeError, EncodeError, FetchedSocket, Limits, RequestType, Value};

/// A typed response.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// Answer to [`RequestType::Sockets`]: socket ids.
    Sockets {
        /// The request's id.
        request_id: String,
        /// Socket ids on the answering node.
        sockets: Vec<String>,
    },
    /// Answer to [`RequestType::AllRooms`].
    AllRooms {
        /// The request's id.
        request_id: String,
        /// Rooms on the answering node.
        rooms: Vec<String>,
    },
    /// Answer to [`RequestType::RemoteFetch`] (sent even when empty).
    RemoteFetch {
        /// The request's id.
        request_id: String,
        /// Matching sockets on the answering node.
        sockets: Vec<FetchedSocket>,
    },
    /// Answer to a legacy single-socket join / leave / disconnect.
    LegacyAck {
        /// The request's id.
        request_id: String,
    },
    /// Type 6: one node's ack to a server-side emit.
    ServerSideEmit {
        /// The request's id.
        request_id: String,
        /// The ack argument (`null` when absent).
        data: Value,
    },
    /// Type 8: how many clients a node delivered a type-7 broadcast to.
    BroadcastClientCount {
        /// The request's id.
        request_id: String,
        /// Number of acks to expect from that node (may be 0).
        client_count: u64,
    },
    /// Type 9: the first argument of one client's ack.
    BroadcastAck {
        /// The request's id.
        request_id: String,
        /// The ack argument (may hold binary).
        packet: Value,
    },
}

impl Response {
    /// [`Self::decode_with`] with the default [`Limits`].
    pub fn decode(
        payload: &Bytes,
        lookup: impl FnOnce(&str) -> Option<RequestType>,
    ) -> Result<Option<Self>, DecodeError> {
        Self::decode_with(payload, &Limits::DEFAULT, lookup)
    }

    /// Decodes a response. `lookup(request_id)` returns the type of the
    /// pending request with that id, or `None` if there is none (then the
    /// answer is not ours and the result is `Ok(None)`).
    pub fn decode_with(
        payload: &Bytes,
        limits: &Limits,
        lookup: impl FnOnce(&str) -> Option<RequestType>,
    ) -> Result<Option<Self>, DecodeError> {
        let m = fields::payload_map(payload, limits)?;
        let request_id = fields::string(&m, "requestId", "requestId")?;
        let Some(pending) = lookup(&request_id) else {
            return Ok(None);
        };
        let value = |key: &str| fields::get(&m, key).cloned().unwrap_or_default();
        Ok(Some(match pending {
            RequestType::Sockets => Self::Sockets {
                sockets: strings(&m, "sockets")?,
                request_id,
            },
            RequestType::AllRooms => Self::AllRooms {
                rooms: strings(&m, "rooms")?,
                request_id,
            },
            RequestType::RemoteFetch => Self::RemoteFetch {
                sockets: match fields::get(&m, "sockets") {
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(FetchedSocket::from_value)
                        .collect::<Result<_, _>>()?,
                    _ => return Err(DecodeError::field("sockets", "an array")),
                },
                request_id,
            },
            RequestType::RemoteJoin | RequestType::RemoteLeave | RequestType::RemoteDisconnect => {
                Self::LegacyAck { request_id }
            }
            RequestType::ServerSideEmit => Self::ServerSideEmit {
                data: value("data"),
                request_id,
            },
            RequestType::Broadcast
            | RequestType::BroadcastClientCount
            | RequestType::BroadcastAck => match fields::type_num(&m)? {
                8 => Self::BroadcastClientCount {
                    client_count: fields::get(&m, "clientCount")
                        .and_then(Value::as_u64)
                        .ok_or(DecodeError::field("clientCount", "a non-negative integer"))?,
                    request_id,
                },
                9 => Self::BroadcastAck {
                    packet: value("packet"),
                    request_id,
                },
                t => return Err(DecodeError::UnknownType(t)),
            },
        }))
    }

    /// The id of the request this answers.
    pub fn request_id(&self) -> &str {
        match self {
            Self::Sockets { request_id, .. }
            | Self::AllRooms { request_id, .. }
            | Self::RemoteFetch { request_id, .. }
            | Self::LegacyAck { request_id }
            | Self::ServerSideEmit { request_id, .. }
            | Self::BroadcastClientCount { request_id, .. }
            | Self::BroadcastAck { request_id, .. } => request_id,
        }
    }

    /// The payload as Node publishes it (msgpack for type 9, else JSON).
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let id = || Json::from(self.request_id());
        let mut m = Map::new();
        match self {
            Self::BroadcastAck { request_id, packet } => {
                return encode(&Value::map([
                    ("type", Value::Int(RequestType::BroadcastAck as i64)),
                    ("requestId", Value::from(request_id.as_str())),
                    ("packet", packet.clone()),
                ]));
            }
            Self::Sockets { sockets, .. } => {
                m.insert("requestId".to_owned(), id());
                m.insert("sockets".to_owned(), json_strings(sockets));
            }
            Self::AllRooms { rooms, .. } => {
                m.insert("requestId".to_owned(), id());
                m.insert("rooms".to_owned(), json_strings(rooms));
            }
            Self::RemoteFetch { sockets, .. } => {
                m.insert("requestId".to_owned(), id());
                let list = sockets.iter().map(FetchedSocket::to_json).collect();
                m.insert("sockets".to_owned(), Json::Array(list));
            }
            Self::LegacyAck { .. } => {
                m.insert("requestId".to_owned(), id());
            }
            Self::ServerSideEmit { data, .. } => {
                check_depth(data)?;
                m.insert(
                    "type".to_owned(),
                    Json::from(RequestType::ServerSideEmit as u8),
                );
                m.insert("requestId".to_owned(), id());
                m.insert("data".to_owned(), json::to_json(data));
            }
            Self::BroadcastClientCount { client_count, .. } => {
                m.insert(
                    "type".to_owned(),
                    Json::from(RequestType::BroadcastClientCount as u8),
                );
                m.insert("requestId".to_owned(), id());
                m.insert("clientCount".to_owned(), Json::from(*client_count));
            }
        }
        Ok(json_bytes(m))
    }
}

/// A required array of strings (Node ignores answers without it).
fn strings(m: &Value, key: &'static str) -> Result<Vec<String>, DecodeError> {
    match fields::get(m, key) {
        Some(Value::Array(items)) => items.iter().map(|r| fields::room(r, key)).collect(),
        _ => Err(DecodeError::field(key, "an array of strings")),
    }
}

//! The sharded adapter: `createShardedAdapter` of `@socket.io/redis-adapter`
//! 8.3.0 (`dist/sharded-adapter.js`) over Redis 7 sharded pub/sub
//! (`SPUBLISH` / `SSUBSCRIBE`), with the message format of
//! `socket.io-adapter` 2.5's `ClusterAdapter` (`dist/cluster-adapter.js`).
//! Section 4 of the contract (docs/contracts/redis-cluster.md), read
//! from the adapter's source.
//!
//! # Channels (one set per namespace, `<key>` = `channelPrefix`)
//!
//! | channel | use |
//! | --- | --- |
//! | `<key>#<nsp>#` | everything not below: broadcasts to all / several rooms / one socket-id room, broadcasts with ack, every request; SSUBSCRIBEd once per node: `PUBSUB SHARDNUMSUB` on it is the server count |
//! | `<key>#<nsp>#<room>#` | a broadcast without ack whose `rooms` is exactly one room that does not look like a socket id (20 characters), subscriptionMode `"dynamic"` (the default): a node SSUBSCRIBEs when a room is created locally and SUNSUBSCRIBEs when it is deleted (private socket-id rooms are not subscribed) |
//! | `<key>#<nsp>#<uid>#` | responses addressed to adapter `uid` (SSUBSCRIBEd by that node) |
//!
//! There is no request / response prefix and no pattern subscription.
//!
//! # Messages
//! `{type, data, uid, nsp}` (keys in that order); a broadcast's `packet` is
//! `{type, data}` without `nsp`. JSON, except a message
//! of type 3, 8, 9, 10 or 12 whose `data` holds binary: then msgpack
//! (notepack). A payload is JSON when its first byte is `{`. Receivers
//! drop messages with their own uid and messages whose `nsp` is another
//! namespace.
//!
//! | type | `data` |
//! | --- | --- |
//! | 1 / 2 / 13 INITIAL_HEARTBEAT / HEARTBEAT / ADAPTER_CLOSE | none (heartbeat adapters only; ignored) |
//! | 3 BROADCAST | `{packet, opts:{rooms,except,flags}}`; with ack `{packet, requestId, opts}` |
//! | 4 / 5 SOCKETS_JOIN / LEAVE | `{opts, rooms}` |
//! | 6 DISCONNECT_SOCKETS | `{opts, close}` |
//! | 7 FETCH_SOCKETS | `{opts, requestId}` |
//! | 8 FETCH_SOCKETS_RESPONSE | `{requestId, sockets:[{id,handshake,rooms,data}]}` |
//! | 9 SERVER_SIDE_EMIT | `{packet:[event,...args]}`, with ack `{requestId, packet}` |
//! | 10 SERVER_SIDE_EMIT_RESPONSE | `{requestId, packet:<ack arg>}` |
//! | 11 BROADCAST_CLIENT_COUNT | `{requestId, clientCount}` |
//! | 12 BROADCAST_ACK | `{requestId, packet:<ack arg>}` |
//!
//! Responses (8, 10, 11, 12) go to the requester's `<key>#<nsp>#<uid>#`.
//! Unlike the classic adapter, the publisher of 4 / 5 / 6 applies them
//! locally itself and ignores its own echo; there is no `allRooms` /
//! `allSockets` request (the ClusterAdapter answers those locally).
//!
//! Here the typed forms are the classic ones ([`RequestBody`],
//! [`Response`]) so a node handles both adapters with the same code.

use bytes::Bytes;
use serde_json::Value as Json;

use crate::fields;
use crate::{
    encode, json, BroadcastOpts, Channels, DecodeError, EncodeError, FetchedSocket, Flags, Limits,
    OptsOrder, Packet, RequestBody, Response, RoomFilter, Value,
};

/// The ClusterAdapter's `MessageType` numbers.
pub mod message_type {
    /// Heartbeat adapters only.
    pub const INITIAL_HEARTBEAT: i64 = 1;
    /// Heartbeat adapters only.
    pub const HEARTBEAT: i64 = 2;
    /// Broadcast (with `requestId`: with acks).
    pub const BROADCAST: i64 = 3;
    /// socketsJoin.
    pub const SOCKETS_JOIN: i64 = 4;
    /// socketsLeave.
    pub const SOCKETS_LEAVE: i64 = 5;
    /// disconnectSockets.
    pub const DISCONNECT_SOCKETS: i64 = 6;
    /// fetchSockets.
    pub const FETCH_SOCKETS: i64 = 7;
    /// Answer to fetchSockets.
    pub const FETCH_SOCKETS_RESPONSE: i64 = 8;
    /// serverSideEmit.
    pub const SERVER_SIDE_EMIT: i64 = 9;
    /// Answer to serverSideEmit with ack.
    pub const SERVER_SIDE_EMIT_RESPONSE: i64 = 10;
    /// Clients reached by a broadcast with ack.
    pub const BROADCAST_CLIENT_COUNT: i64 = 11;
    /// One client's ack.
    pub const BROADCAST_ACK: i64 = 12;
    /// Heartbeat adapters only.
    pub const ADAPTER_CLOSE: i64 = 13;
}
use message_type as mt;

/// What a sharded-adapter message carries.
#[derive(Debug, Clone, PartialEq)]
pub enum ShardedBody {
    /// Type 3 without `requestId`: deliver to local sockets.
    Broadcast {
        /// The EVENT packet.
        packet: Packet,
        /// Rooms, exclusions, flags.
        opts: BroadcastOpts,
    },
    /// Types 3 with ack, 4, 5, 6, 7 and 9, in their classic form
    /// (`RemoteJoin`, `RemoteLeave`, `RemoteDisconnect`, `RemoteFetch`,
    /// `ServerSideEmit`, `Broadcast`).
    Request(RequestBody),
    /// Types 8, 10, 11, 12 (`RemoteFetch`, `ServerSideEmit`,
    /// `BroadcastClientCount`, `BroadcastAck`).
    Response(Response),
    /// A type with nothing to do here (heartbeats, unknown).
    Other(i64),
}

/// `{type, data, uid, nsp}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardedMessage {
    /// The publishing adapter's uid.
    pub uid: Option<String>,
    /// The namespace the message is for.
    pub nsp: Option<String>,
    /// The message.
    pub body: ShardedBody,
}

/// Whether the adapter treats `room` as a socket id (20 characters, its
/// `looksLikeASocketId`): such single-room broadcasts use the main channel.
pub fn looks_like_a_socket_id(room: &str) -> bool {
    room.encode_utf16().count() == 20
}

impl Channels {
    /// Sharded mode: `<key>#<nsp>#<uid>#`, where adapter `uid` receives
    /// its responses.
    pub fn sharded_response(&self, uid: &str) -> String {
        self.room(uid)
    }

    /// Sharded mode (`subscriptionMode: "dynamic"`): the channel a message
    /// is published on. Only a broadcast without ack to exactly one room
    /// that does not look like a socket id goes to the room's channel.
    pub fn sharded_for(&self, body: &ShardedBody) -> String {
        match body {
            ShardedBody::Broadcast { opts, .. } => match opts.rooms.as_slice() {
                [one] if !looks_like_a_socket_id(one) => self.room(one),
                _ => self.broadcast().to_owned(),
            },
            _ => self.broadcast().to_owned(),
        }
    }
}

fn filter_value(f: &RoomFilter) -> Value {
    Value::map([
        ("rooms", Value::str_array(&f.rooms)),
        ("except", Value::str_array(&f.except)),
        ("flags", Value::Map(Vec::new())),
    ])
}

fn s(v: &str) -> Value {
    Value::from(v)
}

/// The packet as socket.io hands it to the adapter: `{type, data}`, no
/// `nsp` (the message carries it).
fn packet_value(p: &Packet) -> Value {
    Packet {
        nsp: None,
        ..p.clone()
    }
    .to_value()
}

impl ShardedMessage {
    /// Decodes with the default [`Limits`].
    pub fn decode(payload: &Bytes) -> Result<Self, DecodeError> {
        Self::decode_with(payload, &Limits::DEFAULT)
    }

    /// Decodes a payload (JSON if it starts with `{`, else msgpack).
    pub fn decode_with(payload: &Bytes, limits: &Limits) -> Result<Self, DecodeError> {
        let m = fields::payload_map(payload, limits)?;
        let uid = fields::opt_string(&m, "uid", "uid")?;
        let nsp = fields::opt_string(&m, "nsp", "nsp")?;
        let t = fields::type_num(&m)?;
        let body = match t {
            mt::BROADCAST
            | mt::SOCKETS_JOIN
            | mt::SOCKETS_LEAVE
            | mt::DISCONNECT_SOCKETS
            | mt::FETCH_SOCKETS
            | mt::FETCH_SOCKETS_RESPONSE
            | mt::SERVER_SIDE_EMIT
            | mt::SERVER_SIDE_EMIT_RESPONSE
            | mt::BROADCAST_CLIENT_COUNT
            | mt::BROADCAST_ACK => Self::body(t, fields::map(&m, "data", "data")?)?,
            _ => ShardedBody::Other(t),
        };
        let mut body = body;
        // socket.io's BroadcastOperator builds the packet without `nsp`
        // (the receiving adapter sets it): take the message's.
        if let ShardedBody::Broadcast { packet, .. }
        | ShardedBody::Request(RequestBody::Broadcast { packet, .. }) = &mut body
        {
            if packet.nsp.is_none() {
                packet.nsp.clone_from(&nsp);
            }
        }
        Ok(Self { uid, nsp, body })
    }

    fn body(t: i64, d: &Value) -> Result<ShardedBody, DecodeError> {
        let request_id = || fields::string(d, "requestId", "data.requestId");
        let filter = || RoomFilter::from_value(fields::map(d, "opts", "data.opts")?);
        let packet = || fields::get(d, "packet").cloned().unwrap_or_default();
        Ok(match t {
            mt::BROADCAST => {
                let packet = Packet::from_value(fields::map(d, "packet", "data.packet")?)?;
                let opts = BroadcastOpts::from_value(fields::map(d, "opts", "data.opts")?)?;
                match fields::opt_string(d, "requestId", "data.requestId")? {
                    None => ShardedBody::Broadcast { packet, opts },
                    Some(request_id) => ShardedBody::Request(RequestBody::Broadcast {
                        request_id,
                        packet,
                        opts,
                    }),
                }
            }
            mt::SOCKETS_JOIN => ShardedBody::Request(RequestBody::RemoteJoin {
                opts: filter()?,
                rooms: fields::rooms(d, "rooms", "data.rooms")?,
            }),
            mt::SOCKETS_LEAVE => ShardedBody::Request(RequestBody::RemoteLeave {
                opts: filter()?,
                rooms: fields::rooms(d, "rooms", "data.rooms")?,
            }),
            mt::DISCONNECT_SOCKETS => ShardedBody::Request(RequestBody::RemoteDisconnect {
                opts: filter()?,
                close: fields::flag(d, "close", "data.close")?,
            }),
            mt::FETCH_SOCKETS => ShardedBody::Request(RequestBody::RemoteFetch {
                request_id: request_id()?,
                opts: filter()?,
            }),
            mt::SERVER_SIDE_EMIT => ShardedBody::Request(RequestBody::ServerSideEmit {
                request_id: fields::opt_string(d, "requestId", "data.requestId")?,
                data: match fields::get(d, "packet") {
                    Some(Value::Array(items)) => items.clone(),
                    _ => return Err(DecodeError::field("data.packet", "an array")),
                },
            }),
            mt::FETCH_SOCKETS_RESPONSE => ShardedBody::Response(Response::RemoteFetch {
                request_id: request_id()?,
                sockets: match fields::get(d, "sockets") {
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(FetchedSocket::from_value)
                        .collect::<Result<_, _>>()?,
                    _ => return Err(DecodeError::field("data.sockets", "an array")),
                },
            }),
            mt::SERVER_SIDE_EMIT_RESPONSE => ShardedBody::Response(Response::ServerSideEmit {
                request_id: request_id()?,
                data: packet(),
            }),
            mt::BROADCAST_CLIENT_COUNT => ShardedBody::Response(Response::BroadcastClientCount {
                request_id: request_id()?,
                client_count: fields::get(d, "clientCount")
                    .and_then(Value::as_u64)
                    .ok_or(DecodeError::field(
                        "data.clientCount",
                        "a non-negative integer",
                    ))?,
            }),
            mt::BROADCAST_ACK => ShardedBody::Response(Response::BroadcastAck {
                request_id: request_id()?,
                packet: packet(),
            }),
            _ => ShardedBody::Other(t),
        })
    }

    /// `(type, data)` of the body; `None` for what has no sharded form
    /// (legacy requests, `allRooms`, `allSockets`, their answers).
    fn parts(&self) -> Option<(i64, Value)> {
        Some(match &self.body {
            ShardedBody::Broadcast { packet, opts } => (
                mt::BROADCAST,
                Value::map([
                    ("packet", packet_value(packet)),
                    ("opts", adapter_opts(opts)),
                ]),
            ),
            ShardedBody::Request(r) => match r {
                RequestBody::Broadcast {
                    request_id,
                    packet,
                    opts,
                } => (
                    mt::BROADCAST,
                    Value::map([
                        ("packet", packet_value(packet)),
                        ("requestId", s(request_id)),
                        ("opts", adapter_opts(opts)),
                    ]),
                ),
                RequestBody::RemoteJoin { opts, rooms } => (
                    mt::SOCKETS_JOIN,
                    Value::map([
                        ("opts", filter_value(opts)),
                        ("rooms", Value::str_array(rooms)),
                    ]),
                ),
                RequestBody::RemoteLeave { opts, rooms } => (
                    mt::SOCKETS_LEAVE,
                    Value::map([
                        ("opts", filter_value(opts)),
                        ("rooms", Value::str_array(rooms)),
                    ]),
                ),
                RequestBody::RemoteDisconnect { opts, close } => (
                    mt::DISCONNECT_SOCKETS,
                    Value::map([("opts", filter_value(opts)), ("close", Value::Bool(*close))]),
                ),
                RequestBody::RemoteFetch { request_id, opts } => (
                    mt::FETCH_SOCKETS,
                    Value::map([("opts", filter_value(opts)), ("requestId", s(request_id))]),
                ),
                RequestBody::ServerSideEmit { request_id, data } => {
                    let mut m = Vec::with_capacity(2);
                    if let Some(id) = request_id {
                        m.push(("requestId".to_owned(), s(id)));
                    }
                    m.push(("packet".to_owned(), Value::Array(data.clone())));
                    (mt::SERVER_SIDE_EMIT, Value::Map(m))
                }
                _ => return None,
            },
            ShardedBody::Response(r) => match r {
                Response::RemoteFetch {
                    request_id,
                    sockets,
                } => (
                    mt::FETCH_SOCKETS_RESPONSE,
                    Value::map([
                        ("requestId", s(request_id)),
                        (
                            "sockets",
                            Value::Array(
                                sockets
                                    .iter()
                                    .map(|f| json::from_json(&f.to_json()))
                                    .collect(),
                            ),
                        ),
                    ]),
                ),
                Response::ServerSideEmit { request_id, data } => (
                    mt::SERVER_SIDE_EMIT_RESPONSE,
                    Value::map([("requestId", s(request_id)), ("packet", data.clone())]),
                ),
                Response::BroadcastClientCount {
                    request_id,
                    client_count,
                } => (
                    mt::BROADCAST_CLIENT_COUNT,
                    Value::map([
                        ("requestId", s(request_id)),
                        ("clientCount", Value::UInt(*client_count)),
                    ]),
                ),
                Response::BroadcastAck { request_id, packet } => (
                    mt::BROADCAST_ACK,
                    Value::map([("requestId", s(request_id)), ("packet", packet.clone())]),
                ),
                _ => return None,
            },
            ShardedBody::Other(_) => return None,
        })
    }

    /// The payload as the sharded adapter publishes it: msgpack when the
    /// type may carry binary and `data` does, else JSON. `Ok(None)` for a
    /// body with no sharded form.
    pub fn encode(&self) -> Result<Option<Bytes>, EncodeError> {
        let Some((t, data)) = self.parts() else {
            return Ok(None);
        };
        let binary = matches!(
            t,
            mt::BROADCAST
                | mt::BROADCAST_ACK
                | mt::FETCH_SOCKETS_RESPONSE
                | mt::SERVER_SIDE_EMIT
                | mt::SERVER_SIDE_EMIT_RESPONSE
        ) && data.has_binary();
        let mut m = vec![
            ("type".to_owned(), Value::Int(t)),
            ("data".to_owned(), data),
        ];
        if let Some(uid) = &self.uid {
            m.push(("uid".to_owned(), s(uid)));
        }
        if let Some(nsp) = &self.nsp {
            m.push(("nsp".to_owned(), s(nsp)));
        }
        let v = Value::Map(m);
        if binary {
            return encode(&v).map(Some);
        }
        encode::check_depth(&v)?;
        let j: Json = json::to_json(&v);
        Ok(Some(Bytes::from(
            serde_json::to_vec(&j).unwrap_or_default(),
        )))
    }
}

/// `opts` as `encodeOptions` writes it: `{rooms, except, flags}`.
fn adapter_opts(opts: &BroadcastOpts) -> Value {
    BroadcastOpts {
        order: OptsOrder::Adapter,
        flags: Flags(opts.flags.0.clone()),
        ..opts.clone()
    }
    .to_value()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_KEY;

    fn rt(m: &ShardedMessage) -> ShardedMessage {
        let b = m.encode().unwrap().unwrap();
        ShardedMessage::decode(&b).unwrap()
    }

    #[test]
    fn channels_follow_compute_channel() {
        let c = Channels::new(DEFAULT_KEY, "/");
        let b = |rooms: &[&str]| ShardedBody::Broadcast {
            packet: Packet::event("/", "e", []),
            opts: BroadcastOpts::to_rooms(rooms),
        };
        assert_eq!(c.sharded_for(&b(&["r1"])), "socket.io#/#r1#");
        assert_eq!(c.sharded_for(&b(&[])), "socket.io#/#");
        assert_eq!(c.sharded_for(&b(&["a", "b"])), "socket.io#/#");
        assert_eq!(c.sharded_for(&b(&["t_eviVeHM9frjMHUAAAA"])), "socket.io#/#");
        let ack = ShardedBody::Request(RequestBody::Broadcast {
            request_id: "x".into(),
            packet: Packet::event("/", "e", []),
            opts: BroadcastOpts::to_rooms(&["r1"]),
        });
        assert_eq!(c.sharded_for(&ack), "socket.io#/#");
        assert_eq!(c.sharded_response("abc"), "socket.io#/#abc#");
    }

    /// As the sharded adapter writes it (key order of cluster-adapter.js).
    #[test]
    fn decodes_node_json() {
        let p = Bytes::from_static(br#"{"type":3,"data":{"packet":{"type":2,"data":["hello",{"a":1}]},"opts":{"rooms":["r1"],"except":[],"flags":{}}},"uid":"0123456789abcdef","nsp":"/"}"#);
        let m = ShardedMessage::decode(&p).unwrap();
        assert_eq!(m.uid.as_deref(), Some("0123456789abcdef"));
        assert_eq!(m.nsp.as_deref(), Some("/"));
        let ShardedBody::Broadcast { packet, opts } = &m.body else {
            panic!("{m:?}")
        };
        assert_eq!(packet.event_name(), Some("hello"));
        assert_eq!(opts.rooms, vec!["r1".to_owned()]);
        // and we write the same JSON
        assert_eq!(m.encode().unwrap().unwrap(), p);

        let p = Bytes::from_static(br#"{"type":7,"data":{"opts":{"rooms":["r1"],"except":[]},"requestId":"ab12"},"uid":"u","nsp":"/"}"#);
        assert_eq!(
            ShardedMessage::decode(&p).unwrap().body,
            ShardedBody::Request(RequestBody::RemoteFetch {
                request_id: "ab12".into(),
                opts: RoomFilter {
                    rooms: vec!["r1".into()],
                    except: vec![]
                }
            })
        );
        let p = Bytes::from_static(
            br#"{"type":11,"data":{"requestId":"q","clientCount":2},"uid":"u","nsp":"/"}"#,
        );
        assert_eq!(
            ShardedMessage::decode(&p).unwrap().body,
            ShardedBody::Response(Response::BroadcastClientCount {
                request_id: "q".into(),
                client_count: 2
            })
        );
        let p = Bytes::from_static(br#"{"type":2,"uid":"u","nsp":"/"}"#);
        assert_eq!(
            ShardedMessage::decode(&p).unwrap().body,
            ShardedBody::Other(2)
        );
    }

    /// Captured with `redis-cli monitor` from socket.io 4.8.3 + redis-adapter 8.3.0
    /// `createShardedAdapter` (adapter uid `b2efa3578e0d74e0`): channel and payload of
    /// `io.to("r1").emit("hello", {a: 1})`, `io.emit("all", 1)`,
    /// `io.to("r1").except("ex").emit("bin", {b: Buffer.from([1, 2, 3])})`,
    /// `io.in("r1").socketsJoin("r2")`, `io.in("r1").disconnectSockets(true)`,
    /// `io.serverSideEmit("ping_all", {k: 1})`. Decoding then encoding gives the same bytes.
    #[test]
    fn golden_vectors_from_node() {
        let c = Channels::new(DEFAULT_KEY, "/");
        let vectors: [(&str, &[u8]); 6] = [
            ("socket.io#/#r1#", br#"{"type":3,"data":{"packet":{"type":2,"data":["hello",{"a":1}]},"opts":{"rooms":["r1"],"except":[],"flags":{}}},"uid":"b2efa3578e0d74e0","nsp":"/"}"#),
            ("socket.io#/#", br#"{"type":3,"data":{"packet":{"type":2,"data":["all",1]},"opts":{"rooms":[],"except":[],"flags":{}}},"uid":"b2efa3578e0d74e0","nsp":"/"}"#),
            ("socket.io#/#r1#", b"\x84\xa4type\x03\xa4data\x82\xa6packet\x82\xa4type\x02\xa4data\x92\xa3bin\x81\xa1b\xc4\x03\x01\x02\x03\xa4opts\x83\xa5rooms\x91\xa2r1\xa6except\x91\xa2ex\xa5flags\x80\xa3uid\xb0b2efa3578e0d74e0\xa3nsp\xa1/"),
            ("socket.io#/#", br#"{"type":4,"data":{"opts":{"rooms":["r1"],"except":[],"flags":{}},"rooms":["r2"]},"uid":"b2efa3578e0d74e0","nsp":"/"}"#),
            ("socket.io#/#", br#"{"type":6,"data":{"opts":{"rooms":["r1"],"except":[],"flags":{}},"close":true},"uid":"b2efa3578e0d74e0","nsp":"/"}"#),
            ("socket.io#/#", br#"{"type":9,"data":{"packet":["ping_all",{"k":1}]},"uid":"b2efa3578e0d74e0","nsp":"/"}"#),
        ];
        for (channel, bytes) in vectors {
            let payload = Bytes::from_static(bytes);
            let m = ShardedMessage::decode(&payload).unwrap();
            assert_eq!(m.uid.as_deref(), Some("b2efa3578e0d74e0"));
            assert_eq!(m.encode().unwrap().unwrap(), payload, "{m:?}");
            assert_eq!(c.sharded_for(&m.body), channel);
            if let ShardedBody::Broadcast { packet, .. } = &m.body {
                assert_eq!(
                    packet.nsp.as_deref(),
                    Some("/"),
                    "nsp taken from the message"
                );
            }
        }
    }

    #[test]
    fn binary_goes_msgpack_and_round_trips() {
        let m = ShardedMessage {
            uid: Some("u1".into()),
            nsp: Some("/".into()),
            body: ShardedBody::Broadcast {
                packet: Packet::event(
                    "/",
                    "bin",
                    [Value::map([(
                        "b",
                        Value::Binary(Bytes::from_static(&[1, 2, 3])),
                    )])],
                ),
                opts: BroadcastOpts::to_rooms(&["r1"]),
            },
        };
        let b = m.encode().unwrap().unwrap();
        assert_ne!(b[0], b'{');
        assert_eq!(rt(&m), m);
        let plain = ShardedMessage {
            uid: Some("u1".into()),
            nsp: Some("/".into()),
            body: ShardedBody::Response(Response::BroadcastAck {
                request_id: "r".into(),
                packet: Value::from("x"),
            }),
        };
        assert_eq!(plain.encode().unwrap().unwrap()[0], b'{');
        assert_eq!(rt(&plain), plain);
        for body in [
            ShardedBody::Request(RequestBody::RemoteJoin {
                opts: RoomFilter {
                    rooms: vec!["a".into()],
                    except: vec!["b".into()],
                },
                rooms: vec!["c".into()],
            }),
            ShardedBody::Request(RequestBody::RemoteDisconnect {
                opts: RoomFilter::default(),
                close: true,
            }),
            ShardedBody::Request(RequestBody::ServerSideEmit {
                request_id: Some("q".into()),
                data: vec![Value::from("ping_all"), Value::Int(1)],
            }),
            ShardedBody::Response(Response::ServerSideEmit {
                request_id: "q".into(),
                data: Value::Binary(Bytes::from_static(&[9])),
            }),
        ] {
            let m = ShardedMessage {
                uid: Some("u".into()),
                nsp: Some("/".into()),
                body,
            };
            assert_eq!(rt(&m), m);
        }
        let legacy = ShardedMessage {
            uid: None,
            nsp: None,
            body: ShardedBody::Request(RequestBody::AllRooms {
                request_id: "x".into(),
            }),
        };
        assert_eq!(legacy.encode().unwrap(), None);
    }
}

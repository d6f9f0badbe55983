//! Every request and response variant through its wire encoding (JSON or
//! msgpack as Node uses them) and back.

use bytes::Bytes;
use ringcast_cluster_wire::{
    encode, from_json, BroadcastOpts, FetchedSocket, Flags, Packet, Request, RequestBody,
    RequestType, Response, RoomFilter, Value,
};

fn s(x: &str) -> String {
    x.to_owned()
}

fn filter() -> RoomFilter {
    RoomFilter {
        rooms: vec![s("a"), s("7")],
        except: vec![s("sid")],
    }
}

#[test]
fn every_request_variant_round_trips() {
    let bin = Value::Binary(Bytes::from_static(&[9, 8]));
    let bodies = vec![
        RequestBody::Sockets {
            request_id: s("r0"),
            rooms: vec![s("a")],
        },
        RequestBody::AllRooms {
            request_id: s("r1"),
        },
        RequestBody::RemoteJoin {
            opts: filter(),
            rooms: vec![s("n")],
        },
        RequestBody::RemoteLeave {
            opts: filter(),
            rooms: vec![],
        },
        RequestBody::RemoteDisconnect {
            opts: filter(),
            close: false,
        },
        RequestBody::LegacyJoin {
            request_id: s("l2"),
            sid: s("x"),
            room: s("y"),
        },
        RequestBody::LegacyLeave {
            request_id: s("l3"),
            sid: s("x"),
            room: s("y"),
        },
        RequestBody::LegacyDisconnect {
            request_id: s("l4"),
            sid: s("x"),
            close: true,
        },
        RequestBody::RemoteFetch {
            request_id: s("r5"),
            opts: filter(),
        },
        RequestBody::ServerSideEmit {
            request_id: Some(s("r6")),
            data: vec![Value::from("ev"), Value::Float(0.5)],
        },
        RequestBody::ServerSideEmit {
            request_id: None,
            data: vec![Value::from("ev")],
        },
        RequestBody::Broadcast {
            request_id: s("r7"),
            packet: Packet::event("/", "ask", [bin]),
            opts: BroadcastOpts {
                flags: Flags(vec![(s("timeout"), Value::Int(2000))]),
                ..BroadcastOpts::to_rooms(&["r1"])
            },
        },
    ];
    for (i, body) in bodies.into_iter().enumerate() {
        for uid in [None, Some(s("qNHq3X"))] {
            let req = Request {
                uid: uid.clone(),
                body: body.clone(),
            };
            let bytes = req.encode().unwrap();
            let is_json = bytes[0] == b'{';
            assert_eq!(is_json, req.request_type() != RequestType::Broadcast, "{i}");
            assert_eq!(Request::decode(&bytes).unwrap(), req, "{i}");
            // The msgpack form of any type decodes as well.
            let via_msgpack = if is_json {
                let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                encode(&from_json(&json)).unwrap()
            } else {
                bytes
            };
            assert_eq!(Request::decode(&via_msgpack).unwrap(), req, "{i}");
        }
    }
    let legacy = Request::decode(&Bytes::from_static(
        br#"{"uid":"u","requestId":"q","type":3,"sid":"s","room":5}"#,
    ));
    assert_eq!(
        legacy.unwrap().body,
        RequestBody::LegacyLeave {
            request_id: s("q"),
            sid: s("s"),
            room: s("5")
        }
    );
}

#[test]
fn server_side_emit_binary_is_written_like_json_stringify() {
    let req = Request {
        uid: Some(s("u")),
        body: RequestBody::ServerSideEmit {
            request_id: None,
            data: vec![
                Value::from("ev"),
                Value::Binary(Bytes::from_static(&[1, 2])),
                Value::Date(0.0),
            ],
        },
    };
    assert_eq!(
        req.encode().unwrap(),
        Bytes::from_static(br#"{"uid":"u","type":6,"data":["ev",{"type":"Buffer","data":[1,2]},"1970-01-01T00:00:00.000Z"]}"#)
    );
}

#[test]
fn every_response_variant_round_trips() {
    let socket = FetchedSocket {
        id: s("sid"),
        handshake: serde_json::json!({"headers": {}, "issued": 1}),
        rooms: vec![s("sid"), s("r1")],
        data: serde_json::json!({"user": 3}),
    };
    let cases = vec![
        (
            RequestType::Sockets,
            Response::Sockets {
                request_id: s("a"),
                sockets: vec![s("x"), s("y")],
            },
        ),
        (
            RequestType::AllRooms,
            Response::AllRooms {
                request_id: s("a"),
                rooms: vec![],
            },
        ),
        (
            RequestType::RemoteFetch,
            Response::RemoteFetch {
                request_id: s("a"),
                sockets: vec![socket],
            },
        ),
        (
            RequestType::RemoteFetch,
            Response::RemoteFetch {
                request_id: s("a"),
                sockets: vec![],
            },
        ),
        (
            RequestType::RemoteJoin,
            Response::LegacyAck { request_id: s("a") },
        ),
        (
            RequestType::ServerSideEmit,
            Response::ServerSideEmit {
                request_id: s("a"),
                data: Value::Int(-3),
            },
        ),
        (
            RequestType::Broadcast,
            Response::BroadcastClientCount {
                request_id: s("a"),
                client_count: 0,
            },
        ),
        (
            RequestType::Broadcast,
            Response::BroadcastAck {
                request_id: s("a"),
                packet: Value::Binary(Bytes::from_static(b"\0\xff")),
            },
        ),
    ];
    for (t, resp) in cases {
        let bytes = resp.encode().unwrap();
        assert_eq!(
            bytes[0] == b'{',
            !matches!(resp, Response::BroadcastAck { .. })
        );
        let back = Response::decode(&bytes, |id| (id == "a").then_some(t)).unwrap();
        assert_eq!(back, Some(resp));
    }
    let text = Response::LegacyAck { request_id: s("q") }.encode().unwrap();
    assert_eq!(text, Bytes::from_static(br#"{"requestId":"q"}"#));
    let text = Response::ServerSideEmit {
        request_id: s("q"),
        data: Value::Nil,
    }
    .encode()
    .unwrap();
    assert_eq!(
        text,
        Bytes::from_static(br#"{"type":6,"requestId":"q","data":null}"#)
    );
}

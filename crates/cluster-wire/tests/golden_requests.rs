//! Golden request / response vectors of the cluster contract
//! (docs/contracts/redis-cluster.md section 3.5, vectors 5 and 6): each decodes to the
//! expected typed message and re-encodes to the exact captured bytes.

mod common;

use bytes::Bytes;
use common::{hex, map, opts, strings};
use ringcast_cluster_wire::{
    OptsOrder, Packet, Request, RequestBody, RequestType, Response, RoomFilter, Value,
};

#[test]
fn vector_5_broadcast_with_ack() {
    let bytes = hex("85a3756964a6714e48713358a9726571756573744964a66f6f65686a34a47479706507a67061636b657483a47479706502a46461746192a361736b81a17101a36e7370a12fa46f70747383a5726f6f6d7391a27231a665786365707490a5666c61677381a774696d656f7574cd07d0");
    assert_eq!(bytes.len(), 111);
    let req = Request::decode(&bytes).unwrap();
    let o = opts(
        &["r1"],
        &[],
        &[("timeout", Value::Int(2000))],
        OptsOrder::Adapter,
    );
    let expected = Request {
        uid: Some("qNHq3X".to_owned()),
        body: RequestBody::Broadcast {
            request_id: "ooehj4".to_owned(),
            packet: Packet::event("/", "ask", [map(&[("q", Value::Int(1))])]),
            opts: o,
        },
    };
    assert_eq!(req, expected);
    assert_eq!(req.request_type(), RequestType::Broadcast);
    assert_eq!(req.request_id(), Some("ooehj4"));
    let RequestBody::Broadcast { opts, .. } = &req.body else {
        unreachable!()
    };
    assert_eq!(opts.flags.timeout(), Some(2000));
    assert_eq!(req.encode().unwrap(), bytes);

    let lookup = |id: &str| (id == "ooehj4").then_some(RequestType::Broadcast);
    let count = Bytes::from_static(br#"{"type":8,"requestId":"ooehj4","clientCount":1}"#);
    let expected = Response::BroadcastClientCount {
        request_id: "ooehj4".to_owned(),
        client_count: 1,
    };
    assert_eq!(
        Response::decode(&count, lookup).unwrap(),
        Some(expected.clone())
    );
    assert_eq!(expected.encode().unwrap(), count);

    let ack =
        hex("83a47479706509a9726571756573744964a66f6f65686a34a67061636b6574a9622d736179732d6869");
    assert_eq!(
        &ack[..],
        b"\x83\xa4type\x09\xa9requestId\xa6ooehj4\xa6packet\xa9b-says-hi"
    );
    let expected = Response::BroadcastAck {
        request_id: "ooehj4".to_owned(),
        packet: Value::from("b-says-hi"),
    };
    assert_eq!(
        Response::decode(&ack, lookup).unwrap(),
        Some(expected.clone())
    );
    assert_eq!(expected.encode().unwrap(), ack);
    // Somebody else's answer is not an error.
    assert_eq!(Response::decode(&ack, |_| None).unwrap(), None);
}

/// Decodes a JSON request, compares, re-encodes to the same text.
fn check_request(text: &'static str, expected: Request) {
    let payload = Bytes::from_static(text.as_bytes());
    assert_eq!(Request::decode(&payload).unwrap(), expected, "{text}");
    assert_eq!(expected.encode().unwrap(), payload, "{text}");
}

fn filter(rooms: &[&str]) -> RoomFilter {
    RoomFilter {
        rooms: strings(rooms),
        except: Vec::new(),
    }
}

#[test]
fn vector_6_json_requests() {
    let uid = Some("qNHq3X".to_owned());
    check_request(
        r#"{"uid":"qNHq3X","requestId":"4JIP7A","type":5,"opts":{"rooms":["r1"],"except":[]}}"#,
        Request {
            uid: uid.clone(),
            body: RequestBody::RemoteFetch {
                request_id: "4JIP7A".to_owned(),
                opts: filter(&["r1"]),
            },
        },
    );
    let join = |rooms: &[&str]| RequestBody::RemoteJoin {
        opts: filter(&["r1"]),
        rooms: strings(rooms),
    };
    check_request(
        r#"{"uid":"qNHq3X","type":2,"opts":{"rooms":["r1"],"except":[]},"rooms":["r2"]}"#,
        Request {
            uid: uid.clone(),
            body: join(&["r2"]),
        },
    );
    check_request(
        r#"{"uid":"qNHq3X","type":3,"opts":{"rooms":["r1"],"except":[]},"rooms":["r2"]}"#,
        Request {
            uid: uid.clone(),
            body: RequestBody::RemoteLeave {
                opts: filter(&["r1"]),
                rooms: strings(&["r2"]),
            },
        },
    );
    check_request(
        r#"{"uid":"qNHq3X","type":4,"opts":{"rooms":["doomed"],"except":[]},"close":true}"#,
        Request {
            uid: uid.clone(),
            body: RequestBody::RemoteDisconnect {
                opts: filter(&["doomed"]),
                close: true,
            },
        },
    );
    check_request(
        r#"{"uid":"qNHq3X","type":6,"data":["ping_all",{"k":1}]}"#,
        Request {
            uid,
            body: RequestBody::ServerSideEmit {
                request_id: None,
                data: vec![Value::from("ping_all"), map(&[("k", Value::Int(1))])],
            },
        },
    );
    let emitter_emit = Request {
        uid: Some("emitter".to_owned()),
        body: RequestBody::ServerSideEmit {
            request_id: None,
            data: vec![Value::from("ping_all"), Value::from("e")],
        },
    };
    assert!(emitter_emit.is_from_emitter());
    check_request(
        r#"{"uid":"emitter","type":6,"data":["ping_all","e"]}"#,
        emitter_emit,
    );
    let emitter_join = Request {
        uid: None,
        body: join(&["r3"]),
    };
    assert!(emitter_join.is_from_emitter());
    check_request(
        r#"{"type":2,"opts":{"rooms":["r1"],"except":[]},"rooms":["r3"]}"#,
        emitter_join,
    );
}

#[test]
fn vector_6_fetch_sockets_answer() {
    // The captured answer with its elided headers filled in as socket.io
    // sends them for a websocket client.
    let text = concat!(
        r#"{"requestId":"4JIP7A","sockets":[{"id":"t_eviVeHM9frjMHUAAAA","handshake":{"headers":{"#,
        r#""sec-websocket-version":"13","sec-websocket-key":"dGhlIHNhbXBsZSBub25jZQ==","connection":"Upgrade","#,
        r#""upgrade":"websocket","sec-websocket-extensions":"permessage-deflate; client_max_window_bits","host":"127.0.0.1:3001"},"#,
        r#""time":"Fri Nov 27 2026 13:01:28 GMT+0000 (Coordinated Universal Time)","address":"127.0.0.1","#,
        r#""xdomain":false,"secure":false,"issued":1795784488597,"url":"/socket.io/?EIO=4&transport=websocket","#,
        r#""query":{"EIO":"4","transport":"websocket"},"auth":{}},"rooms":["t_eviVeHM9frjMHUAAAA","r1"],"data":{}}]}"#
    );
    let payload = Bytes::from_static(text.as_bytes());
    let lookup = |id: &str| (id == "4JIP7A").then_some(RequestType::RemoteFetch);
    let Some(Response::RemoteFetch {
        request_id,
        sockets,
    }) = Response::decode(&payload, lookup).unwrap()
    else {
        panic!("not a fetch answer");
    };
    assert_eq!(request_id, "4JIP7A");
    assert_eq!(sockets.len(), 1);
    let s = &sockets[0];
    assert_eq!(s.id, "t_eviVeHM9frjMHUAAAA");
    assert_eq!(s.rooms, strings(&["t_eviVeHM9frjMHUAAAA", "r1"]));
    assert_eq!(s.data, serde_json::json!({}));
    assert_eq!(s.handshake["issued"], 1_795_784_488_597_u64);
    assert_eq!(s.handshake["query"]["EIO"], "4");

    // Building the same answer from typed parts gives the same bytes.
    let full: serde_json::Value = serde_json::from_str(text).unwrap();
    let h = &full["sockets"][0]["handshake"];
    let handshake = ringcast_cluster_wire::Handshake {
        headers: h["headers"].as_object().unwrap().clone(),
        time: h["time"].as_str().unwrap().to_owned(),
        address: "127.0.0.1".to_owned(),
        xdomain: false,
        secure: false,
        issued: 1_795_784_488_597,
        url: "/socket.io/?EIO=4&transport=websocket".to_owned(),
        query: h["query"].as_object().unwrap().clone(),
        auth: serde_json::json!({}),
    };
    let built = Response::RemoteFetch {
        request_id: "4JIP7A".to_owned(),
        sockets: vec![ringcast_cluster_wire::FetchedSocket {
            id: "t_eviVeHM9frjMHUAAAA".to_owned(),
            handshake: handshake.to_json(),
            rooms: strings(&["t_eviVeHM9frjMHUAAAA", "r1"]),
            data: serde_json::json!({}),
        }],
    };
    assert_eq!(built.encode().unwrap(), payload);
}

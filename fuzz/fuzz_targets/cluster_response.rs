//! `Response::decode`: an answer on `<key>-response#<nsp>#` (JSON, or
//! msgpack for type 9), decoded against every pending request type.
//!
//! Checks: never panics; the answer's request id is the one looked up; a
//! decoded response that encodes re-decodes (against the same pending
//! type), and encoding is stable after at most one normalizing round
//! trip (see `ringcast_fuzz::check_reencoding`).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use ringcast_cluster_wire::{RequestType, Response};
use ringcast_fuzz::check_reencoding;

const ALL_TYPES: [RequestType; 10] = [
    RequestType::Sockets,
    RequestType::AllRooms,
    RequestType::RemoteJoin,
    RequestType::RemoteLeave,
    RequestType::RemoteDisconnect,
    RequestType::RemoteFetch,
    RequestType::ServerSideEmit,
    RequestType::Broadcast,
    RequestType::BroadcastClientCount,
    RequestType::BroadcastAck,
];

fuzz_target!(|data: &[u8]| {
    let payload = Bytes::copy_from_slice(data);
    assert!(matches!(
        Response::decode(&payload, |_| None),
        Ok(None) | Err(_)
    ));
    for t in ALL_TYPES {
        let mut asked = None;
        let Ok(Some(r)) = Response::decode(&payload, |id| {
            asked = Some(id.to_owned());
            Some(t)
        }) else {
            continue;
        };
        assert_eq!(asked.as_deref(), Some(r.request_id()));
        let Ok(bytes) = r.encode() else {
            continue;
        };
        check_reencoding(
            &bytes,
            |b| Response::decode(b, |_| Some(t)).map(|r| r.expect("lookup answered")),
            Response::encode,
        );
    }
});

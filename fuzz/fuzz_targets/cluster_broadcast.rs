//! `BroadcastMessage::decode`: a Redis adapter broadcast
//! `[uid, packet, opts]` (msgpack, channel `<key>#<nsp>#[<room>#]`).
//!
//! Checks: never panics; a decoded message that encodes re-decodes, and
//! encoding is stable after at most one normalizing round trip (see
//! `ringcast_fuzz::check_reencoding`).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use ringcast_cluster_wire::BroadcastMessage;
use ringcast_fuzz::check_reencoding;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = BroadcastMessage::decode(&Bytes::copy_from_slice(data)) else {
        return;
    };
    let _ = (m.is_from_emitter(), m.is_for("/"));
    let Ok(bytes) = m.encode() else {
        return;
    };
    check_reencoding(&bytes, BroadcastMessage::decode, BroadcastMessage::encode);
});

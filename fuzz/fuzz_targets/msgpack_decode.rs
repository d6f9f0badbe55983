//! `ringcast_cluster_wire::decode`: one notepack/msgpack value from Redis
//! (the golden vectors of docs/contracts/redis-cluster.md §3.5), then the
//! conversion to ringcast's JSON-with-placeholders form that the receive
//! path applies to event arguments.
//!
//! Checks: never panics, also under a tiny depth limit; a decoded value
//! that encodes re-decodes, and encoding is stable after at most one
//! normalizing round trip (see `ringcast_fuzz::check_reencoding`).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use ringcast_cluster_wire::{
    decode, decode_with, encode, from_placeholders, to_placeholders, Limits,
};
use ringcast_fuzz::check_reencoding;

fuzz_target!(|data: &[u8]| {
    let payload = Bytes::copy_from_slice(data);
    let _ = decode_with(
        &payload,
        &Limits {
            max_depth: 3,
            max_bytes: 1024,
        },
    );
    let Ok(v) = decode(&payload) else {
        return;
    };
    let (json, attachments) = to_placeholders(&v);
    let _ = from_placeholders(&json, &attachments);
    let Ok(bytes) = encode(&v) else {
        return;
    };
    check_reencoding(&bytes, decode, encode);
});

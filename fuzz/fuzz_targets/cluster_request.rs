//! `Request::decode`: a request on `<key>-request#<nsp>#` (JSON when the
//! payload starts with `{`, else msgpack; types 0-7).
//!
//! Checks: never panics; a decoded request that encodes re-decodes, and
//! encoding is stable after at most one normalizing round trip (see
//! `ringcast_fuzz::check_reencoding`).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use ringcast_cluster_wire::Request;
use ringcast_fuzz::check_reencoding;

fuzz_target!(|data: &[u8]| {
    let Ok(r) = Request::decode(&Bytes::copy_from_slice(data)) else {
        return;
    };
    let _ = (r.request_type(), r.request_id(), r.is_from_emitter());
    let Ok(bytes) = r.encode() else {
        return;
    };
    let back = Request::decode(&bytes).expect("encoded request does not decode");
    assert_eq!(back.request_type(), r.request_type());
    check_reencoding(&bytes, Request::decode, Request::encode);
});

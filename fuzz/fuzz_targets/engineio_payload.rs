//! `engineio::payload::decode`: a long-polling POST body, packets joined
//! by `0x1e` (`4hello\x1e2\x1e4world`, `b`+base64 for binary).
//!
//! Checks: never panics; at most `max_packets` packets; what decodes
//! re-encodes (`PayloadWriter`) to a body that decodes to the same packets.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use ringcast_proto::engineio::payload::{self, PayloadWriter, SEPARATOR};

const MAX_PACKETS: usize = 16;

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    let Ok(packets) = payload::decode(&body, MAX_PACKETS) else {
        return;
    };
    assert!(!packets.is_empty() && packets.len() <= MAX_PACKETS);
    assert_eq!(
        packets.len(),
        data.iter().filter(|&&b| b == SEPARATOR).count() + 1
    );
    let mut out = BytesMut::new();
    let mut w = PayloadWriter::new(&mut out);
    for p in &packets {
        w.push(p);
    }
    assert_eq!(payload::decode(&out.freeze(), MAX_PACKETS), Ok(packets));
});

//! `engineio::Packet::decode_text`: one Engine.IO packet from a WebSocket
//! text frame or a polling segment (`4hello`, `2probe`, `bAQIDBA==`).
//!
//! Checks: never panics; `Message` data is valid UTF-8; what decodes
//! re-encodes (`encode_polling`, exact `encoded_polling_len`) to bytes that
//! decode to the same packet.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use ringcast_proto::engineio::Packet;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Packet::decode_text(Bytes::copy_from_slice(data)) else {
        return;
    };
    if let Packet::Message(d) = &p {
        assert!(std::str::from_utf8(d.as_bytes()).is_ok(), "message data is not UTF-8");
    }
    let mut out = BytesMut::new();
    p.encode_polling(&mut out);
    assert_eq!(out.len(), p.encoded_polling_len());
    assert_eq!(Packet::decode_text(out.freeze()), Ok(p));
});

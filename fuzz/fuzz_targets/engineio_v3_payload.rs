//! `engineio::v3::decode_payload_text` / `decode_payload_binary` (an
//! Engine.IO v3 long-polling POST body: `<length>:<packet>` with UTF-16
//! lengths, or the `0x00`/`0x01` + digits + `0xff` binary framing), and
//! `Packet::decode_binary_v3` (a v3 websocket binary frame).
//!
//! Checks: never panics; at most `max_packets` packets; what decodes
//! re-encodes (`PayloadWriter`, both v3 formats) to a body that decodes to
//! the same packets, whenever the packets' data is text (a binary-framed
//! ping may carry bytes that only the binary framing can hold).
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use ringcast_proto::engineio::payload::{Format, PayloadWriter};
use ringcast_proto::engineio::{v3, Packet};

const MAX_PACKETS: usize = 16;

fn encode(format: Format, packets: &[Packet]) -> Bytes {
    let mut out = BytesMut::new();
    let mut w = PayloadWriter::with_format(&mut out, format);
    for p in packets {
        w.push(p);
    }
    out.freeze()
}

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    let _ = Packet::decode_binary_v3(body.clone());
    for decoded in [
        v3::decode_payload_text(&body, MAX_PACKETS),
        v3::decode_payload_binary(&body, MAX_PACKETS),
    ] {
        let Ok(packets) = decoded else { continue };
        assert!(packets.len() <= MAX_PACKETS);
        let text = packets
            .iter()
            .all(|p| matches!(p, Packet::Binary(_)) || std::str::from_utf8(p.data()).is_ok());
        if !text {
            continue;
        }
        let again = v3::decode_payload_text(&encode(Format::V3Text, &packets), MAX_PACKETS);
        if !packets.is_empty() {
            assert_eq!(again.as_ref(), Ok(&packets));
            let again = v3::decode_payload_binary(&encode(Format::V3Binary, &packets), MAX_PACKETS);
            assert_eq!(again, Ok(packets));
        }
    }
});

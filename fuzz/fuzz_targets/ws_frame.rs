//! `ws::FrameDecoder::decode`: client-to-server WebSocket frames (masked,
//! possibly fragmented, control frames interleaved), fed in random-size
//! reads like a socket delivers them.
//!
//! Input: one config byte (low two bits pick `max_message`: 125, 1024,
//! 64 KiB or 16 MiB), one seed byte for how the stream is cut into reads,
//! then the byte stream (e.g. `81 85 37 fa 21 3d 7f 9f 4d 51 58`, a masked
//! "Hello" from RFC 6455 §5.7).
//!
//! Checks: never panics; the stream decoded from one buffer and fed in
//! seed-sized reads yields the same messages, the same error and the same
//! leftover bytes; text and close reasons are UTF-8; data messages are at
//! most `max_message`; control payloads at most 125 bytes; close codes
//! valid.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use ringcast_fuzz::chunks;
use ringcast_proto::ws::{is_valid_close_code, FrameDecoder, Message, WsError};

#[derive(Debug, PartialEq)]
struct Outcome {
    messages: Vec<Message>,
    error: Option<WsError>,
    /// Unconsumed bytes; only compared when no error occurred.
    rest: Option<Vec<u8>>,
}

/// Decodes every complete message in `buf`; false after an error (the
/// connection is then closed and the decoder never used again).
fn drain(d: &mut FrameDecoder, buf: &mut BytesMut, o: &mut Outcome, max: usize) -> bool {
    loop {
        match d.decode(buf) {
            Ok(Some(m)) => {
                check(&m, max);
                o.messages.push(m);
            }
            Ok(None) => return true,
            Err(e) => {
                o.error = Some(e);
                return false;
            }
        }
    }
}

fn check(m: &Message, max: usize) {
    match m {
        Message::Text(t) => {
            assert!(t.len() <= max);
            assert!(std::str::from_utf8(t.as_bytes()).is_ok(), "text is not UTF-8");
        }
        Message::Binary(b) => assert!(b.len() <= max),
        Message::Ping(p) | Message::Pong(p) => assert!(p.len() <= 125),
        Message::Close(code, reason) => {
            assert!(reason.len() <= 123);
            assert!(
                std::str::from_utf8(reason).is_ok(),
                "close reason is not UTF-8"
            );
            match code {
                Some(c) => assert!(is_valid_close_code(*c), "close code {c}"),
                None => assert!(reason.is_empty()),
            }
        }
    }
}

fn new_outcome() -> Outcome {
    Outcome {
        messages: Vec::new(),
        error: None,
        rest: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let [cfg, seed, wire @ ..] = data else {
        return;
    };
    let max = [125, 1024, 64 << 10, 16 << 20][usize::from(cfg & 3)];

    let mut whole = new_outcome();
    let mut d = FrameDecoder::new(max);
    let mut buf = BytesMut::from(wire);
    if drain(&mut d, &mut buf, &mut whole, max) {
        whole.rest = Some(buf.to_vec());
    }

    let mut split = new_outcome();
    let mut d = FrameDecoder::new(max);
    let mut buf = BytesMut::new();
    let mut ok = true;
    for c in chunks(wire, *seed) {
        buf.extend_from_slice(c);
        ok = drain(&mut d, &mut buf, &mut split, max);
        if !ok {
            break;
        }
    }
    if ok {
        split.rest = Some(buf.to_vec());
    }

    assert_eq!(whole, split);
});

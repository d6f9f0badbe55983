//! Sans-IO Engine.IO + Socket.IO client core for namespace `/`.
//!
//! [`classify`] turns one Engine.IO text packet (a WebSocket text frame or
//! one segment of a polling payload) into an [`Incoming`] that borrows from
//! the input: the hot path (events and acks) never builds a
//! `serde_json::Value` and never allocates. The rare packets (the handshake,
//! CONNECT / CONNECT_ERROR) go through serde and `ringcast_proto::socketio`.
//! [`scan_stamp`] pulls the load generator's `{"s":<seq>,"t":<micros>}`
//! stamp out of an argument list by scanning.

use std::io::Write as _;

use ringcast_proto::socketio::{self, PacketKind};
use serde::Deserialize;

/// What one Engine.IO text packet means to the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming<'a> {
    /// `0{...}`: the handshake.
    Open(Handshake),
    /// `2…`: the server pings; answer `3…` with the same data.
    Ping(&'a [u8]),
    /// `1`: the server closes the session.
    Close,
    /// `40{"sid":…}`: connected to `/`.
    Connected,
    /// `44{…}`: the namespace refused us (the message).
    ConnectError(String),
    /// `41`: the server disconnected us from `/`.
    Disconnected,
    /// `2["name",args…]`: `args` is the JSON between the name's comma and the
    /// closing bracket (empty when there are none).
    Event { name: &'a [u8], args: &'a [u8] },
    /// `3<id>[args…]`: `args` without the brackets.
    Ack { id: u64, args: &'a [u8] },
    /// Anything the load generator does not act on (pong, noop, other
    /// namespaces, binary packets).
    Ignored,
    /// A packet that does not parse.
    Invalid(&'static str),
}

/// The fields of the handshake the client uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Handshake {
    pub(crate) sid: String,
    #[serde(default)]
    pub(crate) ping_interval: u64,
    #[serde(default)]
    pub(crate) ping_timeout: u64,
}

/// Classifies one Engine.IO text packet.
pub(crate) fn classify(p: &[u8]) -> Incoming<'_> {
    let Some((&t, rest)) = p.split_first() else {
        return Incoming::Invalid("empty packet");
    };
    match t {
        b'4' => classify_sio(rest),
        b'2' => Incoming::Ping(rest),
        b'0' => match serde_json::from_slice::<Handshake>(rest) {
            Ok(h) => Incoming::Open(h),
            Err(_) => Incoming::Invalid("bad handshake"),
        },
        b'1' => Incoming::Close,
        b'3' | b'5' | b'6' | b'b' => Incoming::Ignored,
        _ => Incoming::Invalid("unknown engine.io packet type"),
    }
}

fn classify_sio(p: &[u8]) -> Incoming<'_> {
    let Some(&t) = p.first() else {
        return Incoming::Invalid("empty socket.io packet");
    };
    // Other namespaces (`2/custom,…`) are not ours.
    if p.get(1) == Some(&b'/') {
        return Incoming::Ignored;
    }
    match t {
        b'2' => {
            let (_, i) = digits(p, 1);
            let body = &p[i..];
            if !body.starts_with(b"[\"") || !body.ends_with(b"]") {
                return Incoming::Invalid("event is not [\"name\",…]");
            }
            let Some(q) = find(&body[2..], b"\"") else {
                return Incoming::Invalid("unterminated event name");
            };
            let name = &body[2..2 + q];
            let after = &body[3 + q..body.len() - 1];
            let args = after.strip_prefix(b",").unwrap_or(after);
            Incoming::Event { name, args }
        }
        b'3' => {
            let (id, i) = digits(p, 1);
            let body = &p[i..];
            match id {
                Some(id) if body.len() >= 2 && body[0] == b'[' && body.ends_with(b"]") => {
                    Incoming::Ack {
                        id,
                        args: &body[1..body.len() - 1],
                    }
                }
                _ => Incoming::Invalid("bad ack"),
            }
        }
        b'0' | b'4' => {
            let text = std::str::from_utf8(p).unwrap_or("");
            match socketio::Packet::decode(text, &socketio::Limits::default()) {
                Ok(pk) if pk.kind == PacketKind::Connect => Incoming::Connected,
                Ok(pk) => {
                    let msg = pk
                        .data
                        .as_ref()
                        .and_then(|d| d.get("message").or(Some(d)))
                        .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned))
                        .unwrap_or_default();
                    Incoming::ConnectError(msg)
                }
                Err(_) => Incoming::Invalid("bad CONNECT reply"),
            }
        }
        b'1' => Incoming::Disconnected,
        _ => Incoming::Ignored,
    }
}

/// Parses ASCII digits starting at `i`: (value if any, index after them).
fn digits(p: &[u8], mut i: usize) -> (Option<u64>, usize) {
    let start = i;
    let mut v = 0u64;
    while let Some(d) = p.get(i).filter(|d| d.is_ascii_digit()) {
        v = v.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
        i += 1;
    }
    ((i > start).then_some(v), i)
}

/// First occurrence of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(off) = hay[from..].iter().position(|&b| b == first) {
        let at = from + off;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Extracts `(seq, micros)` from `{"s":<seq>,"t":<micros>,…}` anywhere in
/// `args` without parsing the JSON.
pub(crate) fn scan_stamp(args: &[u8]) -> Option<(u64, u64)> {
    let s = find(args, b"\"s\":")?;
    let (seq, after) = digits(args, s + 4);
    let t = find(&args[after..], b"\"t\":")? + after;
    let (micros, _) = digits(args, t + 4);
    Some((seq?, micros?))
}

/// Appends a Socket.IO EVENT head `2[<ack>]["<name>"`; the caller appends
/// `,<arg>`… and the closing `]`. Names must not need JSON escaping.
pub(crate) fn event_head(out: &mut Vec<u8>, ack: Option<u64>, name: &str) {
    out.push(b'2');
    if let Some(id) = ack {
        let _ = write!(out, "{id}");
    }
    out.extend_from_slice(b"[\"");
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
}

/// Appends a stamped payload object of about `size` bytes:
/// `{"s":<seq>,"t":<micros>,"p":"xxxx"}`.
pub(crate) fn write_stamp(out: &mut Vec<u8>, seq: u64, micros: u64, size: usize) {
    write_stamp_padded(out, seq, micros, size, false);
}

/// Words of the `text` pad (`fanout --pad text`): chat-like text that
/// deflate compresses about 2-3x, where a run of `x` compresses ~100x.
const WORDS: [&str; 64] = [
    "the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are",
    "as", "with", "his", "they", "at", "be", "this", "have", "from", "or", "one", "had", "by",
    "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said", "there",
    "use", "an", "each", "which", "she", "do", "how", "their", "if", "will", "up", "other",
    "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make", "like",
    "him",
];

/// [`write_stamp`] with the pad made of random words (`text`) instead of
/// `x`: different for every message (drawn from `seq`), JSON-safe.
pub(crate) fn write_stamp_padded(
    out: &mut Vec<u8>,
    seq: u64,
    micros: u64,
    size: usize,
    text: bool,
) {
    let start = out.len();
    let _ = write!(out, "{{\"s\":{seq},\"t\":{micros},\"p\":\"");
    let end = out.len() + size.saturating_sub(out.len() - start + 2);
    if text {
        let mut x = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        while out.len() < end {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend_from_slice(WORDS[(x % 64) as usize].as_bytes());
            out.push(if x & 0xf00 == 0 { b'.' } else { b' ' });
        }
        out.truncate(end);
    }
    out.resize(end, b'x');
    out.extend_from_slice(b"\"}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_stamps() {
        for text in [false, true] {
            let mut out = Vec::new();
            write_stamp_padded(&mut out, 42, 7, 300, text);
            assert_eq!(out.len(), 300);
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!((v["s"].as_u64(), v["t"].as_u64()), (Some(42), Some(7)));
            assert_eq!(scan_stamp(&out), Some((42, 7)));
            let compressed = ringcast_proto::ws::deflate::compress(&out, 6).unwrap();
            // x: ~100x smaller; text: 1.5-4x (chat-like).
            let ratio = out.len() as f64 / compressed.len() as f64;
            assert!(
                if text {
                    (1.5..4.0).contains(&ratio)
                } else {
                    ratio > 5.0
                },
                "{ratio}"
            );
        }
        let mut small = Vec::new();
        write_stamp_padded(&mut small, 123_456, 7, 4, true);
        assert_eq!(small, br#"{"s":123456,"t":7,"p":""}"#);
    }

    #[test]
    fn classify_vectors() {
        assert_eq!(classify(b"2"), Incoming::Ping(b""));
        assert_eq!(classify(b"1"), Incoming::Close);
        assert_eq!(classify(b"6"), Incoming::Ignored);
        assert_eq!(classify(br#"40{"sid":"abc"}"#), Incoming::Connected);
        assert_eq!(
            classify(br#"44{"message":"unauthorized"}"#),
            Incoming::ConnectError("unauthorized".into())
        );
        assert_eq!(
            classify(br#"42["msg",{"s":1}]"#),
            Incoming::Event {
                name: b"msg",
                args: br#"{"s":1}"#
            }
        );
        assert_eq!(
            classify(br#"42["auth"]"#),
            Incoming::Event {
                name: b"auth",
                args: b""
            }
        );
        assert_eq!(
            classify(b"4317[true]"),
            Incoming::Ack {
                id: 17,
                args: b"true"
            }
        );
        assert_eq!(classify(b"430[]"), Incoming::Ack { id: 0, args: b"" });
        assert_eq!(classify(br#"42/custom,["auth",{}]"#), Incoming::Ignored);
        assert!(matches!(classify(b"43[1]"), Incoming::Invalid(_)));
        let open = br#"0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        match classify(open) {
            Incoming::Open(h) => assert_eq!((h.sid.as_str(), h.ping_interval), ("x", 25000)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stamps() {
        let mut out = Vec::new();
        write_stamp(&mut out, 42, 123456, 64);
        assert_eq!(out.len(), 64);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["s"], 42);
        assert_eq!(scan_stamp(&out), Some((42, 123456)));
        out.clear();
        write_stamp(&mut out, 1, 2, 0);
        assert_eq!(out, br#"{"s":1,"t":2,"p":""}"#);
        assert_eq!(scan_stamp(br#""room",{"s":7,"t":9}"#), Some((7, 9)));
        assert_eq!(scan_stamp(b"true"), None);
        let mut e = Vec::new();
        event_head(&mut e, Some(3), "echo");
        e.extend_from_slice(b",1]");
        assert_eq!(e, br#"23["echo",1]"#);
    }
}

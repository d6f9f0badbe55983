//! The handshake (`open` packet) data and the JSON error bodies that Node's
//! engine.io server sends with HTTP 400/403.
//!
//! Both are written by hand in a fixed key order (clients do not care, but
//! byte-for-byte equality with Node keeps tests and captures comparable);
//! strings go through serde_json so any character is escaped correctly.

use crate::json_util::{push_decimal, write_json_str};

/// The data of the handshake packet. [`OpenPacket::to_json`] gives, compact
/// and in this key order:
/// `{"sid":"…","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenPacket<'a> {
    /// The session id (see [`crate::sid`]).
    pub sid: &'a str,
    /// Transports the client may upgrade to (`["websocket"]` on polling,
    /// `[]` on a WebSocket-only session).
    pub upgrades: &'a [&'a str],
    /// Milliseconds between server pings.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong.
    pub ping_timeout: u64,
    /// Maximum bytes per payload the client should send.
    pub max_payload: u64,
}

impl OpenPacket<'_> {
    /// Compact JSON in the fixed key order documented on the type.
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(96 + self.sid.len());
        self.write_json(&mut s);
        s
    }

    /// [`OpenPacket::to_json`], appended to `s` (the open packet's `0` may
    /// come first, in the same allocation).
    pub fn write_json(&self, s: &mut String) {
        s.push_str("{\"sid\":");
        write_json_str(s, self.sid);
        s.push_str(",\"upgrades\":[");
        for (i, u) in self.upgrades.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            write_json_str(s, u);
        }
        // Numbers without `core::fmt` (callgrind: ~870 instructions per
        // handshake through `write!`).
        s.push_str("],\"pingInterval\":");
        push_decimal(s, self.ping_interval);
        s.push_str(",\"pingTimeout\":");
        push_decimal(s, self.ping_timeout);
        s.push_str(",\"maxPayload\":");
        push_decimal(s, self.max_payload);
        s.push('}');
    }
}

/// The open packet of one server configuration for any sid: everything
/// after the sid (`"upgrades"`, the heartbeat, `"maxPayload"`) is written
/// once, when the server starts, so a handshake writes its sid and copies
/// the rest (callgrind: ~980 instructions per handshake through
/// [`OpenPacket::write_json`], ~330 this way). The text is
/// [`OpenPacket::write_json`]'s, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTemplate {
    /// `,"upgrades":[…],"pingInterval":…,"pingTimeout":…,"maxPayload":…}`
    tail: String,
}

impl OpenTemplate {
    /// The template of `packet`'s fields but its sid.
    pub fn new(packet: &OpenPacket<'_>) -> Self {
        let mut text = String::new();
        OpenPacket { sid: "", ..*packet }.write_json(&mut text);
        // `{"sid":""` then the tail.
        let tail = text.split_off("{\"sid\":\"\"".len());
        Self { tail }
    }

    /// [`OpenPacket::write_json`] of this template's fields with `sid`,
    /// appended to `s`.
    pub fn write_json(&self, sid: &str, s: &mut String) {
        s.reserve(sid.len() + self.tail.len() + 10);
        s.push_str("{\"sid\":");
        write_json_str(s, sid);
        s.push_str(&self.tail);
    }
}

/// Handshake / request errors, with the codes and messages of Node's
/// engine.io (`Server.errors` / `Server.errorMessages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EngineError {
    /// 0 `Transport unknown` (HTTP 400).
    UnknownTransport = 0,
    /// 1 `Session ID unknown` (HTTP 400).
    UnknownSid = 1,
    /// 2 `Bad handshake method` (HTTP 400).
    BadHandshakeMethod = 2,
    /// 3 `Bad request` (HTTP 400).
    BadRequest = 3,
    /// 4 `Forbidden` (HTTP 403).
    Forbidden = 4,
    /// 5 `Unsupported protocol version` (HTTP 400).
    UnsupportedProtocolVersion = 5,
}

impl EngineError {
    /// The numeric code in the JSON body.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The exact message string Node sends.
    pub fn message(self) -> &'static str {
        match self {
            Self::UnknownTransport => "Transport unknown",
            Self::UnknownSid => "Session ID unknown",
            Self::BadHandshakeMethod => "Bad handshake method",
            Self::BadRequest => "Bad request",
            Self::Forbidden => "Forbidden",
            Self::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status Node pairs with this error (403 for `Forbidden`,
    /// 400 otherwise).
    pub fn http_status(self) -> u16 {
        match self {
            Self::Forbidden => 403,
            _ => 400,
        }
    }

    /// `{"code":0,"message":"Transport unknown"}`
    pub fn to_json(self) -> String {
        format!(
            "{{\"code\":{},\"message\":\"{}\"}}",
            self.code(),
            self.message()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_writes_the_open_packet() {
        for upgrades in [&[][..], &["websocket"][..]] {
            let fields = OpenPacket {
                sid: "unused",
                upgrades,
                ping_interval: 25_000,
                ping_timeout: 20_000,
                max_payload: 1_000_000,
            };
            let template = OpenTemplate::new(&fields);
            for sid in ["lv_VI97HAXpY6yYWAAAC", "", "a\"b\\c\u{1}é"] {
                let mut want = String::from("0");
                OpenPacket { sid, ..fields }.write_json(&mut want);
                let mut got = String::from("0");
                template.write_json(sid, &mut got);
                assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn open_packet_json() {
        let p = OpenPacket {
            sid: "lv_VI97HAXpY6yYWAAAC",
            upgrades: &["websocket"],
            ping_interval: 25000,
            ping_timeout: 20000,
            max_payload: 1_000_000,
        };
        assert_eq!(
            p.to_json(),
            r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
        let p = OpenPacket {
            sid: "a\"b",
            upgrades: &[],
            ..p
        };
        assert_eq!(
            p.to_json(),
            r#"{"sid":"a\"b","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
        let v: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(v["sid"], "a\"b");
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            EngineError::UnknownTransport.to_json(),
            r#"{"code":0,"message":"Transport unknown"}"#
        );
        assert_eq!(
            EngineError::UnknownSid.to_json(),
            r#"{"code":1,"message":"Session ID unknown"}"#
        );
        assert_eq!(
            EngineError::BadHandshakeMethod.to_json(),
            r#"{"code":2,"message":"Bad handshake method"}"#
        );
        assert_eq!(
            EngineError::BadRequest.to_json(),
            r#"{"code":3,"message":"Bad request"}"#
        );
        assert_eq!(
            EngineError::Forbidden.to_json(),
            r#"{"code":4,"message":"Forbidden"}"#
        );
        assert_eq!(
            EngineError::UnsupportedProtocolVersion.to_json(),
            r#"{"code":5,"message":"Unsupported protocol version"}"#
        );
        assert_eq!(EngineError::Forbidden.http_status(), 403);
        assert_eq!(EngineError::UnknownSid.http_status(), 400);
        assert_eq!(EngineError::UnsupportedProtocolVersion.code(), 5);
    }
}

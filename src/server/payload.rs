//! Event arguments with binary attachments.
//!
//! Arguments are JSON values; binary data appears as Socket.IO placeholders
//! (`{"_placeholder":true,"num":N}`) that index [`Payload::attachments`],
//! exactly as on the wire. Received payloads keep that shape, so forwarding
//! or echoing arguments preserves binary (also nested, also empty buffers).

use std::sync::Arc;

use bytes::Bytes;
use ringcast_proto::socketio::{binary, Args};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::config::Parser;
use crate::shard::encode;
use crate::shard::msg::Msg;

/// Arguments of an emit or an ack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    /// The arguments, in order. Dereferences to `Vec<Value>`; a received
    /// event's arguments stay the JSON text they came as until they are
    /// read (parsed then) or changed, so forwarding them costs no parsing
    /// or re-encoding.
    pub args: Args,
    /// Binary attachments referenced by placeholders in `args`.
    pub attachments: Vec<Bytes>,
}

impl Payload {
    /// No arguments.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a JSON argument (anything serde can serialize; a value that
    /// fails to serialize becomes `null`).
    pub fn arg(mut self, value: impl Serialize) -> Self {
        self.args
            .push(serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    /// Appends a binary argument.
    pub fn binary(mut self, data: impl Into<Bytes>) -> Self {
        self.args.push(binary::placeholder(self.attachments.len()));
        self.attachments.push(data.into());
        self
    }

    /// Arguments and attachments as received.
    pub fn from_parts(args: impl Into<Args>, attachments: Vec<Bytes>) -> Self {
        Self {
            args: args.into(),
            attachments,
        }
    }

    /// The arguments deserialized as `T` (a tuple for several arguments),
    /// straight from the received text when there is one.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        self.args.parse()
    }

    /// Keeps only argument `index` (none if it is absent), with the
    /// attachments as they are: placeholders are renumbered at encoding, so
    /// binary inside the kept argument survives. For relaying `(room, event,
    /// data)` style requests as `data` alone; received text stays text.
    pub fn keep_arg(mut self, index: usize) -> Self {
        self.args.keep(index);
        self
    }

    /// Encodes an EVENT for namespace `nsp` (once; the result is shared).
    pub(crate) fn encode_event(
        &self,
        parser: Parser,
        nsp: &str,
        id: Option<u64>,
        event: &str,
    ) -> Arc<Msg> {
        encode::event(parser, nsp, id, event, &self.args, &self.attachments)
    }

    /// Encodes an ACK for namespace `nsp`.
    pub(crate) fn encode_ack(&self, parser: Parser, nsp: &str, id: u64) -> Arc<Msg> {
        encode::ack(parser, nsp, id, &self.args, &self.attachments)
    }
}

impl From<()> for Payload {
    fn from(_: ()) -> Self {
        Self::new()
    }
}

impl From<Value> for Payload {
    fn from(v: Value) -> Self {
        Self::new().arg(v)
    }
}

macro_rules! payload_from_scalar {
    ($($t:ty),*) => {$(
        impl From<$t> for Payload {
            fn from(v: $t) -> Self {
                Self::new().arg(v)
            }
        }
    )*};
}
payload_from_scalar!(bool, i64, u64, f64, String);

impl From<&str> for Payload {
    fn from(v: &str) -> Self {
        Self::new().arg(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarding_a_subset_renumbers_attachments() {
        let p = Payload::new().binary(&b"a"[..]).binary(&b"b"[..]);
        let sub = Payload::from_parts(vec![p.args[1].clone()], p.attachments.clone());
        let msg = sub.encode_event(Parser::Json, "/", None, "x");
        assert_eq!(
            msg.frames[0].payload(),
            &br#"451-["x",{"_placeholder":true,"num":0}]"#[..]
        );
        assert_eq!(msg.frames[1].payload(), b"b");
    }

    #[test]
    fn keep_arg_keeps_one_argument_and_its_binary() {
        let p = Payload::new()
            .arg("room")
            .arg("ev")
            .binary(&b"b"[..])
            .arg(4);
        let kept = p.clone().keep_arg(2);
        assert_eq!(kept.args, vec![binary::placeholder(0)]);
        let msg = kept.encode_event(Parser::Json, "/", None, "x");
        assert_eq!(msg.frames[1].payload(), b"b");
        assert!(p.keep_arg(9).args.is_empty());
    }

    #[test]
    fn a_received_relay_request_is_forwarded_as_text() {
        use ringcast_proto::socketio::{Limits, Packet};
        let text = r#"2["publish","room","ev",{"b":1,"a":[2]}]"#;
        let ev = Packet::decode_event(text, &Limits::default()).unwrap();
        let p = Payload::from_parts(ev.args, Vec::new());
        assert_eq!(p.args.str_at(0), Some("room"));
        let kept = p.keep_arg(2);
        assert!(kept.args.is_raw());
        let msg = kept.encode_event(Parser::Json, "/", None, "ev");
        assert_eq!(msg.frames[0].payload(), &br#"42["ev",{"b":1,"a":[2]}]"#[..]);
    }

    #[test]
    fn plain_event_encoding() {
        let msg =
            Payload::new()
                .arg(1)
                .arg("two")
                .encode_event(Parser::Json, "/custom", Some(3), "ev");
        assert_eq!(
            msg.frames[0].payload(),
            &br#"42/custom,3["ev",1,"two"]"#[..]
        );
        assert_eq!(msg.frames.len(), 1);
    }
}

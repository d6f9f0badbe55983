//! Encoding of the packets a server sends (EVENT, ACK, CONNECT,
//! CONNECT_ERROR, DISCONNECT) from JSON arguments with binary placeholders
//! plus attachments, once per emit, into a shared [`Msg`], in the server's
//! [`Parser`]: JSON (a text packet followed by its attachments) or msgpack
//! (one binary message, binaries inline). This is the one place the parser
//! picks the encoding: a broadcast is encoded once, in the parser of the
//! server it belongs to.
//!
//! Used by the user API (`server::Payload`) and by the cluster bridge (an
//! event from another node), so it lives below both. Placeholders are
//! renumbered in traversal order (the order clients expect attachments in)
//! and unreferenced attachments dropped; arguments already in that shape
//! (echo, forward: the common case) are encoded without a copy.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;
use ringcast_proto::socketio::{self, binary, msgpack, ArgList};
use serde_json::Value;

use super::msg::Msg;
use crate::config::Parser;

/// An EVENT `event` for namespace `nsp` with packet id `id`.
pub fn event(
    parser: Parser,
    nsp: &str,
    id: Option<u64>,
    event: &str,
    args: &(impl ArgList + ?Sized),
    attachments: &[Bytes],
) -> Arc<Msg> {
    if parser == Parser::Json && attachments.is_empty() {
        // The common case: arguments written as they are (received text
        // stays text).
        return with_scratch(|out| {
            socketio::encode_event(out, nsp, id, event, args, 0);
            Msg::socketio(out, &[])
        });
    }
    let (args, attachments) = normalized(args.values(), attachments);
    match parser {
        Parser::Json => with_scratch(|out| {
            socketio::encode_event(out, nsp, id, event, &*args, attachments.len());
            Msg::socketio(out, &attachments)
        }),
        Parser::Msgpack => {
            let mut out = Vec::with_capacity(64);
            msgpack::encode_event(&mut out, nsp, id, event, &args, &attachments);
            Msg::engine_binary(&out)
        }
    }
}

/// An ACK with packet id `id` for namespace `nsp`.
pub fn ack(
    parser: Parser,
    nsp: &str,
    id: u64,
    args: &(impl ArgList + ?Sized),
    attachments: &[Bytes],
) -> Arc<Msg> {
    if parser == Parser::Json && attachments.is_empty() {
        return with_scratch(|out| {
            socketio::encode_ack(out, nsp, id, args, 0);
            Msg::socketio(out, &[])
        });
    }
    let (args, attachments) = normalized(args.values(), attachments);
    match parser {
        Parser::Json => with_scratch(|out| {
            socketio::encode_ack(out, nsp, id, &*args, attachments.len());
            Msg::socketio(out, &attachments)
        }),
        Parser::Msgpack => {
            let mut out = Vec::with_capacity(32);
            msgpack::encode_ack(&mut out, nsp, id, &args, &attachments);
            Msg::engine_binary(&out)
        }
    }
}

/// The CONNECT reply `{"sid"}` for namespace `nsp`, with the connection
/// state recovery `pid` when recovery is on.
pub fn connect(parser: Parser, nsp: &str, sid: &str, pid: Option<&str>) -> Arc<Msg> {
    match parser {
        Parser::Json => with_scratch(|out| {
            socketio::encode_connect(out, nsp, sid);
            if let Some(pid) = pid {
                out.pop();
                out.push_str(",\"pid\":");
                out.push_str(&Value::from(pid).to_string());
                out.push('}');
            }
            Msg::socketio(out, &[])
        }),
        Parser::Msgpack => {
            let mut out = Vec::with_capacity(56);
            msgpack::encode_connect(&mut out, nsp, sid, pid);
            Msg::engine_binary(&out)
        }
    }
}

/// CONNECT_ERROR `{"message", "data"?}` for namespace `nsp`.
pub fn connect_error(parser: Parser, nsp: &str, message: &str, data: Option<&Value>) -> Arc<Msg> {
    match parser {
        Parser::Json => {
            let mut out = String::new();
            socketio::encode_connect_error(&mut out, nsp, message, data);
            Msg::socketio(&out, &[])
        }
        Parser::Msgpack => {
            let mut out = Vec::new();
            msgpack::encode_connect_error(&mut out, nsp, message, data);
            Msg::engine_binary(&out)
        }
    }
}

/// The server's DISCONNECT for namespace `nsp`.
pub fn disconnect(parser: Parser, nsp: &str) -> Arc<Msg> {
    match parser {
        Parser::Json => {
            let mut out = String::new();
            socketio::Packet {
                kind: socketio::PacketKind::Disconnect,
                nsp: nsp.to_owned(),
                id: None,
                data: None,
                attachments: 0,
            }
            .encode(&mut out);
            Msg::socketio(&out, &[])
        }
        Parser::Msgpack => {
            let mut out = Vec::new();
            msgpack::encode_disconnect(&mut out, nsp);
            Msg::engine_binary(&out)
        }
    }
}

thread_local! {
    /// The text packet being encoded, before it is copied into its frame:
    /// one buffer per thread, so encoding an EVENT or an ACK allocates
    /// nothing for the JSON (a fresh `String` grew two or three times per
    /// small packet).
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Most bytes the scratch buffer keeps between packets: a large packet
/// encoded once does not pin its memory on the thread.
const SCRATCH_KEEP: usize = 64 * 1024;

/// Runs `f` on an empty scratch `String` (a fresh one if the thread's is
/// in use, which no encoder here does: they call no user code).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut String) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut out) => {
            out.clear();
            let r = f(&mut out);
            if out.capacity() > SCRATCH_KEEP {
                *out = String::new();
            }
            r
        }
        Err(_) => f(&mut String::new()),
    })
}

/// Placeholders renumbered in traversal order and unreferenced attachments
/// dropped; borrowed when already in that shape.
fn normalized<'a>(
    args: &'a [Value],
    attachments: &'a [Bytes],
) -> (Cow<'a, [Value]>, Cow<'a, [Bytes]>) {
    if attachments.is_empty() {
        return (Cow::Borrowed(args), Cow::Borrowed(attachments));
    }
    let mut order = Vec::new();
    for v in args {
        collect_placeholders(v, &mut order);
    }
    let in_order =
        order.len() == attachments.len() && order.iter().enumerate().all(|(i, n)| *n == i);
    if in_order {
        return (Cow::Borrowed(args), Cow::Borrowed(attachments));
    }
    let mut args = args.to_vec();
    let mut out = Vec::new();
    for v in &mut args {
        renumber(v, attachments, &mut out);
    }
    (Cow::Owned(args), Cow::Owned(out))
}

fn collect_placeholders(v: &Value, out: &mut Vec<usize>) {
    if let Some(n) = binary::is_placeholder(v) {
        out.push(n);
        return;
    }
    match v {
        Value::Array(a) => a.iter().for_each(|x| collect_placeholders(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_placeholders(x, out)),
        _ => {}
    }
}

fn renumber(v: &mut Value, attachments: &[Bytes], out: &mut Vec<Bytes>) {
    if let Some(n) = binary::is_placeholder(v) {
        match attachments.get(n) {
            Some(b) => {
                *v = binary::placeholder(out.len());
                out.push(b.clone());
            }
            None => *v = Value::Null,
        }
        return;
    }
    match v {
        Value::Array(a) => a.iter_mut().for_each(|x| renumber(x, attachments, out)),
        Value::Object(o) => o.values_mut().for_each(|x| renumber(x, attachments, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_are_renumbered_in_traversal_order() {
        let args = vec![binary::placeholder(1), binary::placeholder(0)];
        let attachments = vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")];
        let msg = event(Parser::Json, "/", None, "x", &args, &attachments);
        assert_eq!(
            msg.frames[0].payload(),
            &br#"452-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#[..]
        );
        assert_eq!(msg.frames[1].payload(), b"b");
        assert_eq!(msg.frames[2].payload(), b"a");
    }

    #[test]
    fn a_dangling_placeholder_becomes_null() {
        let args = vec![binary::placeholder(3)];
        let attachments = vec![Bytes::from_static(b"a")];
        let msg = ack(Parser::Json, "/", 7, &args, &attachments);
        assert_eq!(msg.frames[0].payload(), &br#"437[null]"#[..]);
        assert_eq!(msg.frames.len(), 1);
    }

    #[test]
    fn msgpack_is_one_binary_message_with_binaries_inline() {
        let args = vec![
            binary::placeholder(1),
            serde_json::json!({"k": binary::placeholder(0)}),
        ];
        let attachments = vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")];
        let msg = event(Parser::Msgpack, "/", Some(2), "x", &args, &attachments);
        assert_eq!(msg.frames.len(), 1);
        assert!(msg.frames[0].binary);
        let (p, bins) = msgpack::decode(
            &Bytes::copy_from_slice(msg.frames[0].payload()),
            &socketio::Limits::default(),
        )
        .unwrap();
        assert_eq!(p.id, Some(2));
        assert_eq!(
            bins,
            vec![Bytes::from_static(b"b"), Bytes::from_static(b"a")]
        );
    }
}

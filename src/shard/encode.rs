//! Encoding of EVENT and ACK packets from JSON arguments with binary
//! placeholders plus attachments, once per emit, into a shared [`Msg`].
//!
//! Used by the user API (`server::Payload`) and by the cluster bridge (an
//! event from another node), so it lives below both. Placeholders are
//! renumbered in traversal order (the order clients expect attachments in)
//! and unreferenced attachments dropped; arguments already in that shape
//! (echo, forward: the common case) are encoded without a copy.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use ringcast_proto::socketio::{self, binary};
use serde_json::Value;

use super::msg::Msg;

/// An EVENT `event` for namespace `nsp` with packet id `id`.
pub fn event(
    nsp: &str,
    id: Option<u64>,
    event: &str,
    args: &[Value],
    attachments: &[Bytes],
) -> Arc<Msg> {
    let (args, attachments) = normalized(args, attachments);
    let mut out = String::with_capacity(64);
    socketio::encode_event(&mut out, nsp, id, event, &args, attachments.len());
    Msg::socketio(&out, &attachments)
}

/// An ACK with packet id `id` for namespace `nsp`.
pub fn ack(nsp: &str, id: u64, args: &[Value], attachments: &[Bytes]) -> Arc<Msg> {
    let (args, attachments) = normalized(args, attachments);
    let mut out = String::with_capacity(32);
    socketio::encode_ack(&mut out, nsp, id, &args, attachments.len());
    Msg::socketio(&out, &attachments)
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
        let msg = event("/", None, "x", &args, &attachments);
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
        let msg = ack("/", 7, &args, &attachments);
        assert_eq!(msg.frames[0].payload(), &br#"437[null]"#[..]);
        assert_eq!(msg.frames.len(), 1);
    }
}

//! Hot-path encoders that write a Socket.IO packet without building a
//! [`super::Packet`]: a broadcast is encoded once and the same bytes go to
//! every receiver.
//!
//! All of them append to `out` and follow [`super::Packet::encode`]'s
//! layout exactly (type, `N-` for binary kinds, `nsp,` unless the namespace
//! is `/`, ack id, compact JSON).

use serde_json::Value;

use crate::json_util::{write_json, write_json_str};

use super::args::ArgList;
use super::packet::write_prefix;
use super::PacketKind;

/// `2["event",args…]` (or `5N-…` when `attachments > 0`), with namespace
/// and ack id when given: `2/admin,7["hello",1]`.
pub fn encode_event(
    out: &mut String,
    nsp: &str,
    id: Option<u64>,
    event: &str,
    args: &(impl ArgList + ?Sized),
    attachments: usize,
) {
    let kind = if attachments > 0 {
        PacketKind::BinaryEvent
    } else {
        PacketKind::Event
    };
    write_prefix(out, kind, attachments, nsp, id);
    out.push('[');
    write_json_str(out, event);
    let before = out.len();
    out.push(',');
    args.write_list(out);
    if out.len() == before + 1 {
        out.pop();
    }
    out.push(']');
}

/// `3<id>[args…]` (or `6N-…` when `attachments > 0`): `3/custom,1["ok"]`.
pub fn encode_ack(
    out: &mut String,
    nsp: &str,
    id: u64,
    args: &(impl ArgList + ?Sized),
    attachments: usize,
) {
    let kind = if attachments > 0 {
        PacketKind::BinaryAck
    } else {
        PacketKind::Ack
    };
    write_prefix(out, kind, attachments, nsp, Some(id));
    out.push('[');
    args.write_list(out);
    out.push(']');
}

/// The server's CONNECT reply: `0{"sid":"…"}` / `0/admin,{"sid":"…"}`.
pub fn encode_connect(out: &mut String, nsp: &str, sid: &str) {
    write_prefix(out, PacketKind::Connect, 0, nsp, None);
    out.push_str("{\"sid\":");
    write_json_str(out, sid);
    out.push('}');
}

/// CONNECT_ERROR: `4/admin,{"message":"unauthorized"}`, plus
/// `,"data":…` inside the object when `data` is given.
pub fn encode_connect_error(out: &mut String, nsp: &str, message: &str, data: Option<&Value>) {
    write_prefix(out, PacketKind::ConnectError, 0, nsp, None);
    out.push_str("{\"message\":");
    write_json_str(out, message);
    if let Some(d) = data {
        out.push_str(",\"data\":");
        write_json(out, d);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::super::{placeholder, Limits, Packet};
    use super::*;
    use serde_json::json;

    fn s(f: impl FnOnce(&mut String)) -> String {
        let mut out = String::new();
        f(&mut out);
        out
    }

    #[test]
    fn event_vectors() {
        assert_eq!(
            s(|o| encode_event(o, "/", None, "hello", &[json!(1)], 0)),
            r#"2["hello",1]"#
        );
        assert_eq!(
            s(|o| encode_event(o, "/", None, "foo", &[], 0)),
            r#"2["foo"]"#
        );
        assert_eq!(
            s(|o| encode_event(o, "/admin", None, "bar", &[], 0)),
            r#"2/admin,["bar"]"#
        );
        assert_eq!(
            s(|o| encode_event(o, "/admin", Some(12), "bar", &[], 0)),
            r#"2/admin,12["bar"]"#
        );
        assert_eq!(
            s(|o| encode_event(o, "/", None, "baz", &[placeholder(0)], 1)),
            r#"51-["baz",{"_placeholder":true,"num":0}]"#
        );
        assert_eq!(
            s(|o| encode_event(
                o,
                "/admin",
                None,
                "baz",
                &[placeholder(0), placeholder(1)],
                2
            )),
            r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
        );
        assert_eq!(
            s(|o| encode_event(o, "/", None, "q\"\n", &[json!({"b":1,"a":"é"})], 0)),
            "2[\"q\\\"\\n\",{\"b\":1,\"a\":\"é\"}]"
        );
    }

    #[test]
    fn ack_vectors() {
        assert_eq!(
            s(|o| encode_ack(o, "/admin", 13, &[json!("bar")], 0)),
            r#"3/admin,13["bar"]"#
        );
        assert_eq!(
            s(|o| encode_ack(o, "/custom", 1, &[json!("ok")], 0)),
            r#"3/custom,1["ok"]"#
        );
        assert_eq!(s(|o| encode_ack(o, "/", 0, &[], 0)), "30[]");
        assert_eq!(
            s(|o| encode_ack(o, "/", 15, &[json!("bar"), placeholder(0)], 1)),
            r#"61-15["bar",{"_placeholder":true,"num":0}]"#
        );
        assert_eq!(
            s(|o| encode_ack(o, "/admin", 1, &[placeholder(0)], 1)),
            r#"61-/admin,1[{"_placeholder":true,"num":0}]"#
        );
    }

    #[test]
    fn connect_vectors() {
        assert_eq!(
            s(|o| encode_connect(o, "/", "wZX3oN0bSVIhsaknAAAI")),
            r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#
        );
        assert_eq!(
            s(|o| encode_connect(o, "/admin", "oSO0OpakMV_3jnilAAAA")),
            r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#
        );
        assert_eq!(
            s(|o| encode_connect_error(o, "/", "Not authorized", None)),
            r#"4{"message":"Not authorized"}"#
        );
        assert_eq!(
            s(|o| encode_connect_error(o, "/admin", "unauthorized", Some(&json!({"a":1})))),
            r#"4/admin,{"message":"unauthorized","data":{"a":1}}"#
        );
    }

    #[test]
    fn encoders_decode_back() {
        let l = Limits::default();
        let e = s(|o| encode_event(o, "/x", Some(9), "ev", &[json!([1, 2]), placeholder(0)], 1));
        let p = Packet::decode(&e, &l).unwrap();
        assert_eq!(p.nsp, "/x");
        assert_eq!(p.id, Some(9));
        assert_eq!(p.attachments, 1);
        let mut again = String::new();
        p.encode(&mut again);
        assert_eq!(again, e);
        let c = s(|o| encode_connect_error(o, "/", "m", None));
        assert!(Packet::decode(&c, &l).is_ok());
        let c = s(|o| encode_connect(o, "/admin", "sid"));
        assert!(Packet::decode(&c, &l).is_ok());
    }
}

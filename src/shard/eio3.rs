//! What differs for an Engine.IO v3 session at the Socket.IO level
//! (Socket.IO protocol v4, socket.io-client 2.x; `Config::allow_eio3`), as
//! socket.io 4.8 does it when `conn.protocol === 3`:
//!
//! - the server connects the client to `/` right after the handshake
//!   ([`Shard::handle_v3_open`]); a client CONNECT names other namespaces,
//!   optionally followed by a query (`40/custom?token=x,`), which becomes
//!   the socket's `handshake.auth` ([`split_namespace`]);
//! - the CONNECT reply has no payload (`40`, `40/custom,`) and the socket id
//!   is the Engine.IO id on `/`, `/custom#<sid>` elsewhere ([`socket_id`]);
//! - a middleware refusal is `44/nsp,<data or message>` (a bare string
//!   without data), an unknown namespace `44/nsp,{"message":"Invalid namespace"}`.
//!
//! Events, acks and binary attachments are encoded as for protocol v5, so
//! v3 and v4 receivers of a broadcast share its encoding (the Engine.IO
//! framing of binary differs, see `msg::Frame::wire_v3`). These messages
//! are per socket, never broadcast, so they are encoded per session.

use std::rc::Rc;
use std::sync::Arc;

use ringcast_proto::http::percent_decode;
use ringcast_proto::socketio::{Packet, PacketKind};
use serde_json::{Map, Value};

use super::msg::Msg;
use super::session::Session;
use super::Shard;

impl Shard {
    /// A v3 Socket.IO session was opened: it joins `/` at once (through
    /// `/`'s middleware, as any CONNECT).
    pub(crate) fn handle_v3_open(self: &Rc<Self>, session: &Rc<Session>) {
        self.handle_sio_connect(session, "/", None);
    }
}

/// `/custom?token=x` -> (`/custom`, `{"token":"x"}`): Node parses a v3
/// CONNECT's namespace as a URL and takes its query as the auth payload
/// (`{}` without one). Later duplicates of a key win, as
/// `Object.fromEntries` does.
pub(crate) fn split_namespace(nsp: &str) -> (&str, Value) {
    let (name, query) = nsp.split_once('?').unwrap_or((nsp, ""));
    let mut auth = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        auth.insert(percent_decode(k), Value::String(percent_decode(v)));
    }
    (name, Value::Object(auth))
}

/// The socket id of a v3 client: the Engine.IO id on `/`, `<nsp>#<sid>`
/// elsewhere.
pub(crate) fn socket_id(nsp: &str, sid: &str) -> Box<str> {
    if nsp == "/" {
        sid.into()
    } else {
        format!("{nsp}#{sid}").into_boxed_str()
    }
}

/// JavaScript truthiness of a JSON value (socket.io sends `err.data ||
/// err.message`: null, false, 0 and "" fall back to the message).
pub(crate) fn is_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The CONNECT reply: `0` + the namespace prefix, no payload.
pub(crate) fn connect(nsp: &str) -> Arc<Msg> {
    encode(PacketKind::Connect, nsp, None)
}

/// CONNECT_ERROR with `data` as its whole payload (a bare string for a
/// middleware refusal without data).
pub(crate) fn connect_error(nsp: &str, data: Value) -> Arc<Msg> {
    encode(PacketKind::ConnectError, nsp, Some(data))
}

fn encode(kind: PacketKind, nsp: &str, data: Option<Value>) -> Arc<Msg> {
    let mut out = String::new();
    Packet {
        kind,
        nsp: nsp.to_owned(),
        id: None,
        data,
        attachments: 0,
    }
    .encode(&mut out);
    Msg::socketio(&out, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn namespace_query_is_the_auth() {
        assert_eq!(split_namespace("/custom"), ("/custom", json!({})));
        assert_eq!(
            split_namespace("/custom?token=a%20b&x=1&x=2&flag"),
            ("/custom", json!({"token": "a b", "x": "2", "flag": ""}))
        );
    }

    #[test]
    fn wire_vectors() {
        assert_eq!(connect("/").frames[0].payload(), b"40");
        assert_eq!(connect("/custom").frames[0].payload(), b"40/custom,");
        assert_eq!(
            connect_error("/admin", json!("unauthorized")).frames[0].payload(),
            br#"44/admin,"unauthorized""#
        );
        assert_eq!(
            connect_error("/nope", json!({"message": "Invalid namespace"})).frames[0].payload(),
            br#"44/nope,{"message":"Invalid namespace"}"#
        );
        assert_eq!(socket_id("/", "abc"), "abc".into());
        assert!(
            !is_truthy(&json!(null))
                && !is_truthy(&json!(""))
                && !is_truthy(&json!(0))
                && !is_truthy(&json!(false))
        );
        assert!(is_truthy(&json!({})) && is_truthy(&json!("x")));
        assert_eq!(socket_id("/custom", "abc"), "/custom#abc".into());
    }
}

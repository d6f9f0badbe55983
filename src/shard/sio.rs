//! Socket.IO packets received on a session: namespace connects, events,
//! acks, binary reassembly. Malformed input closes the session ("parse
//! error"), as Node's server does.

use std::rc::Rc;

use bytes::Bytes;
use ringcast_proto::socketio::{msgpack, Limits, Packet, PacketKind, Reassembler};
use ringcast_proto::Utf8Bytes;
use serde_json::Value;

use super::app::{Authorization, Creation, Incoming, LocalFuture, Verdict, NO_NAMESPACE};
use super::encode;
use super::id_key::IdKey;
use super::port::ToCluster;
use super::session::{CloseReason, Session};
use super::{Shard, SocketKey};
use crate::config::Parser;

impl Shard {
    /// A text Engine.IO message on a Socket.IO session.
    pub fn handle_sio_text(self: &Rc<Self>, session: &Rc<Session>, text: Utf8Bytes) {
        let limits = Limits {
            max_attachments: self.config.max_attachments,
        };
        if self.config.parser == Parser::Msgpack {
            // The msgpack parser has no text packets (Node: parse error).
            return self.close_session(session, CloseReason::ParseError);
        }
        let text = text.as_str();
        if let Some(ev) = Packet::decode_event(text, &limits) {
            // The common packet, its arguments left as text.
            if session.st.borrow().reassembly.is_some() {
                return self.close_session(session, CloseReason::ParseError);
            }
            self.stats.ops.count_sio_packet(PacketKind::Event);
            let incoming = Incoming {
                event: ev.event,
                args: ev.args,
                attachments: Vec::new(),
                ack: ev.id,
            };
            return self.handle_sio_event(session, ev.nsp, incoming);
        }
        let Some(packet) = Packet::decode(text, &limits).ok() else {
            tracing::debug!(sid = %session.sid, "invalid Socket.IO packet, closing");
            return self.close_session(session, CloseReason::ParseError);
        };
        if session.st.borrow().reassembly.is_some() {
            // Node: "got plaintext data when reconstructing a packet".
            return self.close_session(session, CloseReason::ParseError);
        }
        match packet.kind {
            PacketKind::BinaryEvent | PacketKind::BinaryAck if packet.attachments > 0 => {
                session.st.borrow_mut().reassembly = Some(Box::new(Reassembler::new(packet)));
            }
            _ => self.handle_sio_packet(session, packet, Vec::new()),
        }
    }

    /// A binary Engine.IO message on a Socket.IO session: an attachment,
    /// or with the msgpack parser a whole packet.
    pub fn handle_sio_binary(self: &Rc<Self>, session: &Rc<Session>, data: Bytes) {
        if self.config.parser == Parser::Msgpack {
            let limits = Limits {
                max_attachments: self.config.max_attachments,
            };
            return match msgpack::decode(&data, &limits) {
                Ok((packet, attachments)) => self.handle_sio_packet(session, packet, attachments),
                Err(e) => {
                    tracing::debug!(sid = %session.sid, error = %e, "invalid msgpack packet, closing");
                    self.close_session(session, CloseReason::ParseError)
                }
            };
        }
        let complete = {
            let mut st = session.st.borrow_mut();
            st.reassembly.as_mut().map(|r| r.push(data))
        };
        match complete {
            // Node: "got binary data when not reconstructing a packet".
            None => self.close_session(session, CloseReason::ParseError),
            Some(false) => {}
            Some(true) => {
                let r = session.st.borrow_mut().reassembly.take();
                if let Some(r) = r {
                    let (packet, attachments) = r.finish();
                    self.handle_sio_packet(session, packet, attachments);
                }
            }
        }
    }

    fn socket_for(&self, session: &Session, nsp: u16) -> Option<SocketKey> {
        let st = session.st.borrow();
        st.sockets.iter().find(|(n, _)| *n == nsp).map(|&(_, k)| k)
    }

    /// The session's socket in the namespace named `name`: compared by
    /// name among the session's few namespaces, so a packet costs no
    /// lookup in the application's tables (nor the dynamic namespaces'
    /// registry lock).
    fn socket_named(&self, session: &Session, name: &str) -> Option<SocketKey> {
        let st = session.st.borrow();
        st.sockets
            .iter()
            .find(|(n, _)| self.app.namespace_name(*n) == name)
            .map(|&(_, k)| k)
    }

    fn handle_sio_packet(
        self: &Rc<Self>,
        session: &Rc<Session>,
        packet: Packet,
        attachments: Vec<Bytes>,
    ) {
        self.stats.ops.count_sio_packet(packet.kind);
        if packet.kind == PacketKind::Connect {
            return self.handle_sio_connect(session, &packet.nsp, packet.data);
        }
        // A packet for a namespace this session has not joined (or a
        // CONNECT_ERROR from a client) is a protocol error: Node closes.
        let key = self.socket_named(session, &packet.nsp);
        let Some(key) = key.filter(|_| packet.kind != PacketKind::ConnectError) else {
            tracing::debug!(sid = %session.sid, "packet for a namespace not joined, closing");
            return self.close_session(session, CloseReason::ParseError);
        };
        match packet.kind {
            PacketKind::Disconnect => {
                self.stats
                    .ops
                    .count_disconnect(CloseReason::ClientNamespaceDisconnect);
                self.remove_socket(key, CloseReason::ClientNamespaceDisconnect)
            }
            PacketKind::Event | PacketKind::BinaryEvent => {
                let Some(Value::Array(mut items)) = packet.data else {
                    return;
                };
                if items.is_empty() {
                    return;
                }
                let event = match items.remove(0) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let incoming = Incoming {
                    event,
                    args: items.into(),
                    attachments,
                    ack: packet.id,
                };
                self.handle_sio_event_on(session, key, incoming);
            }
            PacketKind::Ack | PacketKind::BinaryAck => {
                let Some(id) = packet.id else { return };
                let args = match packet.data {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                self.handle_ack(key, id, args, attachments);
            }
            PacketKind::Connect | PacketKind::ConnectError => {}
        }
    }

    /// An EVENT from the fast decoder, for namespace `nsp`.
    fn handle_sio_event(self: &Rc<Self>, session: &Rc<Session>, nsp: &str, ev: Incoming) {
        let Some(key) = self.socket_named(session, nsp) else {
            tracing::debug!(sid = %session.sid, "packet for a namespace not joined, closing");
            return self.close_session(session, CloseReason::ParseError);
        };
        self.handle_sio_event_on(session, key, ev);
    }

    /// An EVENT for the session's socket `key`: counted, admitted by the
    /// quotas, then handed to the application.
    fn handle_sio_event_on(self: &Rc<Self>, session: &Rc<Session>, key: SocketKey, ev: Incoming) {
        self.stats
            .events_received
            .set(self.stats.events_received.get() + 1);
        if self.admit_event(session, key, &ev.event, ev.ack) {
            self.app.handle_event(self, key, ev);
        }
    }

    /// The event quotas, before any handler: the socket's rate bucket, then
    /// the name length. A refused event is dropped and, when the client
    /// asked for an ack, answered `[{"error": …}]`; a socket over its rate
    /// for 10 s of dropping is disconnected.
    fn admit_event(
        self: &Rc<Self>,
        session: &Rc<Session>,
        key: SocketKey,
        name: &str,
        ack: Option<u64>,
    ) -> bool {
        use super::quota::{Admission, Quota};
        let Some(state) = self.socket(key) else {
            return false;
        };
        let refused = match self
            .quota
            .admit_event(&state.quota, super::quota::coarse_now())
        {
            Admission::Accept => {
                let max = self.config.max_event_name_bytes;
                if max == 0 || name.len() <= max {
                    return true;
                }
                self.quota
                    .refuse(Quota::EventNameBytes, self.id, "event name too long");
                "event name too long"
            }
            Admission::Drop => {
                self.quota.refuse(Quota::EventRate, self.id, "rate limited");
                "rate limited"
            }
            Admission::Disconnect => {
                self.quota.refuse(
                    Quota::EventRateDisconnect,
                    self.id,
                    "over its event rate for 10 s, disconnecting",
                );
                // The operator's line is the rate-limited one of `refuse`.
                tracing::debug!(
                    sid = %session.sid,
                    shard = self.id,
                    total = self.quota.refusals(Quota::EventRateDisconnect),
                    "socket disconnected: client_events_per_second exceeded for 10 s"
                );
                self.disconnect_session(session);
                return false;
            }
        };
        if let Some(id) = ack {
            let nsp = self.app.namespace_name(state.nsp);
            let args = [serde_json::json!({ "error": refused })];
            let msg = encode::ack(self.config.parser, nsp, id, &args, &[]);
            self.push_to_session(session, &msg, false);
        }
        false
    }

    pub(crate) fn handle_sio_connect(
        self: &Rc<Self>,
        session: &Rc<Session>,
        nsp_name: &str,
        data: Option<Value>,
    ) {
        let (nsp_name, auth) = if session.protocol.is_v3() {
            // Protocol v4: the auth payload is the namespace's query.
            super::eio3::split_namespace(nsp_name)
        } else {
            let auth = match data {
                Some(v @ Value::Object(_)) => v,
                _ => Value::Object(Default::default()),
            };
            (nsp_name, auth)
        };
        let nsp = match self.app.namespace_index(nsp_name) {
            Some(nsp) => nsp,
            None => match self.app.create_namespace(nsp_name, &auth) {
                Creation::Ready(Some(nsp)) => {
                    self.namespace_created(nsp);
                    nsp
                }
                Creation::Ready(None) => return self.refuse_namespace(session, nsp_name),
                Creation::Pending(created) => {
                    return self.create_then_connect(session, nsp_name, auth, created)
                }
            },
        };
        self.connect_to(session, nsp, nsp_name, auth);
    }

    /// Whether `session` may join one more namespace; closes it when not
    /// (Node closes on a duplicate CONNECT; the cap is ours).
    fn may_join(self: &Rc<Self>, session: &Rc<Session>, nsp: Option<u16>, nsp_name: &str) -> bool {
        let (joined, joining) = {
            let st = session.st.borrow();
            (
                st.sockets.len() + st.connecting.len(),
                nsp.is_some_and(|n| st.connecting.contains(&n)),
            )
        };
        if joining || nsp.is_some_and(|n| self.socket_for(session, n).is_some()) {
            tracing::debug!(sid = %session.sid, nsp = nsp_name, "duplicate CONNECT, closing");
            self.close_session(session, CloseReason::ParseError);
            return false;
        }
        if joined >= self.config.max_namespaces_per_session {
            tracing::debug!(sid = %session.sid, "too many namespaces on one session, closing");
            self.close_session(session, CloseReason::ParseError);
            return false;
        }
        true
    }

    /// A namespace being created by an async predicate: the CONNECT counts
    /// against the session's namespaces (as [`NO_NAMESPACE`] in
    /// `connecting`) until it answers, then proceeds as any CONNECT; when
    /// the session closed meanwhile, nothing happens.
    fn create_then_connect(
        self: &Rc<Self>,
        session: &Rc<Session>,
        nsp_name: &str,
        auth: Value,
        created: LocalFuture<Option<u16>>,
    ) {
        if !self.may_join(session, None, nsp_name) {
            return;
        }
        session.st.borrow_mut().connecting.push(NO_NAMESPACE);
        let shard = self.clone();
        let session = session.clone();
        let name = nsp_name.to_owned();
        glommio::spawn_local(async move {
            let nsp = created.await;
            {
                let mut st = session.st.borrow_mut();
                if let Some(i) = st.connecting.iter().position(|&n| n == NO_NAMESPACE) {
                    st.connecting.remove(i);
                }
            }
            if session.is_closed() {
                return;
            }
            if let Some(nsp) = nsp {
                shard.namespace_created(nsp);
            }
            match nsp {
                Some(nsp) => shard.connect_to(&session, nsp, &name, auth),
                None => shard.refuse_namespace(&session, &name),
            }
        })
        .detach();
    }

    /// Tells the bridge that child `nsp` exists (it may have existed
    /// already: the bridge's sync is idempotent), so that it subscribes the
    /// child's channels now rather than on the child's first broadcast.
    fn namespace_created(&self, nsp: u16) {
        if let Some(port) = self.mesh.cluster().filter(|p| p.publishes()) {
            port.send(ToCluster::Namespace { nsp });
        }
    }

    /// A CONNECT to existing namespace `nsp`: middleware, then the reply.
    fn connect_to(self: &Rc<Self>, session: &Rc<Session>, nsp: u16, nsp_name: &str, auth: Value) {
        if !self.may_join(session, Some(nsp), nsp_name) {
            return;
        }
        if self.handle_recovery_connect(session, nsp, &auth) {
            return;
        }
        self.authorize_then_connect(session, nsp, auth);
    }

    /// Middleware, then the CONNECT reply.
    pub(crate) fn authorize_then_connect(
        self: &Rc<Self>,
        session: &Rc<Session>,
        nsp: u16,
        auth: Value,
    ) {
        let id = if session.protocol.is_v3() {
            IdKey::new(&super::eio3::socket_id(
                self.app.namespace_name(nsp),
                &session.sid,
            ))
        } else {
            super::engine::random_id()
        };
        match self.app.authorize(nsp, session, &id, &auth) {
            Authorization::Ready(verdict) => self.finish_connect(session, nsp, id, auth, verdict),
            Authorization::Pending(verdict) => {
                // Only this socket waits: the verdict resolves in its own
                // task, the session keeps serving its other namespaces.
                session.st.borrow_mut().connecting.push(nsp);
                let shard = self.clone();
                let session = session.clone();
                glommio::spawn_local(async move {
                    let verdict = verdict.await;
                    session.st.borrow_mut().connecting.retain(|&n| n != nsp);
                    shard.finish_connect(&session, nsp, id, auth, verdict);
                })
                .detach();
            }
        }
    }

    /// Replies to a CONNECT once middleware decided; nothing when the
    /// session closed meanwhile. `id` is the socket's, chosen before the
    /// middleware ran.
    pub(crate) fn finish_connect(
        self: &Rc<Self>,
        session: &Rc<Session>,
        nsp: u16,
        id: IdKey,
        auth: Value,
        verdict: Verdict,
    ) {
        if session.is_closed() {
            return;
        }
        let nsp_name = self.app.namespace_name(nsp);
        let data = match verdict {
            Ok(data) => data,
            Err(r) => return self.refuse_connect(session, nsp_name, &r.message, r.data.as_ref()),
        };
        let (pid, msg) = if session.protocol.is_v3() {
            (None, super::eio3::connect(nsp_name))
        } else {
            let pid = self.new_pid();
            let msg = encode::connect(self.config.parser, nsp_name, &id, pid.as_deref());
            (pid, msg)
        };
        self.push_to_session(session, &msg, false);
        let key = self.insert_socket(session, nsp, id, auth);
        if let Some(state) = self.socket(key) {
            *state.pid.borrow_mut() = pid;
            if data.is_some() {
                *state.data.borrow_mut() = data;
            }
        }
        self.app.handle_connect(self, key);
    }

    /// CONNECT_ERROR `{"message", "data"}` for namespace `nsp_name` (a
    /// middleware refusal); to a v3 client the data, or the message as a
    /// bare string without data (socket.io's `err.data || err.message`).
    fn refuse_connect(
        self: &Rc<Self>,
        session: &Rc<Session>,
        nsp_name: &str,
        message: &str,
        data: Option<&Value>,
    ) {
        let msg = if session.protocol.is_v3() {
            let payload = data
                .filter(|d| super::eio3::is_truthy(d))
                .cloned()
                .unwrap_or_else(|| Value::from(message));
            super::eio3::connect_error(nsp_name, payload)
        } else {
            encode::connect_error(self.config.parser, nsp_name, message, data)
        };
        self.push_to_session(session, &msg, false);
    }

    /// CONNECT_ERROR `{"message":"Invalid namespace"}`: no such namespace.
    fn refuse_namespace(self: &Rc<Self>, session: &Rc<Session>, nsp_name: &str) {
        const MESSAGE: &str = "Invalid namespace";
        if session.protocol.is_v3() {
            let msg =
                super::eio3::connect_error(nsp_name, serde_json::json!({ "message": MESSAGE }));
            self.push_to_session(session, &msg, false);
            return;
        }
        self.refuse_connect(session, nsp_name, MESSAGE, None)
    }
}

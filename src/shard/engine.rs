//! Engine.IO packets received on a session, whatever the transport, and
//! the events of its protocol state (see `session`): the shard is where a
//! session's close releases its Socket.IO sockets.

use std::rc::Rc;
use std::time::Instant;

use ringcast_proto::engineio::session::Event;
use ringcast_proto::engineio::Packet;
use ringcast_proto::sid;

use super::app::EngineMessage;
use super::id_key::IdKey;
use super::session::{CloseReason, Session, SessionKind};
use super::Shard;

/// A fresh, unguessable id (120 random bits from a CSPRNG, base64url, 20 chars).
pub fn random_id() -> IdKey {
    let mut raw = [0u8; 15];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut raw);
    IdKey::new(sid::SidText::new(&raw, None).as_str())
}

impl Shard {
    /// A new session id that routes to this shard (`sid::shard_for`): ids
    /// are drawn until one maps here, so each stays uniformly random; they
    /// are drawn on the stack, and the one kept is inline too (`IdKey`).
    /// With forwarding between nodes (`Config::node_tag`), the id ends with
    /// this node's tag (`sid::encode_cluster_sid`).
    pub fn new_sid(&self) -> IdKey {
        let tag = self.config.node_tag.as_deref();
        let mut rng = rand::thread_rng();
        loop {
            let mut raw = [0u8; 15];
            rand::RngCore::fill_bytes(&mut rng, &mut raw);
            let text = sid::SidText::new(&raw, tag);
            let id = text.as_str();
            if sid::shard_for(id, self.nshards) == self.id
                && !self.sessions.borrow().contains_key(id)
            {
                return IdKey::new(id);
            }
        }
    }

    /// Handles one Engine.IO packet from the client (polling or websocket),
    /// received at `now`: the session's protocol state takes it, then its
    /// events are acted on.
    pub fn handle_engine_packet(
        self: &Rc<Self>,
        session: &Rc<Session>,
        now: Instant,
        packet: Packet,
    ) {
        self.stats.ops.count_engine_packet(&packet);
        // Only a heartbeat packet moves a deadline (a pong, possibly
        // earlier; a v3 client's ping, later): messages, the hot path,
        // leave the heap alone.
        let heartbeat = matches!(packet, Packet::Ping(_) | Packet::Pong(_));
        session.handle_packet(now, packet);
        if heartbeat {
            self.deadlines.borrow_mut().schedule(session);
        }
        self.handle_session_events(session);
    }

    /// When [`Shard::handle_deadlines`] must next be called (the driver
    /// sleeps until then; see `deadlines`).
    pub fn poll_deadline(&self) -> Option<Instant> {
        self.deadlines.borrow().next()
    }

    /// Fires every session deadline due at `now` (heartbeat, connect
    /// timeout), earliest first, acts on what each decided, and schedules
    /// each session's next one.
    pub fn handle_deadlines(self: &Rc<Self>, now: Instant) {
        loop {
            // The heap is not borrowed while the session's events run user
            // handlers (which may open or close other sessions).
            let Some(session) = self.deadlines.borrow_mut().pop_due(now) else {
                return;
            };
            let due = |s: &Session| s.poll_timeout().is_some_and(|at| at <= now);
            if due(&session) {
                session.handle_timeout(now);
                // The protocol state fires every deadline at its instant (its
                // tests): one that stays due would be popped again at once,
                // forever. Leave it unscheduled instead.
                let stuck = due(&session);
                self.handle_session_events(&session);
                if stuck {
                    debug_assert!(
                        false,
                        "session {}: a due deadline did not fire",
                        session.sid
                    );
                    tracing::error!(sid = %session.sid, "a due deadline did not fire");
                    continue;
                }
            }
            self.deadlines.borrow_mut().schedule(&session);
        }
    }

    /// Acts on every pending event of a session's protocol state: messages
    /// go up to Socket.IO (or the raw Engine.IO handler), close requests
    /// close the session here, where its sockets are released.
    fn handle_session_events(self: &Rc<Self>, session: &Rc<Session>) {
        while let Some(event) = session.poll_event() {
            match event {
                Event::Message(text) => match session.kind {
                    SessionKind::SocketIo => self.handle_sio_text(session, text),
                    SessionKind::Engine(_) => {
                        self.app
                            .handle_engine_message(self, session, EngineMessage::Text(text))
                    }
                },
                Event::Binary(data) => match session.kind {
                    SessionKind::SocketIo => self.handle_sio_binary(session, data),
                    SessionKind::Engine(_) => {
                        self.app
                            .handle_engine_message(self, session, EngineMessage::Binary(data))
                    }
                },
                Event::Close(CloseReason::SlowConsumer) => self.handle_overflow(session),
                Event::Close(reason) => {
                    if reason == CloseReason::PingTimeout {
                        tracing::debug!(sid = %session.sid, "ping timeout");
                    }
                    self.close_session(session, reason)
                }
                Event::ConnectDeadline => {
                    if session.st.borrow().sockets.is_empty() {
                        tracing::debug!(sid = %session.sid, "no namespace joined within connectTimeout");
                        self.close_session(session, CloseReason::ConnectTimeout);
                    }
                }
            }
        }
    }
}

//! Engine.IO packets received on a session, whatever the transport.

use std::rc::Rc;

use ringcast_proto::engineio::Packet;
use ringcast_proto::sid;

use super::app::EngineMessage;
use super::session::{CloseReason, Session, SessionKind};
use super::Shard;

/// A fresh, unguessable id (120 random bits from a CSPRNG, base64url, 20 chars).
pub fn random_id() -> Box<str> {
    let mut raw = [0u8; 15];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut raw);
    sid::encode_sid(&raw).into_boxed_str()
}

impl Shard {
    /// A new session id that routes to this shard (`sid::shard_for`): ids
    /// are drawn until one maps here, so each stays uniformly random.
    pub fn new_sid(&self) -> Box<str> {
        loop {
            let id = random_id();
            if sid::shard_for(&id, self.nshards) == self.id
                && !self.sessions.borrow().contains_key(&id)
            {
                return id;
            }
        }
    }

    /// Handles one Engine.IO packet from the client (polling or websocket).
    pub fn handle_engine_packet(self: &Rc<Self>, session: &Rc<Session>, packet: Packet) {
        if session.is_closed() {
            return;
        }
        match packet {
            Packet::Pong(_) => session.handle_pong(),
            Packet::Message(text) => match session.kind {
                SessionKind::SocketIo => self.handle_sio_text(session, text),
                SessionKind::Engine(_) => {
                    self.app
                        .handle_engine_message(self, session, EngineMessage::Text(text))
                }
            },
            Packet::Binary(data) => match session.kind {
                SessionKind::SocketIo => self.handle_sio_binary(session, data),
                SessionKind::Engine(_) => {
                    self.app
                        .handle_engine_message(self, session, EngineMessage::Binary(data))
                }
            },
            Packet::Close => {
                // Node answers a parked long-poll with a noop before closing.
                let parked = session.st.borrow().get_active;
                if parked {
                    session.push_control(super::msg::Control::Noop);
                }
                self.close_session(session, CloseReason::TransportClose)
            }
            // Engine.IO v4 clients never ping (Node: "invalid heartbeat direction").
            Packet::Ping(_) => self.close_session(session, CloseReason::TransportError),
            Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }
}

//! The one place where messages into a shard ([`ToShard`]) are handled,
//! whether they come from another shard (the runtime's mesh) or from the
//! cluster bridge, and the shard's answers to the bridge's gathers.

use std::rc::Rc;

use ringcast_cluster_wire::FetchedSocket;
use serde_json::{Map, Value};

use super::ops::{Apply, Part, Query, Target};
use super::port::{Adoption, ToCluster, ToShard};
use super::session::{CloseReason, Session};
use super::socket::SocketState;
use super::{Shard, SocketKey};

impl Shard {
    /// Handles one inbound message. A connection handed over by another
    /// shard ([`ToShard::Adopt`]) is returned: serving it is the runtime's
    /// IO.
    pub fn handle_inbound(self: &Rc<Self>, msg: ToShard) -> Option<Adoption> {
        match msg {
            ToShard::Broadcast(b) => self.handle_broadcast(&b),
            ToShard::Adopt { fd, buffered } => return Some(Adoption { fd, buffered }),
            ToShard::AckCount { req, count } => self.handle_ack_count(req, count),
            ToShard::AckReply { req, reply } => self.handle_ack_reply(req, reply),
            ToShard::Gather { gather, query } => {
                let part = match query {
                    Query::Fetch(t) => Part::Sockets(self.fetch(&t)),
                    Query::Rooms(nsp) => Part::Rooms(self.room_names(nsp)),
                    Query::Ids(t) => Part::Ids(
                        self.targets(&t)
                            .into_iter()
                            .filter_map(|k| self.socket(k).map(|s| s.id.to_string()))
                            .collect(),
                    ),
                };
                self.mesh.to_cluster(ToCluster::Part { gather, part });
            }
            ToShard::Apply(a) => self.apply(a),
            ToShard::ServerSide {
                nsp,
                args,
                request_id,
            } => {
                let ack = request_id.map(|request_id| {
                    let s = self.clone();
                    Box::new(move |data: Value| {
                        s.mesh.to_cluster(ToCluster::ServerSideAck {
                            nsp,
                            request_id,
                            data,
                        });
                    }) as Box<dyn FnOnce(Value)>
                });
                let app = self.app.clone();
                app.handle_server_side(self, nsp, args, ack);
            }
            ToShard::OpDone { token, result } => self.handle_op_done(token, result),
            ToShard::Run(task) => (task.0)(self),
        }
        None
    }

    fn targets(&self, t: &Target) -> Vec<SocketKey> {
        let rooms: Vec<Box<str>> = t.rooms.iter().map(|r| r.as_str().into()).collect();
        let except: Vec<Box<str>> = t.except.iter().map(|r| r.as_str().into()).collect();
        self.resolve(t.nsp, &rooms, &except)
    }

    fn apply(self: &Rc<Self>, a: Apply) {
        match a {
            Apply::Join(t, rooms) => {
                for key in self.targets(&t) {
                    for r in &rooms {
                        // A refusal (room quotas) is counted and logged by the shard.
                        let _ = self.join(key, r);
                    }
                }
            }
            Apply::Leave(t, rooms) => {
                for key in self.targets(&t) {
                    for r in &rooms {
                        self.leave(key, r);
                    }
                }
            }
            Apply::Disconnect(t, close) => {
                for key in self.targets(&t) {
                    self.disconnect_socket(key, close);
                }
            }
        }
    }

    /// Every room name of namespace `nsp` on this shard, socket ids included.
    fn room_names(&self, nsp: u16) -> Vec<String> {
        let mut out: Vec<String> = self
            .rooms
            .borrow()
            .get(nsp as usize)
            .map(|t| t.names().map(str::to_owned).collect())
            .unwrap_or_default();
        out.extend(
            self.sockets
                .borrow()
                .iter()
                .filter(|(_, s)| s.nsp == nsp && s.connected.get())
                .map(|(_, s)| s.id.to_string()),
        );
        out
    }

    /// The matching sockets as `fetchSockets()` describes them.
    fn fetch(&self, t: &Target) -> Vec<FetchedSocket> {
        self.targets(t)
            .into_iter()
            .filter_map(|key| self.socket(key))
            .map(|s| self.describe(&s))
            .collect()
    }

    /// One socket as `fetchSockets()` describes it (id, handshake, rooms
    /// with its own id first, data).
    pub fn describe(&self, s: &SocketState) -> FetchedSocket {
        let h = &s.session.handshake;
        let mut headers = Map::new();
        for (k, v) in h.headers() {
            headers.insert(k.to_owned(), Value::from(v));
        }
        let xdomain = headers.contains_key("origin");
        let mut query = Map::new();
        for pair in h.query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = ringcast_proto::http::percent_decode(k);
            query
                .entry(k)
                .or_insert_with(|| Value::from(ringcast_proto::http::percent_decode(v)));
        }
        let handshake = ringcast_cluster_wire::Handshake {
            headers,
            time: ringcast_cluster_wire::js_date_string(h.issued),
            address: h.address.clone(),
            xdomain,
            secure: h.secure,
            issued: h.issued,
            url: format!("{}?{}", self.config.path, h.query),
            query,
            auth: s.auth.clone(),
        };
        let mut rooms = vec![s.id.to_string()];
        rooms.extend(s.rooms.borrow().iter().map(|r| r.to_string()));
        FetchedSocket {
            id: s.id.to_string(),
            handshake: handshake.to_json(),
            rooms,
            data: s
                .data
                .borrow()
                .as_ref()
                .map_or_else(|| Value::Object(Map::new()), |d| d.to_json()),
        }
    }

    /// Disconnects socket `key` (the client gets DISCONNECT); with `close`,
    /// its whole Engine.IO session too ([`Self::disconnect_session`]).
    pub fn disconnect_socket(self: &Rc<Self>, key: SocketKey, close: bool) {
        let Some(state) = self.socket(key).filter(|s| s.connected.get()) else {
            return;
        };
        if close {
            return self.disconnect_session(&state.session);
        }
        let nsp = self.app.namespace_name(state.nsp);
        let msg = super::encode::disconnect(self.config.parser, nsp);
        self.send_to_socket(key, &msg, false);
        self.stats
            .ops
            .count_disconnect(CloseReason::ServerNamespaceDisconnect);
        self.remove_socket(key, CloseReason::ServerNamespaceDisconnect);
    }

    /// A server-side disconnect of a whole connection (Node's
    /// `socket.disconnect(true)`): every socket of the session gets
    /// DISCONNECT and leaves with `server namespace disconnect`, so the
    /// client does not reconnect on its own and no session is kept for
    /// recovery; then the connection closes (`forced server close`).
    pub fn disconnect_session(self: &Rc<Self>, session: &Rc<Session>) {
        for key in session.socket_keys() {
            self.disconnect_socket(key, false);
        }
        self.close_session(session, CloseReason::ForcedServerClose);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::shard::app::OneNamespace;
    use crate::shard::deliver::{AckOrigin, AckReply, Broadcast, BroadcastAck};
    use crate::shard::mesh::Mesh;
    use crate::shard::port::ClusterPort;

    /// A cluster port that records what the shard hands it.
    #[derive(Default)]
    struct Recorder(Rc<RefCell<Vec<ToCluster>>>);

    impl ClusterPort for Recorder {
        fn send(&self, msg: ToCluster) -> bool {
            self.0.borrow_mut().push(msg);
            true
        }
        fn publishes(&self) -> bool {
            true
        }
        fn tracks_rooms(&self) -> bool {
            false
        }
        fn tracks_socket_rooms(&self) -> bool {
            false
        }
    }

    fn shard() -> (Rc<Shard>, Rc<RefCell<Vec<ToCluster>>>) {
        let sent = Rc::new(RefCell::new(Vec::new()));
        let mesh = Mesh::new(vec![None]).with_cluster(Box::new(Recorder(sent.clone())));
        let shard = Shard::install(
            0,
            1,
            Arc::new(Config::default()),
            Arc::new(OneNamespace),
            mesh,
        );
        (shard, sent)
    }

    #[test]
    fn another_nodes_broadcast_reports_its_count_to_the_bridge() {
        let (shard, sent) = shard();
        let b = Arc::new(Broadcast {
            nsp: 0,
            rooms: vec!["r".into()],
            except: Vec::new(),
            volatile: false,
            msg: crate::shard::encode::event(
                crate::Parser::Json,
                "/",
                Some(1 << 40),
                "ev",
                &[],
                &[],
            ),
            ack: Some(BroadcastAck {
                origin: AckOrigin::Bridge { key: 5 },
                id: 1 << 40,
            }),
            local: true,
            timeout: None,
            offset: None,
        });
        assert!(shard.handle_inbound(ToShard::Broadcast(b)).is_none());
        assert!(matches!(
            sent.borrow().as_slice(),
            [ToCluster::AckCount { key: 5, count: 0 }]
        ));
        Shard::uninstall();
    }

    #[test]
    fn gathers_answer_the_bridge_and_acks_reach_the_aggregation() {
        let (shard, sent) = shard();
        shard.handle_inbound(ToShard::Gather {
            gather: 9,
            query: Query::Rooms(0),
        });
        assert!(matches!(
            sent.borrow().as_slice(),
            [ToCluster::Part { gather: 9, part: Part::Rooms(r) }] if r.is_empty()
        ));
        // An aggregation on this shard completes from inbound counts and replies.
        let done = Rc::new(RefCell::new(None));
        let d = done.clone();
        let req = shard.start_aggregate(Box::new(move |r| *d.borrow_mut() = Some(r.is_ok())));
        shard.handle_inbound(ToShard::AckCount { req, count: 1 });
        assert!(done.borrow().is_none(), "one reply still expected");
        let reply = AckReply {
            args: vec![Value::from(1)],
            attachments: Vec::new(),
        };
        shard.handle_inbound(ToShard::AckReply { req, reply });
        assert_eq!(*done.borrow(), Some(true));
        Shard::uninstall();
    }
}

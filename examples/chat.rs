//! A small chat server on the ringcast library: nicknames checked by async
//! middleware and kept in socket state, rooms, typed events with typed
//! acks, and a message history behind an async store.
//!
//!   cargo run --example chat -- 3000
//!
//! Client protocol (socket.io-client):
//! - connect with `auth: { nick }` (1 to 32 characters, unique on this
//!   node); refused otherwise with `connect_error` ("nick required" /
//!   "nick taken");
//! - `emitWithAck("join", room)` → the room's last 50 messages
//!   `[{nick, text, ts}]`; the room gets `joined` `{nick}`, and the room
//!   left (if any) `left` `{nick}`;
//! - `emitWithAck("say", text)` → `{ok: true, ts}` (`{ok: false, error}`
//!   outside a room); the room's other members get `message` `{nick, text,
//!   ts}`;
//! - `emitWithAck("who")` → the nicks in the room (every node and core);
//! - disconnecting frees the nick and tells the room `left`.
//!
//! The history store is in memory; its methods are async so that a
//! database (through an async client) replaces it without touching the
//! handlers.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use ringcast::server::{Data, Refusal, Server, ServerApp, Socket};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How many messages a room keeps and `join` returns.
const HISTORY: usize = 50;

/// One chat message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Message {
    nick: String,
    text: String,
    ts: u64,
}

/// Per-socket state: who this is and where they talk.
#[derive(Debug, Clone, Serialize)]
struct Member {
    nick: String,
    room: Option<String>,
}

/// The message history of every room (application-wide state).
#[derive(Default)]
struct History {
    rooms: Mutex<HashMap<String, VecDeque<Message>>>,
}

impl History {
    /// Appends `msg` to `room`, dropping the oldest beyond [`HISTORY`].
    async fn append(&self, room: &str, msg: Message) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let log = rooms.entry(room.to_owned()).or_default();
        log.push_back(msg);
        while log.len() > HISTORY {
            log.pop_front();
        }
    }

    /// The last messages of `room`, oldest first.
    async fn recent(&self, room: &str) -> Vec<Message> {
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms
            .get(room)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Nicknames in use on this node (application-wide state).
#[derive(Default)]
struct Nicks(Mutex<HashSet<String>>);

impl Nicks {
    fn claim(&self, nick: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(nick.to_owned())
    }

    fn release(&self, nick: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(nick);
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn member(socket: &Socket) -> Option<Member> {
    socket.data::<Member>()
}

/// The chat application.
pub(crate) fn app() -> ServerApp {
    Server::builder()
        .state(History::default())
        .state(Nicks::default())
        .namespace("/", |ns| {
            ns.use_middleware_async(|req| async move {
                let nick = req.auth().get("nick").and_then(Value::as_str).unwrap_or("");
                let nick = nick.trim().to_owned();
                if nick.is_empty() || nick.chars().count() > 32 {
                    return Err(Refusal::new("nick required"));
                }
                let nicks = req
                    .state::<Nicks>()
                    .ok_or_else(|| Refusal::new("no state"))?;
                if !nicks.claim(&nick) {
                    return Err(Refusal::new("nick taken"));
                }
                if req.closed() {
                    // Gone while we checked: no socket, no disconnect handler.
                    nicks.release(&nick);
                    return Err(Refusal::new("gone"));
                }
                req.set_data(Member { nick, room: None });
                Ok(())
            });
            ns.on_typed("join", |socket, room: Data<String>| async move {
                let room = room.args;
                let Some(me) = member(&socket) else {
                    return Vec::new();
                };
                if let Some(old) = me.room.as_deref().filter(|r| *r != room) {
                    socket.leave(old);
                    let _ = socket.to(old).emit("left", json!({"nick": me.nick}));
                }
                if socket.join(&room).is_err() {
                    // A room quota refused it (none is set here); stay put.
                    return Vec::new();
                }
                socket.with_data(|m: &mut Member| m.room = Some(room.clone()));
                let _ = socket.to(&room).emit("joined", json!({"nick": me.nick}));
                match socket.state::<History>() {
                    Some(h) => h.recent(&room).await,
                    None => Vec::new(),
                }
            });
            ns.on_typed("say", |socket, text: Data<String>| async move {
                let Some(Member {
                    nick,
                    room: Some(room),
                }) = member(&socket)
                else {
                    return json!({"ok": false, "error": "join a room first"});
                };
                let msg = Message {
                    nick,
                    text: text.args,
                    ts: now_ms(),
                };
                let ts = msg.ts;
                let _ = socket.to(&room).emit("message", json!(msg));
                if let Some(h) = socket.state::<History>() {
                    h.append(&room, msg).await;
                }
                json!({"ok": true, "ts": ts})
            });
            ns.on_async("who", |socket, mut ev| async move {
                let ack = ev.take_ack();
                let room = member(&socket).and_then(|m| m.room);
                let nicks: Vec<Value> = match room {
                    None => Vec::new(),
                    Some(room) => socket
                        .nsp()
                        .to(&room)
                        .fetch_sockets_async()
                        .await
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|s| s.data.get("nick").cloned())
                        .collect(),
                };
                if let Some(ack) = ack {
                    ack.send(Value::Array(nicks));
                }
            });
            ns.on_disconnect(|socket, _reason| {
                let Some(me) = member(socket) else { return };
                if let Some(nicks) = socket.state::<Nicks>() {
                    nicks.release(&me.nick);
                }
                if let Some(room) = me.room {
                    let _ = socket.to(&room).emit("left", json!({"nick": me.nick}));
                }
            });
        })
        .build()
}

#[allow(dead_code)] // the chat test includes this file for `app()` only
fn main() {
    let port = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let config = ringcast::Config {
        listen: ([0, 0, 0, 0], port).into(),
        ..ringcast::Config::default()
    };
    if let Err(e) = ringcast::runtime::run_until_signal(config, app().into_app()) {
        eprintln!("chat: {e}");
        std::process::exit(1);
    }
}

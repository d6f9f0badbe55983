//! The default application of the broker binary: clients `join`/`leave`
//! rooms and `broadcast`/`broadcast_others` to rooms, exactly as the
//! conformance app's namespace `/` does; each permission can be switched off.

use serde_json::{json, Value};

use crate::server::{EmitError, Event, Payload, Server, ServerApp, Socket};

/// What clients of the broker may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions {
    /// `join`(room, ack?) and `leave`(room, ack?).
    pub rooms: bool,
    /// `broadcast`(room, event, data): to every member, sender included.
    pub broadcast: bool,
    /// `broadcast_others`(room, event, data): sender excluded.
    pub broadcast_others: bool,
}

impl Default for Permissions {
    fn default() -> Self {
        Self {
            rooms: true,
            broadcast: true,
            broadcast_others: true,
        }
    }
}

/// `join`: joins the room named by the first argument, acks `true`; a
/// join refused by the room quotas acks `{"error":"too many rooms"}` or
/// `{"error":"room name too long"}` (spec broker.md §8).
pub fn handle_join(socket: &Socket, mut ev: Event) {
    let reply = match ev.str_arg(0).map(|room| socket.join(room)) {
        Some(Err(e)) => json!({ "error": e.to_string() }),
        Some(Ok(())) | None => Value::Bool(true),
    };
    if let Some(ack) = ev.take_ack() {
        ack.send(Payload::new().arg(reply));
    }
}

/// `leave`: leaves the room named by the first argument, acks `true`.
pub fn handle_leave(socket: &Socket, mut ev: Event) {
    if let Some(room) = ev.str_arg(0) {
        socket.leave(room);
    }
    if let Some(ack) = ev.take_ack() {
        ack.send(true);
    }
}

/// `broadcast`(room, event, data) → `io.to(room).emit(event, data)`.
pub fn handle_broadcast(socket: &Socket, ev: Event) {
    relay(socket, ev, false);
}

/// `broadcast_others`(room, event, data) → `socket.to(room).emit(event, data)`.
pub fn handle_broadcast_others(socket: &Socket, ev: Event) {
    relay(socket, ev, true);
}

/// Emits `data` to `room` as `event`. A reserved event name (which would
/// make every socket.io-client in the room drop its connection) delivers
/// nothing and acks `{"error":"reserved event"}`; so does a room name over
/// `max_room_name_bytes` (`{"error":"room name too long"}`); a malformed
/// request acks `{"error":"bad request"}`; otherwise the ack, when asked,
/// is `true`.
fn relay(socket: &Socket, mut ev: Event, exclude_sender: bool) {
    let ack = ev.take_ack();
    let (Some(room), Some(event)) = (ev.str_arg(0), ev.str_arg(1)) else {
        if let Some(ack) = ack {
            ack.send(Payload::new().arg(json!({"error": "bad request"})));
        }
        return;
    };
    if let Err(e) = socket.shard.check_room_name(room) {
        if let Some(ack) = ack {
            ack.send(Payload::new().arg(json!({ "error": e.to_string() })));
        }
        return;
    }
    let op = if exclude_sender {
        socket.to(room)
    } else {
        socket.nsp().to(room)
    };
    let event = event.to_owned();
    let payload = ev.payload.keep_arg(2);
    let reply = match op.emit(&event, payload) {
        Ok(()) => Value::Bool(true),
        Err(EmitError::ReservedEvent(_)) => json!({"error": "reserved event"}),
    };
    if let Some(ack) = ack {
        ack.send(Payload::new().arg(reply));
    }
}

/// The broker application.
pub fn app(perms: Permissions) -> ServerApp {
    Server::builder()
        .namespace("/", |ns| {
            if perms.rooms {
                ns.on("join", handle_join);
                ns.on("leave", handle_leave);
            }
            if perms.broadcast {
                ns.on("broadcast", handle_broadcast);
            }
            if perms.broadcast_others {
                ns.on("broadcast_others", handle_broadcast_others);
            }
        })
        .build()
}

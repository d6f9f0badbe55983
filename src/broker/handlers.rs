//! The broker's client events: `join`, `leave`, `broadcast`,
//! `broadcast_others`, open (anyone, anywhere) or guarded by a namespace's
//! rules and the socket's grants.
//!
//! Answers, when the client asked for an ack: `true` when done;
//! `{"error":"forbidden"}` when the rules refuse (nothing joined, nothing
//! delivered); `{"error":"reserved event"}` for a broadcast of a name
//! socket.io reserves (nothing delivered); `{"error":"too many rooms"}` /
//! `{"error":"room name too long"}` when a room quota refuses (spec
//! broker.md §8); `{"error":"bad request"}` when the room or event is not a
//! string.

use serde_json::{json, Value};

use super::access::NamespaceRules;
use super::grants;
use crate::server::{AckSender, EmitError, Event, Payload, Socket};

/// `join`: joins the room named by the first argument, acks `true`.
pub fn handle_join(socket: &Socket, ev: Event) {
    join(None, socket, ev);
}

/// `leave`: leaves the room named by the first argument, acks `true`.
/// Leaving is never restricted.
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
    relay(None, socket, ev, false);
}

/// `broadcast_others`(room, event, data) → `socket.to(room).emit(event, data)`.
pub fn handle_broadcast_others(socket: &Socket, ev: Event) {
    relay(None, socket, ev, true);
}

/// `join` under `rules` (None: open).
pub(super) fn join(rules: Option<&NamespaceRules>, socket: &Socket, mut ev: Event) {
    let ack = ev.take_ack();
    let reply = match (ev.str_arg(0), rules) {
        (Some(room), None) => joined(socket, room),
        // The open broker has always acked a join without a room `true`.
        (None, None) => Value::Bool(true),
        (None, Some(_)) => json!({"error": "bad request"}),
        (Some(room), Some(rules)) if grants::may_join(rules, socket, room) => joined(socket, room),
        (Some(_), Some(_)) => json!({"error": "forbidden"}),
    };
    answer(ack, reply);
}

/// Joins `room`: `true`, or the room quota's refusal
/// (`{"error":"too many rooms"}`, `{"error":"room name too long"}`).
fn joined(socket: &Socket, room: &str) -> Value {
    match socket.join(room) {
        Ok(()) => Value::Bool(true),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

/// Emits `data` to `room` as `event` when `rules` (None: open) let the
/// socket publish there.
pub(super) fn relay(
    rules: Option<&NamespaceRules>,
    socket: &Socket,
    mut ev: Event,
    exclude_sender: bool,
) {
    let ack = ev.take_ack();
    let (Some(room), Some(event)) = (ev.str_arg(0), ev.str_arg(1)) else {
        return answer(ack, json!({"error": "bad request"}));
    };
    if rules.is_some_and(|r| !grants::may_publish(r, socket, room)) {
        return answer(ack, json!({"error": "forbidden"}));
    }
    if let Err(e) = socket.shard.check_room_name(room) {
        return answer(ack, json!({ "error": e.to_string() }));
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
    answer(ack, reply);
}

fn answer(ack: Option<AckSender>, reply: Value) {
    if let Some(ack) = ack {
        ack.send(Payload::new().arg(reply));
    }
}

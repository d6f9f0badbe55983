//! The event hook: every client event the broker does not handle itself
//! (all but `join`, `leave`, `broadcast`, `broadcast_others`) is POSTed to
//! `event_url` as `{"sid","nsp","user","event","args"}`; a 200 reply
//! `{"ack": value}` answers the client's ack with that one value, anything
//! else answers `{"error":"unavailable"}`.
//!
//! Registered as the namespace's async fallback handler: each event is its
//! own task on the socket's shard, so a slow backend delays only the acks
//! that wait for it. `args` are the event's JSON arguments; a binary
//! argument appears as its socket.io placeholder
//! (`{"_placeholder":true,"num":N}`), its bytes are not forwarded.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use super::client::{self, CallError};
use super::metrics::{Hook, Outcome};
use super::{note, user_of, Hooks};
use crate::server::{AckSender, Event, NamespaceBuilder, Payload, Socket};

/// The events the broker handles itself: never forwarded (also when one is
/// switched off with `--no-rooms` and the like).
const OWN_EVENTS: [&str; 4] = ["join", "leave", "broadcast", "broadcast_others"];

/// Adds the event hook to `ns` as its fallback handler.
pub(in crate::broker) fn install(ns: &mut NamespaceBuilder, hooks: &Arc<Hooks>) {
    if hooks.event.is_none() {
        return;
    }
    let hooks = hooks.clone();
    ns.on_fallback_async(move |socket: Socket, mut ev: Event| {
        let hooks = hooks.clone();
        let ack = ev.take_ack();
        let body = (!OWN_EVENTS.contains(&ev.name.as_str())).then(|| body(&socket, ev));
        async move {
            let Some(body) = body else { return };
            let reply = ask(&hooks, &body).await;
            answer(ack, reply);
        }
    });
}

/// The JSON the backend receives.
fn body(socket: &Socket, ev: Event) -> Vec<u8> {
    let body = json!({
        "sid": socket.id(),
        "nsp": socket.namespace(),
        "user": user_of(socket),
        "event": ev.name,
        "args": ev.payload.args,
    });
    // Invariant: a serde_json Value always serializes.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The ack value the backend answered, or the failure answer.
async fn ask(hooks: &Hooks, body: &[u8]) -> Value {
    let unavailable = || json!({"error": "unavailable"});
    // Invariant: `install` registers this handler only with an event URL.
    let Some(endpoint) = hooks.event.as_ref() else {
        return unavailable();
    };
    let started = Instant::now();
    let result = client::post(endpoint, body, hooks.timeout).await;
    let took = started.elapsed();
    let (outcome, error, value) = match result {
        Err(e) => {
            let outcome = match e {
                CallError::Timeout => Outcome::TimedOut,
                _ => Outcome::Failed,
            };
            (outcome, Some(e), None)
        }
        Ok(r) if r.status != 200 => (Outcome::Refused, None, None),
        Ok(r) => match ack_of(&r.body) {
            Some(v) => (Outcome::Answered, None, Some(v)),
            None => (
                Outcome::Failed,
                Some(CallError::Malformed("the 200 reply is not a JSON object")),
                None,
            ),
        },
    };
    note(Hook::Event, &endpoint.url, took, outcome, error.as_ref());
    value.unwrap_or_else(unavailable)
}

/// The `ack` of a 200 reply (null when the object has none); None when the
/// body is not a JSON object.
fn ack_of(body: &[u8]) -> Option<Value> {
    match serde_json::from_slice::<Value>(body).ok()? {
        Value::Object(mut o) => Some(o.remove("ack").unwrap_or(Value::Null)),
        _ => None,
    }
}

fn answer(ack: Option<AckSender>, value: Value) {
    if let Some(ack) = ack {
        ack.send(Payload::new().arg(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks() {
        assert_eq!(ack_of(br#"{"ack":{"a":[1]}}"#), Some(json!({"a": [1]})));
        assert_eq!(ack_of(br#"{}"#), Some(Value::Null));
        assert_eq!(ack_of(br#"[1]"#), None);
        assert_eq!(ack_of(b"{\"ack\":"), None);
        assert_eq!(ack_of(b""), None);
    }
}

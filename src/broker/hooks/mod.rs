//! Backend hooks (`[proxy]`, spec broker.md §4): the broker asks the
//! application's backend, over HTTP, whether a socket may connect
//! ([`connect`]) and what to answer to a client event ([`event`]).
//!
//! # Never blocking a shard
//! A connect hook is async connect middleware
//! ([`crate::server::NamespaceBuilder::use_middleware_async`]): only that
//! socket's CONNECT reply waits for the backend. An event hook is an async
//! fallback handler: only that event's ack waits. Both run as tasks on the
//! socket's shard and talk HTTP/1.1 through the shard's own client and
//! keep-alive pool ([`client`]), each call bounded by `timeout_ms`.
//!
//! # What the backend decides, and where it is kept
//! A connect reply may name the user, add rooms to join, add `rooms` /
//! `publish` patterns and set the socket's data. These are merged into the
//! socket's token claims (a [`Token`]: the hook's `user` replaces `sub`,
//! its lists extend the token's) and travel from the middleware to the
//! connect handler inside the socket's data ([`Admitted`], which
//! serializes as the backend's `data` only); the connect handler then
//! admits the socket as for a token (`grants::admit`). The user each socket
//! connected as is kept per shard ([`USERS`]) for the event hook's `user`.
//!
//! # Failure answers
//! Connect: a non-200 status refuses with `{"message":"unauthorized",
//! "data":{"reason": <reply's "error" or "denied">}}`; timeout, unreachable
//! backend or a reply that does not parse refuses with reason
//! `"unavailable"`. Event: anything but a 200 `{"ack": value}` answers
//! `{"error":"unavailable"}`. Counted in [`metrics`].

pub mod client;
pub(super) mod connect;
pub(super) mod event;
pub mod metrics;
mod response;

use std::cell::{Cell, RefCell};
use std::time::Duration;

use ahash::AHashMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

use self::client::CallError;
pub use self::client::{Endpoint, HookUrl};
use self::metrics::{Hook, Outcome};
use super::auth::Token;
use crate::server::Socket;

/// The configured hooks (`[proxy]`).
#[derive(Debug, Clone)]
pub struct Hooks {
    /// `connect_url`, resolved.
    pub connect: Option<Endpoint>,
    /// `event_url`, resolved.
    pub event: Option<Endpoint>,
    /// `timeout_ms`: the most one call may take.
    pub timeout: Duration,
}

/// `timeout_ms` when not set.
pub const DEFAULT_TIMEOUT_MS: u64 = 3000;

impl Default for Hooks {
    fn default() -> Self {
        Self {
            connect: None,
            event: None,
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
        }
    }
}

impl Hooks {
    /// Resolves the hooks' hosts (once, at start: a blocking lookup has no
    /// place on a shard). `Err` names the URL that does not resolve.
    pub fn new(
        connect: Option<HookUrl>,
        event: Option<HookUrl>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let resolve = |url: Option<HookUrl>| {
            url.map(|u| {
                let shown = u.to_string();
                Endpoint::resolve(u).map_err(|e| format!("cannot resolve {shown}: {e}"))
            })
            .transpose()
        };
        Ok(Self {
            connect: resolve(connect)?,
            event: resolve(event)?,
            timeout,
        })
    }

    /// Whether no hook is configured.
    pub fn is_empty(&self) -> bool {
        self.connect.is_none() && self.event.is_none()
    }
}

/// What the connect hook (and the token) granted a socket, carried as its
/// data from the middleware to the connect handler. Serializes as the
/// backend's `data` only (what `fetchSockets` and the HTTP API show).
pub(super) struct Admitted {
    /// The backend's `data` (null when it sent none).
    data: Value,
    /// The merged claims, taken by the connect handler.
    claims: Option<Token>,
}

impl Serialize for Admitted {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.data.serialize(s)
    }
}

/// The merged claims the connect hook left in `socket`'s data.
pub(super) fn take_admitted(socket: &Socket) -> Option<Token> {
    socket
        .with_data::<Admitted, _>(|a| a.claims.take())
        .flatten()
}

thread_local! {
    /// The user of each socket of this shard that connected as one (for
    /// the event hook's `user`), by socket id.
    static USERS: RefCell<AHashMap<Box<str>, Box<str>>> = RefCell::new(AHashMap::new());
    /// Whether the last call of each hook on this shard failed (to log the
    /// change once, not every failure).
    static DOWN: [Cell<bool>; 2] = const { [Cell::new(false), Cell::new(false)] };
}

/// Remembers `socket`'s user for the event hook.
pub(super) fn remember_user(hooks: &Hooks, socket: &Socket, user: Option<&str>) {
    if let (Some(user), Some(_)) = (user, &hooks.event) {
        USERS.with(|u| u.borrow_mut().insert(socket.id().into(), user.into()));
    }
}

/// Forgets a disconnected socket's user.
pub(super) fn forget(socket: &Socket) {
    USERS.with(|u| u.borrow_mut().remove(socket.id()));
}

/// `socket`'s user, as JSON (null when none).
fn user_of(socket: &Socket) -> Value {
    USERS.with(|u| {
        u.borrow()
            .get(socket.id())
            .map_or(Value::Null, |user| Value::String(user.to_string()))
    })
}

/// Counts a call and logs when a hook starts or stops failing on this
/// shard (once per change: a dead backend does not flood the log).
fn note(hook: Hook, url: &HookUrl, took: Duration, outcome: Outcome, error: Option<&CallError>) {
    metrics::record(hook, took, outcome);
    let failed = matches!(outcome, Outcome::TimedOut | Outcome::Failed);
    let down = DOWN.with(|d| d[hook as usize].replace(failed));
    match (down, failed, error) {
        (false, true, Some(e)) => {
            tracing::warn!(hook = ?hook, %url, error = %e, "backend hook failing")
        }
        (true, false, _) => tracing::info!(hook = ?hook, %url, "backend hook answering again"),
        (_, true, Some(e)) => {
            tracing::debug!(hook = ?hook, %url, error = %e, "backend hook failed")
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::shard::app::SocketData;

    #[test]
    fn socket_data_is_the_backends_data_only() {
        let admitted = Admitted {
            data: json!({"plan": "pro"}),
            claims: Some(Token {
                sub: Some("u".into()),
                expires_ms: None,
                rooms: vec![],
                publish: vec![],
                join: vec![],
            }),
        };
        assert_eq!(admitted.to_json(), json!({"plan": "pro"}));
    }
}

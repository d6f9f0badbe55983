//! What each connected socket may do, kept on the shard that owns it.
//!
//! A socket that connected with a token has [`Grants`]: its namespace's
//! patterns and its token's, with `{sub}` resolved, and the timer that
//! disconnects it when the token expires. They live in a shard-local map
//! keyed by socket id ([`GRANTS`]), inserted on connect and removed on
//! disconnect (which drops, and so cancels, the expiry timer). A socket
//! without a token has no entry: its namespace's anonymous patterns apply.
//! The map is touched only by the shard's own thread, so it is a
//! `RefCell`, never a lock.
//!
//! # From middleware to connect
//! The token is verified in the namespace's middleware (a refusal must be a
//! CONNECT_ERROR, before the socket exists). The claims are handed to the
//! connect handler through [`VERIFIED`], a one-entry slot keyed by the token
//! text: the library calls the middleware and then the connect handler of
//! the same CONNECT synchronously on the same shard. The slot is only a
//! shortcut: if it does not hold this socket's token, the connect handler
//! verifies the token again, so correctness never depends on the order.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ahash::AHashMap;

use super::access::NamespaceRules;
use super::auth::Token;
use super::pattern::{any_matches, Resolved};
use crate::server::Socket;

/// The patterns of one socket with a token, `{sub}` resolved.
pub(super) struct Grants {
    rooms: Vec<Resolved>,
    publish: Vec<Resolved>,
    /// Disconnects the socket at the token's `exp`; dropping it cancels it.
    expiry: Option<glommio::Task<()>>,
}

thread_local! {
    /// Grants of this shard's sockets that connected with a token.
    static GRANTS: RefCell<AHashMap<Box<str>, Grants>> = RefCell::new(AHashMap::new());
    /// The claims of the token the middleware verified last on this shard.
    static VERIFIED: RefCell<Option<(Box<str>, Token)>> = const { RefCell::new(None) };
}

/// Keeps `token`'s claims for the connect handler of the same CONNECT.
pub(super) fn hand_over(token: &str, claims: Token) {
    VERIFIED.with(|v| *v.borrow_mut() = Some((token.into(), claims)));
}

/// The claims [`hand_over`] kept for `token`, if they are that token's.
pub(super) fn take_verified(token: &str) -> Option<Token> {
    VERIFIED.with(|v| {
        let mut slot = v.borrow_mut();
        match slot.take() {
            Some((t, claims)) if &*t == token => Some(claims),
            _ => None,
        }
    })
}

/// Sets up a socket that connected with `token`: joins `user:<sub>` and
/// the token's `join` rooms, records its grants and arms its expiry.
pub(super) fn admit(socket: &Socket, rules: &NamespaceRules, token: Token) {
    let sub = token.sub.as_deref();
    if let Some(sub) = sub {
        socket.join(&format!("user:{sub}"));
    }
    for room in &token.join {
        socket.join(room);
    }
    let resolve = |a: &[super::pattern::Pattern], b: &[super::pattern::Pattern]| {
        a.iter()
            .chain(b)
            .filter_map(|p| p.resolve(sub))
            .collect::<Vec<_>>()
    };
    let grants = Grants {
        rooms: resolve(&rules.rooms, &token.rooms),
        publish: resolve(&rules.publish, &token.publish),
        expiry: token.expires_ms.map(|at| arm_expiry(socket, at)),
    };
    GRANTS.with(|g| g.borrow_mut().insert(socket.id().into(), grants));
}

/// Forgets a disconnected socket (cancelling its expiry timer).
pub(super) fn forget(socket: &Socket) {
    let gone = GRANTS.with(|g| g.borrow_mut().remove(socket.id()));
    drop(gone);
}

/// Whether `socket` may join `room`.
pub(super) fn may_join(rules: &NamespaceRules, socket: &Socket, room: &str) -> bool {
    GRANTS.with(|g| match g.borrow().get(socket.id()) {
        Some(grants) => any_matches(&grants.rooms, room),
        None => any_matches(&rules.anonymous_rooms, room),
    })
}

/// Whether `socket` may broadcast to `room`.
pub(super) fn may_publish(rules: &NamespaceRules, socket: &Socket, room: &str) -> bool {
    GRANTS.with(|g| match g.borrow().get(socket.id()) {
        Some(grants) => any_matches(&grants.publish, room),
        None => any_matches(&rules.anonymous_publish, room),
    })
}

/// A timer on the socket's shard that disconnects it at `at_ms` (ms since
/// the UNIX epoch): the client sees `disconnect` with "io server
/// disconnect".
fn arm_expiry(socket: &Socket, at_ms: u64) -> glommio::Task<()> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let wait = Duration::from_millis(at_ms.saturating_sub(now_ms));
    let socket = socket.clone();
    glommio::spawn_local(async move {
        glommio::timer::sleep(wait).await;
        // Take this socket's entry out first and detach its handle to this
        // very task, so the disconnect handler's `forget` does not cancel
        // the task while it runs.
        let entry = GRANTS.with(|g| g.borrow_mut().remove(socket.id()));
        if let Some(mut grants) = entry {
            if let Some(me) = grants.expiry.take() {
                drop(me.detach());
            }
        }
        tracing::debug!(sid = socket.id(), "token expired, disconnecting");
        socket.disconnect(false);
    })
}

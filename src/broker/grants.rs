//! What each connected socket may do, kept on the shard that owns it.
//!
//! A socket that connected with a token may have [`Grants`]: the patterns
//! its token adds, and its namespace's patterns that name `{sub}`, resolved
//! for its subject, and the timer that disconnects it when the token
//! expires. They live in a shard-local map keyed by socket id ([`GRANTS`]),
//! inserted on connect and removed on disconnect (which drops, and so
//! cancels, the expiry timer). A socket with nothing of its own (no token,
//! or a token without patterns or `exp`) has no entry. The namespace's
//! patterns without `{sub}` are shared by all its sockets and never copied.
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
use super::pattern::{any_matches, Pattern, Resolved};
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
    // Rooms the token assigns are the operator's, not the client's: they do
    // not count against max_rooms_per_socket (a name over
    // max_room_name_bytes is still refused, and logged by the shard).
    if let Some(sub) = sub {
        let _ = socket.join_exempt(&format!("user:{sub}"));
    }
    for room in &token.join {
        let _ = socket.join_exempt(room);
    }
    // The namespace's own patterns without {sub} are checked from `rules`.
    let resolve = |own: &[Pattern], theirs: &[Pattern]| {
        own.iter()
            .filter(|p| p.has_sub())
            .chain(theirs)
            .filter_map(|p| p.resolve(sub))
            .collect::<Vec<_>>()
    };
    let grants = Grants {
        rooms: resolve(&rules.rooms, &token.rooms),
        publish: resolve(&rules.publish, &token.publish),
        expiry: token.expires_ms.map(|at| arm_expiry(socket, at)),
    };
    if !grants.rooms.is_empty() || !grants.publish.is_empty() || grants.expiry.is_some() {
        GRANTS.with(|g| g.borrow_mut().insert(socket.id().into(), grants));
    }
}

/// Forgets a disconnected socket (cancelling its expiry timer).
pub(super) fn forget(socket: &Socket) {
    let gone = GRANTS.with(|g| g.borrow_mut().remove(socket.id()));
    drop(gone);
}

/// Whether `socket` may join `room`.
pub(super) fn may_join(rules: &NamespaceRules, socket: &Socket, room: &str) -> bool {
    any_matches(&rules.static_rooms, room)
        || GRANTS.with(|g| {
            g.borrow()
                .get(socket.id())
                .is_some_and(|grants| any_matches(&grants.rooms, room))
        })
}

/// Whether `socket` may broadcast to `room`.
pub(super) fn may_publish(rules: &NamespaceRules, socket: &Socket, room: &str) -> bool {
    any_matches(&rules.static_publish, room)
        || GRANTS.with(|g| {
            g.borrow()
                .get(socket.id())
                .is_some_and(|grants| any_matches(&grants.publish, room))
        })
}

/// A timer on the socket's shard that disconnects it at `at_ms` (ms since
/// the UNIX epoch): the client sees `disconnect` with "io server
/// disconnect".
fn arm_expiry(socket: &Socket, at_ms: u64) -> glommio::Task<()> {
    let socket = socket.clone();
    glommio::spawn_local(async move {
        // One sleep until `exp`, re-armed at most once a day so that a far
        // `exp` never overflows the timer (and a clock step is noticed).
        loop {
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let left = at_ms.saturating_sub(now_ms);
            if left == 0 {
                break;
            }
            glommio::timer::sleep(Duration::from_millis(left.min(MAX_SLEEP_MS))).await;
        }
        // Take this socket's entry out first and detach its handle to this
        // very task, so the disconnect handler's `forget` does not cancel
        // the task while it runs.
        let entry = GRANTS.with(|g| g.borrow_mut().remove(socket.id()));
        if let Some(me) = entry.and_then(|mut grants| grants.expiry.take()) {
            drop(me.detach());
        }
        tracing::debug!(sid = socket.id(), "token expired, disconnecting");
        socket.disconnect(false);
    })
}

/// The longest single sleep of an expiry timer (a day).
const MAX_SLEEP_MS: u64 = 24 * 3600 * 1000;

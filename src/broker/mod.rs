//! The broker binary's application, built on the public library API
//! ([`crate::server`]): clients `join`/`leave` rooms and
//! `broadcast`/`broadcast_others` to rooms.
//!
//! - Open (no config file, or one without `[auth]` / `[[namespace]]`):
//!   namespace `/` only, anyone may do anything, as the conformance app's
//!   namespace `/` does.
//! - Guarded ([`Access`] not open): the listed namespaces (and `/`); with
//!   `[auth]`, a JWT in the CONNECT auth payload ([`auth`]); joins and
//!   broadcasts allowed only where a pattern of the namespace or of the
//!   token matches ([`pattern`]); grants kept per socket on its shard
//!   ([`grants`]).
//!
//! Each of `join`/`leave`, `broadcast`, `broadcast_others` can also be
//! switched off ([`Permissions`]). The config file that yields all this is
//! read by [`file::load`].

pub mod access;
pub mod admin;
mod admin_events;
pub mod api;
pub mod auth;
pub mod file;
mod grants;
mod handlers;
pub mod logs;
pub mod metrics;
pub mod pattern;

use std::sync::Arc;

pub use self::access::{Access, NamespaceRules};
use self::auth::{AuthFailure, Verifier};
pub use self::handlers::{handle_broadcast, handle_broadcast_others, handle_join, handle_leave};
use crate::server::{
    Builder, ConnectRequest, NamespaceBuilder, Refusal, Server, ServerApp, Socket,
};
use crate::shard::quota::LogLimiter;

/// Which client events the broker handles at all.
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

/// The broker application.
pub fn app(perms: Permissions, access: &Access) -> ServerApp {
    builder(perms, access).build()
}

/// The broker application before [`Builder::build`], for more namespaces
/// (such as [`admin::AdminUi::install`]) and the `[api]` listener
/// ([`api::Api::attach`]).
pub fn builder(perms: Permissions, access: &Access) -> Builder {
    if access.is_open() {
        return Server::builder().namespace("/", |ns| open(ns, perms));
    }
    let mut builder = Server::builder();
    for rules in &access.namespaces {
        let rules = Arc::new(rules.clone());
        let auth = access.auth.clone();
        builder = builder.namespace(&rules.name.clone(), |ns| guarded(ns, perms, rules, auth));
    }
    builder
}

fn open(ns: &mut NamespaceBuilder, perms: Permissions) {
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
}

fn guarded(
    ns: &mut NamespaceBuilder,
    perms: Permissions,
    rules: Arc<NamespaceRules>,
    auth: Option<Arc<Verifier>>,
) {
    if let Some(verifier) = auth {
        let (r, v) = (rules.clone(), verifier.clone());
        ns.use_middleware(move |req| check_token(&r, &v, req));
        let r = rules.clone();
        ns.on_connect(move |socket| admit(&r, &verifier, socket));
        ns.on_disconnect(|socket, _| grants::forget(socket));
    }
    if perms.rooms {
        let r = rules.clone();
        ns.on("join", move |s, ev| handlers::join(Some(&r), s, ev));
        ns.on("leave", handle_leave);
    }
    if perms.broadcast {
        let r = rules.clone();
        ns.on("broadcast", move |s, ev| {
            handlers::relay(Some(&r), s, ev, false)
        });
    }
    if perms.broadcast_others {
        ns.on("broadcast_others", move |s, ev| {
            handlers::relay(Some(&rules), s, ev, true)
        });
    }
}

/// Connect middleware: refuses a CONNECT whose token is missing (where the
/// namespace needs one), invalid or expired; hands a valid token's claims
/// to [`admit`].
fn check_token(
    rules: &NamespaceRules,
    verifier: &Verifier,
    req: &ConnectRequest,
) -> Result<(), Refusal> {
    let failure = match Verifier::token_of(req.auth()) {
        None if rules.anonymous => return Ok(()),
        None => AuthFailure::Missing,
        Some(Err(f)) => f,
        Some(Ok(token)) => match verifier.verify(token) {
            Ok(claims) => {
                grants::hand_over(token, claims);
                return Ok(());
            }
            Err(f) => f,
        },
    };
    metrics::count_auth_failure(failure);
    log_refusal(req, failure.reason());
    Err(failure.refusal())
}

thread_local! {
    /// Connect refusals for failed authentication, logged at most once a
    /// second per shard (an attack must not flood the log).
    static AUTH_LOG: LogLimiter = const { LogLimiter::new() };
}

/// Logs a CONNECT refused for failed authentication (`reason`: the
/// `reason` label of `ringcast_auth_failures_total`), rate limited.
pub(crate) fn log_refusal(req: &ConnectRequest, reason: &str) {
    let Some(suppressed) = AUTH_LOG.with(LogLimiter::admit) else {
        return;
    };
    tracing::warn!(
        nsp = req.namespace(),
        address = %req.handshake().address,
        reason,
        suppressed,
        "connect refused: authentication failed"
    );
}

/// Connect handler: applies the token the middleware accepted (rooms to
/// join, grants, expiry). A socket without a token keeps the namespace's
/// anonymous rules.
fn admit(rules: &NamespaceRules, verifier: &Verifier, socket: &Socket) {
    let Some(Ok(token)) = Verifier::token_of(socket.auth()) else {
        return;
    };
    let claims = grants::take_verified(token).map_or_else(|| verifier.verify(token), Ok);
    match claims {
        Ok(claims) => grants::admit(socket, rules, claims),
        // Expired in the instant since the middleware accepted it.
        Err(_) => socket.disconnect(false),
    }
}

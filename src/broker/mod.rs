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
//! read by [`file::load`]. Backend hooks (`[proxy]`, [`hooks`]) work in
//! both modes: the connect hook may refuse, name the user, join rooms and
//! add patterns (which matter only when guarded); the event hook answers
//! every other client event.

pub mod access;
pub mod admin;
mod admin_events;
pub mod api;
pub mod auth;
pub mod file;
mod grants;
mod handlers;
pub mod hooks;
pub mod logs;
pub mod metrics;
pub mod pattern;

use std::sync::Arc;

pub use self::access::{Access, NamespaceRules};
use self::auth::{AuthFailure, Verifier};
pub use self::handlers::{handle_broadcast, handle_broadcast_others, handle_join, handle_leave};
pub use self::hooks::Hooks;
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

/// The broker application, without backend hooks.
pub fn app(perms: Permissions, access: &Access) -> ServerApp {
    builder(perms, access, Hooks::default()).build()
}

/// The broker application with backend `hooks` (`[proxy]`).
pub fn app_with_hooks(perms: Permissions, access: &Access, hooks: Hooks) -> ServerApp {
    builder(perms, access, hooks).build()
}

/// The broker application before [`Builder::build`], for more namespaces
/// (such as [`admin::AdminUi::install`]) and the `[api]` listener
/// ([`api::Api::attach`]).
pub fn builder(perms: Permissions, access: &Access, hooks: Hooks) -> Builder {
    let hooks = Arc::new(hooks);
    if access.is_open() {
        return Server::builder().namespace("/", |ns| open(ns, perms, &hooks));
    }
    let mut builder = Server::builder();
    for rules in &access.namespaces {
        let rules = Arc::new(rules.clone());
        let auth = access.auth.clone();
        builder = builder.namespace(&rules.name.clone(), |ns| {
            guarded(ns, perms, rules, auth, &hooks);
        });
    }
    builder
}

fn open(ns: &mut NamespaceBuilder, perms: Permissions, hooks: &Arc<Hooks>) {
    if !hooks.is_empty() {
        hooks::connect::install(ns, hooks, None);
        // Patterns do not matter here (everything is allowed); the hook's
        // user and rooms do.
        let rules = NamespaceRules::new("/", true, vec![], vec![]);
        let h = hooks.clone();
        ns.on_connect(move |socket| admit(&rules, None, &h, socket));
        ns.on_disconnect(|socket, _| forget(socket));
        hooks::event::install(ns, hooks);
    }
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
    hooks: &Arc<Hooks>,
) {
    if let Some(verifier) = &auth {
        let (r, v) = (rules.clone(), verifier.clone());
        ns.use_middleware(move |req| check_token(&r, &v, req));
    }
    // After the token check: the hook sees the token's user.
    hooks::connect::install(ns, hooks, auth.clone());
    if auth.is_some() || !hooks.is_empty() {
        let (r, h) = (rules.clone(), hooks.clone());
        ns.on_connect(move |socket| admit(&r, auth.as_deref(), &h, socket));
        ns.on_disconnect(|socket, _| forget(socket));
    }
    hooks::event::install(ns, hooks);
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

/// Connect handler: applies the token the middleware accepted, merged with
/// what the connect hook granted (rooms to join, grants, expiry, user). A
/// socket with neither keeps the namespace's anonymous rules.
fn admit(rules: &NamespaceRules, verifier: Option<&Verifier>, hooks: &Hooks, socket: &Socket) {
    let claims = if hooks.connect.is_some() {
        hooks::take_admitted(socket)
    } else {
        let (Some(verifier), Some(Ok(token))) = (verifier, Verifier::token_of(socket.auth()))
        else {
            return;
        };
        match grants::take_verified(token).map_or_else(|| verifier.verify(token), Ok) {
            Ok(claims) => Some(claims),
            // Expired in the instant since the middleware accepted it.
            Err(_) => return socket.disconnect(false),
        }
    };
    if let Some(claims) = claims {
        hooks::remember_user(hooks, socket, claims.sub.as_deref());
        grants::admit(socket, rules, claims);
    }
}

/// Disconnect handler: drops what [`admit`] kept for the socket.
fn forget(socket: &Socket) {
    grants::forget(socket);
    hooks::forget(socket);
}

//! `@socket.io/admin-ui` 0.5 support (spec broker.md §7): the `[admin_ui]`
//! section, the dashboard's login, and the admin namespace.
//!
//! The official dashboard (hosted at <https://admin.socket.io> or the
//! package's `ui/dist`) talks to the namespace as it talks to the Node
//! server's `instrument(io, ...)`; the protocol is the package's
//! `dist/typed-events.d.ts` and `dist/index.js`:
//! - login: CONNECT with `auth: {username, password}`, or `{sessionId}` of
//!   an earlier login on this node (the server emits `session` after a
//!   login by password); anything else is refused with `connect_error`
//!   `invalid credentials`. The password is compared in constant time
//!   (`password`) or checked against a bcrypt hash (`password_bcrypt`,
//!   what the Node server takes), on glommio's blocking thread pool so the
//!   shard keeps serving while bcrypt runs;
//! - on connect: `config` (`supportedFeatures`) and `all_sockets`
//!   (`fetch_sockets` of every namespace, every node); then
//!   `server_stats` every 2 s, the socket and room events, and the
//!   commands ([`super::admin_events`]).
//!
//! Built on the library API only: a namespace with middleware and
//! handlers, [`crate::server::Builder::observe`] for the events of every
//! namespace, [`crate::server::Builder::on_shard_start`] and
//! [`crate::server::shard_counts`] for the statistics.

use std::collections::VecDeque;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value as Json;
use toml::Value;

use super::access::Access;
use super::file::KeyError;
use crate::server::{Builder, ConnectRequest, Refusal, Socket};

/// Sessions remembered for `{sessionId}` logins; the oldest is forgotten
/// past this (a dashboard then logs in again with its password).
const MAX_SESSIONS: usize = 1000;

/// The `[admin_ui]` section.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminUi {
    /// The namespace the dashboard connects to (`/admin` by default).
    pub namespace: String,
    /// The login name.
    pub username: String,
    /// The password, or its bcrypt hash.
    pub password: Password,
    /// `mode`: what the dashboard is sent (Node's `instrument` option).
    pub mode: Mode,
    /// `readonly`: the dashboard may look but not act (no `emit`, `join`,
    /// `leave`, `_disconnect`), as Node's `readonly` option.
    pub readonly: bool,
}

/// Node admin-ui's `mode` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Node's default: `all_sockets`, the socket and room events, and
    /// every event sockets send and are sent one by one (`event_received`,
    /// `event_sent`, feature `ALL_EVENTS`): one broadcast to the admin
    /// namespace per such event.
    Development,
    /// Only `config` and `server_stats` (with its aggregated events): no
    /// per-socket traffic to the dashboard.
    Production,
}

impl std::fmt::Debug for AdminUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminUi")
            .field("namespace", &self.namespace)
            .field("username", &self.username)
            .field("mode", &self.mode)
            .field("readonly", &self.readonly)
            .finish_non_exhaustive()
    }
}

/// How the dashboard's password is checked.
#[derive(Clone, PartialEq, Eq)]
pub enum Password {
    /// Compared as it is, in constant time.
    Plain(String),
    /// A bcrypt hash (`$2a$`, `$2b$`, `$2y$`), as Node's admin-ui takes it.
    Bcrypt(String),
}

impl AdminUi {
    /// Reads the `[admin_ui]` section; `access` gives the namespaces the
    /// admin namespace must not be.
    pub fn from_section(section: &Value, access: &Access) -> Result<Self, KeyError> {
        let Value::Table(t) = section else {
            return Err(KeyError::type_of("admin_ui", "a table", section));
        };
        let text = |key: &str| -> Result<Option<String>, KeyError> {
            match t.get(key) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(KeyError::type_of(
                    &format!("admin_ui.{key}"),
                    "a string",
                    other,
                )),
            }
        };
        for key in t.keys() {
            let known = [
                "namespace",
                "username",
                "password",
                "password_bcrypt",
                "mode",
                "readonly",
            ];
            if !known.contains(&key.as_str()) {
                return Err(KeyError::new(format!("admin_ui.{key}"), "unknown key"));
            }
        }
        let namespace = text("namespace")?.unwrap_or_else(|| "/admin".to_owned());
        if !namespace.starts_with('/') {
            return Err(KeyError::new("admin_ui.namespace", "must start with \"/\""));
        }
        let taken = namespace == "/" || access.namespaces.iter().any(|n| n.name == namespace);
        if taken {
            return Err(KeyError::new(
                "admin_ui.namespace",
                format!("{namespace:?} is already a namespace of the broker"),
            ));
        }
        let username = text("username")?
            .filter(|u| !u.is_empty())
            .ok_or_else(|| KeyError::new("admin_ui.username", "missing"))?;
        let password = match (text("password")?, text("password_bcrypt")?) {
            (Some(p), None) if !p.is_empty() => Password::Plain(p),
            (None, Some(h)) => {
                bcrypt::HashParts::from_str(&h).map_err(|e| {
                    KeyError::new(
                        "admin_ui.password_bcrypt",
                        format!("not a bcrypt hash: {e}"),
                    )
                })?;
                Password::Bcrypt(h)
            }
            (Some(_), Some(_)) => {
                return Err(KeyError::new(
                    "admin_ui.password",
                    "give password or password_bcrypt, not both",
                ))
            }
            _ => {
                return Err(KeyError::new(
                    "admin_ui.password",
                    "missing (password or password_bcrypt)",
                ))
            }
        };
        let mode = match text("mode")?.as_deref() {
            None | Some("development") => Mode::Development,
            Some("production") => Mode::Production,
            Some(other) => {
                return Err(KeyError::new(
                    "admin_ui.mode",
                    format!("{other:?} is not \"development\" or \"production\""),
                ))
            }
        };
        let readonly = match t.get("readonly") {
            None => false,
            Some(Value::Boolean(b)) => *b,
            Some(other) => return Err(KeyError::type_of("admin_ui.readonly", "a boolean", other)),
        };
        Ok(Self {
            namespace,
            username,
            password,
            mode,
            readonly,
        })
    }

    /// Adds the admin namespace, the observer and the statistics task to
    /// the broker's application. `server_id` names this node on the
    /// dashboard (the node name, else `hostname#pid`).
    pub fn install(self, builder: Builder, server_id: Option<String>) -> Builder {
        let login = Arc::new(Login {
            ui: self.clone(),
            sessions: Mutex::new(VecDeque::new()),
        });
        let nsp = self.namespace.clone();
        let development = self.mode == Mode::Development;
        let features = super::admin_events::features(self.readonly, development);
        let builder = builder.namespace(&nsp, |ns| {
            let l = login.clone();
            ns.use_middleware_async(move |req| {
                let l = l.clone();
                async move { l.check(&req).await }
            });
            let l = login.clone();
            ns.on_connect_async(move |socket| {
                let session = l.session_for(&socket);
                super::admin_events::greet(socket, session, features.clone(), development)
            });
            if !self.readonly {
                super::admin_events::commands(ns);
            }
        });
        super::admin_events::install(builder, nsp, server_id, development)
    }
}

/// The login state of the admin namespace (every shard).
struct Login {
    ui: AdminUi,
    /// Session ids handed out, oldest first.
    sessions: Mutex<VecDeque<String>>,
}

impl Login {
    fn knows(&self, session: &str) -> bool {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|s| constant_time_eq(s.as_bytes(), session.as_bytes()))
    }

    /// The connect middleware.
    async fn check(&self, req: &ConnectRequest) -> Result<(), Refusal> {
        let auth = req.auth();
        if let Some(session) = auth.get("sessionId").and_then(Json::as_str) {
            if self.knows(session) {
                return Ok(());
            }
        }
        let user = auth.get("username").and_then(Json::as_str);
        let pass = auth.get("password").and_then(Json::as_str);
        let ok = match (user, pass) {
            (Some(u), Some(p)) if constant_time_eq(u.as_bytes(), self.ui.username.as_bytes()) => {
                self.verify(p).await
            }
            _ => false,
        };
        if ok {
            return Ok(());
        }
        super::log_refusal(req, "admin_ui credentials");
        Err(Refusal::new("invalid credentials"))
    }

    async fn verify(&self, password: &str) -> bool {
        match &self.ui.password {
            Password::Plain(p) => constant_time_eq(p.as_bytes(), password.as_bytes()),
            Password::Bcrypt(hash) => {
                let (password, hash) = (password.to_owned(), hash.clone());
                glommio::executor()
                    .spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                    .await
            }
        }
    }

    /// A new session id for a socket that logged in with its password
    /// (None when it came with a known session).
    fn session_for(&self, socket: &Socket) -> Option<String> {
        let given = socket.auth().get("sessionId").and_then(Json::as_str);
        if given.is_some_and(|s| self.knows(s)) {
            return None;
        }
        let id: [u8; 8] = rand::random();
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if sessions.len() >= MAX_SESSIONS {
            sessions.pop_front();
        }
        sessions.push_back(id.clone());
        Some(id)
    }
}

/// Equality whose time depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AdminUi, KeyError> {
        let top: toml::Table = toml::from_str(text).expect("TOML");
        AdminUi::from_section(&top["admin_ui"], &Access::open())
    }

    #[test]
    fn section_is_checked() {
        let ui = parse("[admin_ui]\nusername = \"a\"\npassword = \"p\"").expect("loads");
        assert_eq!(ui.namespace, "/admin");
        assert!(matches!(ui.password, Password::Plain(ref p) if p == "p"));
        // Invariant: hashing with a valid cost succeeds.
        let hash = bcrypt::hash("pw", 4).expect("bcrypt hashes");
        let ui = parse(&format!(
            "[admin_ui]\nnamespace = \"/dash\"\nusername = \"a\"\npassword_bcrypt = \"{hash}\""
        ))
        .expect("loads");
        assert_eq!(ui.namespace, "/dash");
        let key = |t: &str| parse(t).expect_err("refused").key;
        assert_eq!(key("[admin_ui]\nusername = \"a\""), "admin_ui.password");
        assert_eq!(key("[admin_ui]\npassword = \"a\""), "admin_ui.username");
        assert_eq!(
            key("[admin_ui]\nusername = \"a\"\npassword_bcrypt = \"nope\""),
            "admin_ui.password_bcrypt"
        );
        assert_eq!(
            key("[admin_ui]\nusername = \"a\"\npassword = \"p\"\nnamespace = \"/\""),
            "admin_ui.namespace"
        );
        assert_eq!(
            key("[admin_ui]\nusername = \"a\"\npassword = \"p\"\nuser = \"x\""),
            "admin_ui.user"
        );
        assert_eq!(
            key("[admin_ui]\nusername = \"a\"\npassword = \"p\"\nmode = \"dev\""),
            "admin_ui.mode"
        );
        assert_eq!(
            key("[admin_ui]\nusername = \"a\"\npassword = \"p\"\nreadonly = \"yes\""),
            "admin_ui.readonly"
        );
    }

    #[test]
    fn mode_and_readonly() {
        let ui = parse("[admin_ui]\nusername = \"a\"\npassword = \"p\"").expect("loads");
        assert_eq!((ui.mode, ui.readonly), (Mode::Development, false));
        let ui = parse(
            "[admin_ui]\nusername = \"a\"\npassword = \"p\"\nmode = \"production\"\nreadonly = true",
        )
        .expect("loads");
        assert_eq!((ui.mode, ui.readonly), (Mode::Production, true));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}

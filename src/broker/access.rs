//! Who may connect and what they may do: the `[auth]` and `[[namespace]]`
//! sections of the config file, parsed and checked once into [`Access`].
//!
//! With neither section the broker is open (anyone may join and publish
//! anywhere on `/`, as without a config file). With either, the default is
//! deny: a socket may join or publish only where a pattern of its namespace
//! or of its token allows it, only the listed namespaces (and `/`) exist,
//! and with `[auth]` a namespace needs a token unless `anonymous = true`.
//!
//! Key files are read here, relative to the config file's folder, so an
//! unreadable or malformed key stops the start instead of refusing every
//! client later.

use std::path::Path;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey};
use toml::{Table, Value};

use super::auth::Verifier;
use super::file::KeyError;
use super::pattern::{Pattern, Resolved};

/// The access rules of the broker.
#[derive(Debug, Default, Clone)]
pub struct Access {
    /// `[auth]`: the token verifier; None = no tokens.
    pub auth: Option<Arc<Verifier>>,
    /// `[[namespace]]` entries, in file order, `/` included (added with
    /// the defaults when the file does not list it and access is guarded).
    pub namespaces: Vec<NamespaceRules>,
}

/// One `[[namespace]]` entry.
#[derive(Debug, Clone)]
pub struct NamespaceRules {
    /// `name`: `/` or `/something`.
    pub name: String,
    /// `anonymous`: no token needed (only matters with `[auth]`).
    pub anonymous: bool,
    /// `rooms`: patterns any socket of the namespace may join.
    pub rooms: Vec<Pattern>,
    /// `publish`: patterns any socket of the namespace may broadcast to.
    pub publish: Vec<Pattern>,
    /// The `rooms` patterns without `{sub}`: the same for every socket
    /// (those with `{sub}` are resolved per socket, in its grants).
    pub(super) static_rooms: Vec<Resolved>,
    /// The `publish` patterns without `{sub}`.
    pub(super) static_publish: Vec<Resolved>,
}

impl NamespaceRules {
    /// A namespace with the given rules.
    pub fn new(name: &str, anonymous: bool, rooms: Vec<Pattern>, publish: Vec<Pattern>) -> Self {
        let resolve = |p: &[Pattern]| p.iter().filter_map(|p| p.resolve(None)).collect();
        Self {
            name: name.to_owned(),
            anonymous,
            static_rooms: resolve(&rooms),
            static_publish: resolve(&publish),
            rooms,
            publish,
        }
    }

    /// Whether a CONNECT without a token is accepted here.
    pub fn needs_token(&self, access: &Access) -> bool {
        access.auth.is_some() && !self.anonymous
    }
}

/// The top-level sections [`Access::from_sections`] reads.
pub const SECTIONS: [&str; 2] = ["auth", "namespace"];

impl Access {
    /// The open broker: no tokens, every permission.
    pub fn open() -> Self {
        Self::default()
    }

    /// Whether nothing restricts clients (no `[auth]`, no `[[namespace]]`).
    pub fn is_open(&self) -> bool {
        self.auth.is_none() && self.namespaces.is_empty()
    }

    /// Reads `[auth]` and `[[namespace]]` from the file's top-level table
    /// (other keys are ignored here); key files are relative to `dir`.
    pub fn from_sections(top: &Table, dir: &Path) -> Result<Self, KeyError> {
        let auth = match top.get("auth") {
            None => None,
            Some(Value::Table(t)) => Some(Arc::new(parse_auth(t, dir)?)),
            Some(other) => return Err(KeyError::type_of("auth", "a table ([auth])", other)),
        };
        let mut namespaces: Vec<NamespaceRules> = Vec::new();
        match top.get("namespace") {
            None => {}
            Some(Value::Array(list)) => {
                for (i, entry) in list.iter().enumerate() {
                    let path = format!("namespace[{i}]");
                    let Value::Table(t) = entry else {
                        return Err(KeyError::type_of(&path, "a table ([[namespace]])", entry));
                    };
                    let ns = parse_namespace(t, &path)?;
                    if namespaces.iter().any(|n| n.name == ns.name) {
                        return Err(KeyError::new(
                            format!("{path}.name"),
                            format!("namespace {:?} is listed twice", ns.name),
                        ));
                    }
                    namespaces.push(ns);
                }
            }
            Some(other) => {
                return Err(KeyError::type_of(
                    "namespace",
                    "an array of tables ([[namespace]])",
                    other,
                ))
            }
        }
        let mut access = Self { auth, namespaces };
        if !access.is_open() && !access.namespaces.iter().any(|n| n.name == "/") {
            access
                .namespaces
                .insert(0, NamespaceRules::new("/", false, vec![], vec![]));
        }
        Ok(access)
    }
}

fn parse_auth(t: &Table, dir: &Path) -> Result<Verifier, KeyError> {
    let mut s = Section::new("auth", t);
    let secret = s.string("jwt_hs256_secret")?;
    let rs256 = s.string("jwt_rs256_public_key_file")?;
    let es256 = s.string("jwt_es256_public_key_file")?;
    let issuer = s.string("jwt_issuer")?;
    let audience = s.string("jwt_audience")?;
    s.finish()?;
    let mut keys = Vec::new();
    if let Some(secret) = secret {
        if secret.is_empty() {
            return Err(KeyError::new("auth.jwt_hs256_secret", "must not be empty"));
        }
        keys.push((
            Algorithm::HS256,
            DecodingKey::from_secret(secret.as_bytes()),
        ));
    }
    let pem_files = [
        (rs256, "jwt_rs256_public_key_file", Algorithm::RS256),
        (es256, "jwt_es256_public_key_file", Algorithm::ES256),
    ];
    for (file, key, alg) in pem_files {
        let Some(file) = file else { continue };
        let key = format!("auth.{key}");
        let path = dir.join(file);
        let pem = std::fs::read(&path)
            .map_err(|e| KeyError::new(&key, format!("cannot read {}: {e}", path.display())))?;
        let decoded = match alg {
            Algorithm::RS256 => DecodingKey::from_rsa_pem(&pem),
            _ => DecodingKey::from_ec_pem(&pem),
        };
        let what = if alg == Algorithm::RS256 {
            "an RSA"
        } else {
            "an EC (P-256)"
        };
        let decoded = decoded.map_err(|e| {
            KeyError::new(
                &key,
                format!("{} is not {what} public key in PEM: {e}", path.display()),
            )
        })?;
        keys.push((alg, decoded));
    }
    if keys.is_empty() {
        return Err(KeyError::new(
            "auth",
            "no key: set jwt_hs256_secret, jwt_rs256_public_key_file or jwt_es256_public_key_file",
        ));
    }
    Ok(Verifier::new(keys, issuer, audience))
}

fn parse_namespace(t: &Table, path: &str) -> Result<NamespaceRules, KeyError> {
    let mut s = Section::new(path, t);
    let name = s
        .string("name")?
        .ok_or_else(|| KeyError::new(format!("{path}.name"), "missing"))?;
    if !name.starts_with('/') {
        return Err(KeyError::new(
            format!("{path}.name"),
            format!("{name:?} must start with '/'"),
        ));
    }
    let anonymous = s.bool("anonymous")?.unwrap_or(false);
    let rooms = s.patterns("rooms")?;
    let publish = s.patterns("publish")?;
    s.finish()?;
    Ok(NamespaceRules::new(name, anonymous, rooms, publish))
}

/// Reads the keys of one table, naming each by its path in errors, and
/// refuses the keys it was not asked for.
struct Section<'a> {
    path: &'a str,
    table: &'a Table,
    known: Vec<&'static str>,
}

impl<'a> Section<'a> {
    fn new(path: &'a str, table: &'a Table) -> Self {
        Self {
            path,
            table,
            known: Vec::new(),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn string(&mut self, key: &'static str) -> Result<Option<&'a str>, KeyError> {
        self.known.push(key);
        match self.table.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(KeyError::type_of(&self.key(key), "a string", other)),
        }
    }

    fn bool(&mut self, key: &'static str) -> Result<Option<bool>, KeyError> {
        self.known.push(key);
        match self.table.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(KeyError::type_of(&self.key(key), "a boolean", other)),
        }
    }

    fn patterns(&mut self, key: &'static str) -> Result<Vec<Pattern>, KeyError> {
        self.known.push(key);
        let Some(value) = self.table.get(key) else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = value else {
            return Err(KeyError::type_of(
                &self.key(key),
                "an array of strings",
                value,
            ));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let at = format!("{}[{i}]", self.key(key));
                let Value::String(text) = item else {
                    return Err(KeyError::type_of(&at, "a string", item));
                };
                Pattern::parse(text)
                    .map_err(|e| KeyError::new(at, format!("invalid pattern {text:?}: {e}")))
            })
            .collect()
    }

    fn finish(self) -> Result<(), KeyError> {
        match self
            .table
            .keys()
            .find(|k| !self.known.contains(&k.as_str()))
        {
            Some(k) => Err(KeyError::new(
                self.key(k),
                format!("unknown key (known: {})", self.known.join(", ")),
            )),
            None => Ok(()),
        }
    }
}

//! The socket descriptions of a REMOTE_FETCH answer (`fetchSockets()`).
//!
//! Node answers `{"requestId","sockets":[{"id","handshake","rooms","data"}]}`
//! where `handshake` is the socket's handshake minus `sessionStore`:
//! `headers, time, address, xdomain, secure, issued, url, query, auth`
//! ([`Handshake`] builds it in that order) and `data` is `socket.data`.
//!
//! # Invariants
//! - `rooms` includes the socket's own id room (the requester relies on it).
//! - `handshake` and `data` are kept as JSON exactly as received (any
//!   extra handshake field survives a decode / encode round trip).

use serde_json::{Map, Value as Json};

use crate::{fields, json, DecodeError, Value};

/// One socket of a REMOTE_FETCH answer.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedSocket {
    /// The socket id.
    pub id: String,
    /// The handshake object (see [`Handshake`]).
    pub handshake: Json,
    /// All rooms of the socket, its own id included.
    pub rooms: Vec<String>,
    /// `socket.data` (`{}` by default).
    pub data: Json,
}

impl FetchedSocket {
    pub(crate) fn from_value(v: &Value) -> Result<Self, DecodeError> {
        if !matches!(v, Value::Map(_)) {
            return Err(DecodeError::field("sockets", "an array of socket objects"));
        }
        Ok(Self {
            id: fields::string(v, "id", "sockets.id")?,
            handshake: v.get("handshake").map_or(Json::Null, json::to_json),
            rooms: fields::rooms(v, "rooms", "sockets.rooms")?,
            data: v.get("data").map_or(Json::Null, json::to_json),
        })
    }

    pub(crate) fn to_json(&self) -> Json {
        let mut m = Map::with_capacity(4);
        m.insert("id".to_owned(), Json::from(self.id.as_str()));
        m.insert("handshake".to_owned(), self.handshake.clone());
        m.insert("rooms".to_owned(), fields::json_strings(&self.rooms));
        m.insert("data".to_owned(), self.data.clone());
        Json::Object(m)
    }
}

/// The handshake fields socket.io 4 sends, in its order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Handshake {
    /// Request headers (lower-case names).
    pub headers: Map<String, Json>,
    /// `new Date().toString()` at connection time, e.g.
    /// `Fri Nov 27 2026 13:01:28 GMT+0000 (Coordinated Universal Time)`.
    pub time: String,
    /// The client's address.
    pub address: String,
    /// Whether the request had an `Origin` header.
    pub xdomain: bool,
    /// Whether the connection is TLS.
    pub secure: bool,
    /// Connection time in milliseconds since the epoch.
    pub issued: u64,
    /// The request URL (path and query).
    pub url: String,
    /// The parsed query string.
    pub query: Map<String, Json>,
    /// The CONNECT packet's auth payload (`{}` when absent).
    pub auth: Json,
}

impl Handshake {
    /// The JSON object, keys in socket.io's order.
    pub fn to_json(&self) -> Json {
        let mut m = Map::with_capacity(9);
        m.insert("headers".to_owned(), Json::Object(self.headers.clone()));
        m.insert("time".to_owned(), Json::from(self.time.as_str()));
        m.insert("address".to_owned(), Json::from(self.address.as_str()));
        m.insert("xdomain".to_owned(), Json::Bool(self.xdomain));
        m.insert("secure".to_owned(), Json::Bool(self.secure));
        m.insert("issued".to_owned(), Json::from(self.issued));
        m.insert("url".to_owned(), Json::from(self.url.as_str()));
        m.insert("query".to_owned(), Json::Object(self.query.clone()));
        m.insert("auth".to_owned(), self.auth.clone());
        Json::Object(m)
    }
}

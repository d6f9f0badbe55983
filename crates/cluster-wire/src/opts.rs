//! Room selection and broadcast flags.
//!
//! - [`RoomFilter`] is the `opts` of the JSON requests (socketsJoin,
//!   socketsLeave, disconnectSockets, fetchSockets): `{rooms, except}`.
//! - [`BroadcastOpts`] is the `opts` of a broadcast and of a type-7
//!   request: `{rooms, except, flags}`. The adapter writes the keys in that
//!   order, the emitter as `rooms, flags, except`; decoding goes by key
//!   and remembers the order ([`OptsOrder`]) so that re-encoding a
//!   received message reproduces its bytes.
//! - [`Flags`] keeps its entries in wire order, with typed accessors for
//!   the flags Socket.IO defines (`volatile`, `compress`, `local`,
//!   `timeout`) and room for any other.
//!
//! # Invariants
//! - `rooms` empty means everyone; `except` lists rooms whose members are
//!   excluded (a socket id is a room: `socket.to(r)` excludes the sender).
//! - Absent `rooms` / `except` / `flags` decode as empty, as Node's
//!   `new Set(undefined)` does. `flags.local` broadcasts are never published.

use crate::{fields, DecodeError, Value};

/// `{rooms, except}`: which sockets a remote operation targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomFilter {
    /// Sockets in any of these rooms (empty: every socket).
    pub rooms: Vec<String>,
    /// Minus sockets in any of these rooms.
    pub except: Vec<String>,
}

impl RoomFilter {
    /// Decodes `{rooms, except}`.
    pub(crate) fn from_value(v: &Value) -> Result<Self, DecodeError> {
        Ok(Self {
            rooms: fields::rooms(v, "rooms", "opts.rooms")?,
            except: fields::rooms(v, "except", "opts.except")?,
        })
    }

    /// The JSON object `{"rooms":[..],"except":[..]}`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::with_capacity(2);
        m.insert("rooms".to_owned(), fields::json_strings(&self.rooms));
        m.insert("except".to_owned(), fields::json_strings(&self.except));
        serde_json::Value::Object(m)
    }
}

/// Broadcast flags (`{}`, `{volatile: true}`, `{timeout: 2000}`, ...), in
/// wire order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flags(pub Vec<(String, Value)>);

impl Flags {
    /// The flag `key`, if set (last occurrence wins, as in a JS object).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key` (replacing it in place, or appending).
    pub fn set(&mut self, key: &str, value: Value) -> &mut Self {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
        self
    }

    /// `flags.volatile` is `true`.
    pub fn volatile(&self) -> bool {
        self.is_true("volatile")
    }

    /// `flags.compress`: `Some(false)` disables per-message compression.
    pub fn compress(&self) -> Option<bool> {
        self.get("compress").and_then(Value::as_bool)
    }

    /// `flags.local` is `true` (such broadcasts are never published).
    pub fn local(&self) -> bool {
        self.is_true("local")
    }

    /// `flags.timeout` in milliseconds (broadcast-with-ack).
    pub fn timeout(&self) -> Option<u64> {
        self.get("timeout").and_then(Value::as_u64)
    }

    fn is_true(&self, key: &str) -> bool {
        self.get(key).and_then(Value::as_bool) == Some(true)
    }
}

/// Key order of a broadcast `opts` map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OptsOrder {
    /// `rooms, except, flags`: the adapter's order.
    #[default]
    Adapter,
    /// `rooms, flags, except`: the emitter's order.
    Emitter,
}

/// `{rooms, except, flags}` of a broadcast.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BroadcastOpts {
    /// Target rooms (empty: everyone).
    pub rooms: Vec<String>,
    /// Excluded rooms.
    pub except: Vec<String>,
    /// Broadcast flags.
    pub flags: Flags,
    /// Key order used when encoding.
    pub order: OptsOrder,
}

impl BroadcastOpts {
    /// Options targeting `rooms` with no exclusion and no flag.
    pub fn to_rooms<S: AsRef<str>>(rooms: &[S]) -> Self {
        Self {
            rooms: rooms.iter().map(|r| r.as_ref().to_owned()).collect(),
            ..Self::default()
        }
    }

    /// The wire map, keys in [`Self::order`].
    pub fn to_value(&self) -> Value {
        let rooms = ("rooms".to_owned(), Value::str_array(&self.rooms));
        let except = ("except".to_owned(), Value::str_array(&self.except));
        let flags = ("flags".to_owned(), Value::Map(self.flags.0.clone()));
        Value::Map(match self.order {
            OptsOrder::Adapter => vec![rooms, except, flags],
            OptsOrder::Emitter => vec![rooms, flags, except],
        })
    }

    /// Decodes the `opts` map by key.
    pub fn from_value(v: &Value) -> Result<Self, DecodeError> {
        let Value::Map(entries) = v else {
            return Err(DecodeError::field("opts", "a map"));
        };
        let flags = match fields::get(v, "flags") {
            None => Flags::default(),
            Some(Value::Map(f)) => Flags(f.clone()),
            Some(_) => return Err(DecodeError::field("opts.flags", "a map")),
        };
        let pos = |key: &str| entries.iter().position(|(k, _)| k == key);
        let order = match (pos("flags"), pos("except")) {
            (Some(f), Some(e)) if f < e => OptsOrder::Emitter,
            _ => OptsOrder::Adapter,
        };
        Ok(Self {
            rooms: fields::rooms(v, "rooms", "opts.rooms")?,
            except: fields::rooms(v, "except", "opts.except")?,
            flags,
            order,
        })
    }

    /// The `{rooms, except}` part.
    pub fn filter(&self) -> RoomFilter {
        RoomFilter {
            rooms: self.rooms.clone(),
            except: self.except.clone(),
        }
    }
}

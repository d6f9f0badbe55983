//! [`Value`]: the data model of notepack-decoded JavaScript values.
//!
//! It is JSON plus what msgpack adds and Node actually sends: raw binary
//! (`Buffer`, `ArrayBuffer`, typed arrays, all `bin` on the wire) and
//! `Date` (timestamp extension `-1`).
//!
//! # Invariants
//! - Integers: the decoder yields [`Value::Int`] for every integer that
//!   fits `i64` and [`Value::UInt`] only above `i64::MAX`. Encoders accept
//!   any of `Int`, `UInt` and integral `Float` and pick notepack's format
//!   from the numeric value, so `Int(1)`, `UInt(1)` and `Float(1.0)` all
//!   encode to `0x01` (as the JS number `1` would).
//! - Map keys are strings and keep their wire order; duplicates are kept
//!   as decoded and [`Value::get`] returns the **last** one, which is what a
//!   JavaScript object built from them holds.
//! - [`Value::Date`] holds an ECMAScript time value: integral milliseconds
//!   since the epoch within ±8.64e15, or NaN for an invalid date.

use bytes::Bytes;

/// A notepack / JSON value that can carry binary.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// `null` (and `undefined` inside arrays).
    #[default]
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// An integer in `i64` range.
    Int(i64),
    /// An integer above `i64::MAX` (only ever `uint64` on the wire).
    UInt(u64),
    /// A float64 (or float32 widened); integral values encode as integers.
    Float(f64),
    /// A UTF-8 string (invalid UTF-8 on the wire becomes U+FFFD, as in Node).
    Str(String),
    /// Raw bytes (`bin8/16/32`); never converted to a string or an array.
    Binary(Bytes),
    /// An array.
    Array(Vec<Self>),
    /// An object: string keys in wire order.
    Map(Vec<(String, Self)>),
    /// A JavaScript `Date`: milliseconds since the epoch, NaN if invalid.
    Date(f64),
}

impl Value {
    /// The value of the last entry named `key`, if `self` is a map.
    pub fn get(&self, key: &str) -> Option<&Self> {
        match self {
            Self::Map(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if `self` is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if `self` is binary.
    pub fn as_binary(&self) -> Option<&Bytes> {
        match self {
            Self::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if `self` is an array.
    pub fn as_array(&self) -> Option<&[Self]> {
        match self {
            Self::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The entries, if `self` is a map.
    pub fn as_map(&self) -> Option<&[(String, Self)]> {
        match self {
            Self::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The boolean, if `self` is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number as `i64` when it is an integer in range (an integral
    /// float counts: JavaScript has no separate integer type).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::Int(i) => Some(i),
            Self::UInt(u) => i64::try_from(u).ok(),
            // Integral floats in [-2^63, 2^63) convert exactly.
            Self::Float(f)
                if f.fract() == 0.0
                    && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) =>
            {
                Some(f as i64)
            }
            _ => None,
        }
    }

    /// The number as `u64` when it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::Int(i) => u64::try_from(i).ok(),
            Self::UInt(u) => Some(u),
            Self::Float(f)
                if f.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(&f) =>
            {
                Some(f as u64)
            }
            _ => None,
        }
    }

    /// The number as `f64` (integers are converted, possibly rounding).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::Int(i) => Some(i as f64),
            Self::UInt(u) => Some(u as f64),
            Self::Float(f) => Some(f),
            _ => None,
        }
    }

    /// Whether `self` is [`Value::Nil`].
    pub fn is_nil(&self) -> bool {
        matches!(self, Self::Nil)
    }

    /// Whether `self` or anything inside it is [`Value::Binary`] (Node's
    /// `hasBinary`: such a packet goes to clients as BINARY_EVENT).
    pub fn has_binary(&self) -> bool {
        match self {
            Self::Binary(_) => true,
            Self::Array(items) => items.iter().any(Self::has_binary),
            Self::Map(entries) => entries.iter().any(|(_, v)| v.has_binary()),
            _ => false,
        }
    }

    /// A map from `(key, value)` pairs, in the given order.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Self)>) -> Self {
        Self::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// An array of strings.
    pub fn str_array<S: AsRef<str>>(items: &[S]) -> Self {
        Self::Array(
            items
                .iter()
                .map(|s| Self::Str(s.as_ref().to_owned()))
                .collect(),
        )
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Self::Int(i.into())
    }
}

impl From<u64> for Value {
    fn from(u: u64) -> Self {
        i64::try_from(u).map_or(Self::UInt(u), Self::Int)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Self::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::Str(s)
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Self::Binary(b)
    }
}

impl From<Vec<Self>> for Value {
    fn from(items: Vec<Self>) -> Self {
        Self::Array(items)
    }
}

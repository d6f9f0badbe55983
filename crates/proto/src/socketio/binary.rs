//! Binary attachments: placeholders and packet reassembly.
//!
//! A BINARY_EVENT / BINARY_ACK text packet announces `attachments` binary
//! Engine.IO messages that follow it; its JSON refers to them with
//! `{"_placeholder":true,"num":N}`. ringcast keeps the placeholders in the
//! JSON and hands the attachments alongside, so nothing is rewritten.
//!
//! # Invariants
//! - [`super::Packet::decode`] already checked every placeholder (an object
//!   whose `_placeholder` is `true`) has an integer `num < attachments`.
//! - The [`Reassembler`] stores at most `attachments` buffers; extra pushes
//!   are dropped.
//! - Tree walks are iterative (explicit stack), so even a `Value` built
//!   deeper than serde_json's parse limit cannot overflow the call stack.

use bytes::Bytes;
use serde_json::Value;

use super::{DecodeError, Packet};

/// What a JSON node is with respect to placeholders.
enum Kind {
    /// Not a placeholder object.
    No,
    /// A well-formed placeholder with this index.
    Index(usize),
    /// `_placeholder: true` with a missing / non-integer `num`.
    Malformed,
}

fn classify(v: &Value) -> Kind {
    let Value::Object(map) = v else {
        return Kind::No;
    };
    if map.get("_placeholder") != Some(&Value::Bool(true)) {
        return Kind::No;
    }
    match map.get("num").and_then(Value::as_u64).map(usize::try_from) {
        Some(Ok(n)) => Kind::Index(n),
        _ => Kind::Malformed,
    }
}

/// `Some(num)` when `v` is a placeholder `{"_placeholder":true,"num":N}`
/// with a non-negative integer `num` (extra keys are tolerated, as in Node).
pub fn is_placeholder(v: &Value) -> Option<usize> {
    match classify(v) {
        Kind::Index(n) => Some(n),
        Kind::No | Kind::Malformed => None,
    }
}

/// A placeholder value `{"_placeholder":true,"num":num}` for building
/// outgoing binary packets.
pub fn placeholder(num: usize) -> Value {
    let mut map = serde_json::Map::with_capacity(2);
    map.insert("_placeholder".to_owned(), Value::Bool(true));
    map.insert("num".to_owned(), Value::from(num));
    Value::Object(map)
}

/// Visits every node of `v` that is not inside a placeholder, depth first,
/// until `f` returns an error.
fn walk<E>(v: &Value, mut f: impl FnMut(&Value) -> Result<bool, E>) -> Result<(), E> {
    let mut stack = vec![v];
    while let Some(node) = stack.pop() {
        if !f(node)? {
            continue;
        }
        match node {
            Value::Array(items) => stack.extend(items.iter().rev()),
            Value::Object(map) => stack.extend(map.values().rev()),
            _ => {}
        }
    }
    Ok(())
}

/// Number of well-formed placeholders anywhere in `v`.
pub fn count_placeholders(v: &Value) -> usize {
    let mut n = 0usize;
    let _ = walk::<()>(v, |node| {
        Ok(match classify(node) {
            Kind::Index(_) => {
                n += 1;
                false
            }
            Kind::Malformed => false,
            Kind::No => true,
        })
    });
    n
}

/// Checks that every placeholder in `v` is well formed and refers to an
/// attachment index below `attachments`.
pub(crate) fn check_placeholders(v: &Value, attachments: usize) -> Result<(), DecodeError> {
    walk(v, |node| match classify(node) {
        Kind::Index(n) if n < attachments => Ok(false),
        Kind::Index(_) | Kind::Malformed => Err(DecodeError::InvalidPlaceholder),
        Kind::No => Ok(true),
    })
}

/// Collects the binary attachments that follow a binary packet.
///
/// Feed it every binary Engine.IO message after the text packet until
/// [`Reassembler::push`] returns `true`, then [`Reassembler::finish`].
/// A packet with zero attachments is complete immediately.
#[derive(Debug, Clone)]
pub struct Reassembler {
    packet: Packet,
    buffers: Vec<Bytes>,
}

impl Reassembler {
    /// Starts collecting `packet.attachments` buffers.
    pub fn new(packet: Packet) -> Self {
        // Capacity is capped so a hand-built packet with an absurd count
        // cannot reserve memory up front; decoded packets are already
        // bounded by `Limits::max_attachments`.
        let buffers = Vec::with_capacity(packet.attachments.min(64));
        Self { packet, buffers }
    }

    /// Adds the next attachment; returns `true` once all have arrived.
    /// Pushing after completion is a caller bug: the buffer is dropped.
    pub fn push(&mut self, attachment: Bytes) -> bool {
        if !self.is_complete() {
            self.buffers.push(attachment);
        }
        self.is_complete()
    }

    /// True when every announced attachment has arrived.
    pub fn is_complete(&self) -> bool {
        self.buffers.len() >= self.packet.attachments
    }

    /// How many attachments are still expected.
    pub fn remaining(&self) -> usize {
        self.packet.attachments.saturating_sub(self.buffers.len())
    }

    /// The packet being reassembled.
    pub fn packet(&self) -> &Packet {
        &self.packet
    }

    /// The packet (placeholders left in place) and its attachments in
    /// order: placeholder `num` N refers to `attachments[N]`.
    pub fn finish(self) -> (Packet, Vec<Bytes>) {
        (self.packet, self.buffers)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Limits;
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders() {
        assert_eq!(
            is_placeholder(&json!({"_placeholder":true,"num":0})),
            Some(0)
        );
        assert_eq!(
            is_placeholder(&json!({"num":3,"_placeholder":true,"x":1})),
            Some(3)
        );
        assert_eq!(
            is_placeholder(&json!({"_placeholder":"true","num":0})),
            None
        );
        assert_eq!(is_placeholder(&json!({"_placeholder":true,"num":-1})), None);
        assert_eq!(
            is_placeholder(&json!({"_placeholder":true,"num":0.5})),
            None
        );
        assert_eq!(is_placeholder(&json!({"_placeholder":true})), None);
        assert_eq!(is_placeholder(&json!([0])), None);
        assert_eq!(placeholder(2), json!({"_placeholder":true,"num":2}));
        let v = json!(["baz", placeholder(0), {"a": [placeholder(1)], "b": placeholder(0)}]);
        assert_eq!(count_placeholders(&v), 3);
        assert_eq!(count_placeholders(&json!("x")), 0);
        assert!(check_placeholders(&v, 2).is_ok());
        assert_eq!(
            check_placeholders(&v, 1),
            Err(DecodeError::InvalidPlaceholder)
        );
        let bad = json!([{"_placeholder":true,"num":"0"}]);
        assert_eq!(
            check_placeholders(&bad, 5),
            Err(DecodeError::InvalidPlaceholder)
        );
    }

    #[test]
    fn reassemble() {
        let p = Packet::decode(
            r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            &Limits::default(),
        )
        .unwrap();
        let mut r = Reassembler::new(p.clone());
        assert!(!r.is_complete());
        assert_eq!(r.remaining(), 2);
        assert!(!r.push(Bytes::from_static(b"a")));
        assert!(r.push(Bytes::from_static(b"b")));
        assert!(r.push(Bytes::from_static(b"extra")));
        assert_eq!(r.packet(), &p);
        let (q, bufs) = r.finish();
        assert_eq!(q, p);
        assert_eq!(
            bufs,
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );

        let p = Packet::decode(r#"50-["x"]"#, &Limits::default()).unwrap();
        let r = Reassembler::new(p);
        assert!(r.is_complete());
        assert_eq!(r.finish().1.len(), 0);
    }

    #[test]
    fn deep_value_walk_does_not_overflow() {
        let mut v = json!(0);
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(count_placeholders(&v), 0);
        // Dropping a 100k-deep Value recurses inside serde_json; leak it so
        // the test exercises our walk, not serde_json's destructor.
        std::mem::forget(v);
    }
}

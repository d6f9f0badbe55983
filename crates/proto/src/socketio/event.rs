//! The fast path of the decoder: an EVENT whose arguments stay text.
//!
//! Most packets a server receives are `42["name",…]` with plain JSON
//! arguments that it answers or forwards without looking inside.
//! [`Packet::decode_event`] admits exactly those, checks them as strictly as
//! [`Packet::decode`] would, and keeps the arguments as [`Args`] text, so
//! no `serde_json::Value` is built unless the application reads them.
//!
//! It declines (returns `None`, and the caller runs [`Packet::decode`],
//! which also names the error) anything it cannot vouch for cheaply:
//! binary kinds, other packet types, an event name that is not a string,
//! whitespace outside strings, and JSON whose re-encoding through
//! `Value`s could differ from its text (see [`scan`]). What it admits, an
//! echo sends back byte for byte as Node would (duplicate object keys
//! aside: Node keeps the last, the text keeps both, parsers read the last).

use serde::de::IgnoredAny;

use super::args::{Args, MAX_RAW_OPENS};
use super::packet::{Packet, Prefix};
use super::{Limits, PacketKind, RESERVED_EVENTS};

/// An EVENT decoded by [`Packet::decode_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPacket<'a> {
    /// Namespace, `"/"` by default (borrowed from the packet text).
    pub nsp: &'a str,
    /// Ack id, when the client expects an acknowledgement.
    pub id: Option<u64>,
    /// The event name.
    pub event: String,
    /// The arguments after the name, as received.
    pub args: Args,
}

impl Packet {
    /// Decodes a plain-JSON EVENT (`2["name",…]`, see the module docs)
    /// without building its arguments. `None`: not such a packet, or not
    /// one this path vouches for: decode it with [`Packet::decode`].
    pub fn decode_event<'a>(text: &'a str, limits: &Limits) -> Option<EventPacket<'a>> {
        // Other packet types decline at once (the caller decodes them fully).
        if text.as_bytes().first() != Some(&b'2') {
            return None;
        }
        let prefix = Prefix::decode(text, limits).ok()?;
        if prefix.kind != PacketKind::Event {
            return None;
        }
        let json = text.get(prefix.rest..)?;
        let list = scan(json)?;
        // Syntax, strictly: what `scan` let through parses into values.
        serde_json::from_str::<IgnoredAny>(json).ok()?;
        let first = json.get(1..list.first_end)?;
        if !first.starts_with('"') {
            return None;
        }
        let event: String = serde_json::from_str(first).ok()?;
        if RESERVED_EVENTS.contains(&event.as_str()) {
            return None;
        }
        let rest = json.get(list.first_end + 1..json.len() - 1).unwrap_or("");
        Some(EventPacket {
            nsp: prefix.nsp,
            id: prefix.id,
            event,
            args: Args::raw(rest, list.elements - 1),
        })
    }
}

/// Longest digit run admitted outside strings: any 18-digit integer,
/// negative too, is an `i64` or `u64` to serde_json, so it re-encodes as
/// sent (a longer one may become a float).
const MAX_DIGITS: usize = 18;

/// Where a JSON list's first element ends, and how many it has.
struct List {
    /// Index of the `,` after the first element, or of the closing `]`.
    first_end: usize,
    /// Top-level elements (at least 1).
    elements: usize,
}

/// Checks that `json` is one list `[…]` whose values re-encode to the same
/// text, as Node's `JSON.stringify(JSON.parse(…))` and the value path
/// would: outside strings no whitespace, no fraction, no exponent, no `-0`
/// (JavaScript numbers Node prints differently, see `normalize_js_numbers`)
/// and no digit run over [`MAX_DIGITS`] (a number serde_json would hold as
/// a float); inside strings only the escapes `JSON.stringify` writes
/// (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`: no `\/`, and no `\u`, which also
/// keeps out lone surrogates, which serde_json rejects only when it
/// decodes them); at most [`MAX_RAW_OPENS`] brackets. The text's validity is checked separately;
/// on valid JSON this scan tracks strings exactly.
fn scan(json: &str) -> Option<List> {
    let b = json.as_bytes();
    if b.first() != Some(&b'[') || b.last() != Some(&b']') {
        return None;
    }
    let mut depth = 0usize;
    let mut opens = 0usize;
    let mut digits = 0usize;
    let mut first_end = None;
    let mut elements = 1;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            digits += 1;
            if digits > MAX_DIGITS {
                return None;
            }
            i += 1;
            continue;
        }
        let after_digit = digits > 0;
        digits = 0;
        match c {
            b'"' => {
                // To the closing quote, from escape to escape (memchr's
                // vectorized search: a payload is mostly long strings).
                i += 1;
                loop {
                    i += memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
                    if b[i] == b'"' {
                        break;
                    }
                    // The escapes `JSON.stringify` writes itself.
                    if !matches!(
                        b.get(i + 1)?,
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't'
                    ) {
                        return None;
                    }
                    i += 2;
                }
            }
            b'[' | b'{' => {
                opens += 1;
                if opens > MAX_RAW_OPENS {
                    return None;
                }
                depth += 1;
            }
            b']' | b'}' => {
                if depth == 1 && first_end.is_none() {
                    first_end = Some(i);
                }
                depth = depth.checked_sub(1)?;
                if depth == 0 && i + 1 != b.len() {
                    return None;
                }
            }
            b',' if depth == 1 => {
                if first_end.is_none() {
                    first_end = Some(i);
                }
                elements += 1;
            }
            b'.' | b' ' | b'\t' | b'\n' | b'\r' => return None,
            b'e' | b'E' if after_digit => return None,
            b'-' if b.get(i + 1) == Some(&b'0') => return None,
            _ => {}
        }
        i += 1;
    }
    Some(List {
        first_end: first_end?,
        elements,
    })
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;

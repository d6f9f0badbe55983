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
        let first = json.get(1..list.first_end)?;
        let event: String = match first.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
            // No escape: the name is the text between the quotes.
            Some(name) if !name.contains('\\') => name.to_owned(),
            Some(_) => serde_json::from_str(first).ok()?,
            None => return None,
        };
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

/// Parses `json` as one list `[…]` in the subset of JSON whose values
/// re-encode to the same text, as Node's `JSON.stringify(JSON.parse(…))`
/// and the value path would, and returns its shape; `None` for anything
/// else, valid JSON outside the subset included. The subset: no whitespace
/// outside strings; integers only, without `-0` (JavaScript numbers Node
/// prints differently, see `normalize_js_numbers`) and of at most
/// [`MAX_DIGITS`] digits (longer ones serde_json may hold as floats);
/// inside strings only the escapes `JSON.stringify` writes (`\"`, `\\`,
/// `\b`, `\f`, `\n`, `\r`, `\t`: no `\/`, and no `\u`, which also keeps out
/// lone surrogates, which serde_json rejects only when it decodes them);
/// at most [`MAX_RAW_OPENS`] brackets. Everything it admits is valid JSON
/// (RFC 8259: literals, integers without leading zeros, strings without
/// control characters, `,` and `:` where they belong), so no second
/// validation runs; the proptests and the `socketio_packet` fuzz target
/// check it against serde_json.
fn scan(json: &str) -> Option<List> {
    let b = json.as_bytes();
    let mut p = Parser { b, i: 1, opens: 1 };
    if b.first() != Some(&b'[') || b.get(1) == Some(&b']') {
        return None;
    }
    let mut first_end = None;
    let mut elements = 0;
    loop {
        p.value()?;
        elements += 1;
        let more = p.more(b']')?;
        first_end.get_or_insert(p.i - 1);
        if !more {
            break;
        }
    }
    if p.i != b.len() {
        return None;
    }
    Some(List {
        first_end: first_end?,
        elements,
    })
}

/// A cursor over the bytes of [`scan`]'s subset.
struct Parser<'a> {
    b: &'a [u8],
    /// The next byte's index.
    i: usize,
    /// Brackets opened so far (at most [`MAX_RAW_OPENS`], which also
    /// bounds the recursion).
    opens: usize,
}

impl Parser<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(c)
    }

    /// A `[` or `{` (consumed) opens a container: counts it, and says
    /// whether `close` follows at once (an empty one, consumed too).
    fn open(&mut self, close: u8) -> Option<bool> {
        self.opens += 1;
        if self.opens > MAX_RAW_OPENS {
            return None;
        }
        let empty = self.b.get(self.i) == Some(&close);
        self.i += usize::from(empty);
        Some(empty)
    }

    /// After a container's element: `true` on `,` (another follows),
    /// `false` on `close` (the container ends), `None` on anything else.
    fn more(&mut self, close: u8) -> Option<bool> {
        match self.next()? {
            b',' => Some(true),
            c if c == close => Some(false),
            _ => None,
        }
    }

    /// One value, its first byte not consumed yet.
    fn value(&mut self) -> Option<()> {
        match self.next()? {
            b'"' => self.string(),
            b'[' => {
                if !self.open(b']')? {
                    loop {
                        self.value()?;
                        if !self.more(b']')? {
                            break;
                        }
                    }
                }
                Some(())
            }
            b'{' => {
                if !self.open(b'}')? {
                    loop {
                        if self.next()? != b'"' {
                            return None;
                        }
                        self.string()?;
                        if self.next()? != b':' {
                            return None;
                        }
                        self.value()?;
                        if !self.more(b'}')? {
                            break;
                        }
                    }
                }
                Some(())
            }
            b't' => self.literal(b"rue"),
            b'f' => self.literal(b"alse"),
            b'n' => self.literal(b"ull"),
            b'-' => match self.next()? {
                // `-0` re-encodes as `0`.
                c @ b'1'..=b'9' => self.integer(c),
                _ => None,
            },
            c @ b'0'..=b'9' => self.integer(c),
            _ => None,
        }
    }

    fn literal(&mut self, rest: &[u8]) -> Option<()> {
        let end = self.i + rest.len();
        (self.b.get(self.i..end)? == rest).then(|| self.i = end)
    }

    /// The digits after an integer's first one (`first`, consumed). What
    /// follows must end the value: a fraction or an exponent, valid JSON
    /// or not, is then refused by the caller's separator check.
    fn integer(&mut self, first: u8) -> Option<()> {
        let start = self.i - 1;
        let digits = self.b[self.i..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        // A leading zero is only the number 0.
        if first == b'0' && digits > 0 {
            return None;
        }
        self.i += digits;
        (self.i - start <= MAX_DIGITS).then_some(())
    }

    /// A string's body and closing quote (the opening one consumed), from
    /// escape to escape (memchr's vectorized search: a payload is mostly
    /// long strings).
    fn string(&mut self) -> Option<()> {
        loop {
            let rest = self.b.get(self.i..)?;
            let at = memchr::memchr2(b'"', b'\\', rest)?;
            // RFC 8259: control characters only escaped. (The smallest
            // byte, not `any`: a loop without an early exit vectorizes.)
            if rest[..at].iter().fold(u8::MAX, |m, &c| m.min(c)) < 0x20 {
                return None;
            }
            self.i += at + 1;
            if rest[at] == b'"' {
                return Some(());
            }
            // The escapes `JSON.stringify` writes itself.
            if !matches!(
                self.next()?,
                b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't'
            ) {
                return None;
            }
        }
    }
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;

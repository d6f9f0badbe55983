//! Redis channel names of one namespace (contract section 3.1).
//!
//! | channel | use |
//! | --- | --- |
//! | `<key>#<nsp>#` | broadcast to everyone / several rooms |
//! | `<key>#<nsp>#<room>#` | broadcast whose `rooms` has exactly one room |
//! | `<key>#<nsp>#*` | the PSUBSCRIBE pattern receiving both |
//! | `<key>-request#<nsp>#` | requests (SUBSCRIBE exactly once: NUMSUB is the server count) |
//! | `<key>-response#<nsp>#` | responses (default) |
//! | `<key>-response#<nsp>#<uid>#` | responses addressed to adapter `uid` |
//!
//! The contract describes the classic adapter only; the sharded adapter
//! (SSUBSCRIBE) is not part of it and has no names here.
//!
//! # Invariants
//! - Names are built exactly as the Node adapter builds them (plain
//!   concatenation; `key` and `nsp` are not escaped).
//! - [`Channels::classify`] mirrors the adapter's `startsWith` checks in its
//!   order: response prefix, request prefix, broadcast prefix. A room is
//!   the rest of the name minus its last character (`slice(len, -1)`).
//! - The PSUBSCRIBE pattern escapes glob characters of `key` / `nsp`, so it
//!   matches only this namespace's broadcast channels (Node does not
//!   escape; for ordinary names the patterns are identical).

use std::borrow::Cow;

/// The adapter key (channel prefix) Node uses unless configured otherwise.
pub const DEFAULT_KEY: &str = "socket.io";

/// The channel names of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    broadcast: String,
    request: String,
    response: String,
}

/// What a channel a message arrived on is, for one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelKind<'a> {
    /// `<key>#<nsp>#`: a broadcast to all or to several rooms.
    Broadcast,
    /// `<key>#<nsp>#<room>#`: a broadcast to exactly this room (a hint:
    /// the message's own `rooms` is authoritative).
    Room(&'a str),
    /// `<key>-request#<nsp>#`.
    Request,
    /// `<key>-response#<nsp>#` (`None`) or `<key>-response#<nsp>#<uid>#`.
    Response(Option<&'a str>),
}

impl Channels {
    /// The channels of namespace `nsp` (e.g. `/`, `/admin`) under `key`.
    pub fn new(key: &str, nsp: &str) -> Self {
        Self {
            broadcast: format!("{key}#{nsp}#"),
            request: format!("{key}-request#{nsp}#"),
            response: format!("{key}-response#{nsp}#"),
        }
    }

    /// `<key>#<nsp>#`: where to publish a broadcast to all / several rooms.
    pub fn broadcast(&self) -> &str {
        &self.broadcast
    }

    /// `<key>#<nsp>#<room>#`.
    pub fn room(&self, room: &str) -> String {
        format!("{}{room}#", self.broadcast)
    }

    /// The channel a broadcast with these `rooms` is published on: the room
    /// channel when there is exactly one room, else [`Self::broadcast`].
    pub fn for_rooms<S: AsRef<str>>(&self, rooms: &[S]) -> Cow<'_, str> {
        match rooms {
            [one] => Cow::Owned(self.room(one.as_ref())),
            _ => Cow::Borrowed(&self.broadcast),
        }
    }

    /// `<key>#<nsp>#*` with glob characters of the prefix escaped: the
    /// PSUBSCRIBE pattern for both broadcast forms.
    pub fn broadcast_pattern(&self) -> String {
        let mut p = String::with_capacity(self.broadcast.len() + 1);
        for c in self.broadcast.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                p.push('\\');
            }
            p.push(c);
        }
        p.push('*');
        p
    }

    /// `<key>-request#<nsp>#`.
    pub fn request(&self) -> &str {
        &self.request
    }

    /// `<key>-response#<nsp>#`.
    pub fn response(&self) -> &str {
        &self.response
    }

    /// `<key>-response#<nsp>#<uid>#`: responses addressed to adapter `uid`
    /// (used by Node peers running `publishOnSpecificResponseChannel`).
    pub fn specific_response(&self, uid: &str) -> String {
        format!("{}{uid}#", self.response)
    }

    /// Where a response to a request from `uid` goes when the responder
    /// publishes on specific channels, else the default response channel.
    pub fn response_for(&self, uid: Option<&str>, specific: bool) -> Cow<'_, str> {
        match uid {
            Some(uid) if specific => Cow::Owned(self.specific_response(uid)),
            _ => Cow::Borrowed(&self.response),
        }
    }

    /// Classifies `channel`; `None` if it belongs to another namespace/key.
    pub fn classify<'a>(&self, channel: &'a str) -> Option<ChannelKind<'a>> {
        if let Some(rest) = channel.strip_prefix(self.response.as_str()) {
            return Some(ChannelKind::Response(
                (!rest.is_empty()).then(|| rest.strip_suffix('#').unwrap_or(rest)),
            ));
        }
        if channel.starts_with(self.request.as_str()) {
            return Some(ChannelKind::Request);
        }
        let rest = channel.strip_prefix(self.broadcast.as_str())?;
        let mut chars = rest.chars();
        chars.next_back();
        Some(match chars.as_str() {
            "" => ChannelKind::Broadcast,
            room => ChannelKind::Room(room),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_node_adapter() {
        let c = Channels::new(DEFAULT_KEY, "/");
        assert_eq!(c.broadcast(), "socket.io#/#");
        assert_eq!(c.room("r1"), "socket.io#/#r1#");
        assert_eq!(c.broadcast_pattern(), "socket.io#/#*");
        assert_eq!(c.request(), "socket.io-request#/#");
        assert_eq!(c.response(), "socket.io-response#/#");
        assert_eq!(
            c.specific_response("qNHq3X"),
            "socket.io-response#/#qNHq3X#"
        );
        assert_eq!(c.for_rooms(&["r1"]), "socket.io#/#r1#");
        assert_eq!(c.for_rooms::<&str>(&[]), "socket.io#/#");
        assert_eq!(c.for_rooms(&["a", "b"]), "socket.io#/#");
        assert_eq!(c.response_for(Some("u"), true), "socket.io-response#/#u#");
        assert_eq!(c.response_for(Some("u"), false), "socket.io-response#/#");
        assert_eq!(c.response_for(None, true), "socket.io-response#/#");
        let c = Channels::new("k", "/custom");
        assert_eq!(c.broadcast(), "k#/custom#");
        assert_eq!(c.request(), "k-request#/custom#");
        assert_eq!(
            Channels::new("a*b", "/[x]").broadcast_pattern(),
            r"a\*b#/\[x\]#*"
        );
    }

    #[test]
    fn classify_mirrors_the_adapter() {
        let c = Channels::new(DEFAULT_KEY, "/");
        assert_eq!(c.classify("socket.io#/#"), Some(ChannelKind::Broadcast));
        assert_eq!(c.classify("socket.io#/#r1#"), Some(ChannelKind::Room("r1")));
        assert_eq!(
            c.classify("socket.io#/#a#b#"),
            Some(ChannelKind::Room("a#b"))
        );
        assert_eq!(c.classify("socket.io#/#é#"), Some(ChannelKind::Room("é")));
        assert_eq!(c.classify("socket.io#/##"), Some(ChannelKind::Broadcast));
        assert_eq!(
            c.classify("socket.io-request#/#"),
            Some(ChannelKind::Request)
        );
        assert_eq!(
            c.classify("socket.io-response#/#"),
            Some(ChannelKind::Response(None))
        );
        assert_eq!(
            c.classify("socket.io-response#/#qNHq3X#"),
            Some(ChannelKind::Response(Some("qNHq3X")))
        );
        assert_eq!(c.classify("socket.io#/custom#"), None);
        assert_eq!(c.classify("other#/#"), None);
        assert_eq!(c.classify(""), None);
    }
}

//! Room patterns of the broker's permissions: an exact name, a trailing `*`
//! matching any suffix (`"chat:*"`), and `{sub}` standing for the token's
//! subject (`"user:{sub}"`).
//!
//! A [`Pattern`] is parsed once (from the config file or a token) and
//! resolved per socket into a [`Resolved`] pattern, with `{sub}` replaced by
//! that socket's subject; matching a room is then a string comparison.
//! The subject is substituted literally: a `*` inside it is not a wildcard.
//!
//! Socket-id rooms are private: a room name shaped like a socket id
//! ([`is_socket_id`]) never matches any pattern, so neither `"*"` nor a
//! `{sub}` that happens to equal another socket's id lets a client join or
//! publish into a socket's own room.

use std::fmt;

/// A room pattern as written, with `{sub}` not yet substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    parts: Vec<Part>,
    /// Ends with `*`: matches any room starting with the rest.
    prefix: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(Box<str>),
    Sub,
}

/// Why a pattern was refused. The config loader reports it with the key
/// that held the pattern; a token carrying one is refused as `invalid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern is the empty string.
    #[error("empty pattern")]
    Empty,
    /// A `*` somewhere other than at the end.
    #[error("'*' is allowed only at the end")]
    InnerStar,
    /// A `{` or `}` that is not part of `{sub}`.
    #[error("only {{sub}} may appear in braces")]
    Placeholder,
}

impl Pattern {
    /// Parses `text`: `*` only as the last character, `{sub}` anywhere.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        if text.is_empty() {
            return Err(PatternError::Empty);
        }
        let (body, prefix) = match text.strip_suffix('*') {
            Some(body) => (body, true),
            None => (text, false),
        };
        if body.contains('*') {
            return Err(PatternError::InnerStar);
        }
        let mut parts = Vec::new();
        let mut rest = body;
        while let Some(at) = rest.find(['{', '}']) {
            if !rest[at..].starts_with("{sub}") {
                return Err(PatternError::Placeholder);
            }
            if at > 0 {
                parts.push(Part::Text(rest[..at].into()));
            }
            parts.push(Part::Sub);
            rest = &rest[at + "{sub}".len()..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.into()));
        }
        Ok(Self { parts, prefix })
    }

    /// Whether the pattern names `{sub}` (so it differs per socket).
    pub fn has_sub(&self) -> bool {
        self.parts.contains(&Part::Sub)
    }

    /// The pattern for a socket whose subject is `sub`; None when the
    /// pattern names `{sub}` and the socket has none (it matches nothing).
    pub fn resolve(&self, sub: Option<&str>) -> Option<Resolved> {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => text.push_str(t),
                Part::Sub => text.push_str(sub?),
            }
        }
        Some(Resolved {
            text: text.into_boxed_str(),
            prefix: self.prefix,
        })
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(t) => f.write_str(t)?,
                Part::Sub => f.write_str("{sub}")?,
            }
        }
        if self.prefix {
            f.write_str("*")?;
        }
        Ok(())
    }
}

/// A pattern with `{sub}` substituted, ready to match room names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    text: Box<str>,
    prefix: bool,
}

impl Resolved {
    /// Whether `room` matches (socket-id rooms never do: see the module doc).
    pub fn matches(&self, room: &str) -> bool {
        let hit = if self.prefix {
            room.starts_with(&*self.text)
        } else {
            room == &*self.text
        };
        hit && !is_socket_id(room)
    }
}

/// Whether `room` has the shape of a socket id: 20 characters of the
/// base64url alphabet, as ringcast and Node's socket.io (`base64id`) draw
/// them. Such rooms are private to their socket.
pub fn is_socket_id(room: &str) -> bool {
    room.len() == 20
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether any of `patterns` lets `room` through.
pub fn any_matches(patterns: &[Resolved], room: &str) -> bool {
    patterns.iter().any(|p| p.matches(room))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, sub: Option<&str>, room: &str) -> bool {
        Pattern::parse(pattern)
            .expect("valid pattern")
            .resolve(sub)
            .is_some_and(|p| p.matches(room))
    }

    #[test]
    fn exact_prefix_and_sub() {
        assert!(matches("lobby", None, "lobby"));
        assert!(!matches("lobby", None, "lobby2"));
        assert!(matches("chat:*", None, "chat:"));
        assert!(matches("chat:*", None, "chat:general"));
        assert!(!matches("chat:*", None, "chat"));
        assert!(matches("user:{sub}", Some("42"), "user:42"));
        assert!(!matches("user:{sub}", Some("42"), "user:43"));
        assert!(matches("dm:{sub}:*", Some("7"), "dm:7:9"));
        assert!(!matches("user:{sub}", None, "user:"));
        assert!(matches("*", None, "anything"));
    }

    #[test]
    fn sub_is_literal() {
        assert!(!matches("user:{sub}", Some("*"), "user:42"));
        assert!(matches("user:{sub}", Some("*"), "user:*"));
    }

    #[test]
    fn socket_id_rooms_never_match() {
        let id = "AbCdEfGhIjKlMnOp_-12";
        assert!(is_socket_id(id));
        assert!(!matches("*", None, id));
        assert!(!matches(id, None, id));
        assert!(!matches("{sub}", Some(id), id));
        assert!(matches("*", None, "AbCdEfGhIjKlMnOp:-12"));
    }

    #[test]
    fn invalid_patterns() {
        assert_eq!(Pattern::parse(""), Err(PatternError::Empty));
        assert_eq!(Pattern::parse("a*b"), Err(PatternError::InnerStar));
        assert_eq!(Pattern::parse("**"), Err(PatternError::InnerStar));
        assert_eq!(Pattern::parse("{user}"), Err(PatternError::Placeholder));
        assert_eq!(Pattern::parse("a}"), Err(PatternError::Placeholder));
        assert_eq!(Pattern::parse("{sub"), Err(PatternError::Placeholder));
        assert_eq!(
            Pattern::parse("x:{sub}:*").map(|p| p.to_string()),
            Ok("x:{sub}:*".into())
        );
    }
}

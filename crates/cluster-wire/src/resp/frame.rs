//! One RESP2 reply: [`check`] measures it, [`parse`] builds it.

use thiserror::Error;

/// Largest bulk string accepted (Redis's own `proto-max-bulk-len` default).
pub const MAX_BULK: usize = 512 << 20;
/// Most elements in one array.
pub const MAX_ARRAY: usize = 1 << 20;
/// Deepest array nesting: arrays at depths `0..=MAX_DEPTH` (the top-level
/// reply is depth 0) may hold elements; `CLUSTER SLOTS` needs 2.
pub const MAX_DEPTH: usize = 6;
/// Longest header, status or error line (without its `\r\n`).
pub const MAX_LINE: usize = 64 << 10;

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Status(String),
    /// `-ERR ...` (`MOVED`, `ASK`, `NOAUTH`, ...).
    Error(String),
    /// `:1`.
    Int(i64),
    /// `$3\r\nabc` (`None`: the null bulk string `$-1`).
    Bulk(Option<Vec<u8>>),
    /// `*2\r\n...` (the null array `*-1` is empty).
    Array(Vec<Self>),
}

impl Reply {
    /// The text of a bulk or status reply.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Bulk(Some(b)) => std::str::from_utf8(b).ok(),
            Self::Status(s) => Some(s),
            _ => None,
        }
    }
}

/// Why no reply could be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RespError {
    /// The buffer holds the start of a reply only: read more, then try
    /// again (nothing was consumed).
    #[error("incomplete RESP reply")]
    Incomplete,
    /// The bytes are not RESP2 or exceed a bound: the connection is out of
    /// sync and must be dropped.
    #[error("invalid RESP reply: {0}")]
    Invalid(&'static str),
}

/// The length of the first complete reply in `buf`, without allocating.
pub fn check(buf: &[u8]) -> Result<usize, RespError> {
    check_at(buf, 0, 0)
}

/// Parses the first reply of `buf`; returns it with the bytes it used.
/// Runs [`check`] first, so a partial reply is [`RespError::Incomplete`]
/// and nothing is allocated for it.
pub fn parse(buf: &[u8]) -> Result<(Reply, usize), RespError> {
    let len = check(buf)?;
    let (reply, used) = parse_at(&buf[..len], 0)?;
    debug_assert_eq!(used, len);
    Ok((reply, used))
}

/// The line starting at `pos` (type byte excluded, `\r\n` excluded) and
/// the position after its `\r\n`.
fn line(buf: &[u8], pos: usize) -> Result<(&[u8], usize), RespError> {
    let rest = buf.get(pos + 1..).unwrap_or_default();
    let window = &rest[..rest.len().min(MAX_LINE + 2)];
    match window.iter().position(|&b| b == b'\n') {
        Some(i) if i > 0 && window[i - 1] == b'\r' => Ok((&window[..i - 1], pos + 1 + i + 1)),
        Some(_) => Err(RespError::Invalid("line without \\r\\n")),
        None if rest.len() > MAX_LINE + 1 => Err(RespError::Invalid("line too long")),
        None => Err(RespError::Incomplete),
    }
}

fn number(body: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(RespError::Invalid("malformed number"))
}

/// A bulk or array length: `-1` (null) or `0..=max`.
fn length(body: &[u8], max: usize) -> Result<Option<usize>, RespError> {
    match number(body)? {
        -1 => Ok(None),
        n => match usize::try_from(n) {
            Ok(n) if n <= max => Ok(Some(n)),
            Ok(_) => Err(RespError::Invalid("length over its bound")),
            Err(_) => Err(RespError::Invalid("negative length")),
        },
    }
}

fn check_at(buf: &[u8], pos: usize, depth: usize) -> Result<usize, RespError> {
    let Some(&kind) = buf.get(pos) else {
        return Err(RespError::Incomplete);
    };
    if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
        return Err(RespError::Invalid("unexpected type byte"));
    }
    let (body, next) = line(buf, pos)?;
    match kind {
        b'+' | b'-' => Ok(next),
        b':' => number(body).map(|_| next),
        b'$' => match length(body, MAX_BULK)? {
            None => Ok(next),
            Some(n) => {
                let end = next + n + 2;
                match buf.get(next + n..end) {
                    None => Err(RespError::Incomplete),
                    Some(b"\r\n") => Ok(end),
                    Some(_) => Err(RespError::Invalid("bulk string without \\r\\n")),
                }
            }
        },
        _ => {
            let n = length(body, MAX_ARRAY)?.unwrap_or(0);
            if n > 0 && depth > MAX_DEPTH {
                return Err(RespError::Invalid("arrays nested too deep"));
            }
            let mut at = next;
            for _ in 0..n {
                at = check_at(buf, at, depth + 1)?;
            }
            Ok(at)
        }
    }
}

/// Builds the reply at `pos` of a buffer [`check`] accepted (errors are
/// still returned rather than assumed away).
fn parse_at(buf: &[u8], pos: usize) -> Result<(Reply, usize), RespError> {
    let kind = buf.get(pos).copied().ok_or(RespError::Incomplete)?;
    let (body, next) = line(buf, pos)?;
    let text = || String::from_utf8_lossy(body).into_owned();
    Ok(match kind {
        b'+' => (Reply::Status(text()), next),
        b'-' => (Reply::Error(text()), next),
        b':' => (Reply::Int(number(body)?), next),
        b'$' => match length(body, MAX_BULK)? {
            None => (Reply::Bulk(None), next),
            Some(n) => {
                let data = buf.get(next..next + n).ok_or(RespError::Incomplete)?;
                (Reply::Bulk(Some(data.to_vec())), next + n + 2)
            }
        },
        b'*' => {
            let n = length(body, MAX_ARRAY)?.unwrap_or(0);
            // Bounded by the checked buffer: each element takes >= 3 bytes.
            let mut items = Vec::with_capacity(n.min(buf.len() / 3));
            let mut at = next;
            for _ in 0..n {
                let (item, after) = parse_at(buf, at)?;
                items.push(item);
                at = after;
            }
            (Reply::Array(items), at)
        }
        _ => return Err(RespError::Invalid("unexpected type byte")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Some(s.as_bytes().to_vec()))
    }

    #[test]
    fn literal_vectors() {
        let cases: Vec<(&[u8], Reply)> = vec![
            (b"+OK\r\n", Reply::Status("OK".into())),
            (b"+\r\n", Reply::Status(String::new())),
            (b"-MOVED 1 h:2\r\n", Reply::Error("MOVED 1 h:2".into())),
            (b":1\r\n", Reply::Int(1)),
            (b":-42\r\n", Reply::Int(-42)),
            (b"$-1\r\n", Reply::Bulk(None)),
            (b"$0\r\n\r\n", bulk("")),
            (
                b"$3\r\n\x93\r\n\r\n",
                Reply::Bulk(Some(b"\x93\r\n".to_vec())),
            ),
            (b"*-1\r\n", Reply::Array(vec![])),
            (b"*0\r\n", Reply::Array(vec![])),
            (
                b"*3\r\n$10\r\nssubscribe\r\n$12\r\nsocket.io#/#\r\n:1\r\n",
                Reply::Array(vec![
                    bulk("ssubscribe"),
                    bulk("socket.io#/#"),
                    Reply::Int(1),
                ]),
            ),
            (
                b"*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:7000\r\n",
                Reply::Array(vec![Reply::Array(vec![
                    Reply::Int(0),
                    Reply::Int(16383),
                    Reply::Array(vec![bulk("127.0.0.1"), Reply::Int(7000)]),
                ])]),
            ),
        ];
        for (wire, want) in cases {
            assert_eq!(check(wire), Ok(wire.len()), "{wire:?}");
            assert_eq!(parse(wire), Ok((want, wire.len())), "{wire:?}");
            // Every strict prefix is incomplete, never an error.
            for cut in 0..wire.len() {
                assert_eq!(
                    check(&wire[..cut]),
                    Err(RespError::Incomplete),
                    "{wire:?} at {cut}"
                );
            }
        }
    }

    #[test]
    fn a_reply_followed_by_more_is_measured_alone() {
        let wire = b"+OK\r\n:1\r\n";
        assert_eq!(parse(wire), Ok((Reply::Status("OK".into()), 5)));
        assert_eq!(parse(&wire[5..]), Ok((Reply::Int(1), 4)));
    }

    #[test]
    fn hostile_replies_are_invalid() {
        for wire in [
            &b"$99999999999\r\n"[..],
            b"*99999999\r\n",
            b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
            b"?x\r\n",
            b":12x\r\n",
            b"$3\r\nabcd\r\n",
            b"$-2\r\n",
            b"*-2\r\n",
            b"+OK\n",
        ] {
            assert!(
                matches!(check(wire), Err(RespError::Invalid(_))),
                "{wire:?}"
            );
        }
        let long = [b"+".as_slice(), &vec![b'a'; MAX_LINE + 2]].concat();
        assert!(matches!(check(&long), Err(RespError::Invalid(_))));
    }

    #[test]
    fn nesting_up_to_the_bound_is_accepted() {
        let mut wire = b"*1\r\n".repeat(MAX_DEPTH + 1);
        wire.extend_from_slice(b":1\r\n");
        assert_eq!(check(&wire), Ok(wire.len()));
    }
}

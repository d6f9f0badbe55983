//! Pub/sub pushes on a subscribed connection (RESP2: arrays whose first
//! element names the kind).

use bytes::Bytes;

use super::frame::Reply;

/// What a subscribed connection received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// A message: `message` (`[kind, channel, payload]`), `pmessage`
    /// (`[kind, pattern, channel, payload]`) or `smessage`.
    Message {
        /// The channel it was published on.
        channel: String,
        /// Its payload.
        payload: Bytes,
    },
    /// A subscription confirmed (`subscribe`, `psubscribe`, `ssubscribe`).
    Subscribed,
    /// The server dropped a sharded subscription (`sunsubscribe`, e.g. its
    /// slot migrated): subscribe again where the slot now lives.
    Unsubscribed(String),
    /// Anything else (another reply shape, a channel that is not UTF-8):
    /// ignored.
    Other,
}

impl Push {
    /// Classifies one reply read on a subscribed connection.
    pub fn classify(reply: Reply) -> Self {
        let Reply::Array(items) = reply else {
            return Self::Other;
        };
        let mut it = items.into_iter().map(|i| match i {
            Reply::Bulk(Some(b)) => Some(b),
            _ => None,
        });
        let Some(Some(kind)) = it.next() else {
            return Self::Other;
        };
        let first = it.next().flatten();
        let second = it.next().flatten();
        let third = it.next().flatten();
        let text = |b: Option<Vec<u8>>| b.and_then(|b| String::from_utf8(b).ok());
        match kind.as_slice() {
            b"message" | b"smessage" => match (text(first), second) {
                (Some(channel), Some(payload)) => Self::Message {
                    channel,
                    payload: Bytes::from(payload),
                },
                _ => Self::Other,
            },
            b"pmessage" => match (text(second), third) {
                (Some(channel), Some(payload)) => Self::Message {
                    channel,
                    payload: Bytes::from(payload),
                },
                _ => Self::Other,
            },
            b"subscribe" | b"psubscribe" | b"ssubscribe" => Self::Subscribed,
            b"sunsubscribe" => text(first).map_or(Self::Other, Self::Unsubscribed),
            _ => Self::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::ReplyReader;

    #[test]
    fn pushes_from_the_wire() {
        let wire = b"*3\r\n$10\r\nssubscribe\r\n$12\r\nsocket.io#/#\r\n:1\r\n\
*3\r\n$8\r\nsmessage\r\n$12\r\nsocket.io#/#\r\n$3\r\n\x93\r\n\r\n\
*3\r\n$12\r\nsunsubscribe\r\n$1\r\nb\r\n:0\r\n\
*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nx\r\n\
*4\r\n$8\r\npmessage\r\n$3\r\nc#*\r\n$3\r\nc#1\r\n$1\r\ny\r\n\
*3\r\n$10\r\npsubscribe\r\n$3\r\nc#*\r\n:2\r\n";
        let mut r = ReplyReader::new();
        r.handle_bytes(wire);
        let mut next = || Push::classify(r.poll_reply().unwrap().unwrap());
        assert_eq!(next(), Push::Subscribed);
        assert_eq!(
            next(),
            Push::Message {
                channel: "socket.io#/#".into(),
                payload: Bytes::from_static(b"\x93\r\n")
            }
        );
        assert_eq!(next(), Push::Unsubscribed("b".into()));
        assert_eq!(
            next(),
            Push::Message {
                channel: "c".into(),
                payload: Bytes::from_static(b"x")
            }
        );
        assert_eq!(
            next(),
            Push::Message {
                channel: "c#1".into(),
                payload: Bytes::from_static(b"y")
            }
        );
        assert_eq!(next(), Push::Subscribed);
    }

    #[test]
    fn other_shapes_are_ignored() {
        assert_eq!(Push::classify(Reply::Int(1)), Push::Other);
        assert_eq!(
            Push::classify(Reply::Array(vec![Reply::Bulk(Some(b"smessage".to_vec()))])),
            Push::Other
        );
        assert_eq!(
            Push::classify(Reply::Array(vec![
                Reply::Bulk(Some(b"message".to_vec())),
                Reply::Bulk(Some(vec![0xff])),
                Reply::Bulk(Some(b"x".to_vec())),
            ])),
            Push::Other
        );
    }
}

//! The sharded adapter's `subscriptionMode` (`createShardedAdapter(pub,
//! sub, { subscriptionMode })`, `dist/sharded-adapter.js` 8.3.0): which
//! room channels a node SSUBSCRIBEs and where a message is published.
//!
//! | mode | SSUBSCRIBEd room channels | published on `<key>#<nsp>#<room>#` |
//! | --- | --- | --- |
//! | `"static"` | none | nothing: every message on `<key>#<nsp>#` |
//! | `"dynamic"` (default) | every local room that is not a local socket's id | a broadcast without ack to exactly one room that is not 20 characters long |
//! | `"dynamic-private"` | every local room, socket-id rooms included | a broadcast without ack to exactly one room |
//!
//! Whatever the mode, a node SSUBSCRIBEs `<key>#<nsp>#` (requests,
//! everything else; `PUBSUB SHARDNUMSUB` on it is the server count) and
//! its response channel `<key>#<nsp>#<uid>#`. All nodes of a cluster must
//! use the same mode: a `"static"` node misses what dynamic nodes publish
//! on room channels, and a `"dynamic"` node misses what
//! `"dynamic-private"` nodes publish on socket-id channels.

use std::fmt;
use std::str::FromStr;

use crate::sharded::looks_like_a_socket_id;
use crate::{Channels, ShardedBody};

/// `subscriptionMode` of the sharded adapter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SubscriptionMode {
    /// `"static"`: only the namespace channel (and the response channel).
    Static,
    /// `"dynamic"`: one channel per public room (the adapter's default).
    #[default]
    Dynamic,
    /// `"dynamic-private"`: one channel per room, socket-id rooms included.
    DynamicPrivate,
}

impl SubscriptionMode {
    /// The adapter's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Static => "static",
            Self::Dynamic => "dynamic",
            Self::DynamicPrivate => "dynamic-private",
        }
    }

    /// Whether a node holds the channel of a local room (`socket_id`: the
    /// room is the id of a local socket, the adapter's `sids.has(room)`).
    pub fn subscribes_room(self, socket_id: bool) -> bool {
        match self {
            Self::Static => false,
            Self::Dynamic => !socket_id,
            Self::DynamicPrivate => true,
        }
    }

    /// Whether room channels are used at all (static: no).
    pub fn is_dynamic(self) -> bool {
        self != Self::Static
    }
}

impl fmt::Display for SubscriptionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `subscriptionMode`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown subscription mode {0:?} (static, dynamic or dynamic-private)")]
pub struct BadSubscriptionMode(pub String);

impl FromStr for SubscriptionMode {
    type Err = BadSubscriptionMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "static" => Ok(Self::Static),
            "dynamic" => Ok(Self::Dynamic),
            "dynamic-private" => Ok(Self::DynamicPrivate),
            other => Err(BadSubscriptionMode(other.to_owned())),
        }
    }
}

impl Channels {
    /// The channel a sharded message is published on under `mode` (the
    /// adapter's `computeChannel`); responses have their own channel
    /// ([`Channels::sharded_response`]).
    pub fn sharded_channel(&self, body: &ShardedBody, mode: SubscriptionMode) -> String {
        if let ShardedBody::Broadcast { opts, .. } = body {
            if let [one] = opts.rooms.as_slice() {
                let dynamic = match mode {
                    SubscriptionMode::Static => false,
                    SubscriptionMode::Dynamic => !looks_like_a_socket_id(one),
                    SubscriptionMode::DynamicPrivate => true,
                };
                if dynamic {
                    return self.room(one);
                }
            }
        }
        self.broadcast().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BroadcastOpts, Flags, OptsOrder, Packet, RequestBody, DEFAULT_KEY};

    fn bcast(rooms: &[&str]) -> ShardedBody {
        ShardedBody::Broadcast {
            packet: Packet::event("/", "e", []),
            opts: BroadcastOpts {
                rooms: rooms.iter().map(|r| (*r).to_owned()).collect(),
                except: Vec::new(),
                flags: Flags::default(),
                order: OptsOrder::Adapter,
            },
        }
    }

    #[test]
    fn parse_and_print() {
        for m in [
            SubscriptionMode::Static,
            SubscriptionMode::Dynamic,
            SubscriptionMode::DynamicPrivate,
        ] {
            assert_eq!(m.as_str().parse::<SubscriptionMode>(), Ok(m));
            assert_eq!(m.to_string(), m.as_str());
        }
        assert_eq!(SubscriptionMode::default(), SubscriptionMode::Dynamic);
        assert!("Dynamic".parse::<SubscriptionMode>().is_err());
        assert!("".parse::<SubscriptionMode>().is_err());
    }

    #[test]
    fn subscribed_rooms_per_mode() {
        use SubscriptionMode::*;
        assert!(!Static.subscribes_room(false));
        assert!(!Static.subscribes_room(true));
        assert!(Dynamic.subscribes_room(false));
        assert!(!Dynamic.subscribes_room(true));
        assert!(DynamicPrivate.subscribes_room(false));
        assert!(DynamicPrivate.subscribes_room(true));
        assert!(!Static.is_dynamic() && Dynamic.is_dynamic() && DynamicPrivate.is_dynamic());
    }

    /// `computeChannel` of sharded-adapter.js for every mode.
    #[test]
    fn channel_per_mode() {
        use SubscriptionMode::*;
        let c = Channels::new(DEFAULT_KEY, "/");
        let sid = "t_eviVeHM9frjMHUAAAA";
        let cases: &[(&[&str], [&str; 3])] = &[
            (
                &["r1"],
                ["socket.io#/#", "socket.io#/#r1#", "socket.io#/#r1#"],
            ),
            (
                &[sid],
                [
                    "socket.io#/#",
                    "socket.io#/#",
                    "socket.io#/#t_eviVeHM9frjMHUAAAA#",
                ],
            ),
            (&[], ["socket.io#/#"; 3]),
            (&["a", "b"], ["socket.io#/#"; 3]),
        ];
        for (rooms, want) in cases {
            for (mode, want) in [Static, Dynamic, DynamicPrivate].into_iter().zip(want) {
                assert_eq!(
                    c.sharded_channel(&bcast(rooms), mode),
                    *want,
                    "{rooms:?} {mode}"
                );
            }
        }
        // with ack / requests: always the namespace channel
        let ack = ShardedBody::Request(RequestBody::Broadcast {
            request_id: "x".into(),
            packet: Packet::event("/", "e", []),
            opts: BroadcastOpts::default(),
        });
        let fetch = ShardedBody::Request(RequestBody::ServerSideEmit {
            request_id: None,
            data: Vec::new(),
        });
        for mode in [Static, Dynamic, DynamicPrivate] {
            assert_eq!(c.sharded_channel(&ack, mode), "socket.io#/#");
            assert_eq!(c.sharded_channel(&fetch, mode), "socket.io#/#");
        }
        // the dynamic default is what `sharded_for` picks
        assert_eq!(
            c.sharded_for(&bcast(&["r1"])),
            c.sharded_channel(&bcast(&["r1"]), Dynamic)
        );
    }
}

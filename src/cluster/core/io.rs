//! The core's output ([`Action`]) and the IO that performs it ([`Io`]):
//! the only part of the core that touches queues and Redis threads.

use bytes::Bytes;

use crate::cluster::redis_io::Publisher;
use crate::cluster::ShardPort;
use crate::shard::port::ToShard;

/// What the core asks its IO to do, in order ([`super::Core::poll_action`]).
#[derive(Debug)]
pub(crate) enum Action {
    /// Queue a message for shard `0` (never blocks; full: dropped, counted).
    ToShard(usize, ToShard),
    /// `PUBLISH` / `SPUBLISH` (the publisher knows the mode).
    Publish {
        /// The channel.
        channel: String,
        /// The encoded message.
        payload: Bytes,
    },
    /// `PUBSUB NUMSUB` / `SHARDNUMSUB` on `channel`; the answer comes back
    /// as [`crate::cluster::Event::Numsub`] with `token`.
    Numsub {
        /// The channel counted.
        channel: String,
        /// The core's token for the answer.
        token: u64,
    },
    /// A key command (`SET`, `GETDEL`, `DEL`), sent to the master of
    /// `key`'s slot; with `token`, its reply comes back as
    /// [`crate::cluster::Event::Reply`] (also when it fails).
    Command {
        /// The key (routes the command on a Redis Cluster).
        key: String,
        /// The command and its arguments.
        args: Vec<Bytes>,
        /// The core's token for the reply.
        token: Option<u64>,
    },
    /// Sharded mode: hold a subscription to `0`.
    Subscribe(String),
    /// Sharded mode: drop the subscription to `0`.
    Unsubscribe(String),
    /// A namespace created after the start (a dynamic namespace's child):
    /// hold these channels (classic `SUBSCRIBE`, sharded `SSUBSCRIBE`) and
    /// patterns (classic `PSUBSCRIBE`; none in sharded mode) from now on.
    SubscribeNamespace {
        /// Channels.
        channels: Vec<String>,
        /// Patterns.
        patterns: Vec<String>,
    },
}

/// The core's IO: the shards' queues and the Redis threads.
pub(crate) struct Io {
    shards: Vec<ShardPort>,
    publisher: Option<Publisher>,
}

impl Io {
    pub(crate) fn new(shards: Vec<ShardPort>, publisher: Option<Publisher>) -> Self {
        Self { shards, publisher }
    }

    /// Hands `action` to its queue or thread; never blocks.
    pub(super) fn perform(&self, action: Action) {
        match action {
            Action::ToShard(i, m) => {
                if let Some(s) = self.shards.get(i) {
                    s.send(m);
                }
            }
            Action::Publish { channel, payload } => {
                if let Some(p) = &self.publisher {
                    p.publish(channel, payload);
                }
            }
            Action::Numsub { channel, token } => {
                if let Some(p) = &self.publisher {
                    p.numsub(channel, token);
                }
            }
            Action::Command { key, args, token } => {
                // Without Redis the core answers takes itself.
                if let Some(p) = &self.publisher {
                    p.command(key, args, token);
                }
            }
            Action::Subscribe(ch) => {
                if let Some(subs) = self.publisher.as_ref().and_then(|p| p.subs.as_ref()) {
                    subs.subscribe(&ch);
                }
            }
            Action::SubscribeNamespace { channels, patterns } => {
                let Some(p) = &self.publisher else { return };
                if let Some(subs) = &p.subs {
                    for ch in &channels {
                        subs.subscribe(ch);
                    }
                } else if let Some(classic) = &p.classic {
                    classic.add(&channels, &patterns);
                }
            }
            Action::Unsubscribe(ch) => {
                if let Some(subs) = self.publisher.as_ref().and_then(|p| p.subs.as_ref()) {
                    subs.unsubscribe(&ch);
                }
            }
        }
    }
}

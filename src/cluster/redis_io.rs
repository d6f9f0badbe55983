//! The Redis side of a node: the publisher and the subscriber, each on its
//! own thread.
//!
//! - Publisher: waits for work, then sends everything queued (up to
//!   [`MAX_BATCH`] commands) through a [`Router`] ([`super::cluster_io`]):
//!   one pipeline per node (one for a single server), each command to the
//!   master of its channel's slot on a Redis Cluster, `NUMSUB` summed over
//!   the masters. On a failure it reconnects with backoff (100 ms doubling
//!   to 1 s) and sends what is unanswered again; meanwhile work piles up in
//!   its bounded queue and what does not fit is dropped and counted.
//! - Classic subscriber (the bridge's own RESP2 client, [`super::resp`]):
//!   `SUBSCRIBE` to each request channel (exactly once: Node counts servers with
//!   `PUBSUB NUMSUB`) and the response channels, `PSUBSCRIBE` to each
//!   broadcast pattern; forwards every message to the core. A Redis
//!   Cluster forwards classic pub/sub to every node, so one connection to
//!   any seed receives everything. When the link breaks it logs,
//!   reconnects (to the next seed) with backoff and subscribes again.
//!   What it holds is shared with the core ([`ClassicSubs`]): channels of a
//!   namespace created later (a dynamic namespace's child) are written on
//!   the live connection at once and are part of every resubscription.
//! - Sharded subscriber: [`super::sharded_io`].

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use ringcast_cluster_wire::resp::Push;
use ringcast_cluster_wire::{Channels, SubscriptionMode};

use super::cluster_io::Router;
use super::resp::{command, Auth, Conn, Reply, Stream};
use super::slots::Addr;
use super::topology::{parse_seeds, Seeds};
use super::{bump, Counters, Event};
use crate::shard::App;

/// Most commands in one pipeline.
const MAX_BATCH: usize = 1024;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Work for the publisher.
#[derive(Debug)]
pub(crate) enum PubCmd {
    Publish {
        channel: String,
        payload: Bytes,
    },
    Numsub {
        channel: String,
        token: u64,
    },
    /// A key command; with `token` its reply goes back as [`Event::Reply`].
    Command {
        key: String,
        args: Vec<Bytes>,
        token: Option<u64>,
    },
}

/// The core's handle on the publisher thread.
#[derive(Debug)]
pub(crate) struct Publisher {
    tx: Sender<PubCmd>,
    events: Sender<Event>,
    counters: Arc<Counters>,
    /// This node's adapter uid (the subscriber listens on its specific
    /// response channels).
    pub(crate) uid: String,
    /// Sharded mode: the SSUBSCRIBEd channels (the core adds room channels).
    pub(crate) subs: Option<super::sharded_io::Subs>,
    /// Sharded mode: the adapter's `subscriptionMode`.
    pub(crate) mode: SubscriptionMode,
    /// Classic mode: what the subscriber holds (the core adds children).
    pub(crate) classic: Option<Arc<ClassicSubs>>,
}

/// Classic mode: the channels and patterns the subscriber holds and the
/// write half of its live connection, under one mutex. Invariant: every
/// entry is either written on the live connection or, with none live, part
/// of the next connection's first SUBSCRIBE / PSUBSCRIBE (the subscriber
/// attaches a connection under the lock, in the same step as it writes the
/// whole set), so an addition is never lost across a reconnect.
#[derive(Debug, Default)]
pub(crate) struct ClassicSubs {
    inner: Mutex<Wanted>,
}

#[derive(Debug, Default)]
struct Wanted {
    channels: Vec<String>,
    patterns: Vec<String>,
    /// The live connection's write half (None while reconnecting).
    writer: Option<Stream>,
}

/// `PSUBSCRIBE patterns` then `SUBSCRIBE channels` (each only when not
/// empty), in the adapter's order: once `NUMSUB` counts a node on a request
/// channel, its broadcast pattern is held too.
fn subscribe_commands(channels: &[String], patterns: &[String]) -> Vec<u8> {
    let mut cmds = Vec::new();
    for (verb, names) in [("PSUBSCRIBE", patterns), ("SUBSCRIBE", channels)] {
        if !names.is_empty() {
            let mut c = vec![verb];
            c.extend(names.iter().map(String::as_str));
            cmds.extend(command(&c));
        }
    }
    cmds
}

impl ClassicSubs {
    fn new(channels: Vec<String>, patterns: Vec<String>) -> Self {
        Self {
            inner: Mutex::new(Wanted {
                channels,
                patterns,
                writer: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Wanted> {
        // A poisoned lock only means a panic elsewhere while it was held;
        // every critical section leaves the set consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds `channels` and `patterns` from now on: written at once when
    /// connected (with the socket's write timeout), else on reconnect. A
    /// failed write shuts the connection, so the reader reconnects and
    /// subscribes everything again.
    pub(crate) fn add(&self, channels: &[String], patterns: &[String]) {
        let mut w = self.lock();
        w.channels.extend(channels.iter().cloned());
        w.patterns.extend(patterns.iter().cloned());
        if let Some(writer) = &mut w.writer {
            if let Err(e) = writer.write_all(&subscribe_commands(channels, patterns)) {
                tracing::warn!(error = %e, "redis subscribe failed; reconnecting");
                writer.shutdown();
                w.writer = None;
            }
        }
    }

    /// Writes the whole set on `conn` and makes it the live connection;
    /// returns how many confirmations that asks for.
    fn attach(&self, conn: &mut Conn) -> std::io::Result<usize> {
        let mut w = self.lock();
        conn.send(&subscribe_commands(&w.channels, &w.patterns))?;
        w.writer = Some(conn.stream().try_clone()?);
        Ok(w.channels.len() + w.patterns.len())
    }

    /// The live connection broke.
    fn detach(&self) {
        self.lock().writer = None;
    }

    /// Numbers of channels and patterns held.
    fn counts(&self) -> (usize, usize) {
        let w = self.lock();
        (w.channels.len(), w.patterns.len())
    }
}

impl Publisher {
    /// Queues a PUBLISH; never blocks (full: dropped and counted).
    pub(crate) fn publish(&self, channel: String, payload: Bytes) {
        self.push(PubCmd::Publish { channel, payload });
    }

    /// Queues `PUBSUB NUMSUB channel`; the answer comes back to the core
    /// as [`Event::Numsub`] (None when it could not be queued).
    pub(crate) fn numsub(&self, channel: String, token: u64) {
        if !self.push(PubCmd::Numsub { channel, token }) {
            let _ = self.events.try_send(Event::Numsub { token, count: None });
        }
    }

    /// Queues a key command; with `token`, its reply comes back to the
    /// core as [`Event::Reply`] (None at once when it could not be queued).
    pub(crate) fn command(&self, key: String, args: Vec<Bytes>, token: Option<u64>) {
        if !self.push(PubCmd::Command { key, args, token }) {
            if let Some(token) = token {
                let _ = self.events.try_send(Event::Reply { token, value: None });
            }
        }
    }

    fn push(&self, cmd: PubCmd) -> bool {
        match self.tx.try_send(cmd) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                let n = bump(&self.counters.dropped_publishes);
                if n.is_power_of_two() {
                    tracing::warn!(
                        dropped = n,
                        "redis outgoing buffer full (Redis slow or unreachable); message dropped"
                    );
                }
                false
            }
        }
    }
}

/// A random adapter uid: 6 characters of `[A-Za-z0-9_-]`, like Node's.
pub(crate) fn random_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut rng = rand::thread_rng();
    (0..6)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Starts the publisher and the subscriber threads.
#[allow(clippy::too_many_arguments)]
pub(crate) fn start(
    url: &str,
    key: &str,
    app: &dyn App,
    events: Sender<Event>,
    cap: usize,
    counters: Arc<Counters>,
    sharded: bool,
    mode: SubscriptionMode,
) -> std::io::Result<Publisher> {
    let seeds = parse_seeds(url)?;
    let uid = random_id();
    let mut channels = Vec::new();
    let mut patterns = Vec::new();
    for i in 0..app.namespace_count() {
        let c = Channels::new(key, app.namespace_name(i as u16));
        channels.push(c.request().to_owned());
        channels.push(c.response().to_owned());
        channels.push(c.specific_response(&uid));
        patterns.push(c.broadcast_pattern());
    }
    let (tx, rx) = crossbeam_channel::bounded(cap);
    {
        let (seeds, events, counters) = (seeds.clone(), events.clone(), counters.clone());
        std::thread::Builder::new()
            .name("ringcast-redis-pub".into())
            .spawn(move || publisher_loop(seeds, &rx, &events, &counters, sharded))?;
    }
    if sharded {
        let subs = super::sharded_io::start(seeds.clone(), events.clone(), counters.clone())?;
        for i in 0..app.namespace_count() {
            let c = Channels::new(key, app.namespace_name(i as u16));
            subs.subscribe(c.broadcast());
            subs.subscribe(&c.sharded_response(&uid));
        }
        return Ok(Publisher {
            tx,
            events,
            counters,
            uid,
            subs: Some(subs),
            mode,
            classic: None,
        });
    }
    let classic = Arc::new(ClassicSubs::new(channels, patterns));
    {
        let (events, counters, classic) = (events.clone(), counters.clone(), classic.clone());
        std::thread::Builder::new()
            .name("ringcast-redis-sub".into())
            .spawn(move || subscriber_loop(&seeds, &classic, &events, &counters))?;
    }
    Ok(Publisher {
        tx,
        events,
        counters,
        uid,
        subs: None,
        mode,
        classic: Some(classic),
    })
}

fn publisher_loop(
    seeds: Seeds,
    rx: &Receiver<PubCmd>,
    events: &Sender<Event>,
    counters: &Counters,
    sharded: bool,
) {
    let mut router = Router::new(seeds, sharded);
    router.probe(counters);
    let mut batch: Vec<PubCmd> = Vec::new();
    loop {
        match rx.recv() {
            Ok(c) => batch.push(c),
            Err(_) => return,
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        router.run(&batch, events, counters);
        batch.clear();
    }
}

/// Opens a subscribed connection to `addr`: SUBSCRIBE / PSUBSCRIBE of the
/// whole set in one write, then waits for every confirmation (messages that
/// arrive meanwhile are forwarded; confirmations of channels added later
/// come after these and are ignored). No read timeout afterwards: a
/// subscribed connection is silent while nobody publishes. `Err(None)`: the
/// core stopped.
fn subscribe(
    addr: &Addr,
    auth: &Auth,
    subs: &ClassicSubs,
    events: &Sender<Event>,
    counters: &Counters,
) -> Result<Conn, Option<std::io::Error>> {
    let mut conn = Conn::connect(addr, auth)?;
    let mut pending = subs.attach(&mut conn)?;
    while pending > 0 {
        match conn.read_reply()? {
            Reply::Error(e) => return Err(Some(std::io::Error::other(format!("redis: {e}")))),
            reply => match Push::classify(reply) {
                Push::Subscribed => pending -= 1,
                Push::Message { channel, payload } => {
                    forward(events, counters, channel, payload).map_err(|CoreGone| None)?;
                }
                Push::Unsubscribed(_) | Push::Other => {}
            },
        }
    }
    conn.stream().set_read_timeout(None)?;
    Ok(conn)
}

/// The core stopped: its queue is closed, the subscriber thread ends.
struct CoreGone;

/// Hands a message to the core.
fn forward(
    events: &Sender<Event>,
    counters: &Counters,
    channel: String,
    payload: Bytes,
) -> Result<(), CoreGone> {
    counters.received.fetch_add(1, Ordering::Relaxed);
    events
        .send(Event::Incoming { channel, payload })
        .map_err(|_| CoreGone)
}

fn subscriber_loop(seeds: &Seeds, subs: &ClassicSubs, events: &Sender<Event>, counters: &Counters) {
    let mut backoff = BACKOFF_MIN;
    let mut lost = false;
    // Any node of a cluster receives every PUBLISH: the first seed that
    // answers, the next one after a failure.
    let mut next = 0usize;
    loop {
        let Some(addr) = seeds.nodes.get(next % seeds.nodes.len().max(1)) else {
            return;
        };
        let mut conn = match subscribe(addr, &seeds.auth, subs, events, counters) {
            Ok(c) => c,
            Err(e) => {
                subs.detach();
                let Some(e) = e else {
                    return; // the core stopped
                };
                next += 1;
                counters.set_connected(false);
                if !std::mem::replace(&mut lost, true) {
                    tracing::warn!(error = %e, "redis subscriber link lost; reconnecting");
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        backoff = BACKOFF_MIN;
        counters.set_connected(true);
        if std::mem::take(&mut lost) {
            tracing::warn!("redis subscriber link restored; subscriptions renewed");
        } else {
            let (channels, patterns) = subs.counts();
            tracing::info!(channels, patterns, "redis subscriptions ready");
        }
        loop {
            let reply = match conn.read_reply() {
                Ok(r) => r,
                Err(e) => {
                    subs.detach();
                    tracing::warn!(error = %e, "redis subscriber link lost; reconnecting");
                    counters.set_connected(false);
                    lost = true;
                    break;
                }
            };
            if let Push::Message { channel, payload } = Push::classify(reply) {
                if forward(events, counters, channel, payload).is_err() {
                    return;
                }
            }
        }
    }
}

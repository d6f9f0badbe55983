//! The subscriber of sharded mode: `SSUBSCRIBE`s on the bridge's own RESP2
//! connections, one per Redis node serving a subscribed channel.
//!
//! # Threads
//! - The **manager** (`ringcast-redis-ssub`) owns the state: the channels
//!   the node must hold (`wanted`), where each one is subscribed (node and
//!   connection generation), the layout ([`Layout`]: a single server or a
//!   cluster slot map) and the write half of each connection. The core
//!   asks through [`Subs`] (a channel: the core never blocks on Redis);
//!   each change is written at once, one channel per command so that a
//!   cluster never sees a cross-slot command.
//! - One **reader** per connection forwards every `smessage` to the core
//!   and reports to the manager what needs it: the link broke, an error
//!   reply (`MOVED` ...), or a `sunsubscribe` push.
//!
//! # Invariants
//! - A channel in `wanted` is either subscribed on the connection its
//!   assignment names, or unassigned and the manager is `dirty`: a pass
//!   (`reconcile`) after the backoff subscribes it on the master its slot
//!   belongs to (connected lazily). Nothing is lost while Redis is down.
//! - A report carries its connection's generation; a report about a
//!   connection that was replaced is ignored.
//! - A `sunsubscribe` for a channel still wanted on that connection is
//!   Redis dropping it (its slot moved to another master): the map is
//!   refreshed and the channel subscribed on its new owner. Our own
//!   SUNSUBSCRIBE's answer arrives after the assignment changed, so it is
//!   never mistaken for one.
//! - An error reply (`MOVED <slot> <node>`: learnt by the map) unassigns
//!   the channels of that connection in that slot (all of them for an
//!   error without a slot): they are subscribed again (SSUBSCRIBE is
//!   idempotent). Repeated failures back off (100 ms doubling to 1 s).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use ringcast_cluster_wire::resp::Push;

use super::resp::{command, Conn, Reply, Stream};
use super::slots::{key_slot, Addr, Redirect};
use super::topology::{discover, Layout, Seeds};
use super::{Counters, Event};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
const IDLE: Duration = Duration::from_secs(3600);

/// What the manager is told.
#[derive(Debug)]
enum Cmd {
    Sub(String),
    Unsub(String),
    /// The connection `(addr, gen)` broke.
    Lost(Addr, u64),
    /// Redis pushed `sunsubscribe channel` on `(addr, gen)`.
    Pushed(Addr, u64, String),
    /// An error reply on `(addr, gen)`.
    Failed(Addr, u64, String),
}

/// The core's handle on the sharded subscriber.
#[derive(Debug, Clone)]
pub(crate) struct Subs {
    tx: Sender<Cmd>,
}

impl Subs {
    /// Holds `channel` from now on (now if connected, else on reconnect).
    pub(crate) fn subscribe(&self, channel: &str) {
        let _ = self.tx.send(Cmd::Sub(channel.to_owned()));
    }

    /// Stops holding `channel`.
    pub(crate) fn unsubscribe(&self, channel: &str) {
        let _ = self.tx.send(Cmd::Unsub(channel.to_owned()));
    }
}

/// Starts the manager; subscriptions follow through the returned handle.
pub(crate) fn start(
    seeds: Seeds,
    events: Sender<Event>,
    counters: Arc<Counters>,
) -> std::io::Result<Subs> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let m = Manager {
        seeds,
        layout: None,
        links: BTreeMap::new(),
        next_gen: 0,
        wanted: BTreeMap::new(),
        dirty: false,
        retry_at: Instant::now(),
        backoff: BACKOFF_MIN,
        lost: false,
        ready: false,
        tx: tx.clone(),
        events,
        counters,
    };
    std::thread::Builder::new()
        .name("ringcast-redis-ssub".into())
        .spawn(move || m.run(&rx))?;
    Ok(Subs { tx })
}

/// The write half of one connection.
struct Link {
    writer: Stream,
    gen: u64,
}

struct Manager {
    seeds: Seeds,
    layout: Option<Layout>,
    links: BTreeMap<Addr, Link>,
    next_gen: u64,
    /// Channel → the connection holding it (None: to be subscribed).
    wanted: BTreeMap<String, Option<(Addr, u64)>>,
    dirty: bool,
    retry_at: Instant,
    backoff: Duration,
    lost: bool,
    ready: bool,
    tx: Sender<Cmd>,
    events: Sender<Event>,
    counters: Arc<Counters>,
}

impl Manager {
    fn run(mut self, rx: &Receiver<Cmd>) {
        loop {
            let wait = if self.dirty {
                self.retry_at.saturating_duration_since(Instant::now())
            } else {
                IDLE
            };
            match rx.recv_timeout(wait) {
                Ok(cmd) => self.handle(cmd),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Ok(cmd) = rx.try_recv() {
                self.handle(cmd);
            }
            if self.dirty && Instant::now() >= self.retry_at {
                self.reconcile();
            }
        }
    }

    fn live(&self, at: &Option<(Addr, u64)>) -> bool {
        at.as_ref()
            .is_some_and(|(a, g)| self.links.get(a).is_some_and(|l| l.gen == *g))
    }

    fn soon(&mut self) {
        if !self.dirty {
            self.dirty = true;
            self.retry_at = Instant::now();
        }
    }

    fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Sub(ch) => {
                if self.wanted.contains_key(&ch) {
                    return;
                }
                self.wanted.insert(ch.clone(), None);
                if self.dirty || self.layout.is_none() || !self.place(&ch) {
                    self.soon();
                }
            }
            Cmd::Unsub(ch) => {
                if let Some(Some((addr, gen))) = self.wanted.remove(&ch) {
                    self.write(&addr, gen, &["SUNSUBSCRIBE", &ch]);
                }
            }
            Cmd::Lost(addr, gen) => {
                if self.links.get(&addr).is_some_and(|l| l.gen == gen) {
                    self.drop_link(&addr);
                    self.counters.set_connected(false);
                    if !std::mem::replace(&mut self.lost, true) {
                        tracing::warn!(node = %addr, "redis sharded subscriber link lost; reconnecting");
                    }
                    self.layout = None;
                    self.soon();
                }
            }
            Cmd::Pushed(addr, gen, ch) => {
                tracing::debug!(channel = %ch, node = %addr, gen, "sharded subscriber: sunsubscribe pushed");
                let at = Some((addr.clone(), gen));
                if self.wanted.get(&ch) == Some(&at) && self.live(&at) {
                    tracing::info!(channel = %ch, node = %addr, "redis dropped a sharded subscription (slot moved); subscribing on its new owner");
                    self.wanted.insert(ch, None);
                    self.layout = None;
                    self.soon();
                }
            }
            Cmd::Failed(addr, gen, err) => {
                tracing::debug!(node = %addr, gen, error = %err, "sharded subscriber: error reply");
                let slot = match Redirect::parse(&err) {
                    Some(Redirect::Moved(slot, to)) => {
                        if let Some(Layout::Cluster(m)) = self.layout.as_mut() {
                            m.moved(slot, to);
                        }
                        Some(slot)
                    }
                    _ => {
                        tracing::warn!(node = %addr, error = %err, "redis sharded subscriber");
                        self.layout = None;
                        None
                    }
                };
                let at = Some((addr, gen));
                for (ch, held) in self.wanted.iter_mut() {
                    if *held == at && slot.is_none_or(|s| key_slot(ch.as_bytes()) == s) {
                        *held = None;
                    }
                }
                if !self.dirty {
                    self.dirty = true;
                    self.retry_at = Instant::now() + BACKOFF_MIN.min(self.backoff);
                }
            }
        }
    }

    /// Writes one command on `(addr, gen)` if that connection is live; a
    /// failed write closes it (its reader reports the loss).
    fn write(&mut self, addr: &Addr, gen: u64, args: &[&str]) -> bool {
        let Some(link) = self.links.get_mut(addr).filter(|l| l.gen == gen) else {
            return false;
        };
        if link.writer.write_all(&command(args)).is_ok() {
            return true;
        }
        self.drop_link(addr);
        false
    }

    /// Closes the connection to `addr`; its channels become unassigned.
    fn drop_link(&mut self, addr: &Addr) {
        if let Some(link) = self.links.remove(addr) {
            link.writer.shutdown();
            for held in self.wanted.values_mut() {
                if held
                    .as_ref()
                    .is_some_and(|(a, g)| a == addr && *g == link.gen)
                {
                    *held = None;
                }
            }
        }
    }

    /// Subscribes `ch` on the node serving it; false if that failed.
    fn place(&mut self, ch: &str) -> bool {
        let Some(target) = self.layout.as_ref().and_then(|l| l.route(ch)).cloned() else {
            return false;
        };
        let held = self.wanted.get(ch).cloned().flatten();
        if let Some((old, gen)) = &held {
            if *old == target && self.live(&held) {
                return true;
            }
            if *old != target {
                self.write(old, *gen, &["SUNSUBSCRIBE", ch]);
            }
        }
        let gen = match self.links.get(&target) {
            Some(l) => l.gen,
            None => match self.connect(&target) {
                Ok(gen) => gen,
                Err(e) => {
                    self.counters.set_connected(false);
                    if !std::mem::replace(&mut self.lost, true) {
                        tracing::warn!(node = %target, error = %e, "redis sharded subscriber link lost; reconnecting");
                    }
                    return false;
                }
            },
        };
        tracing::debug!(channel = %ch, node = %target, gen, "sharded subscriber: SSUBSCRIBE");
        if !self.write(&target, gen, &["SSUBSCRIBE", ch]) {
            return false;
        }
        self.wanted.insert(ch.to_owned(), Some((target, gen)));
        true
    }

    fn connect(&mut self, addr: &Addr) -> std::io::Result<u64> {
        let reader = Conn::connect(addr, &self.seeds.auth)?;
        let writer = reader.stream().try_clone()?;
        reader.stream().set_read_timeout(None)?;
        self.next_gen += 1;
        let gen = self.next_gen;
        let (tx, events, counters, a) = (
            self.tx.clone(),
            self.events.clone(),
            self.counters.clone(),
            addr.clone(),
        );
        std::thread::Builder::new()
            .name("ringcast-redis-ssub-read".into())
            .spawn(move || read_loop(reader, &a, gen, &tx, &events, &counters))?;
        self.links.insert(addr.clone(), Link { writer, gen });
        Ok(gen)
    }

    /// Refreshes the layout if needed and subscribes every channel not
    /// (or no longer) held where its slot is served.
    fn reconcile(&mut self) {
        self.dirty = false;
        if self.layout.is_none() {
            let known: Vec<Addr> = self.links.keys().cloned().collect();
            match discover(&self.seeds, &known) {
                Ok(l) => {
                    tracing::debug!(
                        routes = ?self.wanted.keys().map(|c| (c, l.route(c))).collect::<Vec<_>>(),
                        "sharded subscriber: layout refreshed"
                    );
                    let masters = l.masters();
                    let gone: Vec<Addr> = self
                        .links
                        .keys()
                        .filter(|a| !masters.contains(a))
                        .cloned()
                        .collect();
                    for a in gone {
                        self.drop_link(&a);
                    }
                    self.layout = Some(l);
                }
                Err(e) => return self.failed(&e),
            }
        }
        let todo: Vec<String> = self
            .wanted
            .iter()
            .filter(|(ch, held)| {
                !self.live(held)
                    || held.as_ref().map(|(a, _)| a)
                        != self.layout.as_ref().and_then(|l| l.route(ch))
            })
            .map(|(ch, _)| ch.clone())
            .collect();
        let mut ok = true;
        for ch in &todo {
            ok &= self.place(ch);
        }
        if !ok {
            self.layout = None;
            return self.failed(&"some channels could not be subscribed");
        }
        self.backoff = BACKOFF_MIN;
        self.counters.set_connected(true);
        let cluster = self.layout.as_ref().is_some_and(Layout::is_cluster);
        let (channels, nodes) = (self.wanted.len(), self.links.len());
        if std::mem::take(&mut self.lost) {
            tracing::warn!(
                channels,
                nodes,
                cluster,
                "redis sharded subscriber link restored; subscriptions renewed"
            );
        } else if !std::mem::replace(&mut self.ready, true) {
            tracing::info!(
                channels,
                nodes,
                cluster,
                "redis sharded subscriptions ready"
            );
        }
    }

    fn failed(&mut self, e: &dyn std::fmt::Display) {
        self.counters.set_connected(false);
        if !std::mem::replace(&mut self.lost, true) {
            tracing::warn!(error = %e, "redis sharded subscriber link lost; reconnecting");
        }
        self.dirty = true;
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }
}

fn read_loop(
    mut r: Conn,
    addr: &Addr,
    gen: u64,
    tx: &Sender<Cmd>,
    events: &Sender<Event>,
    counters: &Counters,
) {
    loop {
        let report = match r.read_reply() {
            Ok(Reply::Error(e)) => Cmd::Failed(addr.clone(), gen, e),
            Ok(reply) => match Push::classify(reply) {
                Push::Message { channel, payload } => {
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    if events.send(Event::Incoming { channel, payload }).is_err() {
                        return;
                    }
                    continue;
                }
                Push::Unsubscribed(ch) => Cmd::Pushed(addr.clone(), gen, ch),
                Push::Subscribed | Push::Other => continue,
            },
            Err(e) => {
                tracing::debug!(node = %addr, error = %e, "redis sharded subscriber connection closed");
                let _ = tx.send(Cmd::Lost(addr.clone(), gen));
                return;
            }
        };
        if tx.send(report).is_err() {
            return;
        }
    }
}

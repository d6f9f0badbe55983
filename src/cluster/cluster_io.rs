//! The publisher's Redis connections: one per node, lazily connected,
//! each command sent to the node its channel's slot belongs to.
//!
//! With a single server ([`Layout::Standalone`]) this is one connection
//! and one pipeline per batch, as before Redis Cluster support. With a
//! cluster, a batch is split into one pipeline per master:
//! - `PUBLISH` / `SPUBLISH` go to the master serving the channel's slot
//!   (for `PUBLISH` any node would do, the cluster bus forwards it; the
//!   slot spreads the load);
//! - `PUBSUB NUMSUB` / `SHARDNUMSUB` go to every master and the answers
//!   are summed, as the Node adapter does with a cluster client (a node
//!   counts only its own subscribers).
//!
//! # Retries
//! - `MOVED`: the map learns the new owner, is refreshed (`CLUSTER
//!   SLOTS`), the command is routed again; `ASK`: sent once more to that
//!   node after `ASKING`; `TRYAGAIN` / `CLUSTERDOWN`: routed again after a
//!   short pause. At most [`MAX_REDIRECTS`] times per command, then it is
//!   dropped (counted, logged).
//! - A lost connection: the layout is discovered again and the commands
//!   not yet answered are sent again, with backoff, for as long as it
//!   takes (the bounded queue in front of the publisher absorbs, then
//!   drops, what arrives meanwhile), as the single-server publisher did.
//!   A publish may then reach Redis twice if the link died after Redis
//!   read it but before it answered (at-least-once on reconnect).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crossbeam_channel::Sender;

use super::redis_io::PubCmd;
use super::resp::{command, Conn, Reply};
use super::slots::{Addr, Redirect};
use super::topology::{discover, Layout, Seeds};
use super::{bump, Counters, Event};

/// Most redirections a command follows before it is dropped.
pub(crate) const MAX_REDIRECTS: u8 = 5;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// One command of a batch on its way (a NUMSUB becomes one job per master).
#[derive(Debug, Clone)]
struct Job {
    idx: usize,
    /// Fixed target (a NUMSUB part, an ASK), else routed by slot.
    to: Option<Addr>,
    asking: bool,
    redirects: u8,
}

/// The publisher's view of Redis: layout and connections.
pub(crate) struct Router {
    seeds: Seeds,
    layout: Option<Layout>,
    conns: BTreeMap<Addr, Conn>,
    lost: bool,
    backoff: Duration,
    sharded: bool,
}

/// Per-NUMSUB progress over the masters.
#[derive(Debug, Default, Clone)]
struct Count {
    sum: usize,
    left: usize,
    failed: bool,
}

impl Router {
    pub(crate) fn new(seeds: Seeds, sharded: bool) -> Self {
        Self {
            seeds,
            layout: None,
            conns: BTreeMap::new(),
            lost: false,
            backoff: BACKOFF_MIN,
            sharded,
        }
    }

    fn layout(&mut self) -> std::io::Result<&mut Layout> {
        if self.layout.is_none() {
            let known = self.conns.keys().cloned().collect::<Vec<_>>();
            let l = discover(&self.seeds, &known)?;
            if let Layout::Cluster(m) = &l {
                tracing::debug!(masters = m.masters().len(), "redis cluster slot map loaded");
            }
            let masters = l.masters();
            self.conns.retain(|a, _| masters.contains(a));
            self.layout = Some(l);
        }
        self.layout
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no layout"))
    }

    fn conn(&mut self, addr: &Addr) -> std::io::Result<&mut Conn> {
        if !self.conns.contains_key(addr) {
            let c = Conn::connect(addr, &self.seeds.auth)?;
            self.conns.insert(addr.clone(), c);
        }
        self.conns
            .get_mut(addr)
            .ok_or_else(|| std::io::Error::other("no connection"))
    }

    fn link_down(&mut self, e: &dyn std::fmt::Display) {
        if !std::mem::replace(&mut self.lost, true) {
            tracing::warn!(error = %e, "redis publisher link lost; reconnecting");
        }
        self.layout = None;
        std::thread::sleep(self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    fn link_up(&mut self) {
        if std::mem::take(&mut self.lost) {
            tracing::warn!("redis publisher link restored");
        }
        self.backoff = BACKOFF_MIN;
    }

    fn encode(&self, cmd: &PubCmd) -> Vec<u8> {
        match cmd {
            PubCmd::Publish { channel, payload } => {
                let verb: &[u8] = if self.sharded {
                    b"SPUBLISH"
                } else {
                    b"PUBLISH"
                };
                command(&[verb, channel.as_bytes(), &payload[..]])
            }
            PubCmd::Command { args, .. } => command(args),
            PubCmd::Numsub { channel, .. } => {
                let sub = if self.sharded {
                    "SHARDNUMSUB"
                } else {
                    "NUMSUB"
                };
                command(&["PUBSUB", sub, channel])
            }
        }
    }

    /// Learns the layout at once (before any work), so that
    /// [`Counters::ordered`] is known early; a failure is retried with the
    /// first batch.
    pub(crate) fn probe(&mut self, counters: &Counters) {
        let sharded = self.sharded;
        if let Ok(l) = self.layout() {
            let ordered = !sharded && matches!(l, Layout::Standalone(_));
            counters.ordered.store(ordered, Ordering::Relaxed);
        }
    }

    /// Sends every command of `batch` (see the module doc for retries).
    pub(crate) fn run(&mut self, batch: &[PubCmd], events: &Sender<Event>, counters: &Counters) {
        let mut counts = vec![Count::default(); batch.len()];
        let mut jobs: Vec<Job> = (0..batch.len())
            .map(|idx| Job {
                idx,
                to: None,
                asking: false,
                redirects: 0,
            })
            .collect();
        while !jobs.is_empty() {
            let layout = match self.layout() {
                Ok(l) => l.clone(),
                Err(e) => {
                    self.link_down(&e);
                    continue;
                }
            };
            let ordered = !self.sharded && matches!(layout, Layout::Standalone(_));
            counters.ordered.store(ordered, Ordering::Relaxed);
            let masters = layout.masters();
            let mut groups: BTreeMap<Addr, Vec<Job>> = BTreeMap::new();
            let mut retry = Vec::new();
            for mut job in jobs.drain(..) {
                let target = match (&batch[job.idx], job.to.clone()) {
                    (PubCmd::Numsub { .. }, Some(a)) if !masters.contains(&a) => {
                        // That master left the cluster: it counts nobody.
                        counts[job.idx].left -= 1;
                        self.count_done(batch, &mut counts, job.idx, events);
                        continue;
                    }
                    (_, Some(a)) => a,
                    (PubCmd::Numsub { .. }, None) => {
                        counts[job.idx].left = masters.len();
                        self.count_done(batch, &mut counts, job.idx, events);
                        for m in &masters {
                            groups.entry(m.clone()).or_default().push(Job {
                                to: Some(m.clone()),
                                ..job.clone()
                            });
                        }
                        continue;
                    }
                    (PubCmd::Publish { channel: key, .. } | PubCmd::Command { key, .. }, None) => {
                        match layout.route(key) {
                            Some(a) => a.clone(),
                            None => {
                                job.redirects += 1;
                                retry.push(job);
                                continue;
                            }
                        }
                    }
                };
                groups.entry(target).or_default().push(job);
            }
            let mut failed: Option<std::io::Error> = None;
            let mut refresh = false;
            for (addr, group) in groups {
                let mut cmds = Vec::with_capacity(group.len());
                for j in &group {
                    if j.asking {
                        cmds.push(command(&["ASKING"]));
                    }
                    cmds.push(self.encode(&batch[j.idx]));
                }
                let replies = match self.conn(&addr).and_then(|c| c.pipeline(&cmds)) {
                    Ok(r) => r,
                    Err(e) => {
                        self.conns.remove(&addr);
                        failed = Some(e);
                        retry.extend(group);
                        continue;
                    }
                };
                let mut replies = replies.into_iter();
                for mut job in group {
                    if job.asking {
                        replies.next();
                    }
                    let Some(reply) = replies.next() else { break };
                    let PubCmd::Numsub { .. } = &batch[job.idx] else {
                        match reply {
                            Reply::Error(e) => {
                                if self.redirect(&mut job, &e) {
                                    refresh = true;
                                    retry.push(job);
                                } else {
                                    self.give_up(&batch[job.idx], &e, counters, events);
                                }
                            }
                            reply => match &batch[job.idx] {
                                PubCmd::Command {
                                    token: Some(token), ..
                                } => {
                                    let value = match reply {
                                        Reply::Bulk(Some(b)) => Some(b.into()),
                                        _ => None,
                                    };
                                    let _ = events.send(Event::Reply {
                                        token: *token,
                                        value,
                                    });
                                }
                                PubCmd::Command { .. } => {}
                                _ => {
                                    counters.published.fetch_add(1, Ordering::Relaxed);
                                }
                            },
                        }
                        continue;
                    };
                    let c = &mut counts[job.idx];
                    match numsub_count(&reply) {
                        Some(n) => c.sum += n,
                        None => c.failed = true,
                    }
                    c.left -= 1;
                    self.count_done(batch, &mut counts, job.idx, events);
                }
            }
            for job in retry {
                if job.redirects > MAX_REDIRECTS {
                    self.give_up(&batch[job.idx], "too many redirections", counters, events);
                    if let PubCmd::Numsub { .. } = &batch[job.idx] {
                        counts[job.idx].failed = true;
                        counts[job.idx].left = counts[job.idx].left.saturating_sub(1);
                        self.count_done(batch, &mut counts, job.idx, events);
                    }
                } else {
                    jobs.push(job);
                }
            }
            match failed {
                Some(e) => self.link_down(&e),
                None => {
                    self.link_up();
                    if refresh || !jobs.is_empty() {
                        // Routed again on a fresh map; a short pause lets
                        // TRYAGAIN / CLUSTERDOWN settle.
                        self.layout = None;
                        if !jobs.is_empty() {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            }
        }
    }

    /// Applies a redirection to `job`; false if `err` is final.
    fn redirect(&mut self, job: &mut Job, err: &str) -> bool {
        job.redirects += 1;
        job.asking = false;
        match Redirect::parse(err) {
            Some(Redirect::Moved(slot, addr)) => {
                if let Some(Layout::Cluster(m)) = self.layout.as_mut() {
                    m.moved(slot, addr);
                }
                job.to = None;
                true
            }
            Some(Redirect::Ask(_, addr)) => {
                job.to = Some(addr);
                job.asking = true;
                true
            }
            None => {
                job.to = None;
                ["TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN"]
                    .iter()
                    .any(|p| err.starts_with(p))
            }
        }
    }

    fn give_up(&self, cmd: &PubCmd, err: &str, counters: &Counters, events: &Sender<Event>) {
        match cmd {
            PubCmd::Publish { channel, .. } => {
                let n = bump(&counters.dropped_publishes);
                if n.is_power_of_two() {
                    tracing::warn!(%channel, error = err, dropped = n, "redis refused a publish; dropped");
                }
            }
            PubCmd::Command { key, token, .. } => {
                tracing::warn!(%key, error = err, "redis refused a command");
                if let Some(token) = token {
                    let _ = events.send(Event::Reply {
                        token: *token,
                        value: None,
                    });
                }
            }
            PubCmd::Numsub { .. } => {}
        }
    }

    fn count_done(
        &self,
        batch: &[PubCmd],
        counts: &mut [Count],
        idx: usize,
        events: &Sender<Event>,
    ) {
        let c = &counts[idx];
        if c.left > 0 {
            return;
        }
        if let PubCmd::Numsub { token, .. } = &batch[idx] {
            let count = (!c.failed).then_some(c.sum);
            let _ = events.send(Event::Numsub {
                token: *token,
                count,
            });
        }
    }
}

/// `[channel, count]` → count.
fn numsub_count(v: &Reply) -> Option<usize> {
    match v {
        Reply::Array(items) => match items.get(1)? {
            Reply::Int(n) => usize::try_from(*n).ok(),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numsub_answers() {
        let r = Reply::Array(vec![Reply::Bulk(Some(b"c".to_vec())), Reply::Int(3)]);
        assert_eq!(numsub_count(&r), Some(3));
        assert_eq!(numsub_count(&Reply::Int(3)), None);
        assert_eq!(numsub_count(&Reply::Array(vec![])), None);
        let neg = Reply::Array(vec![Reply::Bulk(None), Reply::Int(-1)]);
        assert_eq!(numsub_count(&neg), None);
    }
}

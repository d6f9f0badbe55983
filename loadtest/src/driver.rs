//! Runs a [`Scenario`] through its phases on the engine thread, in the
//! parent (progress bar, children, server sampling, end of run) or in a
//! child (reports to the parent, waits for `GO` / `END`).
//!
//! Parent: setup until its own share and every child are ready (or
//! `--setup-timeout`), sample the server, `GO`, run until every process is
//! finished or nothing progressed for `--drain-timeout`, sample the server
//! again (connections still held), stop, `END`.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::{Engine, Handler};
use crate::multi::{progress_line, Children, ParentLink};
use crate::procstat::{self, Sample};
use crate::scenario::{Progress, Scenario};
use crate::stats::now_us;

pub(crate) enum Side {
    Parent {
        children: Option<Children>,
        bar: ProgressBar,
    },
    Child(ParentLink),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Setup,
    WaitGo,
    Running,
    Done,
}

pub(crate) struct Driver<S> {
    pub(crate) sc: S,
    pub(crate) side: Side,
    phase: Phase,
    setup_deadline: Instant,
    setup_warned: bool,
    drain: Duration,
    /// Server processes sampled together (`--server-pid`, may be empty).
    pids: Vec<u32>,
    pub(crate) at_go: Option<Sample>,
    pub(crate) at_end: Option<Sample>,
    pub(crate) go_us: u64,
    pub(crate) end_us: u64,
    pub(crate) end_reason: &'static str,
    go_cmd: bool,
    end_cmd: bool,
    last_total: u64,
    last_change: Instant,
    last_sent: Option<Progress>,
    last_sent_at: Instant,
    last_bar: Instant,
    /// `RINGCAST_LOAD_DEBUG=1`: print the driver state ten times a second.
    debug: bool,
}

impl<S: Scenario> Driver<S> {
    pub(crate) fn new(
        sc: S,
        side: Side,
        setup_timeout: f64,
        drain_timeout: f64,
        pids: Vec<u32>,
    ) -> Self {
        let now = Instant::now();
        if let Side::Parent { bar, .. } = &side {
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message("connecting");
        }
        Self {
            sc,
            side,
            phase: Phase::Setup,
            setup_deadline: now + Duration::from_secs_f64(setup_timeout),
            setup_warned: false,
            drain: Duration::from_secs_f64(drain_timeout),
            pids,
            at_go: None,
            at_end: None,
            go_us: 0,
            end_us: 0,
            end_reason: "complete",
            go_cmd: false,
            end_cmd: false,
            last_total: 0,
            last_change: now,
            last_sent: None,
            last_sent_at: now,
            last_bar: now,
            debug: std::env::var_os("RINGCAST_LOAD_DEBUG").is_some(),
        }
    }

    /// The progress bar (hidden in children).
    pub(crate) fn bar(&self) -> Option<&ProgressBar> {
        match &self.side {
            Side::Parent { bar, .. } => Some(bar),
            Side::Child(_) => None,
        }
    }

    pub(crate) fn take_children(&mut self) -> Option<Children> {
        match &mut self.side {
            Side::Parent { children, .. } => children.take(),
            Side::Child(_) => None,
        }
    }

    fn start_run(&mut self, eng: &mut Engine, now: Instant) {
        self.at_go = procstat::sample_all(&self.pids);
        if let Side::Parent {
            children: Some(c), ..
        } = &mut self.side
        {
            c.broadcast("GO");
        }
        self.go_us = now_us();
        self.sc.go(eng, now);
        self.phase = Phase::Running;
        self.last_change = now;
        if let Some(bar) = self.bar() {
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
        }
    }

    fn finish(&mut self, eng: &mut Engine, reason: &'static str) -> Option<Duration> {
        self.at_end = procstat::sample_all(&self.pids);
        self.end_us = now_us();
        self.end_reason = reason;
        self.sc.stop(eng);
        if let Side::Parent {
            children: Some(c), ..
        } = &mut self.side
        {
            c.broadcast("END");
        }
        self.phase = Phase::Done;
        None
    }

    /// Children's summed progress (empty and finished when there are none).
    fn kids(&self) -> Progress {
        match &self.side {
            Side::Parent {
                children: Some(c), ..
            } => c.progress(),
            _ => Progress {
                finished: true,
                ..Progress::default()
            },
        }
    }

    fn tick_parent(&mut self, eng: &mut Engine, now: Instant) -> Option<Duration> {
        let own = self.sc.progress();
        let kids = self.kids();
        let total = own.delivered + kids.delivered;
        if total != self.last_total {
            self.last_total = total;
            self.last_change = now;
        }
        if now.duration_since(self.last_bar) >= Duration::from_millis(100) {
            self.last_bar = now;
            if self.debug {
                eprintln!(
                    "[debug] phase {:?} ready {} own {own:?} kids {kids:?} {}",
                    self.phase,
                    self.sc.ready(),
                    match &self.side {
                        Side::Parent {
                            children: Some(c), ..
                        } => c.debug(),
                        _ => String::new(),
                    }
                );
            }
            let conns = own.connected + kids.connected;
            let failed = own.failed + kids.failed;
            let len = self.sc.connections();
            let secs = now_us().saturating_sub(self.go_us) as f64 / 1e6;
            if let Some(bar) = self.bar() {
                if self.phase == Phase::Setup {
                    bar.set_length(len);
                    bar.set_position(conns + failed);
                    bar.set_message(format!("connecting ({failed} failed)"));
                } else {
                    bar.set_message(format!("{}, {conns} connected", self.sc.live(total, secs)));
                }
                bar.tick();
            }
        }
        match self.phase {
            Phase::Setup => {
                let ready = self.sc.ready();
                let kids_ready = match &self.side {
                    Side::Parent {
                        children: Some(c), ..
                    } => c.all_ready(),
                    _ => true,
                };
                let timed_out = now >= self.setup_deadline;
                if timed_out && !(ready && kids_ready) && !self.setup_warned {
                    self.setup_warned = true;
                    eprintln!(
                        "ringcast-load: setup timeout; starting with the clients that are ready"
                    );
                }
                if (ready && kids_ready) || timed_out {
                    self.start_run(eng, now);
                }
            }
            Phase::Running => {
                self.sc.set_remote_delivered(kids.delivered);
                if own.finished && kids.finished {
                    return self.finish(eng, "complete");
                }
                if self.sc.stalls() && now.duration_since(self.last_change) >= self.drain {
                    return self.finish(eng, "drain timeout");
                }
            }
            Phase::WaitGo | Phase::Done => {}
        }
        Some(Duration::from_millis(
            if matches!(
                self.side,
                Side::Parent {
                    children: Some(_),
                    ..
                }
            ) {
                1
            } else {
                50
            },
        ))
    }

    fn tick_child(&mut self, eng: &mut Engine, now: Instant) -> Option<Duration> {
        if let Side::Child(link) = &self.side {
            while let Some(cmd) = link.try_recv() {
                match cmd.as_str() {
                    "GO" => self.go_cmd = true,
                    "END" => self.end_cmd = true,
                    _ => {}
                }
            }
        }
        if self.end_cmd {
            return self.finish(eng, "end");
        }
        match self.phase {
            Phase::Setup if self.sc.ready() || now >= self.setup_deadline => {
                if let Side::Child(link) = &self.side {
                    link.say("READY");
                }
                self.phase = Phase::WaitGo;
            }
            Phase::WaitGo if self.go_cmd => self.start_run(eng, now),
            _ => {}
        }
        let p = self.sc.progress();
        if self.last_sent != Some(p)
            && now.duration_since(self.last_sent_at) >= Duration::from_millis(2)
        {
            if let Side::Child(link) = &self.side {
                link.say(&progress_line(&p));
            }
            self.last_sent = Some(p);
            self.last_sent_at = now;
        }
        Some(Duration::from_millis(2))
    }
}

impl<S: Scenario> Handler for Driver<S> {
    fn on_connected(&mut self, eng: &mut Engine, cid: usize) {
        self.sc.on_connected(eng, cid);
    }

    fn on_event(&mut self, eng: &mut Engine, cid: usize, name: &[u8], args: &[u8]) {
        self.sc.on_event(eng, cid, name, args);
    }

    fn on_ack(&mut self, eng: &mut Engine, cid: usize, id: u64, args: &[u8]) {
        self.sc.on_ack(eng, cid, id, args);
    }

    fn on_closed(&mut self, eng: &mut Engine, cid: usize, reason: &str) {
        self.sc.on_closed(eng, cid, reason);
    }

    fn on_tick(&mut self, eng: &mut Engine, now: Instant) -> Option<Duration> {
        if self.phase == Phase::Done {
            return None;
        }
        let wait = self.sc.tick(eng, now);
        if let Side::Parent {
            children: Some(c), ..
        } = &mut self.side
        {
            c.poll();
        }
        let next = match self.side {
            Side::Parent { .. } => self.tick_parent(eng, now),
            Side::Child(_) => self.tick_child(eng, now),
        };
        next.map(|n| n.min(wait))
    }
}

//! Every session deadline of a shard in one heap: the heartbeat (ping,
//! pong timeout) and Socket.IO's `connectTimeout`, which the protocol state
//! reports through `Session::poll_timeout`. The runtime drives it with one
//! timer per shard (`runtime::tasks::drive_deadlines`: sleep until
//! [`Deadlines::next`], then `Shard::handle_deadlines(now)`); the simulation
//! drives it with its own clock.
//!
//! Why one heap rather than a timer task per session: a task and a glommio
//! timer per session cost ~3,600 instructions of the ~43,000 a websocket
//! connection costs the server from accept to close (callgrind, connect
//! storm), two allocations and a timer-wheel insert each; and 100,000 idle
//! sessions were 100,000 parked tasks. A heap entry is 32 bytes, pushed once
//! per deadline.
//!
//! Lazy entries. A session has at most one *live* entry: the one whose
//! instant equals its `Session::scheduled`, which is never later than the
//! session's deadline.
//! - A deadline that moves later (a ping was sent, a pong moved the next
//!   ping, the namespace connect cleared `connectTimeout`) keeps its entry:
//!   it fires early, finds nothing due, and the session is scheduled again
//!   at its actual deadline. A heartbeat cycle is two pushes.
//! - A deadline that moves earlier (a pong, when `pingInterval` is shorter
//!   than the pending `pingTimeout`) pushes a new entry; the older one is
//!   stale and is dropped when it surfaces.
//! - A closed session's entry is dropped when it surfaces (the `Weak` no
//!   longer upgrades). Until then it holds the session's allocation, not
//!   its contents, which dropped with the last `Rc`; so that a storm of
//!   short sessions cannot grow the heap for a whole `pingInterval`, the
//!   heap drops its dead and stale entries whenever it doubles past what
//!   was live at the last sweep (amortized O(1) per push).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::rc::{Rc, Weak};
use std::task::Waker;
use std::time::Instant;

use super::session::Session;

/// Below this many entries the heap is never swept.
const SWEEP_MIN: usize = 1024;

/// One pending deadline.
struct Entry {
    at: Instant,
    /// Push order: entries due at the same instant fire in the order they
    /// were scheduled (sessions opened together fire in opening order).
    seq: u64,
    session: Weak<Session>,
}

impl Entry {
    /// Whether this is its session's live entry.
    fn is_live(&self, session: &Session) -> bool {
        session.scheduled.get() == Some(self.at)
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The shard's deadline heap (see the module docs).
#[derive(Default)]
pub struct Deadlines {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    /// Sweep when the heap grows past this.
    sweep_at: usize,
    /// The driver sleeping until [`Deadlines::next`].
    driver: Option<Waker>,
}

impl std::fmt::Debug for Deadlines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deadlines")
            .field("entries", &self.heap.len())
            .field("next", &self.next())
            .finish()
    }
}

impl Deadlines {
    /// Makes sure `session` has an entry no later than its deadline; wakes
    /// the driver when that entry is the new earliest. A no-op for a
    /// closed session, or one whose live entry already fires in time.
    pub fn schedule(&mut self, session: &Rc<Session>) {
        let Some(at) = session.poll_timeout() else {
            return;
        };
        if session.scheduled.get().is_some_and(|s| s <= at) {
            return;
        }
        let earliest = self.next().is_none_or(|next| at < next);
        session.scheduled.set(Some(at));
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            session: Rc::downgrade(session),
        }));
        if self.heap.len() > self.sweep_at.max(SWEEP_MIN) {
            self.sweep();
        }
        if earliest {
            if let Some(w) = self.driver.take() {
                w.wake();
            }
        }
    }

    /// The earliest entry's instant: when the driver must next call
    /// [`Deadlines::pop_due`]. It may be early (a deadline that moved
    /// later) but never late.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Takes the next session whose live entry is due at `now` (its
    /// deadline may have moved later since: the caller checks, fires what
    /// is due, and schedules the session again). Dead and stale entries are
    /// dropped on the way.
    pub fn pop_due(&mut self, now: Instant) -> Option<Rc<Session>> {
        while let Some(Reverse(e)) = self.heap.peek() {
            if e.at > now {
                return None;
            }
            let Some(Reverse(e)) = self.heap.pop() else {
                unreachable!("peeked just above");
            };
            if let Some(session) = e.session.upgrade() {
                if e.is_live(&session) {
                    session.scheduled.set(None);
                    return Some(session);
                }
            }
        }
        None
    }

    /// Parks the driver's waker: [`Deadlines::schedule`] wakes it when an
    /// earlier deadline is added.
    pub fn park(&mut self, waker: &Waker) {
        match &mut self.driver {
            Some(w) if w.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
    }

    /// How many entries the heap holds (live, stale and dead).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no entry is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Drops dead and stale entries; the next sweep is when the heap has
    /// doubled again.
    fn sweep(&mut self) {
        self.heap.retain(|Reverse(e)| {
            e.session
                .upgrade()
                .is_some_and(|session| e.is_live(&session))
        });
        self.sweep_at = 2 * self.heap.len();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ringcast_proto::engineio::session::SessionConfig;
    use ringcast_proto::engineio::Protocol;

    use super::*;
    use crate::shard::session::{Handshake, SessionKind, Transport};

    const PING: Duration = Duration::from_secs(25);
    const PONG: Duration = Duration::from_secs(20);

    fn session(sid: &str, now: Instant) -> Rc<Session> {
        session_with(sid, now, PING, PONG)
    }

    fn session_with(sid: &str, now: Instant, ping: Duration, pong: Duration) -> Rc<Session> {
        let config = SessionConfig {
            ping_interval: ping,
            ping_timeout: pong,
            connect_timeout: None,
            max_buffered_bytes: 1 << 20,
            protocol: Protocol::V4,
        };
        Session::new(
            sid.into(),
            SessionKind::SocketIo,
            Transport::WebSocket,
            Handshake::default(),
            config,
            now,
        )
    }

    #[test]
    fn sessions_due_together_fire_in_the_order_they_were_scheduled() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        let (a, b) = (session("a", t0), session("b", t0));
        d.schedule(&b);
        d.schedule(&a);
        d.schedule(&a);
        assert_eq!(
            d.len(),
            2,
            "an entry that fires in time is not pushed again"
        );
        assert_eq!(d.next(), Some(t0 + PING));
        assert!(d.pop_due(t0 + PING - Duration::from_millis(1)).is_none());
        assert_eq!(drain(&mut d, t0 + PING), ["b", "a"]);
        assert!(d.is_empty());
    }

    #[test]
    fn a_deadline_that_moves_later_fires_early_and_is_scheduled_again() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        let s = session("s", t0);
        d.schedule(&s);
        // The ping is sent: the deadline moves to the pong timeout.
        s.handle_timeout(t0 + PING);
        d.schedule(&s);
        assert_eq!(d.len(), 1, "a later deadline keeps its entry");
        let early = d
            .pop_due(t0 + PING)
            .expect("the entry surfaces at the old instant");
        assert_eq!(early.poll_timeout(), Some(t0 + PING + PONG));
        d.schedule(&early);
        assert_eq!(d.next(), Some(t0 + PING + PONG));
    }

    #[test]
    fn an_earlier_deadline_makes_the_old_entry_stale_and_wakes_the_driver() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        let (ping, pong) = (Duration::from_secs(5), Duration::from_secs(20));
        let s = session_with("s", t0, ping, pong);
        let other = session("other", t0 + Duration::from_secs(1));
        d.schedule(&s);
        d.schedule(&other);
        let (waker, woken) = counting_waker();
        d.park(&waker);
        // The ping at t0+5 s: the deadline moves to the pong timeout (t0+25 s).
        let due = d.pop_due(t0 + ping).expect("the ping is due");
        due.handle_timeout(t0 + ping);
        d.schedule(&due);
        assert_eq!(woken.get(), 1, "t0+25 s is the earliest (other: t0+26 s)");
        d.park(&waker);
        let late = session("late", t0 + ping);
        d.schedule(&late);
        assert_eq!(woken.get(), 1, "t0+30 s is not the earliest");
        // The pong at t0+6 s moves it earlier, to the next ping (t0+11 s).
        let t_pong = t0 + Duration::from_secs(6);
        s.handle_packet(
            t_pong,
            ringcast_proto::engineio::Packet::Pong(Default::default()),
        );
        d.schedule(&s);
        assert_eq!(woken.get(), 2, "t0+11 s is the new earliest");
        assert_eq!(d.next(), Some(t_pong + ping));
        assert!(d.pop_due(t_pong + ping).is_some_and(|x| Rc::ptr_eq(&x, &s)));
        d.schedule(&s);
        // Later: s once (its entry at t0+11 s, not fired above), the stale
        // entry at t0+25 s dropped, then other (t0+26 s) and late (t0+30 s).
        assert_eq!(drain(&mut d, t0 + PING + PONG), ["s", "other", "late"]);
        assert!(d.is_empty());
    }

    #[test]
    fn closed_sessions_are_dropped_when_they_surface_or_by_a_sweep() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        let kept = session("kept", t0);
        d.schedule(&kept);
        for i in 0..3 * SWEEP_MIN {
            // Each dropped at once: a connect storm's short sessions.
            d.schedule(&session(&i.to_string(), t0));
        }
        assert!(d.len() <= SWEEP_MIN + 1, "swept: {} entries", d.len());
        assert_eq!(drain(&mut d, t0 + PING), ["kept"]);
    }

    /// The sids of every session due at `now`, in firing order.
    fn drain(d: &mut Deadlines, now: Instant) -> Vec<String> {
        std::iter::from_fn(|| d.pop_due(now))
            .map(|s| s.sid.to_string())
            .collect()
    }

    /// A waker that counts its wakes.
    fn counting_waker() -> (Waker, std::sync::Arc<Count>) {
        let count = std::sync::Arc::new(Count::default());
        (Waker::from(count.clone()), count)
    }

    #[derive(Default)]
    struct Count(std::sync::atomic::AtomicU32);

    impl Count {
        fn get(&self) -> u32 {
            self.0.load(std::sync::atomic::Ordering::Relaxed)
        }
    }

    impl std::task::Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

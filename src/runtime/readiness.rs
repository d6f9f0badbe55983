//! Readiness of a shard's sockets (its client connections and its
//! listener): one edge-triggered epoll set per shard, watched through one
//! glommio poll.
//!
//! Why: glommio reads a socket with a direct `recv` and, whenever that
//! leaves it without more input, arms an io_uring `POLL_ADD` on the socket
//! (a new `Source` each time). Every readiness then completes as io_uring
//! task work, which the kernel announces to the running shard with a
//! reschedule interrupt. In a request/response load (echo) that was ~16 %
//! of the server's CPU: one poll armed, one completion and one interrupt
//! per request, where an epoll server pays one `epoll_wait` per batch of
//! ready sockets (docs/benchmarks.md, "One epoll set per shard under
//! glommio").
//!
//! Here a socket is registered (`EPOLLET`, read interest; write interest is
//! added the first time a send would block) the first time an operation
//! would block, its task parks its waker in the socket's slot, and the
//! shard's [`run`] task wakes the slots `epoll_wait` reports. While events
//! keep coming the task only yields between batches (an `epoll_wait` with
//! no timeout per batch, no io_uring at all), for at most [`REACT_EVERY`]
//! so that glommio's reactor (timers, cross-shard wake-ups) still gets its
//! turn; when a batch is empty it waits for the epoll descriptor itself to
//! become readable through one glommio poll, so an idle shard still sleeps
//! in glommio's ring.
//!
//! A socket whose last read came back short waits for the next input event
//! without reading first ([`park_drained`]); each slot remembers whether an
//! input event was reported since, so one harvested while its reader was
//! not parked is not lost.
//!
//! glommio 0.9 has no public "wait until this descriptor is readable"; the
//! one it has is the poll its streams arm on the socket they wrap when
//! created. [`wait_readable`] wraps a duplicate of the epoll descriptor in a
//! glommio `UnixStream` and reads from it: the read waits on that poll, and
//! once the descriptor is readable the stream's `recv` fails with
//! `ENOTSOCK`, which is the signal (docs/decisions.md, "glommio tuned, and
//! its socket reads replaced by one epoll set per shard"). One duplicate,
//! one failed `recv` and one close per sleep; a unit test pins the
//! behaviour.
//!
//! Invariants: a slot's waker is only taken by [`run`]; a token carries its
//! slot's generation, so an event for a socket closed since (the kernel
//! drops the registration at close) never wakes the slot's next user; a
//! registration is removed (`EPOLL_CTL_DEL`) before its descriptor is
//! closed or handed to another shard (the descriptor may live on as a
//! duplicate, and epoll keys its registrations by file, not by number).

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

use futures_lite::AsyncReadExt;

/// Most events taken per `epoll_wait`.
const BATCH: usize = 256;

/// A registered descriptor: its slot and the slot's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token(u64);

impl Token {
    fn key(self) -> usize {
        (self.0 & u64::from(u32::MAX)) as usize
    }
}

/// Which readiness a task waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    /// Input (or EOF, or an error) to read.
    Read,
    /// Room in the send buffer (or an error).
    Write,
}

impl Interest {
    fn bits(self) -> u32 {
        match self {
            Self::Read => (libc::EPOLLIN | libc::EPOLLRDHUP) as u32,
            Self::Write => libc::EPOLLOUT as u32,
        }
    }
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    /// The epoll events registered (grows from read to read and write the
    /// first time a write has to wait).
    events: u32,
    reader: Option<Waker>,
    writer: Option<Waker>,
    /// An input event (or a hangup, or an error) was reported since the
    /// reader last learnt that the socket had nothing to read: a drained
    /// socket ([`park_drained`]) must read before it waits again.
    readable: bool,
}

/// One shard's epoll set and the wakers of the descriptors in it.
#[derive(Debug)]
pub(crate) struct Readiness {
    epfd: OwnedFd,
    slots: RefCell<slab::Slab<Slot>>,
    generation: Cell<u32>,
}

thread_local! {
    /// The readiness of the shard running on this thread (None outside one).
    static CURRENT: RefCell<Option<Rc<Readiness>>> = const { RefCell::new(None) };
}

/// Creates an epoll set for a shard (before its executor starts, so that a
/// failure stops the server's start).
pub(crate) fn epoll_set() -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the result is checked.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Readiness {
    /// Makes `epfd` (from [`epoll_set`]) this thread's readiness and
    /// returns it, for [`run`].
    pub(crate) fn install(epfd: OwnedFd) -> Rc<Self> {
        let r = Rc::new(Self {
            epfd,
            slots: RefCell::new(slab::Slab::new()),
            generation: Cell::new(0),
        });
        CURRENT.with(|c| *c.borrow_mut() = Some(r.clone()));
        r
    }

    /// Removes this thread's readiness (the shard is stopping).
    pub(crate) fn uninstall() {
        CURRENT.with(|c| c.borrow_mut().take());
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: Token) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: events | libc::EPOLLET as u32,
            u64: token.0,
        };
        // SAFETY: `ev` is a valid epoll_event; both descriptors are open.
        if unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn register(&self, fd: RawFd, interest: Interest) -> io::Result<Token> {
        let generation = self.generation.get().wrapping_add(1);
        self.generation.set(generation);
        let events = interest.bits();
        let key = self.slots.borrow_mut().insert(Slot {
            generation,
            events,
            reader: None,
            writer: None,
            readable: false,
        });
        let token = Token(u64::from(generation) << 32 | key as u64);
        if let Err(e) = self.ctl(libc::EPOLL_CTL_ADD, fd, events, token) {
            self.slots.borrow_mut().remove(key);
            return Err(e);
        }
        Ok(token)
    }

    fn slot(slots: &mut slab::Slab<Slot>, token: Token) -> Option<&mut Slot> {
        slots
            .get_mut(token.key())
            .filter(|s| u64::from(s.generation) == token.0 >> 32)
    }

    fn deregister(&self, fd: RawFd, token: Token) {
        let mut slots = self.slots.borrow_mut();
        if Self::slot(&mut slots, token).is_some() {
            slots.remove(token.key());
        }
        drop(slots);
        // SAFETY: `fd` is still open (the caller closes it after this); a
        // failure (never registered) changes nothing.
        unsafe {
            libc::epoll_ctl(
                self.epfd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            );
        }
    }

    fn park(&self, fd: RawFd, token: Token, interest: Interest, waker: &Waker) -> io::Result<()> {
        let mut slots = self.slots.borrow_mut();
        let Some(slot) = Self::slot(&mut slots, token) else {
            return Err(io::Error::other("readiness token of another registration"));
        };
        let bits = interest.bits();
        if slot.events & bits != bits {
            // Re-arms too: a descriptor ready now gets its event at once.
            let events = slot.events | bits;
            self.ctl(libc::EPOLL_CTL_MOD, fd, events, token)?;
            slot.events = events;
        }
        let parked = match interest {
            Interest::Read => {
                // The caller saw `WouldBlock`: what was reported before
                // is read.
                slot.readable = false;
                &mut slot.reader
            }
            Interest::Write => &mut slot.writer,
        };
        keep(parked, waker);
        Ok(())
    }

    /// See [`park_drained`].
    fn park_drained(&self, token: Token, waker: &Waker) -> io::Result<bool> {
        let mut slots = self.slots.borrow_mut();
        let Some(slot) = Self::slot(&mut slots, token) else {
            return Err(io::Error::other("readiness token of another registration"));
        };
        if std::mem::take(&mut slot.readable) {
            return Ok(true);
        }
        keep(&mut slot.reader, waker);
        Ok(false)
    }

    fn wake(&self, ev: &libc::epoll_event) {
        let events = ev.events;
        let fail = (libc::EPOLLHUP | libc::EPOLLERR) as u32;
        let (reader, writer) = {
            let mut slots = self.slots.borrow_mut();
            let Some(slot) = Self::slot(&mut slots, Token(ev.u64)) else {
                return;
            };
            let read = events & (Interest::Read.bits() | fail) != 0;
            let write = events & (Interest::Write.bits() | fail) != 0;
            slot.readable |= read;
            (
                if read { slot.reader.take() } else { None },
                if write { slot.writer.take() } else { None },
            )
        };
        if let Some(w) = reader {
            w.wake();
        }
        if let Some(w) = writer {
            w.wake();
        }
    }
}

/// Stores `waker` in `parked` unless the one there wakes the same task.
fn keep(parked: &mut Option<Waker>, waker: &Waker) {
    match parked {
        Some(w) if w.will_wake(waker) => {}
        _ => *parked = Some(waker.clone()),
    }
}

/// Runs `f` on this thread's readiness (an error outside a shard).
fn with_current<T>(f: impl FnOnce(&Readiness) -> io::Result<T>) -> io::Result<T> {
    CURRENT.with(|c| match c.borrow().as_ref() {
        Some(r) => f(r),
        None => Err(io::Error::other("no shard readiness on this thread")),
    })
}

/// Parks `waker` until `fd` is ready for `interest`, registering the
/// descriptor on its first wait (`token` keeps the registration). Only on a
/// shard's thread (the readiness is installed), else an error.
pub(crate) fn park(
    fd: RawFd,
    token: &mut Option<Token>,
    interest: Interest,
    waker: &Waker,
) -> io::Result<()> {
    with_current(|r| match *token {
        Some(t) => r.park(fd, t, interest, waker),
        None => {
            let t = r.register(fd, interest)?;
            *token = Some(t);
            r.park(fd, t, interest, waker)
        }
    })
}

/// For a socket whose last read came back short (its receive queue was
/// empty then): `Ok(true)` when an input event was reported since, and the
/// socket must be read; `Ok(false)` when none was, and `waker` is parked
/// until one is. Without a registration the socket must be read (it is
/// registered when a read would block).
///
/// Why a short read is as good as `WouldBlock` here: the set is
/// edge-triggered, and the kernel reports an edge for every arrival after
/// the read began (an arrival during it is queued on the socket's backlog
/// and reported when the read releases the socket), while what arrived
/// before it was read. Events are harvested only between task polls, so a
/// flag cleared here, right before the caller's read, cannot lose one.
pub(crate) fn park_drained(token: Option<Token>, waker: &Waker) -> io::Result<bool> {
    match token {
        Some(token) => with_current(|r| r.park_drained(token, waker)),
        None => Ok(true),
    }
}

/// Removes `fd`'s registration; call before the descriptor is closed or
/// handed over.
pub(crate) fn deregister(fd: RawFd, token: Token) {
    CURRENT.with(|c| {
        if let Some(r) = c.borrow().as_ref() {
            r.deregister(fd, token);
        }
    });
}

/// Longest a busy shard runs batch after batch without a pass through
/// glommio's reactor (its timers, io_uring completions and cross-shard
/// wake-ups are processed there, and glommio only goes there when the task
/// queue is empty or after its 100 ms preemption period).
const REACT_EVERY: Duration = Duration::from_millis(1);

/// The shard's readiness task: wakes the descriptors epoll reports, batch
/// after batch, and sleeps in glommio when there are none. Runs until
/// cancelled.
pub(crate) async fn run(r: Rc<Readiness>) {
    let mut events: Vec<libc::epoll_event> = Vec::with_capacity(BATCH);
    let mut reacted = Instant::now();
    loop {
        // SAFETY: `events` has room for BATCH entries; a zero timeout never blocks.
        let n = unsafe {
            libc::epoll_wait(
                r.epfd.as_raw_fd(),
                events.as_mut_ptr(),
                BATCH as libc::c_int,
                0,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                tracing::error!(error = %e, "epoll_wait failed");
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
            continue;
        }
        // SAFETY: epoll_wait initialized the first `n` entries (n >= 0).
        unsafe { events.set_len(n as usize) };
        let busy = !events.is_empty();
        for ev in events.drain(..) {
            r.wake(&ev);
        }
        if busy && reacted.elapsed() < REACT_EVERY {
            // Let the woken tasks run, then look again: no io_uring call.
            futures_lite::future::yield_now().await;
            continue;
        }
        // Nothing ready, or the reactor is due: wait for the set through
        // glommio. The wait ends in the reactor's next pass if events came
        // meanwhile, else when one comes (the shard sleeps).
        if let Err(e) = wait_readable(r.epfd.as_raw_fd()).await {
            tracing::error!(error = %e, "waiting on the epoll set failed");
            glommio::timer::sleep(Duration::from_millis(10)).await;
        }
        reacted = Instant::now();
    }
}

/// Waits until the epoll descriptor `epfd` is readable (see the module docs).
async fn wait_readable(epfd: RawFd) -> io::Result<()> {
    // SAFETY: plain system call on an open descriptor; the result is checked.
    let dup = unsafe { libc::fcntl(epfd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` is a new descriptor we own; the stream closes it.
    let mut stream = unsafe { glommio::net::UnixStream::from_raw_fd(dup) };
    let mut byte = [0u8; 1];
    match stream.read(&mut byte).await {
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => Ok(()),
        Err(e) => Err(e),
        Ok(_) => Err(io::Error::other("read from an epoll descriptor succeeded")),
    }
}

#[cfg(test)]
#[path = "readiness_tests.rs"]
mod tests;

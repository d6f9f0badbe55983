//! One Engine.IO session on a shard: the sans-IO protocol state
//! ([`ringcast_proto::engineio::session::Session`], which owns the
//! transport, upgrade, heartbeat, connect deadline and the bounded queue),
//! plus what only the shard knows: the Socket.IO sockets attached, a
//! pending binary reassembly, and the wakers of the tasks that drive it.
//!
//! Invariants:
//! - A session lives on exactly one shard (the one `sid::shard_for` names)
//!   and is only touched from that shard's thread, hence `RefCell`, not locks.
//! - Every queue push goes through [`Session::push`] (the protocol state's
//!   one push, which keeps the byte accounting and the bound); a push that
//!   would exceed `max_buffered_bytes` closes the session as a slow
//!   consumer instead of growing memory.
//! - At most one task drains the queue: the websocket connection task, or
//!   the pending long-poll GET. It parks its waker in `writer`.
//! - The session's deadlines are entries in the shard's heap
//!   ([`super::deadlines`]); `scheduled` is the instant of its live entry,
//!   never later than `poll_timeout`. Whatever feeds the protocol state
//!   input schedules the session again (`Shard::handle_engine_packet`,
//!   `Shard::handle_deadlines`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::Waker;
use std::time::Instant;

use ringcast_proto::engineio::session::{self as eio, Event, SessionConfig};
use ringcast_proto::engineio::{Packet, Protocol};
use ringcast_proto::socketio::Reassembler;

use super::id_key::IdKey;

pub use ringcast_proto::engineio::session::{CloseReason, Push, Transport};

use super::msg::{Control, OutItem};
use super::SocketKey;

/// What a session serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// The Socket.IO layer (namespaces, packets).
    SocketIo,
    /// A raw Engine.IO endpoint; the index is into `Config::engine_paths`.
    Engine(u16),
}

/// The handshake details Socket.IO handlers can read.
#[derive(Debug, Default)]
pub struct Handshake {
    /// Request headers of the first request, `name: value` lines with
    /// lower-case names, in one allocation (see [`Handshake::headers`]).
    pub raw_headers: Box<str>,
    /// The query string of the first request.
    pub query: String,
    /// The peer address.
    pub address: String,
    /// Milliseconds since the UNIX epoch at handshake.
    pub issued: u64,
    /// Whether the first transport was a secure one (always false: no TLS here).
    pub secure: bool,
}

impl Handshake {
    /// Packs request headers (lower-case names) into a handshake record.
    pub fn pack_headers<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>) -> Box<str> {
        // A typical head fits: no regrowth, then one shrink in place.
        let mut s = String::with_capacity(256);
        for (k, v) in headers {
            s.push_str(k);
            s.push_str(": ");
            s.push_str(v);
            s.push('\n');
        }
        s.into_boxed_str()
    }

    /// The request headers, in order (names lower-case).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.raw_headers.lines().filter_map(|l| l.split_once(": "))
    }

    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

/// Mutable state of a session.
///
/// `repr(C)` with the fields a broadcast touches first (`Session::push`:
/// writer, then the protocol state whose queue, byte count and flags lead):
/// with thousands of sessions per shard every push is a cache miss on its
/// session, so these share as few cache lines as possible (perf: `push` was
/// the top symbol of deep fan-out).
#[derive(Debug)]
#[repr(C)]
pub struct State {
    /// The task draining the queue.
    pub writer: Option<Waker>,
    /// The Engine.IO protocol state (transport, timers, queue).
    pub eio: eio::Session<OutItem>,
    /// Socket.IO sockets of this session: (namespace index, socket key).
    /// Most sessions have one: it is kept inline (no allocation), in the
    /// room a `Vec` takes.
    pub sockets: smallvec::SmallVec<[(u16, SocketKey); 1]>,
    /// Namespaces whose CONNECT waits for async middleware.
    pub connecting: Vec<u16>,
    /// A BINARY_EVENT/BINARY_ACK waiting for attachments. Boxed: a
    /// reassembler is 150 bytes, kept in every session while it is rare.
    pub reassembly: Option<Box<Reassembler>>,
    /// The parked long-poll GET came from another ringcast node
    /// (`runtime::forward`): its connection closing, or a newer GET, ends
    /// that GET and not the session (`runtime::polling::begin_get_via`).
    pub get_relayed: bool,
    /// Counts the long-poll GETs begun: a parked GET whose number is no
    /// longer this one was superseded by a newer GET.
    pub get_gen: u32,
}

/// One Engine.IO session. `repr(C)`: the state a push touches comes first
/// (see [`State`]), the cold handshake last.
#[derive(Debug)]
#[repr(C)]
pub struct Session {
    /// Everything that changes.
    pub st: RefCell<State>,
    /// Socket.IO or raw Engine.IO.
    pub kind: SessionKind,
    /// The client's Engine.IO revision (v3: Socket.IO protocol v4 too).
    pub protocol: Protocol,
    /// The instant of the session's live entry in the shard's deadline
    /// heap (`None`: no entry; see [`super::deadlines`]).
    pub(super) scheduled: Cell<Option<Instant>>,
    /// The Engine.IO session id (20 chars, base64url).
    pub sid: IdKey,
    /// Details of the opening request.
    pub handshake: Handshake,
}

impl Session {
    /// A new session opened at `now` on `transport`.
    pub fn new(
        sid: IdKey,
        kind: SessionKind,
        transport: Transport,
        handshake: Handshake,
        config: SessionConfig,
        now: Instant,
    ) -> Rc<Self> {
        Rc::new(Self {
            sid,
            kind,
            protocol: config.protocol,
            handshake,
            scheduled: Cell::new(None),
            st: RefCell::new(State {
                writer: None,
                eio: eio::Session::new(config, transport, now),
                sockets: smallvec::SmallVec::new(),
                connecting: Vec::new(),
                reassembly: None,
                get_relayed: false,
                get_gen: 0,
            }),
        })
    }

    /// The keys of the session's sockets, copied out so that the caller
    /// may disconnect or observe them while the session changes.
    pub fn socket_keys(&self) -> Vec<SocketKey> {
        self.st.borrow().sockets.iter().map(|&(_, k)| k).collect()
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.st.borrow().eio.is_closed()
    }

    /// Queues `item` and wakes the writer (see [`eio::Session::push`]) when
    /// the queue was empty: a writer with items already queued is running,
    /// scheduled, or waiting for the socket to drain, and a wake per push
    /// would only make it retry a full socket.
    #[inline]
    pub fn push(&self, item: OutItem, volatile: bool) -> Push {
        let mut st = self.st.borrow_mut();
        let was_empty = st.eio.queued().is_empty();
        let r = st.eio.push(item, volatile);
        if r == Push::Queued && was_empty {
            if let Some(w) = st.writer.take() {
                w.wake();
            }
        }
        r
    }

    /// Queues a control packet (never volatile).
    pub fn push_control(&self, c: Control) -> Push {
        self.push(OutItem::Control(c), false)
    }

    /// Wakes whichever task drains the queue (after a state change).
    pub fn wake_writer(&self) {
        if let Some(w) = self.st.borrow_mut().writer.take() {
            w.wake();
        }
    }

    /// Feeds one client packet to the protocol state at `now`; wakes the
    /// writer when it queued something (a noop). The caller schedules the
    /// session again (a pong moves the heartbeat).
    pub fn handle_packet(&self, now: Instant, packet: Packet) {
        let mut st = self.st.borrow_mut();
        let queued = st.eio.queued().len();
        st.eio.handle_packet(now, packet);
        let grew = st.eio.queued().len() > queued;
        drop(st);
        if grew {
            self.wake_writer();
        }
    }

    /// Fires the deadlines due at `now`; wakes the writer for a ping.
    pub fn handle_timeout(&self, now: Instant) {
        let mut st = self.st.borrow_mut();
        let queued = st.eio.queued().len();
        st.eio.handle_timeout(now);
        let grew = st.eio.queued().len() > queued;
        drop(st);
        if grew {
            self.wake_writer();
        }
    }

    /// The next protocol event (see [`eio::Event`]).
    pub fn poll_event(&self) -> Option<Event> {
        self.st.borrow_mut().eio.poll_event()
    }

    /// When the timer must next fire; `None` once closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.st.borrow().eio.poll_timeout()
    }
}

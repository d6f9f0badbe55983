//! One Engine.IO session: its transport, its bounded outgoing queue and the
//! wake-up of whichever task drains that queue.
//!
//! Invariants:
//! - A session lives on exactly one shard (the one `sid::shard_for` names)
//!   and is only touched from that shard's thread, hence `RefCell`, not locks.
//! - `outbox_bytes` is the websocket wire size of everything queued; a push
//!   that would exceed `max_buffered_bytes` closes the session as a slow
//!   consumer instead of growing memory.
//! - At most one task drains the queue: the websocket connection task, or
//!   the pending long-poll GET. It parks its waker in `writer`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Waker;

use ringcast_proto::socketio::Reassembler;

use super::msg::{Control, OutItem};
use super::SocketKey;

/// Why a session (or a Socket.IO socket) ended; the strings are Node's
/// disconnect reasons, as handlers see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the connection (or sent an Engine.IO close).
    TransportClose,
    /// The connection failed (IO error, reset).
    TransportError,
    /// No pong within `pingTimeout`.
    PingTimeout,
    /// The client sent a packet that does not parse.
    ParseError,
    /// The server closed it (`disconnect(true)`).
    ForcedServerClose,
    /// The server is shutting down.
    ServerShutdown,
    /// The connection could not keep up with its outgoing queue.
    SlowConsumer,
    /// No namespace was joined within `connectTimeout`.
    ConnectTimeout,
    /// The client closed the namespace (DISCONNECT packet).
    ClientNamespaceDisconnect,
    /// The server closed the namespace (`disconnect()`).
    ServerNamespaceDisconnect,
}

impl CloseReason {
    /// Node's reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::ForcedServerClose => "forced server close",
            Self::ServerShutdown => "server shutting down",
            Self::SlowConsumer => "transport error",
            Self::ConnectTimeout => "forced close",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
        }
    }
}

/// The transport a session currently writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTP long-polling: a GET drains the queue.
    Polling,
    /// WebSocket: the connection task drains the queue.
    WebSocket,
}

/// What a session serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// The Socket.IO layer (namespaces, packets).
    SocketIo,
    /// A raw Engine.IO endpoint; the index is into `Config::engine_paths`.
    Engine(u16),
}

/// Result of queueing an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Queued; the writer was woken.
    Queued,
    /// Volatile item dropped because the transport is busy.
    Dropped,
    /// The queue bound was exceeded: the caller closes the session.
    Overflow,
    /// The session is closed; nothing was queued.
    Closed,
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
        let mut s = String::new();
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
/// queue, byte count, writer, flags): with thousands of sessions per shard
/// every push is a cache miss on its session, so these share as few cache
/// lines as possible (perf: `push` was the top symbol of deep fan-out).
#[derive(Debug)]
#[repr(C)]
pub struct State {
    /// Packets waiting for the writer.
    pub outbox: VecDeque<OutItem>,
    /// Websocket wire bytes in `outbox`.
    pub outbox_bytes: usize,
    /// The task draining `outbox`.
    pub writer: Option<Waker>,
    /// Set once; the session is gone from the shard's table.
    pub closed: Option<CloseReason>,
    /// Current transport.
    pub transport: Transport,
    /// A websocket probe is in progress (between `2probe` and `5`).
    pub upgrading: bool,
    /// A long-poll GET is active.
    pub get_active: bool,
    /// A polling POST is being read.
    pub post_active: bool,
    /// Socket.IO sockets of this session: (namespace index, socket key).
    pub sockets: Vec<(u16, SocketKey)>,
    /// Namespaces whose CONNECT waits for async middleware.
    pub connecting: Vec<u16>,
    /// A BINARY_EVENT/BINARY_ACK waiting for attachments.
    pub reassembly: Option<Reassembler>,
}

/// One Engine.IO session. `repr(C)`: the state a push touches comes first
/// (see [`State`]), the cold handshake last.
#[derive(Debug)]
#[repr(C)]
pub struct Session {
    /// Everything that changes.
    pub st: RefCell<State>,
    /// Queue bound (`Config::max_buffered_bytes`).
    max_buffered: usize,
    /// A pong arrived since the last ping.
    pub pong_seen: Cell<bool>,
    /// Socket.IO or raw Engine.IO.
    pub kind: SessionKind,
    /// Heartbeat task waiting for a pong.
    pub pong_waker: RefCell<Option<Waker>>,
    /// The Engine.IO session id (20 chars, base64url).
    pub sid: Box<str>,
    /// Details of the opening request.
    pub handshake: Handshake,
}

impl Session {
    /// A new session on `transport`.
    pub fn new(
        sid: Box<str>,
        kind: SessionKind,
        transport: Transport,
        handshake: Handshake,
        max_buffered: usize,
    ) -> Rc<Self> {
        Rc::new(Self {
            sid,
            kind,
            handshake,
            max_buffered,
            pong_seen: Cell::new(false),
            pong_waker: RefCell::new(None),
            st: RefCell::new(State {
                transport,
                upgrading: false,
                closed: None,
                outbox: VecDeque::new(),
                outbox_bytes: 0,
                writer: None,
                get_active: false,
                post_active: false,
                sockets: Vec::new(),
                connecting: Vec::new(),
                reassembly: None,
            }),
        })
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.st.borrow().closed.is_some()
    }

    /// Queues `item` and wakes the writer. A volatile item is dropped when
    /// the transport cannot take it right now (something is still queued,
    /// no long-poll is waiting, or an upgrade is in progress).
    pub fn push(&self, item: OutItem, volatile: bool) -> Push {
        let mut st = self.st.borrow_mut();
        if st.closed.is_some() {
            return Push::Closed;
        }
        if volatile {
            let writable = match st.transport {
                Transport::WebSocket => st.outbox.is_empty(),
                Transport::Polling => st.get_active && st.outbox.is_empty(),
            };
            if !writable || st.upgrading {
                return Push::Dropped;
            }
        }
        let len = item.wire_len();
        if st.outbox_bytes + len > self.max_buffered {
            return Push::Overflow;
        }
        st.outbox_bytes += len;
        st.outbox.push_back(item);
        if let Some(w) = st.writer.take() {
            w.wake();
        }
        Push::Queued
    }

    /// Gives back the queue's memory if it is empty. Called on each
    /// heartbeat rather than whenever the queue drains: a queue that cycles
    /// between a burst and empty would otherwise reallocate (and fault in
    /// fresh pages) on every burst.
    pub fn release_idle_memory(&self) {
        let mut st = self.st.borrow_mut();
        if st.outbox.is_empty() && st.outbox.capacity() > 16 {
            st.outbox.shrink_to_fit();
        }
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

    /// Records a pong and wakes the heartbeat task.
    pub fn handle_pong(&self) {
        self.pong_seen.set(true);
        if let Some(w) = self.pong_waker.borrow_mut().take() {
            w.wake();
        }
    }
}

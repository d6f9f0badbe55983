//! The vocabulary of a [`Session`](super::Session): what it queues, what it
//! reports, and why it ends.

use std::time::Duration;

use super::super::payload::PayloadWriter;
use super::super::Protocol;

/// An Engine.IO control packet the session queues itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// `2`: heartbeat ping.
    Ping,
    /// `3`: heartbeat pong, the answer to an Engine.IO v3 client's ping.
    Pong,
    /// `3probe`: answer to the upgrade probe (sent on the new websocket only).
    PongProbe,
    /// `6`: noop, releases a parked long-poll during an upgrade.
    Noop,
    /// `1`: close.
    Close,
}

impl Control {
    /// The polling (and websocket payload) form.
    pub fn text(self) -> &'static [u8] {
        match self {
            Self::Ping => b"2",
            Self::Pong => b"3",
            Self::PongProbe => b"3probe",
            Self::Noop => b"6",
            Self::Close => b"1",
        }
    }

    /// The complete websocket text frame.
    pub fn ws_frame(self) -> &'static [u8] {
        match self {
            Self::Ping => b"\x81\x012",
            Self::Pong => b"\x81\x013",
            Self::PongProbe => b"\x81\x063probe",
            Self::Noop => b"\x81\x016",
            Self::Close => b"\x81\x011",
        }
    }
}

/// An entry of the outgoing queue. The session is generic over it so the
/// layer above can queue its own shared, pre-encoded messages (one
/// reference-count increment per receiver of a broadcast) without this
/// crate knowing their representation.
pub trait QueueItem {
    /// The item for a control packet.
    fn control(c: Control) -> Self;
    /// Bytes the item takes on a websocket: the unit of the queue bound.
    fn wire_len(&self) -> usize;
    /// Appends the item's long-polling packets (none for a websocket-only item).
    fn write_polling(&self, w: &mut PayloadWriter<'_>);
    /// Whether the item holds a binary packet (an Engine.IO v3 client that
    /// supports binary then gets the binary payload framing).
    fn has_binary(&self) -> bool;
}

/// Why a session (or a Socket.IO socket) ended; the strings are Node's
/// disconnect reasons, as handlers see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the connection (or sent an Engine.IO close).
    TransportClose,
    /// The connection failed (IO error, reset, protocol violation).
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
    /// The client closed the namespace (Socket.IO DISCONNECT packet).
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
    /// WebSocket: the connection drains the queue.
    WebSocket,
}

/// Result of queueing an item ([`Session::push`](super::Session::push)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Queued; the driver wakes whatever drains the queue.
    Queued,
    /// Volatile item dropped because the transport is busy; nothing to do.
    Dropped,
    /// The queue bound was exceeded: the caller closes the session
    /// ([`CloseReason::SlowConsumer`]).
    Overflow,
    /// The session is closed; nothing was queued.
    Closed,
}

/// What the session tells the layer above ([`Session::poll_event`](super::Session::poll_event)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A text message for the application (Socket.IO packet or raw Engine.IO).
    Message(crate::Utf8Bytes),
    /// A binary message for the application.
    Binary(bytes::Bytes),
    /// The session must end for this reason: the caller releases what it
    /// attached (sockets) and calls [`Session::handle_close`](super::Session::handle_close).
    Close(CloseReason),
    /// `connectTimeout` passed: the Socket.IO layer closes the session with
    /// [`CloseReason::ConnectTimeout`] when it has joined no namespace.
    ConnectDeadline,
}

/// What a parked long-poll GET answers ([`Session::poll_get`](super::Session::poll_get)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetAnswer {
    /// Packets are queued: drain them with [`Session::poll_payload`](super::Session::poll_payload).
    Data,
    /// The session closed: answer `1`.
    Closed,
    /// The websocket took over: answer `6` and never touch the queue again.
    Upgraded,
}

/// A request the session's transport state refuses. The driver answers
/// `400 {"code":3,"message":"Bad request"}`; [`Refused::Overlap`] also closes
/// the session with [`CloseReason::TransportError`] (Node does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A second GET (or POST) while one is active.
    Overlap,
    /// An upgrade while already upgrading or upgraded.
    Busy,
}

/// A session's timing and bound, from the server configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Time between a pong (or the open) and the next ping.
    pub ping_interval: Duration,
    /// Time a ping waits for its pong.
    pub ping_timeout: Duration,
    /// Socket.IO's `connectTimeout`; `None` for a raw Engine.IO session.
    pub connect_timeout: Option<Duration>,
    /// Most websocket bytes queued at once.
    pub max_buffered_bytes: usize,
    /// The client's Engine.IO revision: v3 reverses the heartbeat (the
    /// client pings) and writes v3 polling payloads.
    pub protocol: Protocol,
}

//! Server-wide hooks: an observer of every socket's lifecycle in every
//! namespace, a hook run when each shard starts, and this shard's counts.
//!
//! They exist for tools that watch the whole server rather than one
//! namespace (the broker's `@socket.io/admin-ui` support): per-namespace
//! handlers would have to be added to every namespace, and room changes
//! made by `socketsJoin` from another shard or node reach no handler.
//!
//! An observer runs inline on the socket's shard, synchronously: on
//! connect before the namespace's connect handlers, on disconnect before
//! its disconnect handlers, on a room change after the room tables are
//! updated, on a transport upgrade once per socket of the session. It may emit and broadcast. Room changes are only real ones (a
//! join of a room the socket is in is none); the socket's own id room and
//! the rooms left by disconnecting are not reported (Node's adapter reports
//! those as `join-room`/`leave-room`; the socket's connect and disconnect
//! say the same). Events are reported as they arrive and as
//! `Socket::emit` sends them (not broadcasts). Without an observer, a join,
//! a leave or an event costs one branch.

use std::rc::Rc;

use crate::shard::session::{CloseReason, Transport};
use crate::shard::Shard;

use super::payload::Payload;
use super::socket::Socket;

/// What happened to a socket ([`super::Builder::observe`]). More kinds may
/// come: match with a wildcard arm.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Lifecycle<'a> {
    /// It connected (its CONNECT reply is queued).
    Connected,
    /// It disconnected, for this reason; it is in no room any more.
    Disconnected(CloseReason),
    /// It joined this room.
    RoomJoined(&'a str),
    /// It left this room.
    RoomLeft(&'a str),
    /// Its Engine.IO session moved from HTTP long-polling to a websocket
    /// ([`Socket::transport`] is now `"websocket"`).
    Upgraded,
    /// It sent this event (name, arguments without the ack), seen on
    /// arrival before the namespace's `on_any` listeners (Node's
    /// `socket.onAny`).
    EventReceived(&'a str, &'a Payload),
    /// The server emitted this event to it alone ([`Socket::emit`] and the
    /// ack forms), before the packet is queued (Node's
    /// `socket.onAnyOutgoing`). Broadcasts are not reported: they are
    /// encoded once for every receiver.
    EventSent(&'a str, &'a Payload),
}

pub(crate) type Observer = dyn Fn(&Socket, Lifecycle<'_>) + Send + Sync;
pub(crate) type StartHook = dyn Fn(usize) + Send + Sync;

/// Connections and sockets of the calling shard ([`shard_counts`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardCounts {
    /// Open Engine.IO sessions (Node's `engine.clientsCount`).
    pub clients: usize,
    /// Sessions on HTTP long-polling (not upgraded to a websocket).
    pub polling_clients: usize,
    /// Every namespace with its connected sockets on this shard.
    pub namespaces: Vec<(String, usize)>,
    /// Engine.IO sessions opened on this shard since it started.
    pub sessions_opened: u64,
    /// Engine.IO message packets (those with data) received from clients
    /// since the shard started.
    pub packets_in: u64,
    /// Packets queued to clients (emits and broadcast deliveries; not the
    /// heartbeat) since the shard started.
    pub packets_out: u64,
    /// Bytes read from client sockets since the shard started (HTTP and
    /// websocket framing included).
    pub bytes_in: u64,
    /// Bytes written to client sockets since the shard started.
    pub bytes_out: u64,
}

/// The counts of the calling shard. Walks the shard's sessions (for their
/// transport): meant for a periodic report, not for every event. Panics
/// off a shard thread (as [`super::of`] does).
pub fn shard_counts() -> ShardCounts {
    let shard = Shard::current();
    counts(&shard)
}

fn counts(shard: &Rc<Shard>) -> ShardCounts {
    let sessions = shard.sessions.borrow();
    let polling_clients = sessions
        .values()
        .filter(|s| {
            s.st.try_borrow()
                .is_ok_and(|st| st.eio.transport() == Transport::Polling)
        })
        .count();
    let rooms = shard.rooms.borrow();
    let namespaces = (0..shard.app.namespace_count())
        .map(|i| {
            let sockets = rooms.get(i).map_or(0, |t| t.all().len());
            (shard.app.namespace_name(i as u16).to_owned(), sockets)
        })
        .collect();
    drop(rooms);
    drop(sessions);
    let stats = shard.stats_snapshot();
    // Packets that carry data (admin-ui counts those): Engine.IO messages.
    let packets_in = crate::shard::stats::PACKET_TYPES
        .iter()
        .zip(stats.packets)
        .filter(|(t, _)| matches!(**t, "message" | "binary"))
        .map(|(_, n)| n)
        .sum();
    ShardCounts {
        clients: stats.websocket as usize + stats.polling as usize,
        polling_clients,
        namespaces,
        sessions_opened: stats.sessions_opened,
        packets_in,
        packets_out: stats.deliveries,
        bytes_in: stats.received_bytes,
        bytes_out: stats.sent_bytes,
    }
}

//! Requests on `<key>-request#<nsp>#` (contract 3.3): the types.
//!
//! [`Request`] is who asked ([`Request::uid`]) and what ([`RequestBody`],
//! one variant per request type and form, with the Node type numbers of
//! [`RequestType`]). The wire codec is in `request_codec.rs`.
//!
//! # Invariants
//! - `uid: None` (key absent) is the emitter's socketsJoin / socketsLeave /
//!   disconnectSockets; every node, the publisher included, applies 2/3/4.
//! - A node ignores its own type 0/1/5/6/7 requests (by uid or request id)
//!   and never answers them.

use crate::{BroadcastOpts, Packet, RoomFilter, Value};

/// The adapter's `RequestType` numbers (8 and 9 are response types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RequestType {
    /// `allSockets()` (legacy).
    Sockets = 0,
    /// `allRooms()`.
    AllRooms = 1,
    /// `socketsJoin()`.
    RemoteJoin = 2,
    /// `socketsLeave()`.
    RemoteLeave = 3,
    /// `disconnectSockets()`.
    RemoteDisconnect = 4,
    /// `fetchSockets()`.
    RemoteFetch = 5,
    /// `serverSideEmit()`.
    ServerSideEmit = 6,
    /// `emit()` with an ack across nodes.
    Broadcast = 7,
    /// Response: how many clients a node broadcast to.
    BroadcastClientCount = 8,
    /// Response: one client's ack.
    BroadcastAck = 9,
}

impl RequestType {
    /// The type for a wire number.
    pub fn from_number(n: i64) -> Option<Self> {
        Some(match n {
            0 => Self::Sockets,
            1 => Self::AllRooms,
            2 => Self::RemoteJoin,
            3 => Self::RemoteLeave,
            4 => Self::RemoteDisconnect,
            5 => Self::RemoteFetch,
            6 => Self::ServerSideEmit,
            7 => Self::Broadcast,
            8 => Self::BroadcastClientCount,
            9 => Self::BroadcastAck,
            _ => return None,
        })
    }
}

/// A request: who sent it and what it asks.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The requesting adapter's uid; `Some("emitter")` or `None` for the
    /// emitter.
    pub uid: Option<String>,
    /// The request itself.
    pub body: RequestBody,
}

/// The typed request payloads.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestBody {
    /// 0: ids of the sockets in `rooms`; answered by [`crate::Response::Sockets`].
    Sockets {
        /// Correlates the answers.
        request_id: String,
        /// Rooms to list (empty: all sockets).
        rooms: Vec<String>,
    },
    /// 1: all rooms; answered by [`crate::Response::AllRooms`].
    AllRooms {
        /// Correlates the answers.
        request_id: String,
    },
    /// 2: matching sockets join `rooms`; no answer.
    RemoteJoin {
        /// Which sockets.
        opts: RoomFilter,
        /// Rooms to join.
        rooms: Vec<String>,
    },
    /// 3: matching sockets leave `rooms`; no answer.
    RemoteLeave {
        /// Which sockets.
        opts: RoomFilter,
        /// Rooms to leave.
        rooms: Vec<String>,
    },
    /// 4: disconnect matching sockets; no answer.
    RemoteDisconnect {
        /// Which sockets.
        opts: RoomFilter,
        /// Also close the underlying connection.
        close: bool,
    },
    /// Legacy 2: socket `sid` joins `room`; answered by [`crate::Response::LegacyAck`].
    LegacyJoin {
        /// Correlates the answer.
        request_id: String,
        /// The socket id.
        sid: String,
        /// The room.
        room: String,
    },
    /// Legacy 3: socket `sid` leaves `room`.
    LegacyLeave {
        /// Correlates the answer.
        request_id: String,
        /// The socket id.
        sid: String,
        /// The room.
        room: String,
    },
    /// Legacy 4: disconnect socket `sid`.
    LegacyDisconnect {
        /// Correlates the answer.
        request_id: String,
        /// The socket id.
        sid: String,
        /// Also close the underlying connection.
        close: bool,
    },
    /// 5: describe matching sockets; every other node answers once
    /// ([`crate::Response::RemoteFetch`]), also with an empty list.
    RemoteFetch {
        /// Correlates the answers.
        request_id: String,
        /// Which sockets.
        opts: RoomFilter,
    },
    /// 6: fire `data[0](...data[1..])` on the namespace of other nodes;
    /// with a request id each answers [`crate::Response::ServerSideEmit`].
    ServerSideEmit {
        /// Present when the sender expects acks.
        request_id: Option<String>,
        /// `[event, ...args]`.
        data: Vec<Value>,
    },
    /// 7: deliver `packet` with a local ack id; answer one
    /// [`crate::Response::BroadcastClientCount`] then one
    /// [`crate::Response::BroadcastAck`] per client ack.
    Broadcast {
        /// Correlates the answers.
        request_id: String,
        /// The EVENT packet.
        packet: Packet,
        /// Rooms, exclusions and flags (`flags.timeout`).
        opts: BroadcastOpts,
    },
}

impl Request {
    /// The wire type number of [`Self::body`].
    pub fn request_type(&self) -> RequestType {
        match &self.body {
            RequestBody::Sockets { .. } => RequestType::Sockets,
            RequestBody::AllRooms { .. } => RequestType::AllRooms,
            RequestBody::RemoteJoin { .. } | RequestBody::LegacyJoin { .. } => {
                RequestType::RemoteJoin
            }
            RequestBody::RemoteLeave { .. } | RequestBody::LegacyLeave { .. } => {
                RequestType::RemoteLeave
            }
            RequestBody::RemoteDisconnect { .. } | RequestBody::LegacyDisconnect { .. } => {
                RequestType::RemoteDisconnect
            }
            RequestBody::RemoteFetch { .. } => RequestType::RemoteFetch,
            RequestBody::ServerSideEmit { .. } => RequestType::ServerSideEmit,
            RequestBody::Broadcast { .. } => RequestType::Broadcast,
        }
    }

    /// The request id, for the types that carry one.
    pub fn request_id(&self) -> Option<&str> {
        match &self.body {
            RequestBody::Sockets { request_id, .. }
            | RequestBody::AllRooms { request_id }
            | RequestBody::LegacyJoin { request_id, .. }
            | RequestBody::LegacyLeave { request_id, .. }
            | RequestBody::LegacyDisconnect { request_id, .. }
            | RequestBody::RemoteFetch { request_id, .. }
            | RequestBody::Broadcast { request_id, .. } => Some(request_id),
            RequestBody::ServerSideEmit { request_id, .. } => request_id.as_deref(),
            RequestBody::RemoteJoin { .. }
            | RequestBody::RemoteLeave { .. }
            | RequestBody::RemoteDisconnect { .. } => None,
        }
    }

    /// Whether the redis-emitter sent it (uid `"emitter"` or no uid).
    pub fn is_from_emitter(&self) -> bool {
        self.uid.as_deref().is_none_or(|u| u == crate::EMITTER_UID)
    }
}

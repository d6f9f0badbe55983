//! Connection state recovery on the emit side: the offset appended to every
//! stored packet (Node's `SessionAwareAdapter.broadcast`), and
//! [`Socket::recovered`]. The store and the CONNECT flow live in
//! `shard::recovery` and `shard::recover`.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use super::payload::Payload;
use super::socket::Socket;
use crate::shard::msg::Msg;
use crate::shard::recovery::Offset;
use crate::shard::Shard;

/// When recovery is on and the packet is not volatile: the payload with
/// its offset as an extra last argument, and that offset.
pub(crate) fn with_offset(
    shard: &Rc<Shard>,
    payload: Payload,
    volatile: bool,
) -> (Payload, Option<Offset>) {
    let Some(store) = shard.recovery.as_ref().filter(|_| !volatile) else {
        return (payload, None);
    };
    // Shard ids fit in u16: a process has at most a few hundred cores.
    let offset = store.borrow_mut().next_offset(shard.id as u16);
    (payload.arg(offset.encode()), Some(offset))
}

/// Keeps a `socket.emit` for recovery as Node does: a packet to the
/// socket's own id room.
pub(crate) fn keep_direct(shard: &Rc<Shard>, offset: Offset, nsp: u16, id: &str, msg: &Arc<Msg>) {
    if let Some(store) = &shard.recovery {
        store
            .borrow_mut()
            .handle_packet(offset, nsp, &[id.into()], &[], msg, Instant::now());
    }
}

impl Socket {
    /// Whether this socket is a recovered session (Node's
    /// `socket.recovered`): same id, rooms and data as before its
    /// connection dropped, missed packets replayed.
    pub fn recovered(&self) -> bool {
        self.state.recovered.get()
    }
}

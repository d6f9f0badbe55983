//! The room table of one namespace on one shard.
//!
//! `room → members` for lookup and `socket → rooms` (kept on the socket) for
//! cleanup. The room named by a socket's own id is not stored here: it is
//! resolved through the shard's `socket_ids` map, saving one entry per socket.

use ahash::{AHashMap, AHashSet};

use super::SocketKey;

/// Rooms of one namespace.
#[derive(Debug, Default)]
pub struct RoomTable {
    rooms: AHashMap<Box<str>, AHashSet<SocketKey>>,
    /// Every socket of the namespace on this shard (for `emit` to all).
    all: AHashSet<SocketKey>,
}

impl RoomTable {
    /// Adds a socket to the namespace.
    pub fn add_socket(&mut self, key: SocketKey) {
        self.all.insert(key);
    }

    /// Removes a socket from the namespace and from `rooms`.
    pub fn remove_socket<'a>(&mut self, key: SocketKey, rooms: impl Iterator<Item = &'a str>) {
        self.all.remove(&key);
        for room in rooms {
            self.leave(key, room);
        }
    }

    /// Adds `key` to `room`; returns false when it was already there.
    pub fn join(&mut self, key: SocketKey, room: &str) -> bool {
        match self.rooms.get_mut(room) {
            Some(m) => m.insert(key),
            None => {
                let mut m = AHashSet::with_capacity(1);
                m.insert(key);
                self.rooms.insert(room.into(), m);
                true
            }
        }
    }

    /// Removes `key` from `room`, dropping the room when empty.
    pub fn leave(&mut self, key: SocketKey, room: &str) -> bool {
        let Some(m) = self.rooms.get_mut(room) else {
            return false;
        };
        let removed = m.remove(&key);
        if m.is_empty() {
            self.rooms.remove(room);
        }
        removed
    }

    /// Members of `room` (stored rooms only).
    pub fn members(&self, room: &str) -> Option<&AHashSet<SocketKey>> {
        self.rooms.get(room)
    }

    /// Every socket of the namespace.
    pub fn all(&self) -> &AHashSet<SocketKey> {
        &self.all
    }

    /// Names of the stored rooms.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.rooms.keys().map(|k| &**k)
    }

    /// Number of stored rooms.
    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    /// No stored rooms.
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_leave_and_cleanup() {
        let mut t = RoomTable::default();
        t.add_socket(1);
        t.add_socket(2);
        assert!(t.join(1, "a"));
        assert!(!t.join(1, "a"));
        assert!(t.join(2, "a"));
        assert!(t.join(2, "b"));
        assert_eq!(t.members("a").map(|m| m.len()), Some(2));
        t.remove_socket(2, ["a", "b"].into_iter());
        assert_eq!(t.members("a").map(|m| m.len()), Some(1));
        assert!(t.members("b").is_none());
        assert!(t.leave(1, "a"));
        assert!(t.is_empty());
        assert_eq!(t.all().len(), 1);
    }
}

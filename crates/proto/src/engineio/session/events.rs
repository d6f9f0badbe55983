//! A session's pending events, in order.
//!
//! There are almost always none or one: the driver drains them after every
//! input (`poll_event` until `None`), and an input yields one message, or a
//! close. So the first is kept inline and only a burst (a polling POST
//! carrying several packets) allocates; a `VecDeque` alone allocated on the
//! first message of every session and kept it until the next ping.
//!
//! Invariant: `first` is `None` only when `rest` is empty, so `first` is
//! always the oldest event.

use std::collections::VecDeque;

use super::Event;

#[derive(Debug, Default)]
pub(super) struct Events {
    first: Option<Event>,
    rest: VecDeque<Event>,
}

impl Events {
    /// Appends an event.
    #[inline]
    pub(super) fn push_back(&mut self, event: Event) {
        if self.first.is_none() {
            self.first = Some(event);
        } else {
            self.rest.push_back(event);
        }
    }

    /// Takes the oldest event.
    #[inline]
    pub(super) fn pop_front(&mut self) -> Option<Event> {
        if self.rest.is_empty() {
            return self.first.take();
        }
        let event = self.first.take();
        self.first = self.rest.pop_front();
        event
    }

    /// Drops every pending event.
    pub(super) fn clear(&mut self) {
        self.first = None;
        self.rest.clear();
    }

    /// Gives back the memory of a past burst.
    pub(super) fn release_memory(&mut self) {
        if self.rest.is_empty() && self.rest.capacity() > 0 {
            self.rest = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineio::session::CloseReason;

    #[test]
    fn events_come_out_in_the_order_they_went_in() {
        let mut e = Events::default();
        assert_eq!(e.pop_front(), None);
        e.push_back(Event::ConnectDeadline);
        assert_eq!(e.pop_front(), Some(Event::ConnectDeadline));
        assert_eq!(e.pop_front(), None);
        assert_eq!(
            e.rest.capacity(),
            0,
            "one event at a time allocates nothing"
        );
        e.push_back(Event::ConnectDeadline);
        e.push_back(Event::Close(CloseReason::TransportClose));
        e.push_back(Event::Close(CloseReason::PingTimeout));
        assert_eq!(e.pop_front(), Some(Event::ConnectDeadline));
        e.push_back(Event::Close(CloseReason::ServerShutdown));
        assert_eq!(
            e.pop_front(),
            Some(Event::Close(CloseReason::TransportClose))
        );
        assert_eq!(e.pop_front(), Some(Event::Close(CloseReason::PingTimeout)));
        assert_eq!(
            e.pop_front(),
            Some(Event::Close(CloseReason::ServerShutdown))
        );
        assert_eq!(e.pop_front(), None);
        e.release_memory();
        assert_eq!(e.rest.capacity(), 0);
        e.push_back(Event::ConnectDeadline);
        e.push_back(Event::ConnectDeadline);
        e.clear();
        assert_eq!(e.pop_front(), None);
    }
}

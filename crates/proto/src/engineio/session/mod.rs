//! A sans-IO Engine.IO session (in the style of quinn-proto's `Connection`):
//! the transport state (polling, upgrading, websocket), the probe/upgrade
//! handshake, the heartbeat and connect deadlines, and the bounded outgoing
//! queue, with no sockets, no tasks and no clock.
//!
//! # Calling order
//! The driver (the server's IO shell) owns the sockets and the timers (in
//! ringcast, one deadline heap per shard). It feeds inputs, then drains
//! outputs, in this order:
//!
//! 1. **Inputs**: `handle_*` calls. Those that depend on time take
//!    `now: Instant` from the driver ([`Session::handle_packet`],
//!    [`Session::handle_timeout`]); every push onto the queue goes through
//!    [`Session::push`].
//! 2. **Events**: [`Session::poll_event`] until `None`, acting on each
//!    ([`Event::Close`]: release what was attached, then
//!    [`Session::handle_close`]).
//! 3. **Transmit**: the transport writer takes queued items with
//!    [`Session::poll_transmit`] (one at a time) or, for gathered websocket
//!    writes, reads [`Session::queued`] and retires what the socket took
//!    with [`Session::handle_sent`]; a long-poll GET asks
//!    [`Session::poll_get`] whether to answer and drains everything with
//!    [`Session::poll_payload`].
//! 4. **Timer**: re-arm the timer at [`Session::poll_timeout`] (`None`: no
//!    timer, the session is closed); when it fires, call
//!    [`Session::handle_timeout`] and start again at step 2.
//!
//! # Invariants
//! - `outbox_bytes` is the sum of [`QueueItem::wire_len`] over the queue,
//!   and never exceeds `max_buffered_bytes`: every entry is added by
//!   [`Session::push`] (which refuses with [`Push::Overflow`]) and removed by
//!   `poll_transmit`, `handle_sent`, `poll_payload` or `clear_queue`.
//! - Once closed, a session queues nothing, arms no timer and emits no
//!   event; closing twice is a no-op.
//! - Heartbeat: a ping is queued `ping_interval` after the open (or after
//!   the last pong); without a pong `ping_timeout` after the ping, the
//!   session asks to be closed ([`CloseReason::PingTimeout`]). Deadlines
//!   fire at their exact instant (`now >= deadline`). An Engine.IO v3
//!   client pings instead ([`Protocol::V3`]): each ping is answered with a
//!   pong and moves the deadline to `ping_interval + ping_timeout` later
//!   (kept in `pong_deadline`, always armed); a pong from it is an error.
//! - Upgrade: after [`Session::handle_upgrade_request`], `2probe` is
//!   answered `3probe` on the new transport and a parked GET with an empty
//!   queue gets a noop (so the client pauses polling); `5` makes the
//!   websocket the transport and the parked GET is answered `6`.

mod events;
mod types;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::BytesMut;

use super::payload::{Format, PayloadWriter};
use super::{Packet, Protocol};
pub use types::{
    CloseReason, Control, Event, GetAnswer, Push, QueueItem, Refused, SessionConfig, Transport,
};

/// One Engine.IO session's protocol state. `I` is the queued item type.
///
/// `repr(C)` with what [`Session::push`] touches first (queue, byte count,
/// bound, flags): a broadcast pushes to thousands of sessions, each a cache
/// miss, so these share as few cache lines as possible.
#[derive(Debug)]
#[repr(C)]
pub struct Session<I> {
    outbox: VecDeque<I>,
    outbox_bytes: usize,
    max_buffered: usize,
    closed: Option<CloseReason>,
    transport: Transport,
    upgrading: bool,
    get_active: bool,
    post_active: bool,
    /// An [`Event::Close`] was emitted: timers are disarmed.
    ending: bool,
    ping_at: Instant,
    pong_deadline: Option<Instant>,
    connect_deadline: Option<Instant>,
    config: SessionConfig,
    events: events::Events,
    /// Whether the websocket being probed takes binary frames (v3: its own
    /// `b64`), applied when it becomes the transport.
    upgrade_binary: bool,
}

impl<I: QueueItem> Session<I> {
    /// A session opened at `now` on `transport`.
    pub fn new(config: SessionConfig, transport: Transport, now: Instant) -> Self {
        Self {
            outbox: VecDeque::new(),
            outbox_bytes: 0,
            max_buffered: config.max_buffered_bytes,
            closed: None,
            transport,
            upgrading: false,
            get_active: false,
            post_active: false,
            ending: false,
            ping_at: now + config.ping_interval,
            pong_deadline: config
                .protocol
                .is_v3()
                .then(|| now + config.ping_interval + config.ping_timeout),
            connect_deadline: config.connect_timeout.map(|t| now + t),
            config,
            events: events::Events::default(),
            upgrade_binary: true,
        }
    }

    // ----- state -----

    /// Why the session ended, once it has.
    pub fn closed(&self) -> Option<CloseReason> {
        self.closed
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// The transport the queue is written to.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// A websocket probe is in progress (between the 101 and `5`).
    pub fn is_upgrading(&self) -> bool {
        self.upgrading
    }

    /// A long-poll GET is parked.
    pub fn is_get_active(&self) -> bool {
        self.get_active
    }

    /// The client's Engine.IO revision.
    pub fn protocol(&self) -> Protocol {
        self.config.protocol
    }

    /// Websocket bytes queued.
    pub fn queued_bytes(&self) -> usize {
        self.outbox_bytes
    }

    // ----- the queue -----

    /// Queues `item`: the one way into the queue, keeping the byte
    /// accounting. A volatile item is dropped when the transport cannot
    /// take it right now (something is still queued, no long-poll is
    /// parked, or an upgrade is in progress).
    #[inline]
    pub fn push(&mut self, item: I, volatile: bool) -> Push {
        if self.closed.is_some() {
            return Push::Closed;
        }
        if volatile {
            let writable = match self.transport {
                Transport::WebSocket => self.outbox.is_empty(),
                Transport::Polling => self.get_active && self.outbox.is_empty(),
            };
            if !writable || self.upgrading {
                return Push::Dropped;
            }
        }
        let len = item.wire_len();
        if self.outbox_bytes + len > self.max_buffered {
            return Push::Overflow;
        }
        self.outbox_bytes += len;
        self.outbox.push_back(item);
        Push::Queued
    }

    /// Queues a control packet (never volatile).
    pub fn push_control(&mut self, c: Control) -> Push {
        self.push(I::control(c), false)
    }

    /// Takes the next queued item.
    pub fn poll_transmit(&mut self) -> Option<I> {
        let item = self.outbox.pop_front()?;
        self.outbox_bytes -= item.wire_len();
        Some(item)
    }

    /// The queue, front first, for a gathered write; retire what was
    /// written with [`Session::handle_sent`].
    pub fn queued(&self) -> &VecDeque<I> {
        &self.outbox
    }

    /// Retires the first `items` queued items (fully written).
    pub fn handle_sent(&mut self, items: usize) {
        for _ in 0..items.min(self.outbox.len()) {
            let _ = self.poll_transmit();
        }
    }

    /// Drops everything queued (a transport that stops writing).
    pub fn clear_queue(&mut self) {
        self.outbox.clear();
        self.outbox_bytes = 0;
    }

    /// Gives back the queue's memory if it is empty. Done at each ping
    /// rather than whenever the queue drains: a queue that cycles between a
    /// burst and empty would otherwise reallocate on every burst.
    fn release_idle_memory(&mut self) {
        if self.outbox.is_empty() && self.outbox.capacity() > 16 {
            self.outbox.shrink_to_fit();
        }
        self.events.release_memory();
    }

    // ----- events and time -----

    /// The next thing the layer above must act on.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must next be called; `None` once
    /// the session is closed or has asked to be.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed.is_some() || self.ending {
            return None;
        }
        let heartbeat = self.pong_deadline.unwrap_or(self.ping_at);
        Some(
            self.connect_deadline
                .map_or(heartbeat, |c| c.min(heartbeat)),
        )
    }

    /// Fires every deadline at or before `now`: the connect deadline
    /// ([`Event::ConnectDeadline`]), the pong deadline
    /// ([`Event::Close`] with [`CloseReason::PingTimeout`]) and the ping
    /// (queued; an overflow asks for [`CloseReason::SlowConsumer`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed.is_some() || self.ending {
            return;
        }
        if self.connect_deadline.is_some_and(|c| now >= c) {
            self.connect_deadline = None;
            self.events.push_back(Event::ConnectDeadline);
        }
        match self.pong_deadline {
            Some(d) if now >= d => self.end(CloseReason::PingTimeout),
            Some(_) => {}
            None if now >= self.ping_at => {
                self.release_idle_memory();
                match self.push_control(Control::Ping) {
                    Push::Queued | Push::Dropped => {}
                    Push::Overflow => return self.end(CloseReason::SlowConsumer),
                    Push::Closed => return,
                }
                self.pong_deadline = Some(now + self.config.ping_timeout);
            }
            None => {}
        }
    }

    /// Asks the layer above to close the session (once).
    fn end(&mut self, reason: CloseReason) {
        if !self.ending {
            self.ending = true;
            self.events.push_back(Event::Close(reason));
        }
    }

    /// Ends the session. Returns false when it had already ended.
    pub fn handle_close(&mut self, reason: CloseReason) -> bool {
        if self.closed.is_some() {
            return false;
        }
        self.closed = Some(reason);
        self.events.clear();
        true
    }

    /// One Engine.IO packet from the client, whatever the transport.
    pub fn handle_packet(&mut self, now: Instant, packet: Packet) {
        if self.closed.is_some() {
            return;
        }
        let v3 = self.config.protocol.is_v3();
        match packet {
            // Node: "invalid heartbeat direction" (v3 clients never pong).
            Packet::Pong(_) if v3 => self.end(CloseReason::TransportError),
            Packet::Ping(_) if v3 => {
                self.release_idle_memory();
                if self.push_control(Control::Pong) == Push::Overflow {
                    return self.end(CloseReason::SlowConsumer);
                }
                if !self.ending {
                    self.pong_deadline =
                        Some(now + self.config.ping_interval + self.config.ping_timeout);
                }
            }
            Packet::Pong(_) => {
                if self.pong_deadline.take().is_some() {
                    self.ping_at = now + self.config.ping_interval;
                }
            }
            Packet::Message(text) => self.events.push_back(Event::Message(text)),
            Packet::Binary(data) => self.events.push_back(Event::Binary(data)),
            Packet::Close => {
                // Node answers a parked long-poll with a noop before closing.
                if self.get_active {
                    self.push_control(Control::Noop);
                }
                self.end(CloseReason::TransportClose);
            }
            // Engine.IO v4 clients never ping (Node: "invalid heartbeat direction").
            Packet::Ping(_) => self.end(CloseReason::TransportError),
            Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }

    // ----- long-polling -----

    /// A long-poll GET arrives. During an upgrade it is answered at once
    /// with a noop (the client is pausing polling).
    pub fn handle_get(&mut self) -> Result<(), Refused> {
        if self.get_active {
            return Err(Refused::Overlap);
        }
        self.get_active = true;
        if self.upgrading && self.outbox.is_empty() {
            self.push_control(Control::Noop);
        }
        Ok(())
    }

    /// Whether the parked GET answers now, and with what; `None`: keep waiting.
    pub fn poll_get(&self) -> Option<GetAnswer> {
        if !self.outbox.is_empty() {
            Some(GetAnswer::Data)
        } else if self.closed.is_some() {
            Some(GetAnswer::Closed)
        } else if self.transport != Transport::Polling {
            Some(GetAnswer::Upgraded)
        } else {
            None
        }
    }

    /// The GET was answered (or its connection went away).
    pub fn handle_get_done(&mut self) {
        self.get_active = false;
    }

    /// The encoding [`Session::poll_payload`] writes now: v4, or for a v3
    /// client the text form, or the binary framing when the client supports
    /// binary and a queued item holds a binary packet (Node's
    /// `encodePayload`); the driver picks the content type from it.
    pub fn payload_format(&self) -> Format {
        match self.config.protocol {
            Protocol::V4 => Format::V4,
            Protocol::V3 { binary: true } if self.outbox.iter().any(I::has_binary) => {
                Format::V3Binary
            }
            Protocol::V3 { .. } => Format::V3Text,
        }
    }

    /// Drains the whole queue into a polling payload (in
    /// [`Session::payload_format`]). Returns the number of packets written.
    ///
    /// A closed session's last packets go without a close packet after
    /// them, as Node's `Socket.close()` drains its buffer first and sends
    /// `1` on a later GET: engine.io-client handles a payload's close
    /// packet at once but socket.io-client its packets a tick later, so a
    /// DISCONNECT sharing a payload with `1` would be seen as a lost
    /// transport (the client reconnects instead of staying disconnected).
    pub fn poll_payload(&mut self, out: &mut BytesMut) -> usize {
        let mut w = PayloadWriter::with_format(out, self.payload_format());
        for item in self.outbox.drain(..) {
            item.write_polling(&mut w);
        }
        self.outbox_bytes = 0;
        w.count()
    }

    /// A polling POST starts being read.
    pub fn handle_post(&mut self) -> Result<(), Refused> {
        if self.post_active {
            return Err(Refused::Overlap);
        }
        self.post_active = true;
        Ok(())
    }

    /// The POST body was read (or failed).
    pub fn handle_post_done(&mut self) {
        self.post_active = false;
    }

    // ----- upgrade -----

    /// A websocket upgrade request names this session. `binary`: the new
    /// transport takes binary frames (a v3 client's upgrade request has its
    /// own `b64`; Node decides per transport, so a `b64=1` polling client may
    /// upgrade to a binary websocket). Ignored for v4.
    pub fn handle_upgrade_request(&mut self, binary: bool) -> Result<(), Refused> {
        if self.transport != Transport::Polling || self.upgrading {
            return Err(Refused::Busy);
        }
        self.upgrading = true;
        self.upgrade_binary = binary;
        Ok(())
    }

    /// `2probe` arrived on the new websocket: returns the answer to write
    /// there (`3probe`) and queues a noop for a parked GET, which releases
    /// the client's poll.
    pub fn handle_probe(&mut self) -> Control {
        if self.get_active && self.outbox.is_empty() {
            self.push_control(Control::Noop);
        }
        Control::PongProbe
    }

    /// `5` arrived: the websocket is the transport from now on. False when
    /// the session closed meanwhile (the upgrade fails).
    pub fn handle_upgrade(&mut self) -> bool {
        if self.closed.is_some() {
            return false;
        }
        self.transport = Transport::WebSocket;
        self.upgrading = false;
        if self.config.protocol.is_v3() {
            self.config.protocol = Protocol::V3 {
                binary: self.upgrade_binary,
            };
        }
        true
    }

    /// The probe failed (timeout, bad packet, closed socket): polling stays.
    pub fn handle_upgrade_failed(&mut self) {
        self.upgrading = false;
    }

    /// Whether a closing websocket first flushes what is queued (a
    /// DISCONNECT, say): not when the peer is gone or cannot keep up.
    pub fn flushes_on_close(&self) -> bool {
        !matches!(
            self.closed,
            Some(
                CloseReason::SlowConsumer
                    | CloseReason::TransportError
                    | CloseReason::TransportClose
            )
        )
    }
}

//! Literal wire vectors and hand-advanced time.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::*;

/// A test queue item: a control packet or a polling-encoded text packet
/// whose websocket size is its length plus a 2-byte frame header.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Control(Control),
    Text(&'static str),
    Bin(&'static [u8]),
}

impl QueueItem for Item {
    fn control(c: Control) -> Self {
        Self::Control(c)
    }
    fn wire_len(&self) -> usize {
        match self {
            Self::Control(c) => c.ws_frame().len(),
            Self::Text(t) => 2 + t.len(),
            Self::Bin(b) => 2 + b.len(),
        }
    }
    fn write_polling(&self, w: &mut PayloadWriter<'_>) {
        match self {
            Self::Control(c) => w.push_encoded(c.text()),
            Self::Text(t) => w.push_encoded(t.as_bytes()),
            Self::Bin(b) => w.push(&Packet::Binary(Bytes::from_static(b))),
        }
    }
    fn has_binary(&self) -> bool {
        matches!(self, Self::Bin(_))
    }
}

const INTERVAL: Duration = Duration::from_millis(25_000);
const TIMEOUT: Duration = Duration::from_millis(20_000);
const NS: Duration = Duration::from_nanos(1);

/// An arbitrary origin of hand-advanced time: the only clock read in this
/// crate (std has no other way to make an `Instant`); every other instant
/// is `origin() + d`, so nothing depends on the real clock.
fn origin() -> Instant {
    Instant::now()
}

fn config(connect: Option<Duration>, max: usize) -> SessionConfig {
    SessionConfig {
        ping_interval: INTERVAL,
        ping_timeout: TIMEOUT,
        connect_timeout: connect,
        max_buffered_bytes: max,
        protocol: Protocol::V4,
    }
}

fn session(transport: Transport) -> (Session<Item>, Instant) {
    let t0 = origin();
    (Session::new(config(None, 1 << 20), transport, t0), t0)
}

fn payload(s: &mut Session<Item>) -> Vec<u8> {
    let mut out = BytesMut::new();
    s.poll_payload(&mut out);
    out.to_vec()
}

fn events(s: &mut Session<Item>) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

#[test]
fn heartbeat_fires_at_exact_instants() {
    let (mut s, t0) = session(Transport::WebSocket);
    let ping = t0 + INTERVAL;
    assert_eq!(s.poll_timeout(), Some(ping));
    s.handle_timeout(ping - NS);
    assert!(s.queued().is_empty());
    s.handle_timeout(ping);
    assert_eq!(s.poll_transmit(), Some(Item::Control(Control::Ping)));
    assert_eq!(Control::Ping.ws_frame(), b"\x81\x012");
    let deadline = ping + TIMEOUT;
    assert_eq!(s.poll_timeout(), Some(deadline));
    s.handle_timeout(deadline - NS);
    assert_eq!(events(&mut s), vec![]);
    s.handle_timeout(deadline);
    assert_eq!(events(&mut s), vec![Event::Close(CloseReason::PingTimeout)]);
    assert_eq!(s.poll_timeout(), None, "disarmed once the close is asked");
    s.handle_timeout(deadline + INTERVAL);
    assert_eq!(events(&mut s), vec![], "asked once");
    assert!(s.handle_close(CloseReason::PingTimeout));
    assert!(!s.handle_close(CloseReason::TransportClose), "idempotent");
    assert_eq!(s.closed(), Some(CloseReason::PingTimeout));
}

#[test]
fn pong_rearms_the_next_ping_from_its_arrival() {
    let (mut s, t0) = session(Transport::WebSocket);
    let ping = t0 + INTERVAL;
    s.handle_timeout(ping);
    let pong = ping + Duration::from_millis(7);
    s.handle_packet(pong, Packet::decode_text(Bytes::from_static(b"3")).unwrap());
    assert_eq!(s.poll_timeout(), Some(pong + INTERVAL));
    s.handle_timeout(ping + TIMEOUT);
    assert_eq!(events(&mut s), vec![], "the old pong deadline is gone");
    // A pong without a ping moves nothing.
    s.handle_packet(pong + NS, Packet::Pong(Bytes::new()));
    assert_eq!(s.poll_timeout(), Some(pong + INTERVAL));
}

#[test]
fn connect_deadline_is_exact_and_fires_once() {
    let t0 = origin();
    let connect = Duration::from_millis(45_000);
    let mut s: Session<Item> = Session::new(config(Some(connect), 1 << 20), Transport::Polling, t0);
    assert_eq!(
        s.poll_timeout(),
        Some(t0 + INTERVAL),
        "the ping comes first"
    );
    s.handle_timeout(t0 + INTERVAL);
    s.handle_packet(t0 + INTERVAL, Packet::Pong(Bytes::new()));
    assert_eq!(s.poll_timeout(), Some(t0 + connect));
    s.handle_timeout(t0 + connect - NS);
    assert_eq!(events(&mut s), vec![]);
    s.handle_timeout(t0 + connect);
    assert_eq!(events(&mut s), vec![Event::ConnectDeadline]);
    assert_eq!(s.poll_timeout(), Some(t0 + INTERVAL + INTERVAL));
    s.handle_timeout(t0 + connect + NS);
    assert_eq!(events(&mut s), vec![]);
}

#[test]
fn raw_engine_session_has_no_connect_deadline() {
    let (s, t0) = session(Transport::Polling);
    assert_eq!(s.poll_timeout(), Some(t0 + INTERVAL));
}

#[test]
fn upgrade_sequence_2probe_3probe_5() {
    let (mut s, _) = session(Transport::Polling);
    // A long-poll GET is parked with nothing to send.
    assert_eq!(s.handle_get(), Ok(()));
    assert_eq!(s.poll_get(), None);
    // GET ?transport=websocket&sid=…: the 101 is sent, the probe starts.
    assert_eq!(s.handle_upgrade_request(true), Ok(()));
    assert_eq!(s.handle_upgrade_request(true), Err(Refused::Busy));
    // Volatile packets are dropped while upgrading.
    assert_eq!(s.push(Item::Text("4v"), true), Push::Dropped);
    // `2probe` → `3probe` on the websocket, `6` to the parked GET.
    let probe = Packet::decode_text(Bytes::from_static(b"2probe")).unwrap();
    assert_eq!(probe, Packet::Ping(Bytes::from_static(b"probe")));
    assert_eq!(s.handle_probe().ws_frame(), b"\x81\x063probe");
    assert_eq!(s.poll_get(), Some(GetAnswer::Data));
    assert_eq!(payload(&mut s), b"6");
    s.handle_get_done();
    // The client polls once more while pausing: answered at once with `6`.
    assert_eq!(s.handle_get(), Ok(()));
    assert_eq!(s.poll_get(), Some(GetAnswer::Data));
    assert_eq!(payload(&mut s), b"6");
    s.handle_get_done();
    // A GET still parked when `5` arrives is answered `6` (Upgraded).
    assert_eq!(s.handle_get(), Ok(()));
    assert_eq!(s.queued().len(), 1);
    assert_eq!(payload(&mut s), b"6");
    assert_eq!(s.poll_get(), None);
    assert_eq!(
        Packet::decode_text(Bytes::from_static(b"5")),
        Ok(Packet::Upgrade)
    );
    assert!(s.handle_upgrade());
    assert_eq!(s.transport(), Transport::WebSocket);
    assert_eq!(s.poll_get(), Some(GetAnswer::Upgraded));
    s.handle_get_done();
    assert_eq!(s.handle_upgrade_request(true), Err(Refused::Busy));
    // Messages now go to the websocket queue.
    assert_eq!(s.push(Item::Text("4hello"), false), Push::Queued);
    assert_eq!(s.poll_transmit(), Some(Item::Text("4hello")));
}

#[test]
fn failed_probe_keeps_polling() {
    let (mut s, _) = session(Transport::Polling);
    assert_eq!(s.handle_upgrade_request(true), Ok(()));
    s.handle_upgrade_failed();
    assert!(!s.is_upgrading());
    assert_eq!(s.handle_upgrade_request(true), Ok(()));
    assert!(s.handle_close(CloseReason::TransportClose));
    assert!(!s.handle_upgrade(), "a closed session does not upgrade");
}

#[test]
fn overlapping_requests_are_refused() {
    let (mut s, _) = session(Transport::Polling);
    assert_eq!(s.handle_get(), Ok(()));
    assert_eq!(s.handle_get(), Err(Refused::Overlap));
    assert_eq!(s.handle_post(), Ok(()));
    assert_eq!(s.handle_post(), Err(Refused::Overlap));
    s.handle_post_done();
    assert_eq!(s.handle_post(), Ok(()));
}

#[test]
fn slow_consumer_limit_and_accounting() {
    let t0 = origin();
    // "4hello" is 8 websocket bytes; the bound holds two of them.
    let mut s: Session<Item> = Session::new(config(None, 16), Transport::WebSocket, t0);
    assert_eq!(s.push(Item::Text("4hello"), false), Push::Queued);
    assert_eq!(
        s.push(Item::Text("4hello"), true),
        Push::Dropped,
        "volatile: busy"
    );
    assert_eq!(s.push(Item::Text("4hello"), false), Push::Queued);
    assert_eq!(s.queued_bytes(), 16);
    assert_eq!(s.push(Item::Text("4"), false), Push::Overflow);
    assert_eq!(s.queued_bytes(), 16, "a refused push queues nothing");
    s.handle_sent(1);
    assert_eq!(s.queued_bytes(), 8);
    assert_eq!(s.queued().len(), 1);
    // The ping itself overflowing asks for a slow-consumer close.
    assert_eq!(s.push(Item::Text("4abcde"), false), Push::Queued);
    assert_eq!(s.queued_bytes(), 16);
    s.handle_timeout(t0 + INTERVAL);
    assert_eq!(
        events(&mut s),
        vec![Event::Close(CloseReason::SlowConsumer)]
    );
    s.clear_queue();
    assert_eq!(s.queued_bytes(), 0);
    assert!(s.queued().is_empty());
}

#[test]
fn volatile_on_polling_needs_a_parked_get() {
    let (mut s, _) = session(Transport::Polling);
    assert_eq!(s.push(Item::Text("4v"), true), Push::Dropped);
    s.handle_get().unwrap();
    assert_eq!(s.push(Item::Text("4v"), true), Push::Queued);
    assert_eq!(s.push(Item::Text("4w"), true), Push::Dropped);
    assert_eq!(payload(&mut s), b"4v");
    assert_eq!(s.queued_bytes(), 0);
}

#[test]
fn polling_payload_vectors() {
    let (mut s, _) = session(Transport::Polling);
    s.push(Item::Text("4hello"), false);
    s.push_control(Control::Ping);
    s.push(Item::Text("4world"), false);
    assert_eq!(payload(&mut s), b"4hello\x1e2\x1e4world");
    // A server-side close: the last packets alone, then the close packet
    // on the next GET (never both in one payload).
    s.push(Item::Text("41"), false);
    assert!(s.handle_close(CloseReason::ForcedServerClose));
    assert_eq!(s.poll_get(), Some(GetAnswer::Data));
    assert_eq!(payload(&mut s), b"41");
    assert_eq!(s.poll_get(), Some(GetAnswer::Closed));
    assert_eq!(s.push(Item::Text("4late"), false), Push::Closed);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn client_close_answers_a_parked_get_with_noop() {
    let (mut s, t0) = session(Transport::Polling);
    s.handle_get().unwrap();
    s.handle_packet(t0, Packet::decode_text(Bytes::from_static(b"1")).unwrap());
    assert_eq!(
        events(&mut s),
        vec![Event::Close(CloseReason::TransportClose)]
    );
    assert!(s.handle_close(CloseReason::TransportClose));
    assert_eq!(payload(&mut s), b"6", "no close packet: the client closed");
}

#[test]
fn inbound_packets_become_events() {
    let (mut s, t0) = session(Transport::WebSocket);
    s.handle_packet(t0, Packet::decode_text(Bytes::from_static(b"4hi")).unwrap());
    s.handle_packet(t0, Packet::decode_binary(Bytes::from_static(&[1, 2])));
    s.handle_packet(t0, Packet::decode_text(Bytes::from_static(b"6")).unwrap());
    assert_eq!(
        events(&mut s),
        vec![
            Event::Message(crate::Utf8Bytes::from_static("hi")),
            Event::Binary(Bytes::from_static(&[1, 2]))
        ]
    );
    // A client ping is a protocol error in v4.
    s.handle_packet(t0, Packet::decode_text(Bytes::from_static(b"2")).unwrap());
    assert_eq!(
        events(&mut s),
        vec![Event::Close(CloseReason::TransportError)]
    );
    assert!(s.handle_close(CloseReason::TransportError));
    assert!(!s.flushes_on_close());
    s.handle_packet(t0, Packet::decode_text(Bytes::from_static(b"4x")).unwrap());
    assert_eq!(events(&mut s), vec![], "nothing after close");
}

fn session_v3(binary: bool) -> (Session<Item>, Instant) {
    let t0 = origin();
    let config = SessionConfig {
        protocol: Protocol::V3 { binary },
        ..config(None, 1 << 20)
    };
    (Session::new(config, Transport::Polling, t0), t0)
}

#[test]
fn v3_client_pings_and_the_server_pongs() {
    let (mut s, t0) = session_v3(true);
    let deadline = t0 + INTERVAL + TIMEOUT;
    // No server ping, ever: the only deadline is the client's ping.
    assert_eq!(s.poll_timeout(), Some(deadline));
    s.handle_timeout(t0 + INTERVAL);
    assert!(s.queued().is_empty());
    let t1 = t0 + INTERVAL;
    s.handle_packet(t1, Packet::Ping(Bytes::new()));
    assert_eq!(payload(&mut s), b"1:3");
    assert_eq!(s.poll_timeout(), Some(t1 + INTERVAL + TIMEOUT));
    s.handle_timeout(deadline);
    assert!(events(&mut s).is_empty());
    s.handle_timeout(t1 + INTERVAL + TIMEOUT - NS);
    assert!(events(&mut s).is_empty());
    s.handle_timeout(t1 + INTERVAL + TIMEOUT);
    assert_eq!(events(&mut s), vec![Event::Close(CloseReason::PingTimeout)]);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn v3_client_pong_is_an_error() {
    let (mut s, t0) = session_v3(true);
    s.handle_packet(t0, Packet::Pong(Bytes::new()));
    assert_eq!(
        events(&mut s),
        vec![Event::Close(CloseReason::TransportError)]
    );
}

#[test]
fn v3_payload_formats() {
    let (mut s, _) = session_v3(true);
    s.push(Item::Text("40"), false);
    s.push(Item::Text("42[\"a\"]"), false);
    assert_eq!(s.payload_format(), Format::V3Text);
    assert_eq!(payload(&mut s), b"2:407:42[\"a\"]");
    s.push(
        Item::Text("451-[\"b\",{\"_placeholder\":true,\"num\":0}]"),
        false,
    );
    s.push(Item::Bin(&[1, 2]), false);
    assert_eq!(s.payload_format(), Format::V3Binary);
    let mut want = vec![0u8, 3, 9, 0xff];
    want.extend_from_slice(b"451-[\"b\",{\"_placeholder\":true,\"num\":0}]");
    want.extend_from_slice(&[1, 3, 0xff, 4, 1, 2]);
    assert_eq!(payload(&mut s), want);
    let (mut s, _) = session_v3(false);
    s.push(Item::Bin(&[1, 2, 3]), false);
    assert_eq!(s.payload_format(), Format::V3Text);
    assert_eq!(payload(&mut s), b"6:b4AQID");
    s.handle_close(CloseReason::ForcedServerClose);
    // The close packet is the GET's whole answer (`1:1`, written by the
    // driver), never a payload's tail.
    assert_eq!(s.poll_get(), Some(GetAnswer::Closed));
    assert_eq!(payload(&mut s), b"");
}

#[test]
fn v3_upgrade_takes_the_websocket_binary_support() {
    let (mut s, _) = session_v3(false);
    assert_eq!(s.handle_upgrade_request(true), Ok(()));
    assert_eq!(s.protocol(), Protocol::V3 { binary: false });
    assert!(s.handle_upgrade());
    assert_eq!(s.protocol(), Protocol::V3 { binary: true });
}

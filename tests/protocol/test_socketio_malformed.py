"""Malformed Socket.IO packets close the Engine.IO connection; benign oddities do not."""

import time

import pytest

from wire import eio_client, sio_connect

CLOSING = {
    "unknown-type-abc": "4abc",
    "unknown-type-9": "99",
    "unknown-type-7": "7",
    "object-payload": "42{}",
    "invalid-ack-id": '42abc["message-with-ack",1,"2",{"3":[false]}]',
    "truncated-json": "42abc[",
    "unterminated-array": '42["x"',
    "empty-array": "42[]",
    "null-event-name": "42[null]",
    "object-event-name": '42[{"a":1}]',
    "missing-type": "4",
    "connect-string-auth": '40"str"',
    "connect-array-auth": "40[1]",
    "connect-garbage-auth": "40/custom,abc",
    "client-connect-error": '44{"message":"x"}',
    "bad-attachment-count": '4x-["message"]',
    "event-for-unjoined-nsp": '42/nope,["x"]',
}


@pytest.mark.parametrize("packet", list(CLOSING.values()), ids=list(CLOSING.keys()))
def test_malformed_packet_closes_connection(transport, packet):
    c = eio_client(transport)
    sio_connect(c)
    c.send(packet)
    assert c.expect_closed(timeout=1.5) == []


@pytest.mark.parametrize("packet", ["4abc", "42{}", "99"])
def test_malformed_packet_before_connect_closes_connection(transport, packet):
    c = eio_client(transport)
    t0 = time.monotonic()
    c.send(packet)
    assert c.expect_closed(timeout=1.5) == []
    assert time.monotonic() - t0 < 0.5  # right away, not through the 1 s connect timeout


def test_text_packet_while_waiting_for_attachments_closes_connection(transport):
    c = eio_client(transport)
    sio_connect(c)
    c.send('451-["message",{"_placeholder":true,"num":0}]')
    c.send('42["message",1]')
    assert c.expect_closed(timeout=1.5) == []


def test_event_before_connect_closes_connection(transport):
    c = eio_client(transport)
    t0 = time.monotonic()
    c.send('42["message",1]')
    assert c.expect_closed(timeout=1.5) == []
    assert time.monotonic() - t0 < 0.5

"""conformance-app-2.md section 11 with python-socketio's msgpack serializer
(`socketio.Client(serializer="msgpack")`, compatible with socket.io-msgpack-parser).

Runs only against a server started with `--parser msgpack` (RINGCAST_PARSER=msgpack, set by
tests/completeness.rs); skipped otherwise, so the default client suites are unchanged.
"""

import os

import pytest

from conftest import Client, _SocketIOClient, uid

pytestmark = pytest.mark.skipif(
    os.environ.get("RINGCAST_PARSER") != "msgpack", reason="needs a --parser msgpack server"
)


class MsgpackClient(Client):
    def __init__(self, transport, namespaces=("/",), auth=None):
        super().__init__(transport, namespaces, auth)
        self.sio = _SocketIOClient(reconnection=False, serializer="msgpack")
        for ns in self.namespaces:
            self._register(ns)


@pytest.fixture
def mp(transport):
    made = []

    def make(namespaces=("/",), auth=None):
        c = MsgpackClient(transport, namespaces, auth).connect()
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def test_echo_with_binary_at_depth(mp):
    c = mp(namespaces=("/custom",))
    reply = c.ack("echo", "hi", b"\x01\x02", {"n": [1, {"b": b"\x03"}]}, ns="/custom")
    assert reply == ["hi", b"\x01\x02", {"n": [1, {"b": b"\x03"}]}]


def test_broadcast_between_two_clients(mp):
    a, b = mp(), mp()
    room = uid()
    assert a.ack("join", room) == [True]
    assert b.ack("join", room) == [True]
    a.emit("broadcast", room, "news", {"bin": b"\x09\x08", "x": 1.5})
    for c in (a, b):
        (args,) = c.wait_event("news")
        assert args == [{"bin": b"\x09\x08", "x": 1.5}]


def test_invalid_namespace(transport):
    c = MsgpackClient(transport, namespaces=("/nope",))
    try:
        with pytest.raises(Exception):
            c.connect()
    finally:
        c.close()

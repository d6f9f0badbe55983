"""Engine.IO v4 upgrade from long-polling to websocket (both paths)."""

import re
import time

import pytest

from wire import (OP_CLOSE, OP_TEXT, Background, ConnectionClosed, EioPolling, EioWebSocket,
                  eio_query, ws_connect)

PATHS = ["/engine.io/", "/socket.io/"]
CONNECT_RE = re.compile(r'^40\{"sid":"[A-Za-z0-9_-]{20}"\}\x1e42\["auth",\{\}\]$')


def _fresh_window(c: EioPolling):
    """Wait for a server ping and answer it, so ~300 ms pass before the next one."""
    r = c.get()
    assert r.body == b"2", r.body
    assert c.post("3").body == b"ok"


def _polling_session(path):
    c = EioPolling(path)
    if path == "/socket.io/":
        assert c.post("40").body == b"ok"
        time.sleep(0.05)
        r = c.get()
        assert CONNECT_RE.match(r.text), r.text
    _fresh_window(c)
    return c


def _assert_ws_rejected(path):
    """Node answers 101 and closes right away; a plain HTTP error is accepted too."""
    resp, ws, rest = ws_connect(path)
    if ws is None:
        assert resp.status >= 400 or resp.status == 0, resp.status
        return
    f = ws.recv_frame(timeout=2)
    assert f.opcode == OP_CLOSE, f
    ws.close()


def _roundtrip(path, ws_client):
    if path == "/engine.io/":
        ws_client.send("4hello")
        assert ws_client.recv() == "4hello"
    else:
        ws_client.send('42["message","over ws"]')
        assert ws_client.recv() == '42["message-back","over ws"]'


@pytest.mark.parametrize("path", PATHS)
def test_full_upgrade(path):
    c = _polling_session(path)
    pending = Background(c.get)
    time.sleep(0.03)
    u = EioWebSocket(path, sid=c.sid)
    assert u.response.status == 101
    u.send("2probe")
    assert u.recv() == "3probe"
    # the pending long-poll is released with a noop so the client can pause polling
    r = pending.join(timeout=2)
    assert (r.status, r.body) == (200, b"6")
    u.send("5")
    time.sleep(0.05)
    _roundtrip(path, u)


@pytest.mark.parametrize("path", PATHS)
def test_polling_rejected_after_upgrade(path):
    c = _polling_session(path)
    u = EioWebSocket(path, sid=c.sid)
    u.send("2probe")
    assert u.recv() == "3probe"
    u.send("5")
    time.sleep(0.1)
    r = c.get()
    assert r.status == 400
    assert r.header("content-type") == "application/json"
    assert r.body == b'{"code":3,"message":"Bad request"}'
    r = c.post("4x")
    assert r.status == 400
    assert r.body == b'{"code":3,"message":"Bad request"}'
    # the upgraded session itself is unaffected
    _roundtrip(path, u)


@pytest.mark.parametrize("path", PATHS)
def test_second_websocket_rejected_after_upgrade(path):
    c = _polling_session(path)
    u = EioWebSocket(path, sid=c.sid)
    u.send("2probe")
    assert u.recv() == "3probe"
    u.send("5")
    time.sleep(0.05)
    _assert_ws_rejected(eio_query(path, "websocket", c.sid))
    _roundtrip(path, u)


def test_second_websocket_rejected_during_upgrade():
    c = _polling_session("/engine.io/")
    u = EioWebSocket("/engine.io/", sid=c.sid)
    time.sleep(0.05)
    _assert_ws_rejected(eio_query("/engine.io/", "websocket", c.sid))
    u.send("2probe")
    assert u.recv() == "3probe"


def test_messages_keep_flowing_over_polling_until_upgrade_completes():
    c = _polling_session("/engine.io/")
    u = EioWebSocket("/engine.io/", sid=c.sid)
    u.send("2probe")
    assert u.recv() == "3probe"
    assert c.post("4during").body == b"ok"
    time.sleep(0.05)
    r = c.get()
    assert (r.status, r.body) == (200, b"4during")
    u.send("5")
    time.sleep(0.05)
    u.send("4after")
    assert u.recv() == "4after"


def test_packets_buffered_before_upgrade_are_flushed_on_websocket():
    c = _polling_session("/engine.io/")
    u = EioWebSocket("/engine.io/", sid=c.sid)
    u.send("2probe")
    assert u.recv() == "3probe"
    # sent while no GET is pending: buffered by the server, then flushed on the new transport
    assert c.post("4buffered").body == b"ok"
    time.sleep(0.05)
    u.send("5")
    assert u.recv() == "4buffered"


def test_websocket_upgrade_for_unknown_sid_is_400():
    resp, ws, body = ws_connect("/engine.io/?EIO=4&transport=websocket&sid=doesnotexist00000000")
    assert ws is None
    assert resp.status == 400
    assert body == b"Session ID unknown"


def test_heartbeat_moves_to_websocket_after_upgrade():
    c = _polling_session("/engine.io/")
    u = EioWebSocket("/engine.io/", sid=c.sid, autopong=False)
    u.send("2probe")
    assert u.recv() == "3probe"
    u.send("5")
    assert u.recv(timeout=1) == "2"
    u.send("3")
    assert u.recv(timeout=1) == "2"

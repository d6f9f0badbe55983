"""Engine.IO v4 heartbeat: server PING every pingInterval, close without PONG within pingTimeout."""

import time

import pytest

from wire import EioPolling, EioWebSocket

ECHO = "/engine.io/"


def test_websocket_first_ping_after_ping_interval():
    c = EioWebSocket(ECHO, autopong=False)
    t0 = time.monotonic()
    assert c.recv(timeout=2) == "2"
    dt = time.monotonic() - t0
    assert 0.2 <= dt <= 0.6, dt


def test_websocket_closed_after_ping_timeout_without_pong():
    c = EioWebSocket(ECHO, autopong=False)
    assert c.recv(timeout=2) == "2"
    t0 = time.monotonic()
    assert c.expect_closed(timeout=2) == []
    dt = time.monotonic() - t0
    assert 0.1 <= dt <= 0.6, dt


def test_websocket_pongs_keep_the_session_alive():
    c = EioWebSocket(ECHO)  # answers every "2" with "3"
    c.assert_silent(1.1)
    assert c.pings >= 3
    c.send("4alive")
    assert c.recv() == "4alive"


@pytest.mark.parametrize("path", ["/engine.io/", "/socket.io/"])
def test_polling_ping_is_delivered_on_get(path):
    c = EioPolling(path)
    t0 = time.monotonic()
    r = c.get()
    assert r.status == 200
    assert r.body == b"2"
    assert time.monotonic() - t0 <= 0.6


def test_polling_pong_keeps_session_alive_over_several_cycles():
    c = EioPolling(ECHO)
    for _ in range(3):
        r = c.get()
        assert (r.status, r.body) == (200, b"2")
        assert c.post("3").body == b"ok"
    assert c.post("4still").body == b"ok"
    time.sleep(0.05)
    assert c.get().body == b"4still"


@pytest.mark.parametrize("path", ["/engine.io/", "/socket.io/"])
def test_polling_session_closed_after_ping_timeout(path):
    c = EioPolling(path)
    r = c.get()
    assert r.body == b"2"
    time.sleep(0.4)  # > pingTimeout, no pong
    r = c.get()
    assert r.status == 400
    assert r.header("content-type") == "application/json"
    assert r.body == b'{"code":1,"message":"Session ID unknown"}'
    r = c.post("3")
    assert r.status == 400
    assert r.body == b'{"code":1,"message":"Session ID unknown"}'

"""Engine.IO v4 handshake on both paths (raw echo /engine.io/ and /socket.io/)."""

import json
import re

import pytest

from wire import SID_RE, EioWebSocket, http, ws_connect

PATHS = ["/engine.io/", "/socket.io/"]

OPEN_POLLING_RE = re.compile(
    r'^0\{"sid":"([A-Za-z0-9_-]{20})","upgrades":\["websocket"\],'
    r'"pingInterval":300,"pingTimeout":200,"maxPayload":1000000\}$')
OPEN_WS_RE = re.compile(
    r'^0\{"sid":"([A-Za-z0-9_-]{20})","upgrades":\[\],'
    r'"pingInterval":300,"pingTimeout":200,"maxPayload":1000000\}$')


@pytest.mark.parametrize("path", PATHS)
def test_polling_handshake_exact_open_packet(path):
    r = http("GET", f"{path}?EIO=4&transport=polling")
    assert r.status == 200
    assert OPEN_POLLING_RE.match(r.text), r.text
    # key order is part of the wire contract (Node's JSON.stringify order)
    assert list(json.loads(r.text[1:]).keys()) == [
        "sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]
    assert r.header("content-type") == "text/plain; charset=UTF-8"
    assert r.header("content-length") == str(len(r.body))
    assert r.header("cache-control") == "no-store"


@pytest.mark.parametrize("path", PATHS)
def test_polling_handshake_sids_are_unique(path):
    sids = set()
    for _ in range(5):
        r = http("GET", f"{path}?EIO=4&transport=polling")
        sid = json.loads(r.text[1:])["sid"]
        assert SID_RE.match(sid), sid
        sids.add(sid)
    assert len(sids) == 5


@pytest.mark.parametrize("path", PATHS)
def test_polling_handshake_ignores_extra_query_params(path):
    # clients add a cache-busting "t" parameter (and may add arbitrary ones)
    r = http("GET", f"{path}?EIO=4&transport=polling&t=PXa1b2c&foo=bar")
    assert r.status == 200
    assert OPEN_POLLING_RE.match(r.text), r.text


@pytest.mark.parametrize("path", PATHS)
def test_websocket_handshake_open_packet_has_no_upgrades(path):
    c = EioWebSocket(path)
    assert OPEN_WS_RE.match(c.open_raw), c.open_raw
    assert c.response.header("upgrade").lower() == "websocket"
    assert c.response.header("sec-websocket-accept")


@pytest.mark.parametrize("path", PATHS)
def test_websocket_open_packet_is_a_single_text_frame(path):
    resp, ws, _ = ws_connect(f"{path}?EIO=4&transport=websocket")
    assert resp.status == 101
    f = ws.recv_frame(timeout=3)
    assert f.opcode == 0x1
    assert OPEN_WS_RE.match(f.payload.decode()), f.payload
    ws.close()

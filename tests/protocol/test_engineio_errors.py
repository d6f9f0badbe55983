"""Engine.IO v4 request errors: exact status codes and JSON bodies."""

import pytest

from wire import OP_TEXT, http, ws_connect

PATHS = ["/engine.io/", "/socket.io/"]


def _assert_error(r, code, message):
    assert r.status == 400, (r.status, r.body)
    assert r.header("content-type") == "application/json"
    assert r.body == ('{"code":%d,"message":"%s"}' % (code, message)).encode()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("query", ["EIO=4&transport=foo", "EIO=4", "EIO=4&transport=webtransport"],
                         ids=["unknown", "missing", "webtransport"])
def test_unknown_transport(path, query):
    _assert_error(http("GET", f"{path}?{query}"), 0, "Transport unknown")


@pytest.mark.parametrize("path", PATHS)
def test_unknown_sid(path):
    _assert_error(http("GET", f"{path}?EIO=4&transport=polling&sid=abcdefghijklmnopqrst"),
                  1, "Session ID unknown")
    _assert_error(http("POST", f"{path}?EIO=4&transport=polling&sid=abcdefghijklmnopqrst", body="4x"),
                  1, "Session ID unknown")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_handshake_must_be_get(path, method):
    _assert_error(http(method, f"{path}?EIO=4&transport=polling", body="4x"), 2, "Bad handshake method")


@pytest.mark.parametrize("path", PATHS)
def test_plain_get_with_transport_websocket_is_bad_request(path):
    _assert_error(http("GET", f"{path}?EIO=4&transport=websocket"), 3, "Bad request")


@pytest.mark.parametrize("path", PATHS)
def test_polling_request_for_websocket_session_is_bad_request(path):
    resp, ws, _ = ws_connect(f"{path}?EIO=4&transport=websocket")
    import json
    sid = json.loads(ws.recv_frame().payload[1:])["sid"]
    _assert_error(http("GET", f"{path}?EIO=4&transport=polling&sid={sid}"), 3, "Bad request")
    ws.close()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("query", ["EIO=3&transport=polling", "transport=polling",
                                   "EIO=abc&transport=polling", "EIO=5&transport=polling"],
                         ids=["eio3", "missing", "abc", "eio5"])
def test_unsupported_protocol_version(path, query):
    _assert_error(http("GET", f"{path}?{query}"), 5, "Unsupported protocol version")


@pytest.mark.parametrize("path", PATHS)
def test_transport_checked_before_protocol_version(path):
    _assert_error(http("GET", f"{path}?EIO=3&transport=foo"), 0, "Transport unknown")


# --- websocket upgrade requests --------------------------------------------------------

@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("query", ["EIO=4&transport=foo", "EIO=4"], ids=["unknown", "missing"])
def test_websocket_upgrade_unknown_transport_is_plain_400(path, query):
    resp, ws, body = ws_connect(f"{path}?{query}")
    assert ws is None
    assert resp.status == 400
    assert resp.header("content-type") == "text/html"
    assert body == b"Transport unknown"


@pytest.mark.parametrize("path", PATHS)
def test_websocket_upgrade_unknown_sid_is_plain_400(path):
    resp, ws, body = ws_connect(f"{path}?EIO=4&transport=websocket&sid=abcdefghijklmnopqrst")
    assert ws is None
    assert resp.status == 400
    assert body == b"Session ID unknown"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("query", ["EIO=3&transport=websocket", "transport=websocket",
                                   "EIO=abc&transport=websocket"], ids=["eio3", "missing", "abc"])
def test_websocket_upgrade_bad_protocol_version_never_opens(path, query):
    # Node completes the 101 and then writes a raw "HTTP/1.1 400 ... Unsupported protocol
    # version" into the stream and destroys the socket; a plain HTTP 400 is accepted too.
    # Either way no Engine.IO open packet is ever sent.
    resp, ws, body = ws_connect(f"{path}?{query}")
    if ws is None:
        assert resp.status == 400
        return
    ws.sock.settimeout(2)
    data = ws.reader.read_to_eof()
    assert b'0{"sid"' not in data
    assert ws.reader.eof, "the server must drop the connection"


@pytest.mark.parametrize("path", PATHS)
def test_websocket_upgrade_with_transport_polling_never_opens(path):
    # Node: 101, then an immediate close frame (polling does not handle upgrades)
    resp, ws, body = ws_connect(f"{path}?EIO=4&transport=polling")
    if ws is None:
        assert 400 <= resp.status < 500, (resp.status, resp.body)  # must not open a polling session
        return
    f = ws.recv_frame(timeout=2)
    assert f.opcode != OP_TEXT

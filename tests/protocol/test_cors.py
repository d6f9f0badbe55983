"""CORS as sent by Node with cors: {origin: "*"} (the cors npm package)."""

import pytest

from wire import EioPolling, http, ws_connect

PATHS = ["/engine.io/", "/socket.io/"]
ORIGIN = "http://example.com"


@pytest.mark.parametrize("path", PATHS)
def test_preflight_exact_headers(path):
    r = http("OPTIONS", f"{path}?EIO=4&transport=polling", headers={
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-custom",
    })
    assert r.status == 204
    assert r.body == b""
    assert r.header("access-control-allow-origin") == "*"
    assert r.header("access-control-allow-methods") == "GET,HEAD,PUT,PATCH,POST,DELETE"
    assert r.header("access-control-allow-headers") == "content-type,x-custom"  # reflected
    assert r.header("vary") == "Access-Control-Request-Headers"
    assert r.header("content-length") == "0"
    assert r.header("access-control-allow-credentials") is None
    assert r.header("access-control-max-age") is None


@pytest.mark.parametrize("path", PATHS)
def test_preflight_without_requested_headers(path):
    r = http("OPTIONS", f"{path}?EIO=4&transport=polling", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert r.status == 204
    assert r.header("access-control-allow-origin") == "*"
    assert r.header("access-control-allow-methods") == "GET,HEAD,PUT,PATCH,POST,DELETE"
    assert r.header("access-control-allow-headers") is None
    assert r.header("vary") == "Access-Control-Request-Headers"


@pytest.mark.parametrize("path", PATHS)
def test_preflight_for_existing_or_unknown_sid_is_answered_by_cors(path):
    c = EioPolling(path)
    for sid in [c.sid, "abcdefghijklmnopqrst"]:
        r = http("OPTIONS", f"{path}?EIO=4&transport=polling&sid={sid}", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
        assert r.status == 204
        assert r.header("access-control-allow-origin") == "*"


@pytest.mark.parametrize("path", PATHS)
def test_get_and_post_carry_allow_origin(path):
    r = http("GET", f"{path}?EIO=4&transport=polling", headers={"Origin": ORIGIN})
    assert r.status == 200
    assert r.header("access-control-allow-origin") == "*"
    assert r.header("access-control-allow-credentials") is None
    assert r.header("vary") is None
    c = EioPolling(path)
    r = http("POST", c.url(), body="4x" if path == "/engine.io/" else "40", headers={"Origin": ORIGIN})
    assert r.status == 200
    assert r.header("access-control-allow-origin") == "*"
    r = http("GET", c.url(), headers={"Origin": ORIGIN})
    assert r.status == 200
    assert r.header("access-control-allow-origin") == "*"


@pytest.mark.parametrize("path", PATHS)
def test_allow_origin_sent_even_without_origin_header(path):
    r = http("GET", f"{path}?EIO=4&transport=polling")
    assert r.header("access-control-allow-origin") == "*"


@pytest.mark.parametrize("path", PATHS)
def test_error_responses_carry_allow_origin(path):
    r = http("GET", f"{path}?EIO=4&transport=foo", headers={"Origin": ORIGIN})
    assert r.status == 400
    assert r.header("access-control-allow-origin") == "*"
    r = http("GET", f"{path}?EIO=4&transport=polling&sid=abcdefghijklmnopqrst", headers={"Origin": ORIGIN})
    assert r.status == 400
    assert r.header("access-control-allow-origin") == "*"


@pytest.mark.parametrize("path", PATHS)
def test_websocket_101_carries_allow_origin(path):
    resp, ws, _ = ws_connect(f"{path}?EIO=4&transport=websocket", headers={"Origin": ORIGIN})
    assert resp.status == 101
    assert resp.header("access-control-allow-origin") == "*"
    ws.close()

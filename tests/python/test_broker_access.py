"""The broker with a config file ([auth] + [[namespace]]), driven by python-socketio.

Run by tests/broker_access.rs against the broker it starts (see the config there); skipped in the
conformance runs, which have no RINGCAST_JWT_SECRET. Tokens are HS256, signed here with the
standard library (hmac), as a Python backend would with PyJWT.
"""

import base64
import hashlib
import hmac
import json
import os
import threading
import time

import pytest
import socketio

from conftest import T, uid

SECRET = os.environ.get("RINGCAST_JWT_SECRET")
if not SECRET:
    pytest.skip("needs the broker of tests/broker_access.rs (RINGCAST_JWT_SECRET)", allow_module_level=True)


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token(**claims) -> str:
    body = {"iss": "ringcast-tests", "aud": "ringcast", "exp": int(time.time()) + 600}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    head = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    data = f"{head}.{b64u(json.dumps(body).encode())}"
    sig = hmac.new(SECRET.encode(), data.encode(), hashlib.sha256).digest()
    return f"{data}.{b64u(sig)}"


def test_valid_token_connects_and_gets_its_grants(make_client):
    sub = uid("py")
    c = make_client(auth={"token": token(sub=sub, rooms=["py:{sub}"])})
    assert c.ack("join", "lobby") == [True]
    assert c.ack("join", f"py:{sub}") == [True]
    assert c.ack("join", "py:someone-else") == [{"error": "forbidden"}]
    # The socket is in user:<sub>: a publisher allowed to publish there reaches it.
    p = make_client(auth={"token": token(sub=uid("pub"), publish=["user:*"])})
    assert p.ack("broadcast", f"user:{sub}", "direct", "hi") == [True]
    assert c.wait_event("direct") == [["hi"]]


@pytest.mark.parametrize(
    "auth,reason",
    [
        (None, "missing"),
        ({"token": "garbage"}, "invalid"),
        ({"token": token(iss="other")}, "invalid"),
        ({"token": token(exp=int(time.time()) - 30)}, "expired"),
    ],
)
def test_refused_tokens(make_client, auth, reason):
    c = make_client(auth=auth, connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        c.connect()
    assert c.errors["/"] == {"message": "unauthorized", "data": {"reason": reason}}
    assert "/" not in c.connected_ns


def test_token_expiring_while_connected_disconnects(make_client):
    # Seconds of margin: the token must outlive the connect and the join on a loaded machine.
    exp = int(time.time()) + 5
    c = make_client(auth={"token": token(sub=uid("exp"), exp=exp)}, connect=False)
    gone = threading.Event()
    reasons = []

    def on_disconnect(reason=None):
        reasons.append(reason)
        gone.set()

    c.sio.on("disconnect", on_disconnect, namespace="/")
    c.connect()
    assert c.ack("join", "lobby") == [True]
    assert gone.wait(T + 8), "not disconnected after the token expired"
    assert time.time() >= exp, "disconnected before exp"
    assert reasons == [c.sio.reason.SERVER_DISCONNECT]


def test_forbidden_broadcast_delivers_nothing(make_client):
    a = make_client(auth={"token": token(sub=uid("a"))})
    b = make_client(auth={"token": token(sub=uid("b"))})
    room = uid("public:py")
    for c in (a, b):
        assert c.ack("join", room) == [True]
        assert c.ack("join", "lobby") == [True]
    assert a.ack("broadcast", room, "nope", 1) == [{"error": "forbidden"}]
    marker = uid("marker")
    assert a.ack("broadcast", "lobby", marker, 1) == [True]
    b.wait_event(marker)
    assert b.received("nope") == []

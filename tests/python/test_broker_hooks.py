"""Backend hooks ([proxy]), driven by python-socketio.

Run by tests/broker_hooks.rs against its broker A (RINGCAST_URL: connect and event hooks on the
backend it runs, which answers by the CONNECT auth's `scenario` and by event name) and broker B
(RINGCAST_DOWN_URL: connect hook on a port where nothing listens). Skipped elsewhere.
"""

import os

import pytest
import socketio

from conftest import T, uid

if not os.environ.get("RINGCAST_HOOKS"):
    pytest.skip("needs the brokers of tests/broker_hooks.rs (RINGCAST_HOOKS)", allow_module_level=True)

DOWN = os.environ["RINGCAST_DOWN_URL"]
UNAVAILABLE = {"error": "unavailable"}


def test_accepted_connect_gets_rooms_user_and_patterns(make_client):
    c = make_client(auth={"scenario": "accept"}, connect=False)
    c.sio.connect(
        os.environ["RINGCAST_URL"] + "/?who=a+b",
        transports=[c.transport],
        auth=c.auth,
        wait_timeout=T,
    )
    c.wait_for(lambda: "/" in c.connected_ns, "connect")
    assert c.ack("join", "extra:py") == [True]
    assert c.ack("join", "nope") == [{"error": "forbidden"}]
    sid = c.sio.get_sid("/")
    assert c.ack("echo", "hi") == [{"args": ["hi"], "user": "alice", "nsp": "/", "sid": sid, "sid_seen_at_connect": True}]
    room = "hooked:room"
    p = make_client(auth={"scenario": "accept"}, connect=False)
    p.sio.connect(os.environ["RINGCAST_URL"] + "/?who=a+b", transports=[p.transport], auth=p.auth, wait_timeout=T)
    p.wait_for(lambda: "/" in p.connected_ns, "connect")
    marker = uid("py")
    assert p.ack("broadcast_others", room, marker, 1) == [True]
    assert c.wait_event(marker) == [[1]]


@pytest.mark.parametrize("scenario,reason", [("refuse", "banned"), ("deny", "denied"), ("malformed", "unavailable")])
def test_refusals_carry_the_reason(make_client, scenario, reason):
    c = make_client(auth={"scenario": scenario}, connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        c.connect()
    assert c.errors["/"] == {"message": "unauthorized", "data": {"reason": reason}}


def test_event_hook_acks_and_failures(make_client):
    c = make_client()
    sid = c.sio.get_sid("/")
    assert c.ack("echo", 1, [2]) == [{"args": [1, [2]], "user": None, "nsp": "/", "sid": sid, "sid_seen_at_connect": True}]
    assert c.ack("chunked") == ["chunked ok"]
    assert c.ack("fail") == [UNAVAILABLE]
    assert c.ack("garbage") == [UNAVAILABLE]


def test_backend_down_refuses_with_unavailable(transport):
    errors = []
    sio = socketio.Client(reconnection=False)
    sio.on("connect_error", lambda data=None: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(DOWN, transports=[transport], wait_timeout=T)
    assert errors == [{"message": "unauthorized", "data": {"reason": "unavailable"}}]

"""python-socketio client against the ringcast conformance app (websocket and polling)."""

import json

import pytest
import socketio

from conftest import T, fence, uid

pytestmark = pytest.mark.timeout(60)


# --- connect / auth / namespaces -------------------------------------------------------------


def test_connect_root_auth_event_empty(make_client):
    c = make_client()
    assert c.sio.connected
    assert c.sio.get_sid("/")
    assert c.wait_event("auth") == [[{}]]


def test_auth_event_echoes_payload_with_key_order(make_client):
    auth = {"token": "123", "z": 1, "a": [1, "x", {"c": None, "b": True}]}
    c = make_client(auth=auth)
    [[got]] = c.wait_event("auth")
    assert got == auth
    assert json.dumps(got) == json.dumps(auth)


def test_connect_custom(make_client):
    c = make_client(namespaces=["/custom"], auth={"token": "abc"})
    assert c.wait_event("auth", ns="/custom") == [[{"token": "abc"}]]
    assert c.ack("echo", 1, "two", {"three": 3}, ns="/custom") == [1, "two", {"three": 3}]
    assert c.ack("echo", b"\x00\x01", {"b": b""}, ns="/custom") == [b"\x00\x01", {"b": b""}]


def test_multiplexed_root_and_custom(make_client):
    c = make_client(namespaces=["/", "/custom"], auth={"token": "m"})
    assert c.wait_event("auth", ns="/") == [[{"token": "m"}]]
    assert c.wait_event("auth", ns="/custom") == [[{"token": "m"}]]
    assert c.ack("echo", "root") == ["root"]
    assert c.ack("echo", "custom", ns="/custom") == ["custom"]


def test_admin_with_token(make_client):
    c = make_client(namespaces=["/admin"], auth={"token": "secret"})
    assert "/admin" in c.connected_ns
    assert c.sio.get_sid("/admin")


@pytest.mark.parametrize("auth", [None, {"token": "wrong"}, {"tok": "secret"}])
def test_admin_refused(make_client, auth):
    c = make_client(namespaces=["/admin"], auth=auth, connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        c.connect()
    assert c.errors["/admin"] == {"message": "unauthorized"}
    assert "/admin" not in c.connected_ns


def test_admin_refusal_does_not_affect_root_on_same_connection(make_client):
    c = make_client(namespaces=["/", "/admin"], connect=False)
    c.connect(wait=False)
    c.wait_for(lambda: "/" in c.connected_ns and "/admin" in c.errors, "/ connected and /admin refused")
    assert c.errors["/admin"] == {"message": "unauthorized"}
    assert c.wait_event("auth") == [[{}]]
    assert c.ack("echo", "after refusal", b"\x01") == ["after refusal", b"\x01"]
    c.emit("message", "still")
    assert c.wait_event("message-back") == [["still"]]


def test_unknown_namespace(make_client):
    c = make_client(namespaces=["/does-not-exist"], connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        c.connect()
    assert c.errors["/does-not-exist"] == {"message": "Invalid namespace"}


def test_transport_is_the_requested_one(make_client, transport):
    c = make_client()
    assert c.sio.transport() == transport
    assert c.ack("echo", 1) == [1]
    assert c.sio.transport() == transport


def test_client_disconnect(make_client):
    a = make_client()
    b = make_client()
    room, common = uid(), uid()
    assert a.ack("join", room) == [True]
    assert b.ack("join", room) == [True]
    assert b.ack("join", common) == [True]
    a.sio.disconnect()
    assert not a.sio.connected
    # the server dropped a from its rooms: b still works and gets its own broadcast once
    ev = uid("ev")
    b.emit("broadcast", room, ev, "x")
    fence(b, common, [b])
    assert b.received(ev) == [["x"]]


# --- rooms and broadcasts -------------------------------------------------------------------


def test_join_leave_ack_true(make_client):
    c = make_client()
    room = uid()
    assert c.ack("join", room) == [True]
    assert c.ack("leave", room) == [True]
    assert c.ack("leave", uid()) == [True]


def test_join_and_leave_without_ack(make_client):
    c = make_client()
    room, other = uid(), uid()
    ev = uid("ev")
    c.emit("join", room)
    c.emit("broadcast", room, ev, {"hello": "room"})
    assert c.wait_event(ev) == [[{"hello": "room"}]]
    assert c.ack("join", other) == [True]
    c.emit("leave", room)
    ev2 = uid("ev")
    c.emit("broadcast", room, ev2, 1)
    fence(c, other, [c])
    assert c.received(ev2) == []


def test_broadcast_and_broadcast_others(make_client):
    a, b, cc, d = (make_client() for _ in range(4))
    room, allr = uid(), uid()
    for s in (a, b, cc):
        assert s.ack("join", room) == [True]
    for s in (a, b, cc, d):
        assert s.ack("join", allr) == [True]
    ev, ev2 = uid("ev"), uid("ev")
    a.emit("broadcast", room, ev, {"n": 1})
    a.emit("broadcast_others", room, ev2, [1, 2])
    fence(a, allr, [a, b, cc, d])
    assert [s.received(ev) for s in (a, b, cc, d)] == [[[{"n": 1}]]] * 3 + [[]]
    assert [s.received(ev2) for s in (a, b, cc, d)] == [[], [[[1, 2]]], [[[1, 2]]], []]


def test_several_rooms_exactly_once(make_client):
    a, b, cc = (make_client() for _ in range(3))
    r1, r2, r3, allr = uid(), uid(), uid(), uid()
    for s, rooms in ((a, [r1, r2]), (b, [r2, r3]), (cc, [r3])):
        for r in rooms + [allr]:
            assert s.ack("join", r) == [True]
    ev = uid("ev")
    cc.emit("broadcast", r1, ev, "to-r1")
    cc.emit("broadcast", r2, ev, "to-r2")
    cc.emit("broadcast", r3, ev, "to-r3")
    fence(cc, allr, [a, b, cc])
    assert a.received(ev) == [["to-r1"], ["to-r2"]]
    assert b.received(ev) == [["to-r2"], ["to-r3"]]
    assert cc.received(ev) == [["to-r3"]]


def test_broadcast_binary(make_client):
    a, b = make_client(), make_client()
    room = uid()
    for s in (a, b):
        assert s.ack("join", room) == [True]
    data = {"file": b"\x01\x02\x00\xff", "parts": [b"", b"xyz"], "meta": {"name": "f"}}
    ev = uid("ev")
    a.emit("broadcast", room, ev, data)
    assert a.wait_event(ev) == [[data]]
    assert b.wait_event(ev) == [[data]]
    ev2 = uid("ev")
    b.emit("broadcast_others", room, ev2, b"\xde\xad")
    assert a.wait_event(ev2) == [[b"\xde\xad"]]
    assert isinstance(a.received(ev2)[0][0], bytes)


def test_broadcast_order(make_client):
    a, b = make_client(), make_client()
    room = uid()
    for s in (a, b):
        assert s.ack("join", room) == [True]
    ev = uid("seq")
    for i in range(100):
        a.emit("broadcast", room, ev, i)
    for s in (a, b):
        got = s.wait_event(ev, count=100, timeout=15)
        assert [x[0] for x in got] == list(range(100))


# --- echo / ack ------------------------------------------------------------------------------


def test_echo_arities(make_client):
    c = make_client()
    assert c.ack("echo") == []
    assert c.ack("echo", "one") == ["one"]
    assert c.ack("echo", 1, None, True) == [1, None, True]
    assert c.ack("echo", [], {}, "", 0, -1.5) == [[], {}, "", 0, -1.5]


def test_echo_nested_key_order(make_client):
    c = make_client()
    obj = {"zeta": 1, "alpha": {"z": [1, {"y": "y", "b": "b", "a": "a"}], "a": None}, "ü": "☃😀"}
    [got] = c.ack("echo", obj)
    assert got == obj
    assert list(got.keys()) == list(obj.keys())
    assert list(got["alpha"]["z"][1].keys()) == ["y", "b", "a"]


def test_echo_binary(make_client):
    c = make_client()
    a, b, e = b"hello", b"\xde\xad\xbe\xef", b""
    assert c.ack("echo", a) == [a]
    assert c.ack("echo", e) == [e]
    res = c.ack("echo", {"content": a, "parts": [b, {"inner": a}, [[e]]]}, [a, "x", b])
    assert res == [{"content": a, "parts": [b, {"inner": a}, [[e]]]}, [a, "x", b]]
    assert isinstance(res[0]["content"], bytes)
    bufs = [bytes([i]) * i for i in range(10)]
    assert c.ack("echo", *bufs) == bufs


def test_echo_without_ack_then_still_answers(make_client):
    c = make_client()
    c.emit("echo", 1, 2)
    c.emit("echo", b"\x01")
    c.emit("echo")
    assert c.ack("echo", "alive") == ["alive"]


def test_message_back_and_message_with_ack(make_client):
    c = make_client()
    c.emit("message", 1, {"two": 2}, b"\x03")
    assert c.wait_event("message-back") == [[1, {"two": 2}, b"\x03"]]
    assert c.ack("message-with-ack", "a", b"\x00", [b""]) == ["a", b"\x00", [b""]]


def test_call_timeout(make_client):
    c = make_client()
    with pytest.raises(socketio.exceptions.TimeoutError):
        c.sio.call("no-such-event", "x", timeout=0.5)
    assert c.sio.call("echo", "first", timeout=T) == "first"

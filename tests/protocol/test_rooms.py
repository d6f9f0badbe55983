"""Rooms through raw packets: join / leave / broadcast / broadcast_others, with exact received strings."""

import uuid

import pytest

from wire import eio_client, sio_connect

MIXES = [("websocket", "websocket"), ("websocket", "polling"), ("polling", "websocket")]


def _room():
    return "room-" + uuid.uuid4().hex[:8]


def _client(transport, nsp="/"):
    c = eio_client(transport)
    sio_connect(c, nsp)
    return c


def _join(c, room, ack_id=1):
    c.send('42%d["join","%s"]' % (ack_id, room))
    assert c.recv() == "43%d[true]" % ack_id


@pytest.fixture(params=MIXES, ids=["ws-ws", "ws-polling", "polling-ws"])
def pair(request):
    a_tr, b_tr = request.param
    return _client(a_tr), _client(b_tr), _client("websocket")  # third one never joins


def test_broadcast_reaches_every_member_sender_included(pair):
    a, b, outsider = pair
    room = _room()
    _join(a, room)
    _join(b, room, ack_id=7)
    a.send('42["broadcast","%s","news",{"x":1}]' % room)
    assert a.recv() == '42["news",{"x":1}]'
    assert b.recv() == '42["news",{"x":1}]'
    outsider.assert_silent(0.3)


def test_broadcast_others_excludes_sender(pair):
    a, b, outsider = pair
    room = _room()
    _join(a, room)
    _join(b, room)
    a.send('42["broadcast_others","%s","gossip","hi"]' % room)
    assert b.recv() == '42["gossip","hi"]'
    a.assert_silent(0.3)
    outsider.assert_silent(0.05)


def test_broadcast_from_non_member_excludes_sender(pair):
    a, b, outsider = pair
    room = _room()
    _join(b, room)
    outsider.send('42["broadcast","%s","from-outside",[1,2]]' % room)
    assert b.recv() == '42["from-outside",[1,2]]'
    outsider.assert_silent(0.3)
    a.assert_silent(0.05)


def test_broadcast_others_from_non_member_reaches_all_members(pair):
    a, b, outsider = pair
    room = _room()
    _join(a, room)
    _join(b, room)
    outsider.send('42["broadcast_others","%s","ev",null]' % room)
    assert a.recv() == '42["ev",null]'
    assert b.recv() == '42["ev",null]'
    outsider.assert_silent(0.3)


def test_join_without_ack_then_broadcast(pair):
    a, b, _ = pair
    room = _room()
    a.send('42["join","%s"]' % room)
    b.send('42["join","%s"]' % room)
    # No ack requested: nothing is sent back. An acked join right after on each connection
    # proves the first one was handled (a connection's packets are handled in order) and that
    # it answered nothing, without waiting on time.
    _join(a, _room(), ack_id=7)
    _join(b, _room(), ack_id=7)
    b.send('42["broadcast","%s","e","x"]' % room)
    assert a.recv() == '42["e","x"]'
    assert b.recv() == '42["e","x"]'


def test_leave_stops_delivery(pair):
    a, b, _ = pair
    room = _room()
    _join(a, room)
    _join(b, room)
    a.send('423["leave","%s"]' % room)
    assert a.recv() == "433[true]"
    b.send('42["broadcast","%s","after-leave",1]' % room)
    assert b.recv() == '42["after-leave",1]'
    a.assert_silent(0.3)


def test_leave_room_never_joined_acks_true(transport):
    a = _client(transport)
    a.send('425["leave","%s"]' % _room())
    assert a.recv() == "435[true]"


def test_rooms_are_independent(pair):
    a, b, _ = pair
    r1, r2 = _room(), _room()
    _join(a, r1)
    _join(b, r2)
    a.send('42["broadcast","%s","only-r2","z"]' % r2)
    assert b.recv() == '42["only-r2","z"]'
    a.assert_silent(0.3)


def test_broadcast_to_empty_room_is_silent(transport):
    a = _client(transport)
    a.send('42["broadcast","%s","nobody",1]' % _room())
    a.assert_silent(0.3)


def test_broadcast_binary_payload(pair):
    a, b, _ = pair
    room = _room()
    _join(a, room)
    _join(b, room)
    a.send_many('451-["broadcast","%s","bin",{"_placeholder":true,"num":0}]' % room, b"\x00\x01\xfe\xff")
    expected = ['451-["bin",{"_placeholder":true,"num":0}]', b"\x00\x01\xfe\xff"]
    assert a.recv_n(2) == expected
    assert b.recv_n(2) == expected


def test_broadcast_nested_binary_payload(pair):
    a, b, _ = pair
    room = _room()
    _join(a, room)
    _join(b, room)
    a.send_many('451-["broadcast_others","%s","nested",{"k":[1,{"_placeholder":true,"num":0}]}]' % room,
                b"\x10\x20")
    assert b.recv_n(2) == ['451-["nested",{"k":[1,{"_placeholder":true,"num":0}]}]', b"\x10\x20"]
    a.assert_silent(0.3)


def test_room_membership_is_per_namespace(transport):
    """A /custom socket of the same session is not in the room of its / socket."""
    c = eio_client(transport)
    sio_connect(c, "/")
    sio_connect(c, "/custom")
    room = _room()
    _join(c, room)
    c.send('42["broadcast","%s","main-only",1]' % room)
    assert c.recv() == '42["main-only",1]'
    c.assert_silent(0.3)


def test_disconnected_socket_is_removed_from_rooms(pair):
    a, b, _ = pair
    room = _room()
    _join(a, room)
    _join(b, room)
    a.send("41")
    # packets of one connection are handled in order: once the CONNECT to /custom
    # sent after the DISCONNECT is answered, the DISCONNECT has been processed
    sio_connect(a, "/custom")
    b.send('42["broadcast","%s","after-disconnect",1]' % room)
    assert b.recv() == '42["after-disconnect",1]'
    a.assert_silent(0.3)


def test_event_order_preserved_per_receiver(pair):
    a, b, _ = pair
    room = _room()
    _join(b, room)
    for i in range(10):
        a.send('42["broadcast","%s","seq",%d]' % (room, i))
    assert b.recv_n(10) == ['42["seq",%d]' % i for i in range(10)]

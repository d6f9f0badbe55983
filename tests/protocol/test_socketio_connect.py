"""Socket.IO v5 CONNECT / CONNECT_ERROR / DISCONNECT and connectTimeout, over websocket and polling."""

import re
import time

import pytest

from wire import CONNECT_RE, ConnectionClosed, EioPolling, eio_client, sio_connect


def test_connect_main_namespace(transport):
    c = eio_client(transport)
    c.send("40")
    reply = c.recv()
    assert re.fullmatch(r'40\{"sid":"[A-Za-z0-9_-]{20}"\}', reply), reply
    assert c.recv() == '42["auth",{}]'


def test_connect_sid_differs_from_engine_sid(transport):
    c = eio_client(transport)
    sid = sio_connect(c)
    assert sid != c.sid


def test_connect_with_auth_payload(transport):
    c = eio_client(transport)
    c.send('40{"token":"123"}')
    assert CONNECT_RE.match(c.recv())
    assert c.recv() == '42["auth",{"token":"123"}]'


def test_auth_payload_is_reserialized_compactly(transport):
    c = eio_client(transport)
    c.send('40{ "token" : "123", "n": [1, 2.50, true, null] }')
    assert CONNECT_RE.match(c.recv())
    assert c.recv() == '42["auth",{"token":"123","n":[1,2.5,true,null]}]'


def test_connect_custom_namespace_with_auth(transport):
    c = eio_client(transport)
    c.send('40/custom,{"token":"abc"}')
    reply = c.recv()
    assert re.fullmatch(r'40/custom,\{"sid":"[A-Za-z0-9_-]{20}"\}', reply), reply
    assert c.recv() == '42/custom,["auth",{"token":"abc"}]'


@pytest.mark.parametrize("packet", ["40/custom,", "40/custom"], ids=["comma", "no-comma"])
def test_connect_custom_namespace_without_auth(transport, packet):
    c = eio_client(transport)
    c.send(packet)
    assert re.fullmatch(r'40/custom,\{"sid":"[A-Za-z0-9_-]{20}"\}', c.recv())
    assert c.recv() == '42/custom,["auth",{}]'


def test_polling_connect_reply_and_auth_come_in_one_payload():
    c = EioPolling()
    assert c.post("40").body == b"ok"
    time.sleep(0.05)
    r = c.get()
    assert re.fullmatch(r'40\{"sid":"[A-Za-z0-9_-]{20}"\}\x1e42\["auth",\{\}\]', r.text), r.text


def test_several_namespaces_on_one_session(transport):
    c = eio_client(transport)
    s1 = sio_connect(c, "/")
    s2 = sio_connect(c, "/custom", '{"token":"abc"}')
    assert s1 != s2
    c.send('42/custom,1["echo","c"]')
    assert c.recv() == '43/custom,1["c"]'
    c.send('421["echo","m"]')
    assert c.recv() == '431["m"]'


@pytest.mark.parametrize("auth", ["", '{"token":"nope"}', '{"other":"secret"}'],
                         ids=["no-auth", "bad-token", "wrong-key"])
def test_admin_refused_without_token_and_main_still_works(transport, auth):
    c = eio_client(transport)
    c.send("40/admin," + auth)
    assert c.recv() == '44/admin,{"message":"unauthorized"}'
    sio_connect(c, "/")
    c.send('42["message","after refusal"]')
    assert c.recv() == '42["message-back","after refusal"]'


def test_admin_refusal_does_not_affect_connected_namespace(transport):
    c = eio_client(transport)
    sio_connect(c, "/")
    c.send("40/admin,")
    assert c.recv() == '44/admin,{"message":"unauthorized"}'
    c.send('421["message-with-ack","x"]')
    assert c.recv() == '431["x"]'


def test_admin_accepted_with_secret_token(transport):
    c = eio_client(transport)
    c.send('40/admin,{"token":"secret"}')
    assert re.fullmatch(r'40/admin,\{"sid":"[A-Za-z0-9_-]{20}"\}', c.recv())
    c.assert_silent(0.3)  # /admin emits nothing on connection


def test_admin_can_be_retried_after_refusal(transport):
    c = eio_client(transport)
    c.send("40/admin,")
    assert c.recv() == '44/admin,{"message":"unauthorized"}'
    c.send('40/admin,{"token":"secret"}')
    assert re.fullmatch(r'40/admin,\{"sid":"[A-Za-z0-9_-]{20}"\}', c.recv())


@pytest.mark.parametrize("packet,nsp", [("40/foo,", "/foo"), ("40/random", "/random"),
                                        ('40/foo,{"token":"secret"}', "/foo"),
                                        ("40/custom/sub,", "/custom/sub")])
def test_unknown_namespace_refused(transport, packet, nsp):
    c = eio_client(transport)
    c.send(packet)
    assert c.recv() == '44%s,{"message":"Invalid namespace"}' % nsp
    sio_connect(c, "/")  # session still usable


def test_client_disconnect_from_custom_namespace(transport):
    c = eio_client(transport)
    sio_connect(c, "/")
    sio_connect(c, "/custom")
    c.send("41/custom,")
    c.send('42["message","to main"]')
    assert c.recv() == '42["message-back","to main"]'
    # the /custom socket is gone: a packet for it is a protocol violation
    c.send('42/custom,["echo","x"]')
    assert c.expect_closed(2) == []


def test_client_disconnect_then_reconnect_main(transport):
    c = eio_client(transport)
    s1 = sio_connect(c, "/")
    c.send("41")
    c.assert_silent(0.2)  # the server sends nothing back for a client DISCONNECT
    s2 = sio_connect(c, "/")
    assert s1 != s2
    c.send('42["message","again"]')
    assert c.recv() == '42["message-back","again"]'


def test_duplicate_connect_closes_the_connection(transport):
    c = eio_client(transport)
    sio_connect(c, "/")
    c.send("40")
    assert c.expect_closed(2) == []


def test_connect_timeout_closes_session_without_connect(transport):
    c = eio_client(transport)
    t0 = time.monotonic()
    assert c.expect_closed(timeout=3) == []
    dt = time.monotonic() - t0
    assert 0.8 <= dt <= 1.6, dt
    assert c.pings >= 2  # the heartbeat was answered: it is the connect timeout that closed it


def test_connect_timeout_not_triggered_after_connect(transport):
    c = eio_client(transport)
    sio_connect(c)
    c.assert_silent(1.3)
    c.send('42["message","alive"]')
    assert c.recv() == '42["message-back","alive"]'


def test_connect_timeout_also_cleared_by_refused_then_accepted_connect(transport):
    c = eio_client(transport)
    c.send("40/admin,")
    assert c.recv() == '44/admin,{"message":"unauthorized"}'
    sio_connect(c, "/custom")
    c.assert_silent(1.2)
    c.send('42/custom,5["echo",1]')
    assert c.recv() == '43/custom,5[1]'


def test_connect_timeout_still_fires_after_only_refused_connects(transport):
    c = eio_client(transport)
    t0 = time.monotonic()
    c.send("40/admin,")
    assert c.recv() == '44/admin,{"message":"unauthorized"}'
    c.send("40/nope,")
    assert c.recv() == '44/nope,{"message":"Invalid namespace"}'
    assert c.expect_closed(timeout=3) == []
    assert 0.8 <= time.monotonic() - t0 <= 1.6

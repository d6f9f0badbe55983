"""Socket.IO v5 EVENT / ACK / BINARY_EVENT / BINARY_ACK with exact wire strings."""

import pytest

from wire import EioPolling, eio_client, sio_connect


@pytest.fixture
def sio(transport):
    c = eio_client(transport)
    sio_connect(c)
    return c


def test_event_message_back(sio):
    sio.send('42["message",1,"2",{"3":[true]}]')
    assert sio.recv() == '42["message-back",1,"2",{"3":[true]}]'


def test_event_with_ack(sio):
    sio.send('421["message-with-ack",1,"2",{"3":[true]}]')
    assert sio.recv() == '431[1,"2",{"3":[true]}]'


def test_ack_ids_are_echoed_verbatim(sio):
    sio.send('42456["message-with-ack",1,"2",{"3":[false]}]')
    assert sio.recv() == '43456[1,"2",{"3":[false]}]'
    sio.send('420["message-with-ack"]')
    assert sio.recv() == "430[]"


def test_echo_preserves_json_shapes(sio):
    sio.send('427["echo",null,0,-1.5,1e3,"",[],{},"\\u00e9\\n\\"",{"a":{"b":[1,{"c":null}]}}]')
    assert sio.recv() == '437[null,0,-1.5,1000,"",[],{},"\u00e9\\n\\"",{"a":{"b":[1,{"c":null}]}}]'


def test_echo_replies_are_node_s_compact_json_whatever_the_spelling(sio):
    # Compact JSON as clients write it: sent back as received (the server
    # keeps it as text).
    sio.send('421["echo",{"b":1,"a":[true,null,-5]},"\u00e9\\n\\"\\\\",9007199254740991]')
    assert sio.recv() == '431[{"b":1,"a":[true,null,-5]},"\u00e9\\n\\"\\\\",9007199254740991]'
    # Other spellings come back as JSON.stringify writes them.
    sio.send('422["echo", {"a" : 1} ,"\\/",2.50]')
    assert sio.recv() == '432[{"a":1},"/",2.5]'


def test_echo_without_args(sio):
    sio.send('423["echo"]')
    assert sio.recv() == "433[]"


def test_echo_without_ack_sends_nothing(sio):
    sio.send('42["echo","no ack"]')
    sio.assert_silent(0.3)
    sio.send('42["message","still here"]')
    assert sio.recv() == '42["message-back","still here"]'


def test_unknown_event_is_ignored(sio):
    sio.send('42["no-such-event",1]')
    sio.send('421["no-such-event-with-ack",1]')
    sio.assert_silent(0.3)
    sio.send('42["message",1]')
    assert sio.recv() == '42["message-back",1]'


def test_numeric_event_name_is_accepted(sio):
    sio.send("42[1]")
    sio.assert_silent(0.2)
    sio.send('42["message","ok"]')
    assert sio.recv() == '42["message-back","ok"]'


def test_ack_for_unknown_id_is_ignored(sio):
    sio.send("43[1]")
    sio.send('4399["x"]')
    sio.assert_silent(0.2)
    sio.send('421["message-with-ack","ok"]')
    assert sio.recv() == '431["ok"]'


def test_custom_namespace_echo(transport):
    c = eio_client(transport)
    sio_connect(c, "/custom")
    c.send('42/custom,3["echo","x",null,{"y":1.5}]')
    assert c.recv() == '43/custom,3["x",null,{"y":1.5}]'


def test_binary_event_message_back(sio):
    sio.send_many('451-["message",{"_placeholder":true,"num":0}]', b"\x01\x02\x03")
    assert sio.recv_n(2) == ['451-["message-back",{"_placeholder":true,"num":0}]', b"\x01\x02\x03"]


def test_binary_event_several_attachments_in_order(sio):
    sio.send_many('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
                  b"\x01\x02\x03", b"\x04\x05\x06")
    assert sio.recv_n(3) == [
        '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
        b"\x01\x02\x03", b"\x04\x05\x06"]


def test_binary_event_with_ack_is_answered_with_binary_ack(sio):
    sio.send_many('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
                  b"\x01\x02\x03", b"\x04\x05\x06")
    assert sio.recv_n(3) == [
        '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
        b"\x01\x02\x03", b"\x04\x05\x06"]


def test_binary_echo_nested_and_renumbered_in_traversal_order(sio):
    # attachments are referenced out of order: the reply re-numbers them depth-first
    sio.send_many('452-7["echo",{"_placeholder":true,"num":1},{"a":[{"_placeholder":true,"num":0}]}]',
                  b"\x01", b"\x02\x02")
    assert sio.recv_n(3) == ['462-7[{"_placeholder":true,"num":0},{"a":[{"_placeholder":true,"num":1}]}]',
                             b"\x02\x02", b"\x01"]


def test_binary_echo_empty_buffer(sio):
    sio.send_many('451-9["echo",{"_placeholder":true,"num":0}]', b"")
    assert sio.recv_n(2) == ['461-9[{"_placeholder":true,"num":0}]', b""]


def test_binary_echo_mixed_with_json(sio):
    sio.send_many('451-3["echo","a",{"bin":{"_placeholder":true,"num":0},"n":1},[true]]', bytes(range(256)))
    assert sio.recv_n(2) == ['461-3["a",{"bin":{"_placeholder":true,"num":0},"n":1},[true]]', bytes(range(256))]


def test_binary_echo_custom_namespace(transport):
    c = eio_client(transport)
    sio_connect(c, "/custom")
    c.send_many('451-/custom,4["echo",{"_placeholder":true,"num":0}]', b"\xff\x00")
    assert c.recv_n(2) == ['461-/custom,4[{"_placeholder":true,"num":0}]', b"\xff\x00"]


def test_binary_attachments_in_separate_posts():
    c = EioPolling()
    sio_connect(c)
    c.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    c.send(b"\x0a")
    c.send(b"\x0b")
    assert c.recv_n(3) == [
        '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', b"\x0a", b"\x0b"]


def test_polling_binary_reply_is_one_payload():
    """On polling the header packet and its attachment (b+base64) are flushed together."""
    import time
    c = EioPolling()
    assert c.post("40").body == b"ok"
    time.sleep(0.05)
    c.get()
    assert c.post('451-["message",{"_placeholder":true,"num":0}]\x1ebAQID').body == b"ok"
    time.sleep(0.05)
    r = c.get()
    assert r.body == b'451-["message-back",{"_placeholder":true,"num":0}]\x1ebAQID'

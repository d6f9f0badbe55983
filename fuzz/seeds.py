#!/usr/bin/env python3
"""Writes the committed seed corpus, fuzz/corpus/<target>/<name>, from
literal wire vectors: the Engine.IO / Socket.IO protocol examples, RFC 6455
frames, HTTP heads and chunked bodies, and the Redis adapter golden vectors
of docs/contracts/redis-cluster.md section 3.5.

    python3 fuzz/seeds.py        # rewrites fuzz/corpus/ (deterministic)

Targets whose input starts with control bytes (http_chunked, ws_frame:
one config byte, one read-split seed byte) get those prefixed here.
Crash reproducers found later live in the same directories as
`crash-<target>-<what>` files; this script leaves them alone.
"""
import os
import shutil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
RS = b"\x1e"


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


# --- Engine.IO ------------------------------------------------------------
OPEN = (b'0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],'
        b'"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}')
engineio_packet = {
    "open": OPEN,
    "close": b"1",
    "close-trailing": b"1junk",
    "ping": b"2",
    "ping-probe": b"2probe",
    "pong": b"3",
    "pong-probe": b"3probe",
    "message-hello": b"4hello",
    "message-helloworld": b"4HelloWorld",
    "message-utf8": "4é€😀".encode(),
    "message-connect": b"40",
    "message-event": b'42["hello","world"]',
    "message-binary-event": b'451-["x",{"_placeholder":true,"num":0}]',
    "upgrade": b"5",
    "noop": b"6",
    "binary-b64": b"bAQIDBA==",
    "binary-b64-unpadded": b"bAQIDBA",
    "binary-empty": b"b",
    "binary-bad-b64": b"b!!!!",
    "unknown-type": b"7",
    "invalid-utf8": b"4\xff\xfe",
}
def v3_framed(binary, packet):
    """One packet of the Engine.IO v3 binary polling framing."""
    return bytes([int(binary)] + [int(c) for c in str(len(packet))] + [0xFF]) + packet


V3_ECHO = b'451-0["echo",{"_placeholder":true,"num":0}]'
engineio_v3_payload = {
    "text": b"6:4hello2:40",
    "ping-probe": b"6:2probe1:2",
    "utf16": '9:42["é😀"]'.encode(),
    "base64-binary": str(len(V3_ECHO)).encode() + b":" + V3_ECHO + b"6:b4AQID",
    "empty-packet": b"0:1:6",
    "binary-framing": v3_framed(False, V3_ECHO) + v3_framed(True, bytes([4, 1, 2, 3])),
    "binary-ping": v3_framed(False, b"2"),
    "bad-length": b"6:4hell",
    "no-colon": b"12",
    "surrogate-split": "2:4😀".encode(),
}
engineio_payload = {
    "two-messages": b"4hello" + RS + b"2" + RS + b"4world",
    "binary": b"4hello" + RS + b"bAQIDBA==",
    "probe": b"2probe",
    "close": b"1",
    "noop": b"6",
    "socketio": b"40" + RS + b'42["a",1]' + RS + b'43/admin,1["ok"]',
    "binary-event": b'451-["x",{"_placeholder":true,"num":0}]' + RS + b"bAQIDBA==",
    "utf8": "4€".encode() + RS + "4é".encode(),
    "empty-segment": b"4a" + RS + RS + b"4b",
    "trailing-separator": b"4a" + RS,
    "leading-separator": RS + b"4a",
    "many": RS.join([b"2"] * 20),
}

# --- Socket.IO ------------------------------------------------------------
PH0 = b'{"_placeholder":true,"num":0}'
PH1 = b'{"_placeholder":true,"num":1}'
socketio_packet = {
    "connect": b"0",
    "connect-nsp": b"0/admin,",
    "connect-auth": b'0{"token":"123"}',
    "connect-sid": b'0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}',
    "disconnect": b"1",
    "disconnect-nsp": b"1/admin,",
    "connect-error": b'4{"message":"Not authorized"}',
    "connect-error-str": b'4"Not authorized"',
    "event": b'2["foo"]',
    "event-nsp": b'2/admin,["bar"]',
    "event-args": b'2["hey","Jude"]',
    "event-ack": b'212["foo",1]',
    "ack": b'3/admin,13["bar"]',
    "ack-max-id": b'39007199254740991["x"]',
    "binary-event": b'51-["x",' + PH0 + b"]",
    "binary-event-nsp": b'52-/admin,["baz",' + PH0 + b"," + PH1 + b"]",
    "binary-ack": b"61-/admin,456[" + PH0 + b"]",
    "floats": b'2["n",1.5,-0.0,1e300,1.0]',
    "nested": b'2["x",{"a":[{"b":[1,2,{"c":null}]}]}]',
    "reserved-event": b'2["connect"]',
    "bad-json": b"2[",
}
socketio_binary = {
    "one": b'51-["x",' + PH0 + b"]" + RS + b"\x01\x02\x03\x04",
    "two-nsp": b'52-/admin,["baz",' + PH0 + b"," + PH1 + b"]" + RS + b"a" + RS + b"b",
    "ack": b"61-/admin,456[" + PH0 + b"]" + RS + b"\x00\xff",
    "extra": b'51-["x",' + PH0 + b"]" + RS + b"a" + RS + b"extra",
    "missing": b'52-["x",' + PH0 + b"," + PH1 + b"]" + RS + b"only-one",
    "zero": b'50-["x"]',
    "empty-attachment": b'51-["x",' + PH0 + b"]" + RS,
    "max": b"510-[\"x\"," + b",".join(
        b'{"_placeholder":true,"num":%d}' % i for i in range(10)) + b"]"
    + b"".join(RS + bytes([i]) for i in range(10)),
}

# --- HTTP -----------------------------------------------------------------
def req(line, headers, body=b""):
    return line + b"\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in headers) + b"\r\n" + body

HOST = (b"Host", b"localhost:3000")
http_request = {
    "polling-get": req(b"GET /socket.io/?EIO=4&transport=polling&t=N8hyd6w HTTP/1.1",
                       [HOST, (b"Accept", b"*/*"), (b"Connection", b"keep-alive")]),
    "polling-post": req(b"POST /socket.io/?EIO=4&transport=polling&sid=lv_VI97HAXpY6yYWAAAC HTTP/1.1",
                        [HOST, (b"Content-Type", b"text/plain;charset=UTF-8"), (b"Content-Length", b"9")],
                        b"4hello" + RS + b"2"),
    "polling-post-chunked": req(b"POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1",
                                [HOST, (b"Transfer-Encoding", b"chunked")],
                                b"6\r\n4hello\r\n3\r\n" + RS + b"2x\r\n0\r\n\r\n"),
    "websocket-upgrade": req(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1",
                             [HOST, (b"Upgrade", b"websocket"), (b"Connection", b"keep-alive, Upgrade"),
                              (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
                              (b"Sec-WebSocket-Version", b"13"), (b"Origin", b"http://example.com")]),
    "cors-preflight": req(b"OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1",
                          [HOST, (b"Origin", b"https://app.example"),
                           (b"Access-Control-Request-Method", b"POST"),
                           (b"Access-Control-Request-Headers", b"content-type, x-custom")]),
    "http10-keepalive": req(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.0",
                            [(b"Connection", b"keep-alive")]),
    "absolute-form": req(b"GET http://localhost:3000/socket.io/?EIO=4&transport=polling HTTP/1.1", [HOST]),
    "pipelined": req(b"GET /a HTTP/1.1", [HOST]) + req(b"GET /b HTTP/1.1", [HOST, (b"Connection", b"close")]),
    "partial": b"GET /socket.io/?EIO=4 HTTP/1.1\r\nHost: loc",
    "missing-host": req(b"GET / HTTP/1.1", [(b"Accept", b"*/*")]),
    "duplicate-host": req(b"GET / HTTP/1.1", [HOST, HOST]),
    "cl-and-te": req(b"POST / HTTP/1.1", [HOST, (b"Content-Length", b"5"), (b"Transfer-Encoding", b"chunked")],
                     b"0\r\n\r\n"),
    "conflicting-cl": req(b"POST / HTTP/1.1", [HOST, (b"Content-Length", b"5, 6")]),
    "negative-cl": req(b"POST / HTTP/1.1", [HOST, (b"Content-Length", b"-1")]),
    "te-gzip-chunked": req(b"POST / HTTP/1.1", [HOST, (b"Transfer-Encoding", b"gzip, chunked")]),
    "te-http10": req(b"POST / HTTP/1.0", [(b"Transfer-Encoding", b"chunked")], b"0\r\n\r\n"),
    "bare-lf": b"GET / HTTP/1.1\nHost: a\n\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",
    "bad-request-line": b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
    "non-utf8-origin": req(b"GET / HTTP/1.1", [HOST, (b"Origin", b"http://\xff")]),
}
CHUNKED = {
    "rfc-example": b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n",
    "extension": b"5;name=value\r\nhello\r\n0\r\n\r\n",
    "trailers": b"3\r\nabc\r\n0\r\nX-Trailer: a\r\nY: b\r\n\r\n",
    "pipelined": b"1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
    "engineio-payload": b"a\r\n4hello" + RS + b"2pr\r\n4\r\nobe!\r\n0\r\n\r\n",
    "uppercase-hex": b"A\r\n0123456789\r\n0\r\n\r\n",
    "bare-lf": b"3\nabc\n0\n\n",
    "17-digits": b"00000000000000001\r\nx\r\n0\r\n\r\n",
    "huge-size": b"ffffffffffffffff\r\n",
    "missing-crlf": b"3\r\nabcd\r\n0\r\n\r\n",
    "partial": b"10\r\nhalf",
}
http_chunked = {}
for i, (name, body) in enumerate(sorted(CHUNKED.items())):
    # config byte: max_body 0/16/1024/1MiB by the low two bits.
    http_chunked[name] = bytes([3, i * 37 % 256]) + body
http_chunked["rfc-example-max16"] = bytes([1, 0]) + CHUNKED["rfc-example"]
http_chunked["rfc-example-bytewise"] = bytes([2, 5]) + CHUNKED["rfc-example"]

# --- WebSocket (client frames are masked) ----------------------------------
MASK = h("37fa213d")


def frame(op, payload, fin=True, mask=MASK, rsv=0, ext=None):
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload)
    if ext == 127 or (ext is None and n > 0xFFFF):
        head = bytes([b0, 0x80 | 127]) + n.to_bytes(8, "big")
    elif ext == 126 or (ext is None and n > 125):
        head = bytes([b0, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, 0x80 | n])
    if mask is None:
        return bytes([b0, n]) + payload
    masked = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return head + mask + masked


WS = {
    "rfc-hello": h("818537fa213d7f9f4d5158"),
    "rfc-fragmented": frame(1, b"Hel", fin=False) + frame(0, b"lo"),
    "rfc-ping": frame(9, b"Hello"),
    "pong": frame(10, b"Hello"),
    "ping-inside-fragments": frame(1, b"4he", fin=False) + frame(9, b"") + frame(0, b"llo"),
    "engineio-probe": frame(1, b"2probe") + frame(1, b"5"),
    "socketio-event": frame(1, b'42["hello","world"]'),
    "binary-event": frame(1, b'451-["x",' + PH0 + b"]") + frame(2, b"\x01\x02\x03\x04"),
    "binary-126": frame(2, bytes(range(200))),
    "binary-127-len": frame(2, b"abc", ext=127),
    "fragmented-binary": frame(2, b"ab", fin=False) + frame(0, b"cd", fin=False) + frame(0, b"ef"),
    "utf8-split": frame(1, "é€".encode()[:3], fin=False) + frame(0, "é€".encode()[3:]),
    "close-1000": frame(8, b"\x03\xe8bye"),
    "close-empty": frame(8, b""),
    "close-1005": frame(8, b"\x03\xed"),
    "close-one-byte": frame(8, b"\x03"),
    "invalid-utf8": frame(1, b"\xff\xfe"),
    "unmasked": frame(1, b"hi", mask=None),
    "reserved-opcode": frame(3, b"x"),
    "rsv1": frame(1, b"x", rsv=0x40),
    "fragmented-ping": frame(9, b"x", fin=False),
    "ping-126": frame(9, b"x" * 126),
    "continuation-without-start": frame(0, b"x"),
    "text-inside-fragments": frame(1, b"a", fin=False) + frame(1, b"b"),
    "high-bit-length": bytes([0x82, 0xFF]) + b"\x80" + b"\x00" * 7 + MASK,
    "truncated": frame(1, b"hello world")[:9],
}
ws_frame = {}
for i, (name, wire) in enumerate(sorted(WS.items())):
    # config byte: max_message 125/1024/64KiB/16MiB by the low two bits.
    ws_frame[name] = bytes([1 + i % 3, i * 53 % 256]) + wire
ws_frame["binary-126-max125"] = bytes([0, 7]) + WS["binary-126"]

# --- Redis adapter (docs/contracts/redis-cluster.md 3.5) -----------------------
G1 = h("93a6714e4871335883a47479706502a46461746192a568656c6c6f81a16101a36e7370a12f83a5726f6f6d7391a27231a665786365707490a5666c61677380")
G2 = h("93a66c76365a666783a47479706502a46461746192a26869a178a36e7370a12f83a5726f6f6d7391a27231a665786365707491b4745f6576695665484d3966726a4d485541414141a5666c61677380")
G3 = h("93a6714e4871335883a47479706502a46461746192a362696e81a162c403010203a36e7370a12f83a5726f6f6d7391a27231a665786365707490a5666c61677380")
G4A = b"\x93\xa7emitter\x83\xa4type\x02\xa4data\x92\xa2ev\xa1x\xa3nsp\xa1/\x83\xa5rooms\x91\xa2r1\xa5flags\x80\xa6except\x91\xa2ex"
G4B = b"\x93\xa7emitter\x83\xa4type\x02\xa4data\x92\xa3all\x01\xa3nsp\xa1/\x83\xa5rooms\x90\xa5flags\x80\xa6except\x90"
G5_REQ = h("85a3756964a6714e48713358a9726571756573744964a66f6f65686a34a47479706507a67061636b657483a47479706502a46461746192a361736b81a17101a36e7370a12fa46f70747383a5726f6f6d7391a27231a665786365707490a5666c61677381a774696d656f7574cd07d0")
G5_COUNT = b'{"type":8,"requestId":"ooehj4","clientCount":1}'
G5_ACK = h("83a47479706509a9726571756573744964a66f6f65686a34a67061636b6574a9622d736179732d6869")
G7 = h("93a641624331323383a47479706502a46461746192a16e84a1699c007fcc80ccffcd0100cdffffce00010000cf0000000100000000ffe0d0dfd1ff7fa166cb3ff8000000000000a173a2c3a9a162c402deada36e7370a12f83a5726f6f6d7391a172a665786365707490a5666c61677381a8766f6c6174696c65c3")
FETCH_ANSWER = (b'{"requestId":"4JIP7A","sockets":[{"id":"t_eviVeHM9frjMHUAAAA","handshake":{"headers":{"host":"localhost"},'
                b'"time":"Fri Nov 27 2026 13:01:28 GMT+0000 (Coordinated Universal Time)","address":"127.0.0.1",'
                b'"xdomain":false,"secure":false,"issued":1795784488597,"url":"/socket.io/?EIO=4&transport=websocket",'
                b'"query":{"EIO":"4","transport":"websocket"},"auth":{}},"rooms":["t_eviVeHM9frjMHUAAAA","r1"],"data":{}}]}')

msgpack_decode = {
    "golden-1-hello": G1, "golden-3-binary": G3, "golden-4-emitter": G4A,
    "golden-5-request": G5_REQ, "golden-5-ack": G5_ACK, "golden-7-numbers": G7,
    "int-neg-max-safe": h("d3ffe0000000000001"), "int-2p63": h("cf8000000000000000"),
    "int-neg-2p63": h("d38000000000000000"), "float64": h("cb3ff8000000000000"),
    "float-nan": h("cb7ff8000000000000"), "float32": h("ca3fc00000"),
    "undefined-in-array": h("9301c002"), "undefined-in-map": h("82a16101a16302"),
    "undefined-top": h("d40000"), "str-emoji": h("a8e282acf09f988061"),
    "str-lone-surrogate": h("a4f0908080"), "str-invalid-utf8": h("a2ff61"),
    "str8-nonminimal": h("d90178"), "bin16": h("c500020102"),
    "nested-binary": h("82a16192c4010181a162c4020203a163c400"),
    "array16": h("dc0010000102030405060708090a0b0c0d0e0f"),
    "map-int-keys": h("84a13104a13202a16201a16103"), "map-uint-key": h("8101a161"),
    "deep": h("91919191919181a17891919101"),
    "date-ts32": h("d6ff00000000"), "date-ts64": h("d7ff7735940000000001"),
    "date-ts96": h("c70cff1dcd6500fffffffffffffffe"), "date-nan": h("c70cff000000000000000000000000"),
    "date-legacy": h("d7004097700000000000"), "ext-arraybuffer": h("c70300010203"),
    "ext-other": h("d5050102"), "trailing-bytes": h("c0c0"),
    "array32-huge-count": h("ddffffffff"), "truncated-str": h("a5616263"),
}
cluster_broadcast = {
    "golden-1-hello": G1, "golden-2-except": G2, "golden-3-binary": G3,
    "golden-4-emitter-room": G4A, "golden-4-emitter-all": G4B, "golden-7-numbers": G7,
    "binary-event-type5": G3.replace(b"\xa4type\x02", b"\xa4type\x05"),
    "nsp-admin": G1.replace(b"\xa3nsp\xa1/", b"\xa3nsp\xa6/admin"),
    "not-an-array": G5_ACK,
}
cluster_request = {
    "golden-5-broadcast-ack": G5_REQ,
    "sockets": b'{"uid":"qNHq3X","requestId":"Ab12Cd","type":0,"rooms":["r1"]}',
    "all-rooms": b'{"uid":"qNHq3X","requestId":"Ab12Cd","type":1}',
    "fetch-sockets": b'{"uid":"qNHq3X","requestId":"4JIP7A","type":5,"opts":{"rooms":["r1"],"except":[]}}',
    "sockets-join": b'{"uid":"qNHq3X","type":2,"opts":{"rooms":["r1"],"except":[]},"rooms":["r2"]}',
    "sockets-leave": b'{"uid":"qNHq3X","type":3,"opts":{"rooms":["r1"],"except":[]},"rooms":["r2"]}',
    "disconnect-sockets": b'{"uid":"qNHq3X","type":4,"opts":{"rooms":["doomed"],"except":[]},"close":true}',
    "server-side-emit": b'{"uid":"qNHq3X","type":6,"data":["ping_all",{"k":1}]}',
    "server-side-emit-ack": b'{"uid":"qNHq3X","requestId":"x1","type":6,"data":["ping_all",1]}',
    "emitter-server-side-emit": b'{"uid":"emitter","type":6,"data":["ping_all","e"]}',
    "emitter-sockets-join": b'{"type":2,"opts":{"rooms":["r1"],"except":[]},"rooms":["r3"]}',
    "legacy-join": b'{"uid":"qNHq3X","requestId":"Ab12Cd","type":2,"sid":"t_eviVeHM9frjMHUAAAA","room":"r9"}',
    "unknown-type": b'{"uid":"qNHq3X","type":42}',
    "leading-space-json": b' {"uid":"qNHq3X","type":1}',
}
cluster_response = {
    "golden-5-client-count": G5_COUNT,
    "golden-5-ack": G5_ACK,
    "fetch-answer": FETCH_ANSWER,
    "sockets-answer": b'{"requestId":"Ab12Cd","sockets":["t_eviVeHM9frjMHUAAAA"]}',
    "rooms-answer": b'{"requestId":"Ab12Cd","rooms":["r1","r2"]}',
    "server-side-emit-answer": b'{"type":6,"requestId":"x1","data":"pong"}',
    "legacy-ack": b'{"requestId":"Ab12Cd"}',
    "ack-binary": G5_ACK.replace(b"\xa9b-says-hi", b"\x81\xa1b\xc4\x02\xde\xad"),
}

# --- socket.io-msgpack-parser packets (conformance-app-2.md section 11) -------
socketio_msgpack = {
    "client-connect-custom": h("83 a4 74797065 00 a4 64617461 d40000 a3 6e7370 a7 2f637573746f6d"),
    "client-connect-auth": h("83 a4 74797065 00 a3 6e7370 a1 2f a4 64617461 81 a5 746f6b656e a6 736563726574"),
    "client-event-ack-binary": h("85 a4 74797065 02 a4 64617461 94 a4 6563686f a2 6869 c4 02 0102"
                                 " 81 a1 6e 92 01 81 a1 62 c4 01 03"
                                 " a7 6f7074696f6e73 81 a8 636f6d7072657373 c3 a2 6964 00 a3 6e7370 a1 2f"),
    "server-ack": h("84 a2 6964 00 a4 74797065 03 a4 64617461 93 a2 6869 c4 02 0102"
                    " 81 a1 6e 92 01 81 a1 62 c4 01 03 a3 6e7370 a1 2f"),
    "refusal": h("83 a4 74797065 04 a3 6e7370 a5 2f6e6f7065 a4 64617461 81 a7 6d657373616765"
                 " b1 496e76616c6964206e616d657370616365"),
    "disconnect": h("82 a4 74797065 01 a3 6e7370 a1 2f"),
    "event-undefined-in-array": h("83 a4 74797065 02 a3 6e7370 a1 2f a4 64617461 92 a1 78 d40000"),
    "event-float-date": h("83 a4 74797065 02 a3 6e7370 a1 2f a4 64617461 93 a1 78 cb 3ff8000000000000 d6ff 00000001"),
    "type-5-refused": h("82 a4 74797065 05 a3 6e7370 a1 2f"),
    "huge-array": h("83 a4 74797065 02 a3 6e7370 a1 2f a4 64617461 dd ffffffff"),
}

TARGETS = {name: val for name, val in globals().items()
           if isinstance(val, dict) and name in {
               "engineio_packet", "engineio_payload", "engineio_v3_payload", "socketio_packet", "socketio_binary",
               "http_request", "http_chunked", "ws_frame", "msgpack_decode", "socketio_msgpack",
               "cluster_broadcast", "cluster_request", "cluster_response"}}

for target, seeds in sorted(TARGETS.items()):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if not f.startswith("crash-"):
            os.remove(os.path.join(d, f))
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(seeds)} seeds")

"""No sticky sessions (issue 14) with python-socketio: clients connect through the round-robin
proxy of tests/cluster/nosticky.rs (PROXY), every HTTP request on its own connection
(`Connection: close`), so each polling request goes to the next ringcast node.

Checks: polling-only clients ack (binary kept), join a room and get a broadcast from a client
whose session is on the other node, keep their session over several heartbeats; a default
client (polling, then upgrade) ends on websocket and acks. Exit 0 on success."""

import os
import sys
import threading

import engineio.packet
import engineio.payload
import requests
import socketio

engineio.payload.Payload.max_decode_packets = 100000
PROXY = os.environ["PROXY"]
T = 10.0


def session():
    s = requests.Session()
    s.headers["Connection"] = "close"
    return s


def client(transports):
    c = socketio.Client(reconnection=False, http_session=session())
    c.connect(PROXY, transports=transports, wait_timeout=T)
    return c


def main():
    a = client(["polling"])
    b = client(["polling"])
    assert a.transport() == "polling"
    for i in range(5):
        got = a.call("echo", ("hi", i, b"\x01\x02"), timeout=T)
        assert list(got) == ["hi", i, b"\x01\x02"], got
    print("python polling acks ok", flush=True)
    got = threading.Event()
    seen = []

    def on_news(data):
        seen.append(data)
        got.set()

    b.on("news", on_news)
    assert b.call("join", "pyroom", timeout=T) is True
    a.emit("broadcast", ("pyroom", "news", {"bin": b"\x09"}))
    assert got.wait(T), "broadcast received"
    assert seen[0] == {"bin": b"\x09"}, seen
    print("python room broadcast ok", flush=True)
    # Heartbeats: count the server's PINGs (python-engineio answers them itself) until four
    # came, each long-poll on whichever node the proxy picked; the session stays the same.
    pings = threading.Semaphore(0)
    receive = a.eio._receive_packet

    def counting(pkt):
        if pkt.packet_type == engineio.packet.PING:
            pings.release()
        return receive(pkt)

    a.eio._receive_packet = counting
    sid = a.get_sid()
    for _ in range(4):
        assert pings.acquire(timeout=T), "a heartbeat"
    assert a.get_sid() == sid and a.connected
    assert a.call("echo", 1, timeout=T) == 1
    print("python heartbeats ok", flush=True)
    ws = socketio.Client(reconnection=False, http_session=session())
    upgraded = threading.Event()
    ws.connect(PROXY, wait_timeout=T)
    for _ in range(100):
        if ws.transport() == "websocket":
            upgraded.set()
            break
        upgraded.wait(0.05)
    assert ws.transport() == "websocket", ws.transport()
    assert list(ws.call("echo", ("ws", b"\x07"), timeout=T)) == ["ws", b"\x07"]
    print("python upgrade to websocket ok", flush=True)
    for c in (a, b, ws):
        c.disconnect()
    print("python scenario passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report and fail
        print("FAILED:", repr(e), file=sys.stderr, flush=True)
        sys.exit(1)
    sys.exit(0)

"""Helpers and fixtures for the python-socketio end-to-end tests.

Environment:
  RINGCAST_URL             server base URL (default http://127.0.0.1:3000)
  RINGCAST_PY_TRANSPORTS   comma-separated transports to test (default "websocket,polling")
"""

import os
import threading
import time
import uuid

import engineio
import engineio.payload
import pytest
import socketio

# python-engineio's polling client refuses (and drops the connection on) a long-poll response
# batching more than 16 packets (a DoS guard, Payload.max_decode_packets = 16); servers may batch
# every buffered packet into one response (socket.io does), so lift the client-side guard.
engineio.payload.Payload.max_decode_packets = 100000

URL = os.environ.get("RINGCAST_URL", "http://127.0.0.1:3000").rstrip("/")
TRANSPORTS = [
    t.strip()
    for t in os.environ.get("RINGCAST_PY_TRANSPORTS", "websocket,polling").split(",")
    if t.strip()
]
T = 5.0  # seconds, per operation


class _EngineIOClient(engineio.Client):
    """python-engineio client with a fix for a client-side race in polling disconnects.

    If disconnect() flips the state while the write loop is in the middle of a POST (e.g. the
    socket.io DISCONNECT packets queued just before), the write loop exits without sending the
    queued Engine.IO CLOSE packet, and disconnect() then blocks on the pending long-poll GET
    until the server's next PING (pingInterval, 25 s with the bench profile). Let the queued
    packets drain before disconnecting."""

    def disconnect(self, abort=False, reason=None):
        if self.state == "connected" and self.current_transport == "polling":
            deadline = time.monotonic() + T
            while self.queue.unfinished_tasks and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(0.02)  # let the write loop get back to waiting on the queue
        super().disconnect(abort=abort, reason=reason)

    def _trigger_event(self, event, *args, **kwargs):
        """Handles each message inline, in arrival order.

        python-engineio hands every message to its handler in a new thread (`run_async`), so
        under load two messages can reach socketio (and the tests' recorder) in another order
        than they arrived: an order check then fails on the client, whatever the server sent.
        The recorder's handlers never block, so they run in the read loop."""
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class _SocketIOClient(socketio.Client):
    def _engineio_client_class(self):
        return _EngineIOClient


def uid(prefix="r"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Client:
    """A python-socketio Client plus a recorder of every event received, per namespace."""

    def __init__(self, transport, namespaces=("/",), auth=None):
        self.transport = transport
        self.namespaces = list(namespaces)
        self.auth = auth
        self.sio = _SocketIOClient(reconnection=False)
        self._lock = threading.Condition()
        self.events = {ns: [] for ns in self.namespaces}  # ns -> [(event, args)]
        self.connected_ns = set()
        self.errors = {}  # ns -> connect_error data
        for ns in self.namespaces:
            self._register(ns)

    def _register(self, ns):
        def on_any(event, *args):
            with self._lock:
                self.events[ns].append((event, list(args)))
                self._lock.notify_all()

        def on_connect():
            with self._lock:
                self.connected_ns.add(ns)
                self._lock.notify_all()

        def on_connect_error(data=None):
            with self._lock:
                self.errors[ns] = data
                self._lock.notify_all()

        self.sio.on("*", on_any, namespace=ns)
        self.sio.on("connect", on_connect, namespace=ns)
        self.sio.on("connect_error", on_connect_error, namespace=ns)

    def connect(self, wait=True):
        self.sio.connect(
            URL,
            transports=[self.transport],
            namespaces=self.namespaces,
            auth=self.auth,
            wait=wait,
            wait_timeout=T,
        )
        return self

    def wait_for(self, pred, what, timeout=T):
        with self._lock:
            if not self._lock.wait_for(pred, timeout=timeout):
                raise AssertionError(f"timeout after {timeout}s waiting for {what}")

    def received(self, event, ns="/"):
        with self._lock:
            return [args for (ev, args) in self.events[ns] if ev == event]

    def wait_event(self, event, ns="/", count=1, timeout=T):
        self.wait_for(
            lambda: len([1 for (ev, _) in self.events[ns] if ev == event]) >= count,
            f'{count} x "{event}" on {ns}',
            timeout,
        )
        return self.received(event, ns)

    def ack(self, event, *args, ns="/", timeout=T):
        """Emits event with args and an ack; returns the list of the ack's arguments."""
        done = threading.Event()
        res = []

        def cb(*a):
            res.extend(a)
            done.set()

        self.sio.emit(event, tuple(args), namespace=ns, callback=cb)
        if not done.wait(timeout):
            raise AssertionError(f'timeout after {timeout}s waiting for the ack of "{event}"')
        return res

    def emit(self, event, *args, ns="/"):
        self.sio.emit(event, tuple(args), namespace=ns)

    def close(self):
        try:
            self.sio.disconnect()
        except Exception:
            pass


@pytest.fixture(params=TRANSPORTS)
def transport(request):
    return request.param


@pytest.fixture
def make_client(transport):
    """make_client(namespaces=("/",), auth=None, connect=True, wait=True) -> Client"""
    made = []

    def make(namespaces=("/",), auth=None, connect=True, wait=True):
        c = Client(transport, namespaces, auth)
        made.append(c)
        if connect:
            c.connect(wait=wait)
        return c

    yield make
    for c in made:
        c.close()


def fence(sender, room, receivers):
    """sender broadcasts a marker to room (sender included); waits until every receiver got it.

    The server writes to each socket in order, so whatever was sent to a receiver before the
    marker has been received once the marker arrives."""
    ev = uid("fence")
    sender.emit("broadcast", room, ev, None)
    for r in receivers:
        r.wait_event(ev)

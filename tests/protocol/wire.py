"""Minimal raw-wire clients for Engine.IO v4 / Socket.IO v5 protocol tests.

Everything here is hand written on top of ``socket`` so that the tests control
the exact bytes that go on the wire (HTTP request lines, query strings,
WebSocket frames) and can observe the exact bytes that come back (status line,
headers, body, frame opcodes and payloads).
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union
from urllib.parse import urlsplit

SEP = "\x1e"  # Engine.IO v4 polling payload separator
SID_RE = re.compile(r"^[A-Za-z0-9_-]{20}$")

Packet = Union[str, bytes]


# --------------------------------------------------------------------------
# target
# --------------------------------------------------------------------------

def base_url() -> str:
    return os.environ.get("RINGCAST_URL", "http://127.0.0.1:3000").rstrip("/")


def target() -> Tuple[str, int]:
    u = urlsplit(base_url())
    return u.hostname or "127.0.0.1", u.port or 80


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

@dataclass
class HttpResponse:
    status: int
    reason: str
    headers: List[Tuple[str, str]]  # in wire order, original case
    body: bytes
    raw_head: bytes = b""

    def header(self, name: str) -> Optional[str]:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_names(self) -> List[str]:
        return [k.lower() for k, _ in self.headers]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class ConnectionClosed(Exception):
    pass


def _connect(timeout: float) -> socket.socket:
    host, port = target()
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class _Reader:
    """Buffered reader over a socket."""

    def __init__(self, sock: socket.socket, initial: bytes = b""):
        self.sock = sock
        self.buf = bytearray(initial)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed("peer closed the connection")
        self.buf += chunk

    def read_until(self, marker: bytes) -> bytes:
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out = bytes(self.buf[: i + len(marker)])
                del self.buf[: i + len(marker)]
                return out
            self._fill()

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_to_eof(self) -> bytes:
        """Everything until the peer closes; ``self.eof`` tells whether it did (False: timed out)."""
        self.eof = False
        try:
            while True:
                self._fill()
        except (ConnectionClosed, ConnectionResetError):
            self.eof = True
        except socket.timeout:
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out


def _parse_head(head: bytes) -> Tuple[int, str, List[Tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0]
    parts = status_line.split(" ", 2)
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    return status, reason, headers


def _read_response(reader: _Reader, method: str) -> HttpResponse:
    head = reader.read_until(b"\r\n\r\n")
    status, reason, headers = _parse_head(head)
    return _read_body(reader, HttpResponse(status, reason, headers, b"", head), method)


def _read_body(reader: _Reader, resp: HttpResponse, method: str) -> HttpResponse:
    status = resp.status
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return resp
    te = resp.header("transfer-encoding")
    cl = resp.header("content-length")
    if te and "chunked" in te.lower():
        body = bytearray()
        while True:
            size_line = reader.read_until(b"\r\n")
            size = int(size_line.strip().split(b";")[0], 16)
            if size == 0:
                reader.read_until(b"\r\n")
                break
            body += reader.read_exact(size)
            reader.read_exact(2)
        resp.body = bytes(body)
    elif cl is not None:
        resp.body = reader.read_exact(int(cl))
    else:
        resp.body = reader.read_to_eof()
    return resp


def http(method: str, path: str, body: Optional[bytes | str] = None,
         headers: Optional[Dict[str, str]] = None, timeout: float = 5.0,
         chunked_body: bool = False) -> HttpResponse:
    """Send one HTTP/1.1 request on a fresh connection and read the response."""
    host, port = target()
    if isinstance(body, str):
        body = body.encode("utf-8")
    hdrs = {"Host": f"{host}:{port}", "Connection": "close"}
    if body is not None:
        hdrs["Content-Type"] = "text/plain;charset=UTF-8"
        hdrs["Content-Length"] = str(len(body))
    if headers:
        for k, v in headers.items():
            # allow overriding (case-insensitive) and removing (None)
            for existing in list(hdrs):
                if existing.lower() == k.lower():
                    del hdrs[existing]
            if v is not None:
                hdrs[k] = v
    req = f"{method} {path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    s = _connect(timeout)
    try:
        s.sendall(req.encode("latin-1") + (body or b""))
        return _read_response(_Reader(s), method)
    finally:
        s.close()


class Background:
    """Run a callable in a thread and collect its result (for concurrent requests)."""

    def __init__(self, fn: Callable, *args, **kwargs):
        self.result = None
        self.error: Optional[BaseException] = None
        self._t = threading.Thread(target=self._run, args=(fn, args, kwargs), daemon=True)
        self._t.start()

    def _run(self, fn, args, kwargs):
        try:
            self.result = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001
            self.error = e

    def join(self, timeout: float = 10.0):
        self._t.join(timeout)
        if self._t.is_alive():
            raise TimeoutError("background request did not finish")
        if self.error:
            raise self.error
        return self.result


# --------------------------------------------------------------------------
# Engine.IO payload helpers
# --------------------------------------------------------------------------

def decode_payload(body: str) -> List[Packet]:
    """Split a v4 polling payload. Binary packets (``b<base64>``) become bytes."""
    out: List[Packet] = []
    for p in body.split(SEP):
        if p.startswith("b"):
            out.append(base64.b64decode(p[1:]))
        else:
            out.append(p)
    return out


def encode_payload(packets: List[Packet]) -> str:
    parts = []
    for p in packets:
        if isinstance(p, (bytes, bytearray)):
            parts.append("b" + base64.b64encode(bytes(p)).decode("ascii"))
        else:
            parts.append(p)
    return SEP.join(parts)


def parse_open(packet: str) -> dict:
    assert packet.startswith("0"), packet
    return json.loads(packet[1:])


def eio_query(path: str, transport: str, sid: Optional[str] = None, eio: Optional[str] = "4",
              extra: str = "") -> str:
    q = []
    if eio is not None:
        q.append(f"EIO={eio}")
    if transport is not None:
        q.append(f"transport={transport}")
    if sid is not None:
        q.append(f"sid={sid}")
    if extra:
        q.append(extra)
    return f"{path}?{'&'.join(q)}"


# --------------------------------------------------------------------------
# WebSocket (RFC 6455), client side, hand written
# --------------------------------------------------------------------------

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


@dataclass
class Frame:
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> Optional[int]:
        if self.opcode != OP_CLOSE or len(self.payload) < 2:
            return None
        return struct.unpack("!H", self.payload[:2])[0]


class WebSocket:
    def __init__(self, sock: socket.socket, reader: _Reader, response: HttpResponse):
        self.sock = sock
        self.reader = reader
        self.response = response
        self.closed = False

    # -- sending
    def send_frame(self, opcode: int, payload: bytes = b"", fin: bool = True) -> None:
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            hdr = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask_fast(payload, mask)
        self.sock.sendall(hdr + mask + masked)

    def send_text(self, s: str) -> None:
        self.send_frame(OP_TEXT, s.encode("utf-8"))

    def send_binary(self, b: bytes) -> None:
        self.send_frame(OP_BINARY, bytes(b))

    def send(self, p: Packet) -> None:
        if isinstance(p, (bytes, bytearray)):
            self.send_binary(p)
        else:
            self.send_text(p)

    def send_close(self, code: Optional[int] = 1000) -> None:
        try:
            self.send_frame(OP_CLOSE, b"" if code is None else struct.pack("!H", code))
        except OSError:
            pass

    # -- receiving
    def recv_frame(self, timeout: float = 3.0) -> Frame:
        """Next data/close frame (continuations joined). Raises ConnectionClosed on EOF."""
        self.sock.settimeout(timeout)
        opcode = None
        data = bytearray()
        while True:
            b0, b1 = self.reader.read_exact(2)
            fin = b0 & 0x80
            op = b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self.reader.read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.reader.read_exact(8))[0]
            if b1 & 0x80:
                m = self.reader.read_exact(4)
                payload = _mask_fast(self.reader.read_exact(n), m)
            else:
                payload = self.reader.read_exact(n)
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                self.closed = True
                return Frame(OP_CLOSE, payload)
            if op != OP_CONT:
                opcode = op
            data += payload
            if fin:
                return Frame(opcode, bytes(data))

    def close(self) -> None:
        if not self.closed:
            self.send_close(1000)
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True


def _mask_fast(data: bytes, mask: bytes) -> bytes:
    if not data:
        return b""
    n = len(data)
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")


def ws_connect(path: str, headers: Optional[Dict[str, str]] = None,
               timeout: float = 5.0) -> Tuple[HttpResponse, Optional[WebSocket], bytes]:
    """Perform a WebSocket upgrade on ``path``.

    Returns (response, websocket or None, trailing bytes). When the server does
    not answer 101 the websocket is None and the response body / everything
    up to EOF is returned as trailing bytes.
    """
    host, port = target()
    key = base64.b64encode(os.urandom(16)).decode()
    hdrs = {
        "Host": f"{host}:{port}",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13",
    }
    if headers:
        hdrs.update(headers)
    req = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    s = _connect(timeout)
    s.sendall(req.encode("latin-1"))
    reader = _Reader(s)
    try:
        head = reader.read_until(b"\r\n\r\n")
    except (ConnectionClosed, ConnectionResetError):
        rest = bytes(reader.buf)
        s.close()
        return HttpResponse(0, "", [], rest), None, rest
    status, reason, hh = _parse_head(head)
    resp = HttpResponse(status, reason, hh, b"", head)
    if status == 101:
        return resp, WebSocket(s, reader, resp), b""
    try:
        _read_body(reader, resp, "GET")
    except (ConnectionClosed, ConnectionResetError):
        resp.body = bytes(reader.buf)
    s.close()
    return resp, None, resp.body


# --------------------------------------------------------------------------
# Engine.IO clients
# --------------------------------------------------------------------------

_CLOSED = object()
_OPEN_CLIENTS: List["_EioClient"] = []


def close_all_clients() -> None:
    while _OPEN_CLIENTS:
        c = _OPEN_CLIENTS.pop()
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass


class _EioClient:
    """Common receive side: a background thread feeds ``self._q``.

    Server pings (``2``) are answered with ``3`` by the background thread as
    soon as they arrive (the suite profile only leaves 200 ms), unless
    ``autopong`` is False, in which case they are queued like any packet.
    """

    autopong = True

    def _init_queue(self) -> None:
        import queue

        self._q: "queue.Queue" = queue.Queue()
        self.pings = 0
        self.closed_reason: Optional[str] = None
        _OPEN_CLIENTS.append(self)

    def _deliver_closed(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
        self._q.put(_CLOSED)

    def recv(self, timeout: float = 3.0) -> Packet:
        """Next packet (text str / binary bytes); ConnectionClosed once the session is over."""
        import queue

        self._ensure_receiving()
        try:
            p = self._q.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no packet received within {timeout}s") from None
        if p is _CLOSED:
            self._q.put(_CLOSED)
            raise ConnectionClosed(self.closed_reason or "closed")
        return p

    def recv_n(self, n: int, timeout: float = 3.0) -> List[Packet]:
        deadline = time.monotonic() + timeout
        return [self.recv(timeout=max(0.01, deadline - time.monotonic())) for _ in range(n)]

    def expect_closed(self, timeout: float = 3.0) -> List[Packet]:
        """Wait until the server ends the session; returns the packets seen before."""
        seen: List[Packet] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"session not closed within {timeout}s; saw {seen!r}")
            try:
                seen.append(self.recv(timeout=left))
            except ConnectionClosed:
                return seen
            except TimeoutError:
                continue

    def assert_silent(self, duration: float = 0.4) -> None:
        """Nothing but heartbeats during ``duration`` seconds (and still open)."""
        try:
            p = self.recv(timeout=duration)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected packet {p!r}")

    def _ensure_receiving(self) -> None:
        pass


class EioWebSocket(_EioClient):
    """Engine.IO over a raw websocket."""

    def __init__(self, path: str = "/socket.io/", sid: Optional[str] = None, autopong: bool = True,
                 query_extra: str = ""):
        resp, ws, _ = ws_connect(eio_query(path, "websocket", sid, extra=query_extra))
        assert resp.status == 101, (resp.status, resp.body)
        self.response = resp
        self.ws = ws
        self.autopong = autopong
        self._send_lock = threading.Lock()
        self._init_queue()
        self.open: Optional[dict] = None
        self.open_raw: Optional[str] = None
        self._t = threading.Thread(target=self._reader, daemon=True)
        self._t.start()
        if sid is None:
            pkt = self.recv(timeout=3)
            assert isinstance(pkt, str) and pkt.startswith("0"), pkt
            self.open_raw = pkt
            self.open = parse_open(pkt)

    @property
    def sid(self) -> str:
        return self.open["sid"]

    def _reader(self) -> None:
        try:
            while True:
                f = self.ws.recv_frame(timeout=None)
                if f.opcode == OP_CLOSE:
                    self.close_frame = f
                    self._deliver_closed(f"close frame {f.payload!r}")
                    return
                if f.opcode == OP_BINARY:
                    self._q.put(f.payload)
                    continue
                text = f.payload.decode("utf-8")
                if text == "2" and self.autopong:
                    self.pings += 1
                    self.send("3")
                    continue
                self._q.put(text)
        except (ConnectionClosed, OSError) as e:
            self._deliver_closed(f"connection closed ({e!r})")

    def send(self, p: Packet) -> None:
        with self._send_lock:
            self.ws.send(p)

    def send_many(self, *packets: Packet) -> None:
        """Each packet in its own websocket frame."""
        for p in packets:
            self.send(p)

    def close(self) -> None:
        with self._send_lock:
            self.ws.close()


class EioPolling(_EioClient):
    """Engine.IO over HTTP long-polling.

    ``get``/``post`` issue single raw requests. ``recv`` starts a background
    long-polling loop (one GET at a time, as a real client does); do not mix
    manual GETs with ``recv`` on the same session.
    """

    def __init__(self, path: str = "/socket.io/", autopong: bool = True, query_extra: str = ""):
        self.path = path
        self.autopong = autopong
        self._init_queue()
        self._poller: Optional[threading.Thread] = None
        self._stop = False
        r = http("GET", eio_query(path, "polling", extra=query_extra))
        assert r.status == 200, (r.status, r.body)
        self.handshake_response = r
        self.open_raw = r.text
        self.open = parse_open(r.text)
        self.sid: str = self.open["sid"]

    def url(self, extra: str = "") -> str:
        return eio_query(self.path, "polling", self.sid, extra=extra)

    def get(self, timeout: float = 5.0, extra: str = "") -> HttpResponse:
        return http("GET", self.url(extra), timeout=timeout)

    def post(self, body: Union[str, bytes], headers: Optional[Dict[str, str]] = None,
             timeout: float = 5.0) -> HttpResponse:
        return http("POST", self.url(), body=body, headers=headers, timeout=timeout)

    def send(self, p: Packet) -> None:
        self.send_many(p)

    def send_many(self, *packets: Packet) -> None:
        """All packets in one POST, joined by the record separator."""
        r = self.post(encode_payload(list(packets)))
        assert r.status == 200 and r.body == b"ok", (r.status, r.body)

    def _ensure_receiving(self) -> None:
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll_loop, daemon=True)
            self._poller.start()

    def _poll_loop(self) -> None:
        while not self._stop:
            try:
                r = self.get(timeout=10)
            except OSError as e:
                self._deliver_closed(f"GET failed ({e!r})")
                return
            if r.status != 200:
                self._deliver_closed(f"GET answered {r.status} {r.body!r}")
                return
            for p in decode_payload(r.text):
                if p == "2" and self.autopong:
                    self.pings += 1
                    try:
                        self.post("3")
                    except OSError:
                        pass
                    continue
                if p == "6":
                    continue
                if p == "1":
                    self._deliver_closed("close packet")
                    return
                self._q.put(p)

    def close(self) -> None:
        self._stop = True
        try:
            http("POST", self.url(), body="1", timeout=2)
        except OSError:
            pass


def eio_client(transport: str, path: str = "/socket.io/", **kw):
    if transport == "websocket":
        return EioWebSocket(path, **kw)
    if transport == "polling":
        return EioPolling(path, **kw)
    raise ValueError(transport)


# --------------------------------------------------------------------------
# Socket.IO helpers
# --------------------------------------------------------------------------

CONNECT_RE = re.compile(r'^40(/[^,]*,)?\{"sid":"([A-Za-z0-9_-]{20})"\}$')


def sio_connect(client, nsp: str = "/", auth: Optional[str] = None) -> str:
    """Send CONNECT for ``nsp`` and read the CONNECT reply + the ``auth`` event.

    Returns the Socket.IO sid. Asserts the exact wire form.
    """
    prefix = "" if nsp == "/" else f"{nsp},"
    client.send("40" + prefix + (auth or ""))
    reply = client.recv()
    m = CONNECT_RE.match(reply)
    assert m, reply
    assert (m.group(1) or "") == prefix, reply
    auth_echo = client.recv()
    assert auth_echo == f'42{prefix}["auth",{auth or "{}"}]', auth_echo
    return m.group(2)

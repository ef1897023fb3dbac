"""The fuzz requests over a real socket (a server from tests/_server.py): a request written as raw
HTTP/1.1 bytes, an answer read back, and the clients a server meets in the wild (slow ones, ones
that leave halfway, ones whose framing lies)."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import quote, quote_from_bytes

from tests.reliability._http import Request, Response

_FRAMING = {b"host", b"content-length", b"transfer-encoding", b"expect", b"connection"}
_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"}  # what httptools parses
_TOKEN = set(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def wire(req: Request) -> bytes | None:
    """``req`` as the bytes of an HTTP/1.1 request (None when it cannot travel as it is: a method
    or header no HTTP parser takes, a path that is not absolute, framing headers of its own)."""
    if req.method not in _METHODS or not req.path.startswith("/"):
        return None
    for name, value in req.headers:
        if name.lower() in _FRAMING or not set(name) <= _TOKEN or any(c in value for c in b"\x00\r\n"):
            return None
    target = quote(req.path, safe="/;=&!$'()*+,:@~")
    if req.query:
        target += "?" + quote_from_bytes(req.query, safe="=&%+;,/?:@!$'()*[]~")
    head = [f"{req.method} {target} HTTP/1.1".encode(), b"Host: fuzz"]
    head += [name + b": " + value for name, value in req.headers]
    if req.body or req.method in ("POST", "PUT", "PATCH"):
        head.append(b"Content-Length: %d" % len(req.body))
    return b"\r\n".join(head) + b"\r\n\r\n" + req.body


def read_response(f, method: str) -> Response:
    """One response from the buffered socket file ``f``."""
    line = f.readline(65_537)
    if not line:
        raise EOFError("the server closed the connection without an answer")
    status = int(line.split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    while True:
        h = f.readline(65_537)
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return Response(status, headers, b"")
    if b"content-length" in headers:
        body = f.read(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        parts = []
        while (size := int(f.readline().split(b";")[0], 16)) > 0:
            parts.append(f.read(size))
            f.readline()
        f.readline()
        body = b"".join(parts)
    else:
        body = f.read()
    return Response(status, headers, body)


def exchange(
    port: int,
    data: bytes,
    method: str = "POST",
    *,
    answers: int = 1,
    pieces: int = 1,
    pause: float = 0.0,
    timeout: float = 30.0,
) -> list[Response]:
    """Send ``data`` (in ``pieces`` with ``pause`` seconds between them) and read ``answers``
    responses, fewer if the server closes the connection first."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        f = s.makefile("rb")
        errors: list[OSError] = []

        def send() -> None:
            try:
                size = -(-len(data) // pieces)
                for i in range(0, len(data), size):
                    s.sendall(data[i : i + size])
                    if pause and i + size < len(data):
                        time.sleep(pause)
            except OSError as e:  # the server answered and closed before the body was all sent
                errors.append(e)

        sender = threading.Thread(target=send)  # a large body is read by the server as it is sent
        sender.start()
        out = []
        try:
            for _ in range(answers):
                out.append(read_response(f, method))
        except (EOFError, ConnectionResetError):
            pass
        finally:
            sender.join()
        return out


def leave(port: int, data: bytes, *, half_close: bool = False, wait: float = 0.0) -> bytes:
    """Send ``data`` and go away (after closing the sending half and reading what comes back, with
    ``half_close``): a client that disconnects mid-request."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        time.sleep(wait)
        if not half_close:
            return b""
        s.shutdown(socket.SHUT_WR)
        got = b""
        try:
            while chunk := s.recv(65_536):
                got += chunk
        except OSError:
            pass
        return got

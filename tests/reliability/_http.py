"""What the fuzz tests send and how they judge the answers: a request as plain data, a small
in-process ASGI client that sends thousands of them concurrently (lifespan included), and the
check every answer must pass (no 5xx; a 4xx is JSON whose ``error`` is a sentence naming the
problem, not an exception's repr)."""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote

import orjson

JSON = ((b"content-type", b"application/json"),)


@dataclass(frozen=True)
class Request:
    """One request: ``kind`` names its family (for the counts); ``expect`` the statuses allowed (any
    below 500 when None); ``mentions`` the words a 4xx ``error`` must contain (case-insensitive);
    ``rows`` the number of answers a 200 from ``/predict`` must hold."""

    kind: str
    method: str
    path: str
    body: bytes = b""
    query: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = JSON
    pieces: int = 1  # the body arrives in this many messages
    disconnect: bool = False  # the client leaves after the first piece of the body
    expect: frozenset[int] | None = None
    mentions: tuple[str, ...] = ()
    rows: int | None = None
    note: str = ""  # what is hostile about it, when the body is too long to show

    def describe(self, limit: int = 600) -> str:
        body = repr(self.body)
        if len(self.body) > limit:
            half = limit // 2
            body = f"{self.body[:half]!r} ... {self.body[-half:]!r} ({len(self.body):,} bytes)"
        query = b"?" + self.query if self.query else b""
        extra = [f"{k.decode('latin-1')}: {v.decode('latin-1')[:80]}" for k, v in self.headers]
        how = f" in {self.pieces} pieces" if self.pieces > 1 else ""
        how += ", then the client disconnects" if self.disconnect else ""
        note = f" [{self.note}]" if self.note else ""
        return (
            f"{self.method} {self.path[:200]!r}{query.decode('latin-1')[:300]} {extra}{how}{note} body={body}"
        )


def expect(*statuses: int) -> frozenset[int]:
    return frozenset(statuses)


@dataclass
class Response:
    status: int  # 0: no answer (the client had left)
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytes = b""


# What an exception's repr or a traceback looks like inside an error message.
_PYTHONIC = re.compile(
    r"Traceback \(most recent call|<[\w.]+ object at 0x|\b[A-Z]\w*(Error|Exception)\("
    r"|\b(KeyError|TypeError|ValueError|AttributeError|IndexError|RecursionError|OverflowError"
    r"|Unicode\w*Error|JSONDecodeError|ZeroDivisionError|AssertionError|NoneType)\b"
)


def check(req: Request, res: Response) -> list[str]:
    """What is wrong with ``res`` as the answer to ``req`` (nothing: an empty list)."""
    if res.status == 0:
        return [] if req.disconnect else ["no answer"]
    wrong = []
    if res.status >= 500:
        wrong.append(f"status {res.status}")
    elif req.expect is not None and res.status not in req.expect:
        wrong.append(f"status {res.status}, expected {sorted(req.expect)}")
    if req.method == "HEAD" or 300 <= res.status < 400:
        return wrong
    if req.path == "/metrics" and res.status == 200:
        return wrong + (
            [] if res.headers.get(b"content-type", b"").startswith(b"text/plain") else ["not text"]
        )
    try:
        doc = orjson.loads(res.body)
    except orjson.JSONDecodeError:
        return [*wrong, "the body is not JSON"]
    if not res.headers.get(b"content-type", b"").startswith(b"application/json"):
        wrong.append(f"content-type {res.headers.get(b'content-type')!r} for a JSON body")
    if 400 <= res.status < 600:
        error = doc.get("error") if isinstance(doc, dict) else None
        if not isinstance(error, str) or len(error.strip()) < 12:
            wrong.append("no 'error' sentence")
        elif _PYTHONIC.search(error):
            wrong.append("the error reads like a Python exception")
        else:
            wrong += [
                f"the error does not mention {m!r}" for m in req.mentions if m.lower() not in error.lower()
            ]
    if res.status == 200 and req.rows is not None:
        answers = doc.get("predictions") if isinstance(doc, dict) else None
        if not isinstance(answers, list) or len(answers) != req.rows:
            wrong.append(f"expected {req.rows} predictions")
        elif not all(_finite(a) for a in answers):
            wrong.append("an answer holds a number that is not finite (or no number)")
    return wrong


def _finite(answer: object) -> bool:
    if not isinstance(answer, dict):
        return False
    numbers = [answer.get(k) for k in ("score", "confidence", "prediction") if k in answer]
    numbers += list((answer.get("probabilities") or {}).values())
    return bool(numbers) and all(isinstance(v, int | float) and math.isfinite(v) for v in numbers)


class ErrorLog(logging.Handler):
    """Every ERROR logged while installed: a failed request or a crashed task shows up here even
    when the client got a tidy answer."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> ErrorLog:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger().removeHandler(self)

    def lines(self) -> list[str]:
        return [
            f"{r.name}: {r.getMessage()} {r.exc_info[1]!r}" if r.exc_info else r.getMessage()
            for r in self.records
        ]


class Client:
    """An ASGI app started on the running event loop (its lifespan run as a server would), sent
    :class:`Request` s directly as ASGI messages."""

    def __init__(self, app, timeout: float = 60.0):
        self.app = app
        self.timeout = timeout
        self.crashes: list[str] = []  # the app raised, or never answered

    async def __aenter__(self) -> Client:
        self._in: asyncio.Queue = asyncio.Queue()
        self._out: asyncio.Queue = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.create_task(self.app(scope, self._in.get, self._out.put))
        await self._in.put({"type": "lifespan.startup"})
        started = await asyncio.wait_for(self._out.get(), 300)
        assert started["type"] == "lifespan.startup.complete", started
        return self

    async def __aexit__(self, *exc) -> None:
        await self._in.put({"type": "lifespan.shutdown"})
        stopped = await asyncio.wait_for(self._out.get(), 60)
        assert stopped["type"] == "lifespan.shutdown.complete", stopped
        await self._task

    async def send(self, req: Request) -> Response:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": req.method,
            "scheme": "http",
            "path": req.path,
            "raw_path": quote(req.path, safe="/%").encode(),
            "root_path": "",
            "query_string": req.query,
            "headers": [(b"host", b"fuzz"), *req.headers],
            "client": ("127.0.0.1", 50000),
            "server": ("fuzz", 80),
            "state": {},
        }
        n = max(1, req.pieces)
        size = -(-len(req.body) // n) or 1
        pieces = [req.body[i : i + size] for i in range(0, len(req.body), size)] or [b""]
        messages = [
            {"type": "http.request", "body": p, "more_body": i < len(pieces) - 1}
            for i, p in enumerate(pieces)
        ]
        if req.disconnect:
            messages = [
                {"type": "http.request", "body": pieces[0], "more_body": True},
                {"type": "http.disconnect"},
            ]
        answered = asyncio.Event()
        res = Response(0)

        async def receive() -> dict:
            if messages:
                if len(messages) > 1:
                    await asyncio.sleep(0)  # a slow client: other requests run between the pieces
                return messages.pop(0)
            await answered.wait()
            return {"type": "http.disconnect"}

        chunks: list[bytes] = []

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                assert res.status == 0, "two response starts"
                res.status = message["status"]
                res.headers = {k.lower(): v for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                assert res.status and not answered.is_set(), "a body outside a response"
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    answered.set()

        try:
            await asyncio.wait_for(self.app(scope, receive, send), self.timeout)
        except TimeoutError:
            self.crashes.append(f"no answer within {self.timeout:g} s: {req.describe()}")
        except Exception as e:
            self.crashes.append(f"the app raised {e!r}: {req.describe()}")
        if res.status and not answered.is_set():
            self.crashes.append(f"a response without its end: {req.describe()}")
        res.body = b"".join(chunks)
        return res

    async def run(self, requests: Iterable[Request], concurrency: int = 16) -> list[tuple[Request, Response]]:
        """Every request answered, ``concurrency`` at a time (so that the service scores several
        requests' rows in one model call, good rows beside bad)."""
        requests = list(requests)
        out: list[tuple[Request, Response]] = []
        for i in range(0, len(requests), concurrency):
            group = requests[i : i + concurrency]
            answers = await asyncio.gather(*(self.send(r) for r in group))
            out += zip(group, answers, strict=True)
        return out


@dataclass
class Tally:
    """The requests sent and what was wrong with their answers, by kind."""

    sent: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def add(self, req: Request, res: Response, where: str = "") -> None:
        self.sent[req.kind] += 1
        self.statuses[res.status] += 1
        wrong = check(req, res)
        if wrong:
            self.failures.append(
                f"[{where}{req.kind}] {'; '.join(wrong)}\n    request: {req.describe()}\n"
                f"    answer: {res.status} {res.body[:400]!r}"
            )

    def total(self) -> int:
        return sum(self.sent.values())

    def report(self, limit: int = 30) -> str:
        head = f"{len(self.failures)} bad answers of {self.total()}:\n"
        return head + "\n".join(self.failures[:limit])

"""The prediction service: an ASGI app over a :class:`Predictor`.

Endpoints: ``POST /predict`` (``?explain=true`` for reasons), ``POST /feedback``, ``GET /health``,
``GET /ready``, ``GET /metrics`` (Prometheus) and ``GET /openapi.json``. Every answer is JSON; every
client mistake is a 4xx whose body names the problem (and the row and field, for rows).

The two POST endpoints are served straight from the ASGI messages; everything else goes through
Starlette. A one-row prediction is some 50 µs of work, and Starlette's middleware, routing, request
and response objects cost about as much again (measured: 14 µs for a bare Starlette echo, 26 % of
the predict path's time in its layers), so the hot path skips them; the rare endpoints keep them.

Requests that arrive together are scored together: a request queues its rows and the queue is
scored once the event loop has read every request that was ready, so a burst of concurrent
single-row requests costs one model call, and a lone request waits for nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import math
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import orjson

from poc2prod.errors import Poc2ProdError
from poc2prod.serve._predictor import Batch, Predictor, describe
from poc2prod.serve._recommend import RecommendPredictor
from poc2prod.store._predlog import LogWriter, prediction_record

_MAX_BODY = 1 << 20
_YEAR_2200 = 7258118400.0  # epoch seconds
_COUNT = re.compile(r"[0-9]{1,4}")  # a query's top or k: ASCII digits, short ("²".isdigit() is true)
_EXAMPLE = 'send JSON such as {"rows": [{"field": value, ...}]}'
_JSON_HEADER = (b"content-type", b"application/json")
_log = logging.getLogger("poc2prod.serve")

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


@dataclass
class ServiceConfig:
    """How one service process behaves."""

    api_key: str | None = None
    max_body: int = _MAX_BODY
    log_folder: str | None = None  # None: no prediction log (tests of validation alone)
    threads: int = 1
    metrics_registry: Any = None  # a prometheus CollectorRegistry; None: the process default


class _Rejected(Exception):
    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


class _Gone(Exception):
    """The client disconnected before its request was read: there is no one to answer."""


def _dumps(doc: Any) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


class _Metrics:
    """The Prometheus metrics, fed in bulk.

    Each value a request touches costs a lock and an mmap write in multiprocess mode, some 15 µs a
    one-row request for its counter, latency and score (measured: 118 -> 97 µs a request without
    them). So a request only notes what happened, and the notes are added to the metrics in bulk
    at most ``delay`` seconds later (and before every exposition): a bucket's count at once.
    """

    def __init__(self, registry, delay: float = 0.1):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        r = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.registry = r
        self.requests = Counter(
            "poc2prod_requests", "Requests by endpoint and status", ["endpoint", "status"], registry=r
        )
        self.latency = Histogram(
            "poc2prod_request_seconds",
            "Time to answer, by endpoint",
            ["endpoint"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=r,
        )
        self.rows = Counter("poc2prod_rows_scored", "Rows scored", registry=r)
        self.scores = Histogram(
            "poc2prod_score",
            "Scores given (binary: P(positive))",
            buckets=[i / 20 for i in range(1, 21)],
            registry=r,
        )
        self.flags = Counter(
            "poc2prod_flagged_fields", "Fields scored but flagged (unseen, out of range)", registry=r
        )
        self.info = Gauge("poc2prod_model_version", "The model version served", ["model"], registry=r)
        self.delay = delay
        self._answers: list[tuple[str, int, float]] = []
        self._scores: list[np.ndarray] = []
        self._rows = self._flags = 0
        self._due = False

    def answered(self, endpoint: str, status: int, seconds: float) -> None:
        """Note an answer and its latency."""
        self._answers.append((endpoint, status, seconds))
        self._soon()

    def scored(self, scores: np.ndarray | None, rows: int, flags: int) -> None:
        """Note a request's rows and flagged fields, and its scores for the score histogram."""
        self._rows += rows
        self._flags += flags
        if scores is not None:
            self._scores.append(scores)
        self._soon()

    def _soon(self) -> None:
        if not self._due:
            self._due = True
            asyncio.get_running_loop().call_later(self.delay, self.add_notes)

    def add_notes(self) -> None:
        """Add what was noted to the metrics."""
        self._due = False
        answers, self._answers = self._answers, []
        by_kind: dict[tuple[str, int], list[float]] = {}
        for endpoint, status, seconds in answers:
            by_kind.setdefault((endpoint, status), []).append(seconds)
        for (endpoint, status), seconds in by_kind.items():
            self.requests.labels(endpoint=endpoint, status=str(status)).inc(len(seconds))
            _add_all(self.latency.labels(endpoint=endpoint), np.array(seconds))
        if self._rows:
            self.rows.inc(self._rows)
        if self._flags:
            self.flags.inc(self._flags)
        self._rows = self._flags = 0
        if self._scores:
            scores, self._scores = self._scores, []
            _add_all(self.scores, np.concatenate(scores))

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        self.add_notes()
        registry = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import CollectorRegistry, multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)


def _add_all(histogram, values: np.ndarray) -> None:
    """``histogram.observe`` of every value, at the cost of one update per bucket.

    prometheus_client has no bulk observe; its buckets hold per-bucket counts, and observe adds 1
    to the first bound >= the value and the value to the sum, which is done here a bucket at a time.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None:  # a prometheus_client that changed inside
        for v in values:
            histogram.observe(v)
        return
    counts = np.bincount(np.searchsorted(bounds, values), minlength=len(bounds))
    for i in np.flatnonzero(counts):
        buckets[i].inc(int(counts[i]))
    total.inc(float(values.sum()))


class _Batcher:
    """Scores the rows of every request queued in one event-loop turn with one model call, and logs
    them (one append) before any of those requests is answered. A shadow model scores the same
    rows for the log only: its scores never change an answer, and its failure never fails one."""

    def __init__(self, predictor: Predictor, log: LogWriter | None, shadow: Predictor | None = None):
        self.predictor = predictor
        self.log = log
        self.shadow = shadow
        self.queue: list[tuple[Batch, str, asyncio.Future, float | None]] = []

    def submit(self, batch: Batch, request_id: str, at: float | None = None) -> asyncio.Future:
        """Score ``batch`` with whatever else arrives in this turn of the event loop; ``at`` is the
        time the log gives its rows (default: now)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if not self.queue:
            loop.call_soon(self._flush)
        self.queue.append((batch, request_id, fut, at))
        return fut

    def _flush(self) -> None:
        queue, self.queue = self.queue, []
        self._run(queue)

    def _run(self, queue) -> None:
        try:
            merged = Batch.concat([b for b, *_ in queue])
            scores = self.predictor.score(merged)
            answers = self.predictor.decide(scores)
            if self.log is not None:
                self.log.append(self._records(queue, answers, self._shadow_scores(merged)))
        except Exception as e:
            if len(queue) > 1:  # one request's rows must not fail the others': each on its own
                for entry in queue:
                    self._run([entry])
                return
            for _, _, fut, _ in queue:
                if not fut.done():
                    fut.set_exception(e)
            return
        start = 0
        for batch, _, fut, _ in queue:
            n = len(batch)
            if not fut.done():
                fut.set_result((scores[start : start + n], answers[start : start + n]))
            start += n

    def _shadow_scores(self, merged: Batch) -> np.ndarray | None:
        if self.shadow is None:
            return None
        try:
            return self.shadow.score(merged)
        except Exception:
            _log.exception(
                "the shadow model (version %s) failed; its scores are logged as missing", self.shadow.version
            )
            return np.full(len(merged), np.nan)

    def _records(self, queue, answers, shadow: np.ndarray | None):
        p = self.predictor
        now = time.time()
        start = 0
        for batch, request_id, _, at in queue:
            n = len(batch)
            inputs = batch.inputs(p.numeric, p.texts)
            record = prediction_record(
                request_id,
                now if at is None else at,
                p.version,
                inputs,
                answers[start : start + n],
                batch.flags,
            )
            if shadow is not None:
                record["shadow"] = {"version": self.shadow.version, "scores": shadow[start : start + n]}
            yield record
            start += n


class _ListBatcher:
    """The recommendation service's micro-batcher: the users of every request queued in one
    event-loop turn get their lists from one model call (a user's top k is the head of her top
    k-max, so requests asking for different k share it), logged in one append before any answer."""

    def __init__(self, predictor: RecommendPredictor, log: LogWriter | None):
        self.predictor = predictor
        self.log = log
        self.queue: list[tuple[list[str], int, str, asyncio.Future, float | None]] = []

    def submit(self, users: list[str], k: int, request_id: str, at: float | None = None) -> asyncio.Future:
        """The lists of ``users`` (answers, as many as users), with whatever else arrives this turn."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if not self.queue:
            loop.call_soon(self._flush)
        self.queue.append((users, k, request_id, fut, at))
        return fut

    def _flush(self) -> None:
        queue, self.queue = self.queue, []
        p = self.predictor
        try:
            answers = p.recommend([u for users, *_ in queue for u in users], max(k for _, k, *_ in queue))
            if self.log is not None:
                now, start, records = time.time(), 0, []
                for users, k, request_id, _, at in queue:
                    for row, a in enumerate(answers[start : start + len(users)]):
                        records.append(
                            {
                                "request_id": request_id,
                                "row": row,
                                "time": now if at is None else at,
                                "version": p.version,
                                "user": a.user,
                                "known": a.known,
                                "items": p.log_items(a, k),
                            }
                        )
                    start += len(users)
                self.log.append(records)
        except Exception as e:
            for *_, fut, _ in queue:
                if not fut.done():
                    fut.set_exception(e)
            return
        start = 0
        for users, _, _, fut, _ in queue:
            if not fut.done():
                fut.set_result(answers[start : start + len(users)])
            start += len(users)


def _event_time(value: Any) -> float | None:
    """A request's ``time`` (when its rows happened: a post's publication, an application's date)
    as epoch seconds; the log files the rows under it, so a replayed stream keeps its own days."""
    if value is None:
        return None
    at = None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        at = float(value)
    elif isinstance(value, str):
        import datetime as dt

        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            at = (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()
    if at is None:
        raise _Rejected(
            422,
            f"time {describe(value)} is neither epoch seconds nor an ISO 8601 date-time "
            "(e.g. 2026-11-29T14:00:00Z)",
        )
    # One request filed in the year 10^300 would put every row of the log in its window.
    if not 0 <= at < _YEAR_2200:
        raise _Rejected(
            422, f"time {describe(value)} is not between 1970 and 2200; send when the rows happened"
        )
    return at


class _Service:
    """The ASGI app: POST endpoints on the lean path, the rest through Starlette."""

    def __init__(
        self,
        loader: Callable[[], Predictor] | Predictor,
        config: ServiceConfig,
        shadow: Callable[[], Predictor] | Predictor | None = None,
    ):
        self.loader = loader
        self.shadow_loader = shadow
        self.config = config
        self.metrics = _Metrics(config.metrics_registry)
        self.predictor: Predictor | None = None
        self.batcher: _Batcher | None = None
        self.logs: dict[str, LogWriter] = {}
        self.key = config.api_key.encode() if config.api_key else None
        self.prefix = secrets.token_hex(4)
        self.counter = itertools.count()
        self.too_large = (
            f"the request body is larger than the limit of {config.max_body:,} bytes; send fewer rows"
        )
        self.posts: dict[str, tuple[str, Callable[[Any, dict], Awaitable[Any]]]] = {
            "/predict": ("predict", self.predict),
            "/feedback": ("feedback", self.feedback),
            "/recommend": ("recommend", self.recommend_many),
        }
        self.starlette = self._starlette()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            if scope["method"] == "POST" and scope["path"] in self.posts:
                name, handler = self.posts[scope["path"]]
                return await self.lean(scope, receive, send, name, handler, body=True)
            if scope["method"] == "GET" and scope["path"].startswith("/recommend/"):
                return await self.lean(scope, receive, send, "recommend", self.recommend_one, body=False)
        await self.starlette(scope, receive, send)

    # -- start and stop ----------------------------------------------------------------------

    async def startup(self) -> None:
        predictor = await _load(self.loader)
        predictor.threads = self.config.threads
        shadow = None
        if self.shadow_loader is not None:
            shadow = await _load(self.shadow_loader)
            shadow.threads = self.config.threads
            shadow.score(shadow.example())
        if self.config.log_folder:
            self.logs = {
                kind: LogWriter(self.config.log_folder, kind)
                for kind in ("predictions", "feedback", "rejected")
            }
        # The first call of each library path is slow (lazy imports, first allocations): pay it
        # here, not in the first client's latency.
        if predictor.task == "recommend":
            predictor.replay(self.config.log_folder)
            predictor.warm()
            self.batcher = _ListBatcher(predictor, self.logs.get("predictions"))
        else:
            predictor.score(predictor.example())
            self.batcher = _Batcher(predictor, self.logs.get("predictions"), shadow)
        self.metrics.info.labels(model=predictor.name).set(predictor.version)
        self.predictor = predictor

    async def shutdown(self) -> None:
        self.metrics.add_notes()
        for log in self.logs.values():
            log.close()

    # -- the POST endpoints --------------------------------------------------------------------

    async def lean(self, scope, receive, send, name: str, handler, *, body: bool) -> None:
        """Answer one request on the lean path: ``handler(doc, scope)`` with the JSON body (None for
        a request without one), every failure turned into one JSON sentence with its status."""
        t0 = time.perf_counter()
        try:
            headers = dict(scope["headers"])
            self.check_key(headers)
            self.ready()
            doc = await self.read_json(headers, receive) if body else None
            status, answer = 200, await handler(doc, scope)
        except _Gone:
            return
        except _Rejected as r:
            status, answer = r.status, {"error": r.message, **r.extra}
        except Poc2ProdError as e:  # e.g. the prediction log cannot be written: nothing was answered
            status, answer = 503, {"error": str(e)}
        except Exception as e:  # a bug or a model failure: still one JSON sentence, never a bare 500
            _log.exception("%s failed", scope["path"])
            status = 500
            answer = {"error": f"the service failed on this request ({type(e).__name__}); see the server log"}
        body = _dumps(answer)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [_JSON_HEADER, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
        self.metrics.answered(name, status, time.perf_counter() - t0)

    def check_key(self, headers: dict[bytes, bytes]) -> None:
        if self.key is None:
            return
        given = headers.get(b"x-api-key")
        if given is None:
            auth = headers.get(b"authorization", b"")
            given = auth[7:] if auth[:7].lower() == b"bearer " else None
        if given is None or not hmac.compare_digest(given, self.key):
            raise _Rejected(401, "a valid API key is required: send it in the X-API-Key header")

    def ready(self) -> Predictor:
        if self.predictor is None:
            raise _Rejected(503, "the model is still loading; retry shortly (GET /ready says when)")
        return self.predictor

    async def read_json(self, headers: dict[bytes, bytes], receive) -> Any:
        length = headers.get(b"content-length")
        if length is not None and not re.fullmatch(rb"[0-9]+", length):
            raise _Rejected(400, "the Content-Length header is not a number of bytes; send the body's length")
        if length is not None and (len(length) > 18 or int(length) > self.config.max_body):
            raise _Rejected(413, self.too_large)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.config.max_body:
                raise _Rejected(413, self.too_large)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if not body:
            raise _Rejected(400, f"the request body is empty; {_EXAMPLE}")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            reason = str(e).split(":")[0]
            raise _Rejected(400, f"the request body is not valid JSON ({reason}); {_EXAMPLE}") from None

    async def predict(self, doc: Any, scope: dict) -> dict[str, Any]:
        predictor = self.ready()
        if predictor.task == "recommend":
            raise _Rejected(
                404, "this service recommends: GET /recommend/{user}, or POST /recommend for several"
            )
        rows = doc.get("rows", [doc]) if isinstance(doc, dict) else doc
        batch, errors = predictor.validate(rows)
        if errors:
            first = errors[0]
            where = f"row {first.row}, field {first.field!r}" if first.field else f"row {first.row}"
            problems = [e.to_dict() for e in errors[:100]]
            if "rejected" in self.logs:  # the schema-violation rate the monitor reports per window
                n = len(rows) if isinstance(rows, list) else 1
                self.logs["rejected"].append(
                    [{"time": time.time(), "version": predictor.version, "rows": n, "problems": problems}]
                )
            raise _Rejected(422, f"{where}: {first.problem}", problems=problems)
        at = _event_time(doc.get("time")) if isinstance(doc, dict) and "rows" in doc else None
        request_id = f"{self.prefix}-{next(self.counter):x}"
        scores, answers = await self.batcher.submit(batch, request_id, at)
        binary = predictor.task == "binary"
        self.metrics.scored(scores if binary else None, len(batch), sum(map(len, batch.flags)))
        answers = predictor.respond(batch, answers)
        out = [dict(a, flags=f) if f else a for a, f in zip(answers, batch.flags, strict=True)]
        doc = {"request_id": request_id, "model": predictor.name, "version": predictor.version}
        query = parse_qs(scope["query_string"].decode("latin-1")) if scope.get("query_string") else {}
        if query.get("explain", [""])[-1].lower() in ("1", "true", "yes"):
            top = query.get("top", ["3"])[-1]
            reasons, method = predictor.explain(batch, top=int(top) if _COUNT.fullmatch(top) else 3)
            for a, r in zip(out, reasons, strict=True):
                a["reasons"] = r
            doc["explained_by"] = method
        doc["predictions"] = out
        return doc

    async def feedback(self, doc: Any, scope: dict) -> dict[str, Any]:
        predictor = self.ready()
        items = doc.get("feedback", [doc]) if isinstance(doc, dict) else doc
        if predictor.task == "recommend":
            return self.purchases(predictor, items)
        if not isinstance(items, list) or not items:
            raise _Rejected(
                422, 'expected {"request_id": ..., "row": 0, "label": ...} or {"feedback": [...]}'
            )
        records = []
        allowed = {str(c) for c in predictor.classes}
        now = time.time()
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("request_id"), str):
                raise _Rejected(422, f"feedback {i}: request_id (text, from the /predict answer) is required")
            row = item.get("row", 0)
            if not isinstance(row, int) or isinstance(row, bool) or row < 0:
                raise _Rejected(
                    422, f"feedback {i}: row must be a whole number >= 0 (the row's place in its request)"
                )
            label = item.get("label")
            if predictor.task == "regression":
                if isinstance(label, bool) or not isinstance(label, int | float) or not np.isfinite(label):
                    raise _Rejected(422, f"feedback {i}: label must be a finite number")
            elif not isinstance(label, str | int | float) or str(label) not in allowed:
                raise _Rejected(
                    422, f"feedback {i}: label {describe(label)} is not one of the classes {sorted(allowed)}"
                )
            records.append({"request_id": item["request_id"], "row": row, "label": label, "time": now})
        if "feedback" in self.logs:
            self.logs["feedback"].append(records)
        return {"accepted": len(records)}

    def recommender(self) -> RecommendPredictor:
        predictor = self.ready()
        if predictor.task != "recommend":
            raise _Rejected(404, "this service scores rows: POST /predict; see /openapi.json")
        return predictor

    async def recommend_one(self, doc: Any, scope: dict) -> dict[str, Any]:
        """``GET /recommend/{user}?k=10&explain=true``: one user's list."""
        from urllib.parse import unquote

        user = unquote(scope["path"][len("/recommend/") :])
        if not user.strip() or "/" in user:
            raise _Rejected(404, "expected /recommend/{user}: one user id after /recommend/")
        query = parse_qs(scope["query_string"].decode("latin-1")) if scope.get("query_string") else {}
        return await self.lists([user], query.get("k", [None])[-1], query, None, single=True)

    async def recommend_many(self, doc: Any, scope: dict) -> dict[str, Any]:
        """``POST /recommend`` with ``{"users": [...], "k": 10, "time": ...}``: several lists."""
        from poc2prod.serve._recommend import RequestError

        predictor = self.recommender()
        try:
            users = predictor.users_of(doc)
        except RequestError as e:
            raise _Rejected(422, str(e)) from None
        query = parse_qs(scope["query_string"].decode("latin-1")) if scope.get("query_string") else {}
        return await self.lists(users, doc.get("k"), query, _event_time(doc.get("time")), single=False)

    async def lists(
        self, users: list[str], k: Any, query: dict, at: float | None, *, single: bool
    ) -> dict[str, Any]:
        from poc2prod.serve._recommend import RequestError

        predictor = self.recommender()
        try:
            k = predictor.k_of(k)
        except RequestError as e:
            raise _Rejected(422, str(e)) from None
        request_id = f"{self.prefix}-{next(self.counter):x}"
        answers = await self.batcher.submit(users, k, request_id, at)
        self.metrics.scored(None, len(users), 0)
        explain = query.get("explain", [""])[-1].lower() in ("1", "true", "yes")
        lists = [predictor.to_json(a, k, explain) for a in answers]
        doc = {"request_id": request_id, "model": predictor.name, "version": predictor.version}
        return doc | (lists[0] if single else {"lists": lists})

    def purchases(self, predictor: RecommendPredictor, items: Any) -> dict[str, Any]:
        """Feedback to a recommender: what users bought (or clicked), logged, and each purchase
        left out of that user's later lists."""
        from poc2prod.serve._recommend import RequestError

        if not isinstance(items, list) or not items:
            raise _Rejected(
                422, 'expected {"user": ..., "item": ..., "event": "purchase"} or {"feedback": [...]}'
            )
        now = time.time()
        try:
            records = [predictor.feedback_of(i, item) for i, item in enumerate(items)]
            for record, item in zip(records, items, strict=True):
                at = _event_time(item.get("time"))
                record["time"] = now if at is None else at
        except RequestError as e:
            raise _Rejected(422, str(e)) from None
        if "feedback" in self.logs:
            self.logs["feedback"].append(records)
        for r in records:
            if r["event"] == "purchase":
                predictor.remember(r["user"], r["item"])
        unknown = sum(not r["known_item"] for r in records)
        return {"accepted": len(records), **({"unknown_items": unknown} if unknown else {})}

    # -- everything else, through Starlette ----------------------------------------------------

    def _starlette(self):
        from contextlib import asynccontextmanager

        from prometheus_client import CONTENT_TYPE_LATEST
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        def answer(doc: Any, status: int = 200) -> Response:
            return Response(_dumps(doc), status_code=status, media_type="application/json")

        async def health(request: Request) -> Response:
            return answer({"status": "ok"})

        async def ready(request: Request) -> Response:
            p = self.predictor
            if p is None:
                return answer({"status": "loading"}, 503)
            return answer({"status": "ready", "model": p.name, "version": p.version})

        def keyed(handler):
            # Traffic counts, score distributions and the schema's categories tell about the
            # client's business: with a key set, only who holds it reads them (Prometheus sends it
            # as a bearer token). /health and /ready stay open to the orchestrator's probes.
            async def run(request: Request) -> Response:
                try:
                    self.check_key(dict(request.headers.raw))
                    return await handler(request)
                except _Rejected as r:
                    return answer({"error": r.message}, r.status)

            return run

        @keyed
        async def metrics(request: Request) -> Response:
            return Response(self.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

        @keyed
        async def openapi(request: Request) -> Response:
            return answer(self.ready().openapi())

        async def unknown(request: Request, exc) -> Response:
            path = request.url.path
            if exc.status_code == 405 or path in self.posts:
                return answer({"error": f"{request.method} is not allowed on {path}; see /openapi.json"}, 405)
            return answer({"error": f"there is no {path}; see /openapi.json for the endpoints"}, 404)

        @asynccontextmanager
        async def lifespan(app):
            await self.startup()
            try:
                yield
            finally:
                await self.shutdown()

        routes = [
            Route("/health", health, methods=["GET"]),
            Route("/ready", ready, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ]
        return Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: unknown, 405: unknown})


async def _load(loader: Callable[[], Predictor] | Predictor) -> Predictor:
    # A predictor (of rows or of lists) is served as given; a loader is called off the event loop.
    return await asyncio.to_thread(loader) if callable(loader) else loader


def create_app(
    loader: Callable[[], Predictor] | Predictor,
    config: ServiceConfig | None = None,
    shadow: Callable[[], Predictor] | Predictor | None = None,
) -> ASGIApp:
    """The service (an ASGI app) for the predictor ``loader`` returns, loaded at start-up so that
    ``/ready`` can say when; ``shadow``'s predictor scores every row too, for the log only."""
    return _Service(loader, config or ServiceConfig(), shadow)

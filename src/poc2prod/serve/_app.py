"""The prediction service: a thin Starlette app over a :class:`Predictor`.

Endpoints: ``POST /predict`` (``?explain=true`` for reasons), ``POST /feedback``, ``GET /health``,
``GET /ready``, ``GET /metrics`` (Prometheus) and ``GET /openapi.json``. Every answer is JSON; every
client mistake is a 4xx whose body names the problem (and the row and field, for rows).

Requests that arrive together are scored together: a request queues its rows and the queue is
scored once the event loop has read every request that was ready, so a burst of concurrent
single-row requests costs one model call, and a lone request waits for nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from poc2prod.errors import Poc2ProdError
from poc2prod.serve._predictor import Batch, Predictor
from poc2prod.store._predlog import LogWriter

_MAX_BODY = 1 << 20
_EXAMPLE = 'send JSON such as {"rows": [{"field": value, ...}]}'
_JSON = "application/json"


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


def _json(doc: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status, media_type=_JSON
    )


class _Metrics:
    def __init__(self, registry):
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


class _Batcher:
    """Scores the rows of every request queued in one event-loop turn with one model call, and logs
    them (one append) before any of those requests is answered."""

    def __init__(self, predictor: Predictor, log: LogWriter | None):
        self.predictor = predictor
        self.log = log
        self.queue: list[tuple[Batch, str, asyncio.Future]] = []

    def submit(self, batch: Batch, request_id: str) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if not self.queue:
            loop.call_soon(self._flush)
        self.queue.append((batch, request_id, fut))
        return fut

    def _flush(self) -> None:
        queue, self.queue = self.queue, []
        try:
            merged = Batch(
                [v for b, _, _ in queue for v in b.values], [f for b, _, _ in queue for f in b.flags]
            )
            scores = self.predictor.score(merged)
            answers = self.predictor.decide(scores)
            if self.log is not None:
                self.log.append(self._records(queue, answers))
        except Exception as e:
            for *_, fut in queue:
                if not fut.done():
                    fut.set_exception(e)
            return
        start = 0
        for batch, _, fut in queue:
            n = len(batch)
            if not fut.done():
                fut.set_result((scores[start : start + n], answers[start : start + n]))
            start += n

    def _records(self, queue, answers):
        p = self.predictor
        now = time.time()
        i = 0
        for batch, request_id, _ in queue:
            for row, (values, flags) in enumerate(zip(batch.values, batch.flags, strict=True)):
                yield {
                    "request_id": request_id,
                    "row": row,
                    "time": now,
                    "version": p.version,
                    "inputs": dict(zip(p.features, values, strict=True)),
                    **answers[i],
                    "flags": flags,
                }
                i += 1


def create_app(loader: Callable[[], Predictor] | Predictor, config: ServiceConfig | None = None) -> Starlette:
    """The service for the predictor ``loader`` returns (loaded at start-up, so ``/ready`` can say when)."""
    config = config or ServiceConfig()
    metrics = _Metrics(config.metrics_registry)
    state: dict[str, Any] = {"predictor": None, "batcher": None, "log": None, "feedback": None}
    prefix = secrets.token_hex(4)
    counter = itertools.count()
    key = config.api_key.encode() if config.api_key else None

    async def startup() -> None:
        predictor = loader if isinstance(loader, Predictor) else await asyncio.to_thread(loader)
        predictor.threads = config.threads
        if config.log_folder:
            state["log"] = LogWriter(config.log_folder, "predictions")
            state["feedback"] = LogWriter(config.log_folder, "feedback")
        state["batcher"] = _Batcher(predictor, state["log"])
        metrics.info.labels(model=predictor.name).set(predictor.version)
        state["predictor"] = predictor

    async def shutdown() -> None:
        for kind in ("log", "feedback"):
            if state[kind] is not None:
                state[kind].close()

    def check_key(request: Request) -> None:
        if key is None:
            return
        given = request.headers.get("x-api-key")
        if given is None:
            auth = request.headers.get("authorization", "")
            given = auth[7:] if auth.lower().startswith("bearer ") else None
        if given is None or not hmac.compare_digest(given.encode(), key):
            raise _Rejected(401, "a valid API key is required: send it in the X-API-Key header")

    too_large = f"the request body is larger than the limit of {config.max_body:,} bytes; send fewer rows"

    async def body_json(request: Request) -> Any:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > config.max_body):
            raise _Rejected(413, too_large)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > config.max_body:
                raise _Rejected(413, too_large)
            chunks.append(chunk)
        body = b"".join(chunks)
        if not body:
            raise _Rejected(400, f"the request body is empty; {_EXAMPLE}")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            reason = str(e).split(":")[0]
            raise _Rejected(400, f"the request body is not valid JSON ({reason}); {_EXAMPLE}") from None

    def ready_predictor() -> Predictor:
        p = state["predictor"]
        if p is None:
            raise _Rejected(503, "the model is still loading; retry shortly (GET /ready says when)")
        return p

    def endpoint(name: str, fn):
        async def handle(request: Request) -> Response:
            t0 = time.perf_counter()
            try:
                response = await fn(request)
            except _Rejected as r:
                response = _json({"error": r.message, **r.extra}, r.status)
            except Poc2ProdError as e:  # e.g. the prediction log cannot be written: nothing was answered
                response = _json({"error": str(e)}, 503)
            except Exception as e:  # a bug or a model failure: still one JSON sentence, never a bare 500
                response = _json(
                    {"error": f"the service failed on this request ({type(e).__name__}); see the server log"},
                    500,
                )
            metrics.requests.labels(endpoint=name, status=str(response.status_code)).inc()
            metrics.latency.labels(endpoint=name).observe(time.perf_counter() - t0)
            return response

        return handle

    async def predict(request: Request) -> Response:
        check_key(request)
        predictor = ready_predictor()
        doc = await body_json(request)
        rows = doc.get("rows", [doc]) if isinstance(doc, dict) else doc
        batch, errors = predictor.validate(rows)
        if errors:
            first = errors[0]
            where = f"row {first.row}, field {first.field!r}" if first.field else f"row {first.row}"
            raise _Rejected(422, f"{where}: {first.problem}", problems=[e.to_dict() for e in errors[:100]])
        request_id = f"{prefix}-{next(counter):x}"
        scores, answers = await state["batcher"].submit(batch, request_id)
        metrics.rows.inc(len(batch))
        if predictor.task == "binary":
            for s in scores:
                metrics.scores.observe(s)
        n_flags = sum(len(f) for f in batch.flags)
        if n_flags:
            metrics.flags.inc(n_flags)
        out = [dict(a, flags=f) if f else a for a, f in zip(answers, batch.flags, strict=True)]
        if request.query_params.get("explain", "").lower() in ("1", "true", "yes"):
            top = request.query_params.get("top", "3")
            reasons, method = predictor.explain(batch, top=int(top) if top.isdigit() else 3)
            for a, r in zip(out, reasons, strict=True):
                a["reasons"] = r
            return _json(
                {
                    "request_id": request_id,
                    "model": predictor.name,
                    "version": predictor.version,
                    "explained_by": method,
                    "predictions": out,
                }
            )
        return _json(
            {
                "request_id": request_id,
                "model": predictor.name,
                "version": predictor.version,
                "predictions": out,
            }
        )

    async def feedback(request: Request) -> Response:
        check_key(request)
        predictor = ready_predictor()
        doc = await body_json(request)
        items = doc.get("feedback", [doc]) if isinstance(doc, dict) else doc
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
            elif str(label) not in allowed:
                raise _Rejected(
                    422, f"feedback {i}: label {label!r} is not one of the classes {sorted(allowed)}"
                )
            records.append({"request_id": item["request_id"], "row": row, "label": label, "time": now})
        if state["feedback"] is not None:
            state["feedback"].append(records)
        return _json({"accepted": len(records)})

    async def health(request: Request) -> Response:
        return _json({"status": "ok"})

    async def ready(request: Request) -> Response:
        p = state["predictor"]
        if p is None:
            return _json({"status": "loading"}, 503)
        return _json({"status": "ready", "model": p.name, "version": p.version})

    async def metrics_endpoint(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        registry = metrics.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import CollectorRegistry, multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def openapi(request: Request) -> Response:
        return _json(ready_predictor().openapi())

    routes = [
        Route("/predict", endpoint("predict", predict), methods=["POST"]),
        Route("/feedback", endpoint("feedback", feedback), methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/openapi.json", endpoint("openapi", openapi), methods=["GET"]),
    ]
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        await startup()
        try:
            yield
        finally:
            await shutdown()

    async def unknown(request: Request, exc) -> Response:
        if exc.status_code == 405:
            return _json(
                {"error": f"{request.method} is not allowed on {request.url.path}; see /openapi.json"}, 405
            )
        return _json({"error": f"there is no {request.url.path}; see /openapi.json for the endpoints"}, 404)

    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: unknown, 405: unknown})

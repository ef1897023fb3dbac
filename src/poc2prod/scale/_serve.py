"""The prediction service on Ray Serve: the same ASGI app, in N replicas (or autoscaled).

Each replica is a Ray actor that builds the app exactly as a ``poc2prod serve`` worker does
(:func:`poc2prod.serve._run.app_from_env`, from the same settings), so the endpoints, the
validation, the micro-batching, the metrics and the prediction log are the service's own. Every
replica is its own process and appends to its own segment of the prediction log, which the monitor
reads with all the others; the replicas' Prometheus metrics meet in one folder, as uvicorn's
workers' do. Ray Serve's proxy takes the HTTP requests on ``host:port`` and spreads them over the
replicas. On several machines the project folder (registry, artifacts, prediction log) must be on
a file system every node mounts.
"""

from __future__ import annotations

import signal
import threading

from poc2prod.scale._cluster import connect


def serve_on_ray(
    project,
    *,
    host: str,
    port: int,
    replicas: int,
    autoscale: tuple[int, int] | None,
    env: dict[str, str],
    address: str | None,
    block: bool = True,
) -> dict:
    """Deploy the service with ``replicas`` replicas (or between ``autoscale``'s bounds, following
    the requests in flight) and, with ``block``, serve until SIGINT or SIGTERM, then shut down."""
    ray = connect(address)
    from ray import serve

    from poc2prod.serve._run import app_from_env

    serve.start(http_options={"host": host, "port": port}, detached=False)
    scaling = (
        {
            "autoscaling_config": {
                "min_replicas": autoscale[0],
                "max_replicas": autoscale[1],
                "target_ongoing_requests": 8,
            }
        }
        if autoscale
        else {"num_replicas": replicas}
    )
    service = serve.deployment(serve.ingress(app_from_env)(type("Service", (), {})))
    app = service.options(
        name=project.spec.name,
        ray_actor_options={"num_cpus": 1, "runtime_env": {"env_vars": env}},
        **scaling,
    ).bind()
    serve.run(app, name=project.spec.name, route_prefix="/", blocking=False)
    where = {
        "url": f"http://{host}:{port}",
        "address": ray.get_runtime_context().gcs_address,
        "replicas": replicas if not autoscale else f"{autoscale[0]}-{autoscale[1]}",
    }
    if block:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        try:
            stop.wait()
        finally:
            serve.shutdown()
    return where

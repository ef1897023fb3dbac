"""Running the service: uvicorn with N worker processes, each loading the model from the registry.

The settings travel to the workers in environment variables (the API key too, so it never shows
in a process list); every worker builds the same app with :func:`app_from_env`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

_SETTINGS = "POC2PROD_SERVE"
API_KEY_ENV = "POC2PROD_API_KEY"


def app_from_env():
    """The app of one worker process (uvicorn's factory)."""
    from threadpoolctl import threadpool_limits

    from poc2prod.project import Project
    from poc2prod.serve._app import ServiceConfig, create_app

    s = json.loads(os.environ[_SETTINGS])
    threadpool_limits(s["threads"])  # workers x threads must not exceed the cores
    project = Project.load(s["project"])
    config = ServiceConfig(
        api_key=os.environ.get(API_KEY_ENV) or None,
        max_body=s["max_body"],
        log_folder=str(project.log_folder) if s["log"] else None,
        threads=s["threads"],
    )
    shadow = (lambda: project.predictor(alias="challenger")) if s["shadow"] else None
    return create_app(lambda: project.predictor(s["version"]), config, shadow)


def service_env(
    project,
    *,
    port: int,
    workers: int,
    version: int | None,
    api_key: str | None,
    max_body: int,
    log: bool,
    shadow: bool,
) -> dict[str, str]:
    """The environment every serving process builds its app from (:func:`app_from_env`): the
    settings, the API key, the BLAS threads each may use, and the folder where the processes'
    Prometheus metrics meet. Checks first that the version (and the challenger) can be loaded, so
    a mistake is one sentence here rather than one in every process."""
    project.predictor(version)
    if shadow:
        project.predictor(alias="challenger")
    threads = max(1, (os.cpu_count() or 1) // workers)
    metrics_dir = Path(project.state_dir) / "metrics" / str(port)
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    settings = {
        "project": str(project.root.resolve()),
        "version": version,
        "max_body": max_body,
        "threads": threads,
        "log": log,
        "shadow": shadow,
    }
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), _SETTINGS: json.dumps(settings)}
    if api_key:
        env[API_KEY_ENV] = api_key
    env.update({v: str(threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    return env


def run_server(
    project,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    version: int | None = None,
    api_key: str | None = None,
    max_body: int = 1 << 20,
    log: bool = True,
    shadow: bool = False,
) -> None:
    """Serve ``project``'s champion (or ``version``) until interrupted; SIGTERM drains gracefully.
    With ``shadow``, the ``challenger`` version scores every row too, for the log only."""
    import uvicorn

    os.environ.update(
        service_env(
            project,
            port=port,
            workers=workers,
            version=version,
            api_key=api_key,
            max_body=max_body,
            log=log,
            shadow=shadow,
        )
    )
    uvicorn.run(
        "poc2prod.serve._run:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )

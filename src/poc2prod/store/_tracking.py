"""Tracking gate runs in MLflow: an SQLite database and an artifact folder inside the project.

``MLFLOW_TRACKING_URI`` or ``tracking.uri`` in the spec points it elsewhere (a team's tracking
server or PostgreSQL). Everything a gate records is logged in one go at its end, so a gate that
fails leaves no half-written run behind.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poc2prod._io import sha256_file
from poc2prod._secrets import redact
from poc2prod.errors import ProjectError


def tracking_uri(state_dir: Path, configured: str | None) -> str:
    """The tracking URI in force: the spec's, else ``MLFLOW_TRACKING_URI``, else the project's SQLite file."""
    return (
        configured
        or os.environ.get("MLFLOW_TRACKING_URI")
        or f"sqlite:///{(state_dir / 'mlflow.db').resolve()}"
    )


@dataclass
class RunRecord:
    """What one gate run records: tags, params, metrics, JSON documents, files and a model."""

    gate: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    model: Any = None


class Tracker:
    """Opens the tracking store in a background thread, so a gate's work hides MLflow's start-up.

    Importing MLflow and creating its SQLite tables takes a few seconds; a gate starts the
    tracker first and calls :meth:`log` at its end.
    """

    def __init__(self, uri: str, experiment: str, artifact_root: Path):
        self.uri = uri
        self._result: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._open, args=(experiment, artifact_root), daemon=True)
        self._thread.start()

    def _open(self, experiment: str, artifact_root: Path) -> None:
        try:
            client = _client(self.uri)
            exp = client.get_experiment_by_name(experiment)
            self._result["client"] = client
            self._result["experiment_id"] = (
                exp.experiment_id
                if exp
                else client.create_experiment(experiment, artifact_location=artifact_root.resolve().as_uri())
            )
        except Exception as e:
            self._result["error"] = e

    def log(self, record: RunRecord) -> tuple[str, str | None]:
        """Log ``record`` as one MLflow run; returns the run id and the model file's SHA-256."""
        self._thread.join()
        if "error" in self._result:
            error = self._result["error"]
            if isinstance(error, ProjectError):
                raise error
            local = self.uri.startswith(("sqlite", "file")) or "://" not in self.uri
            raise ProjectError(
                f"the tracking store at {redact(self.uri)} cannot be used ({_first_line(error)}); "
                + ("check the folder is writable or fix tracking.uri." if local else "fix tracking.uri.")
            )
        return _log(self._result["client"], self._result["experiment_id"], record)


def _log(client, exp_id: str, record: RunRecord) -> tuple[str, str | None]:
    import joblib
    from mlflow.entities import Metric, Param, RunTag

    run = client.create_run(exp_id, run_name=record.gate)
    run_id = run.info.run_id
    digest = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmpdir = Path(tmp)
            if record.model is not None:
                path = tmpdir / "model.joblib"
                joblib.dump(record.model, path, compress=3)
                digest = sha256_file(path)
                client.log_artifact(run_id, str(path), artifact_path="model")
            tags = {"poc2prod.gate": record.gate, **record.tags}
            if digest:
                tags["poc2prod.model_sha256"] = digest
            now = int(time.time() * 1000)
            client.log_batch(
                run_id,
                metrics=[
                    Metric(_metric_name(k), float(v), now, 0)
                    for k, v in record.metrics.items()
                    if math.isfinite(v)
                ],
                params=[Param(k, _param(v)) for k, v in record.params.items()],
                tags=[RunTag(k, str(v)) for k, v in tags.items()],
            )
            for name, doc in record.documents.items():
                path = tmpdir / name
                path.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
                client.log_artifact(run_id, str(path))
            for name, src in record.files.items():
                client.log_artifact(run_id, str(src), artifact_path=os.path.dirname(name) or None)
    except BaseException:
        # No half-written run: a run that could not be recorded whole is removed.
        client.set_terminated(run_id, status="FAILED")
        client.delete_run(run_id)
        raise
    client.set_terminated(run_id, status="FINISHED")
    return run_id, digest


def load_model(uri: str, run_id: str):
    """The model a run logged, deserialised only after its SHA-256 matches the one recorded with it."""
    import joblib

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    client = _client(uri)
    try:
        expected = client.get_run(run_id).data.tags.get("poc2prod.model_sha256")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(client.download_artifacts(run_id, "model/model.joblib", tmp))
            if not expected or sha256_file(path) != expected:
                raise ProjectError(
                    f"the model of run {run_id} does not match the SHA-256 recorded with it, so it was "
                    "not loaded; run the gate that made it again."
                )
            return joblib.load(path)
    except ProjectError:
        raise
    except Exception as e:
        raise ProjectError(
            f"the model of run {run_id} cannot be read from {uri} ({_first_line(e)}); "
            "run the gate that made it again."
        ) from None


_REACHED: set[str] = set()  # database URLs this process has connected to once


def reach(url: str, key: str) -> None:
    """Connect once to the database at ``url`` (named by the spec's ``key``), so that one that is
    down or unknown is one sentence at once: MLflow would retry for about 100 s and then print a
    traceback. A local SQLite file needs no check."""
    if url in _REACHED or not url.split(":", 1)[0].startswith(("postgresql", "mysql", "mssql")):
        return
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(
            url, connect_args={"connect_timeout": 10} if "postgres" in url else {}
        )
        with engine.connect():
            pass
        engine.dispose()
    except Exception as e:
        raise ProjectError(
            f"the database at {redact(url)} ({key}) cannot be reached ({_first_line(e)}); start it, or "
            f"fix {key} in poc2prod.yaml."
        ) from None
    _REACHED.add(url)


def _client(uri: str):
    reach(uri, "tracking.uri")
    # An explicit client per store: mlflow.set_tracking_uri() would also set MLFLOW_TRACKING_URI in
    # the environment, silently sending every later project in the process to this one's database.
    return _mlflow().MlflowClient(tracking_uri=uri)


def _param(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v, default=str)
    return text[:6000]


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def _mlflow():
    # A progress bar per downloaded artifact would fill a user's terminal with noise.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    # MLflow logs its database migrations at INFO on first use; a user needs none of that.
    # (MLflow configures its logger on import, so this must come after it.)
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return mlflow


def _metric_name(name: str) -> str:
    """``name`` as MLflow takes it (letters, digits, _ - . / and spaces): "recall@10" is "recall_at_10"."""
    return name.replace("@", "_at_")

"""The production half of ``poc2prod demo``: a real service, real traffic, late labels, then the
monitor, retrain and report gates on what the service logged.

The traffic is the shipped applicants, sent as a client would (JSON over HTTP, in requests of a
few rows), followed by a slice of older, larger loans than training saw, so that the monitor has a
drift to find; the outcomes of the ordinary applicants come back later through ``/feedback``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from poc2prod.errors import ProjectError

_BATCH = 20


def run_service_and_traffic(project, say) -> dict[str, Any]:
    """Start ``poc2prod serve``, send the traffic and the late labels, stop it; what was sent."""
    frame = pd.read_csv(project.root / project.spec.data.source)
    target = project.spec.target
    features = frame.drop(columns=[target])
    ordinary = features.sample(n=min(600, len(frame)), random_state=0)
    drifted = features.drop(index=ordinary.index).head(200).copy()
    drifted["age_years"] = drifted["age_years"] + 25  # older applicants...
    drifted["credit_amount"] = drifted["credit_amount"] * 3  # ...asking for far larger loans
    port = _free_port()
    server = subprocess.Popen(
        [Path(sys.executable).with_name("poc2prod"), "serve", "-C", str(project.root), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_ready(port, server)
        say(f"service up on http://127.0.0.1:{port} (poc2prod serve); sending traffic")
        sent = _send(port, ordinary) + _send(port, drifted)
        labels = [
            {"request_id": rid, "row": row, "label": _plain(frame.loc[index, target])}
            for rid, row, index in sent[: len(ordinary)]
        ]
        _post(port, "/feedback", {"feedback": labels})
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    answered = sum(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith('poc2prod_requests_total{endpoint="predict",status="200"}')
    )
    return {
        "port": port,
        "rows": len(sent),
        "requests": int(answered),
        "drifted_rows": len(drifted),
        "labels": len(labels),
    }


def newer_data(project) -> Path:
    """Labelled applicants for the retrain gate that the champion was never fitted on: the frozen
    holdout (the shipped data has no later rows; any resample of the training rows would flatter
    whichever model saw them)."""
    from poc2prod.gates._prepare import prepare

    frame = pd.read_csv(project.root / project.spec.data.source)
    path = project.root / "newer.csv"
    frame.loc[prepare(project, notes=[]).X_hold.index].to_csv(path, index=False)
    return path


def _send(port: int, rows: pd.DataFrame) -> list[tuple[str, int, Any]]:
    """POST ``rows`` to /predict a few at a time; (request id, row in request, frame index) each."""
    out = []
    for start in range(0, len(rows), _BATCH):
        part = rows.iloc[start : start + _BATCH]
        records = [{k: _plain(v) for k, v in r.items()} for r in part.to_dict("records")]
        doc = _post(port, "/predict", {"rows": records})
        out += [(doc["request_id"], i, index) for i, index in enumerate(part.index)]
    return out


def _post(port: int, path: str, doc: dict) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(doc).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read())


def _plain(v: Any) -> Any:
    """A JSON value for a pandas cell (missing becomes null)."""
    if isinstance(v, np.generic):
        v = v.item()
    return None if isinstance(v, float) and v != v else v


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(port: int, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ProjectError(f"the service did not start: {server.stderr.read().decode()[-500:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise ProjectError(f"the service did not become ready within {timeout:.0f} s")

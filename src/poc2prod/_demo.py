"""The production half of ``poc2prod demo``: a real service, real traffic, late labels, then the
monitor, retrain and report gates on what the service logged.

Traffic is sent as a client would (JSON over HTTP, a few rows per request) and always holds
something for the monitor to find: for credit risk, the shipped applicants then older ones asking
for far larger loans; for intents, held-out queries then off-topic news headlines; for sentiment,
held-out posts replayed over simulated days with a sudden rise of bearish ones; for
recommendations, the weeks after the model's cut replayed day by day. The true outcomes (or the
purchases) come back later through ``/feedback``.
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
    """Start ``poc2prod serve``, send the example's traffic and late labels, stop it; what was sent."""
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
        traffic = {"text-intent": _intents, "text-sentiment": _sentiment, "recommend": _recommend}.get(
            project.spec.task, _credit
        )
        sent = traffic(project, port)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    endpoint = "recommend" if project.spec.task == "recommend" else "predict"
    sent["requests"] = int(
        sum(
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith(f'poc2prod_requests_total{{endpoint="{endpoint}",status="200"}}')
        )
    )
    return sent


def backtest_cut(project) -> str:
    """Where a recommendation demo's model stops learning: the holdout's cut, so the service can
    replay the weeks after it, purchases the model never saw."""
    from poc2prod.gates._prepare_recommend import prepare_log

    return str(prepare_log(project).future.cut)


def _recommend(project, port: int) -> dict[str, Any]:
    """The weeks after the cut replayed day by day: each morning the users who will buy that day
    ask for their list, then their purchases come back through /feedback, at their invoice times."""
    from poc2prod.gates._prepare_recommend import prepare_log

    prep = prepare_log(project)
    cut = prep.future.cut
    after = prep.cleaned[prep.cleaned["time"] >= cut]
    after = after.assign(day=after["time"].dt.floor("D")).drop_duplicates(["user", "item", "day"])
    lists = purchases = 0
    for day, part in after.groupby("day"):
        users = [str(_plain(u)) for u in part["user"].unique()]
        for start in range(0, len(users), 1000):
            _post(port, "/recommend", {"users": users[start : start + 1000], "time": day.timestamp()})
        events = [
            {"user": str(_plain(u)), "item": str(i), "event": "purchase", "time": t.timestamp()}
            for u, i, t in zip(part["user"], part["item"], part["time"], strict=True)
        ]
        for start in range(0, len(events), 500):
            _post(port, "/feedback", {"feedback": events[start : start + 500]})
        lists += len(users)
        purchases += len(events)
    return {
        "rows": lists,
        "labels": purchases,
        "story": f"the {after['day'].nunique()} trading days after {cut:%Y-%m-%d} replayed",
    }


def _credit(project, port: int) -> dict[str, Any]:
    """Shipped applicants, then older ones asking for far larger loans; outcomes of the first."""
    frame = pd.read_csv(project.root / project.spec.data.source)
    target = project.spec.target
    features = frame.drop(columns=[target])
    ordinary = features.sample(n=min(600, len(frame)), random_state=0)
    drifted = features.drop(index=ordinary.index).head(200).copy()
    drifted["age_years"] = drifted["age_years"] + 25  # older applicants...
    drifted["credit_amount"] = drifted["credit_amount"] * 3  # ...asking for far larger loans
    sent = _send(port, ordinary) + _send(port, drifted)
    labels = _feedback(port, sent[: len(ordinary)], frame[target])
    return {
        "rows": len(sent),
        "labels": labels,
        "story": f"the last {len(drifted)} from older applicants asking for larger loans",
    }


def _intents(project, port: int) -> dict[str, Any]:
    """Held-out customer queries, then questions the model was never taught (financial news
    headlines from the sentiment example), which it should route to a person."""
    spec = project.spec
    holdout = _holdout(project).sample(n=600, random_state=0)
    text = spec.columns.text[0]
    foreign = pd.read_csv(_example_file("sentiment", "posts.csv")).sample(n=150, random_state=0)
    strangers = pd.DataFrame({text: foreign["text"].to_numpy()})
    sent = _send(port, holdout[[text]]) + _send(port, strangers)
    labels = _feedback(port, sent[: len(holdout)], holdout[spec.target])
    return {
        "rows": len(sent),
        "labels": labels,
        "story": f"the last {len(strangers)} off-topic news headlines",
    }


def _sentiment(project, port: int, days: int = 30, shift_day: int = 22, per_day: int = 200) -> dict[str, Any]:
    """Held-out posts replayed as a stream over ``days`` simulated days of ``per_day`` posts (each
    request carries its day as ``time``), with bearish posts three times as common from
    ``shift_day`` on; the labels arrive late, through /feedback."""
    spec = project.spec
    holdout = _holdout(project)
    text = spec.columns.text[0]
    rng = np.random.default_rng(0)
    bearish = (holdout[spec.target].astype(str) == "bearish").to_numpy()
    start = time.time() - days * 86400
    sent: list[tuple[str, int, Any]] = []
    for day in range(days):
        weights = np.where(bearish, 3.0 if day >= shift_day else 1.0, 1.0)
        picked = rng.choice(len(holdout), per_day, replace=False, p=weights / weights.sum())
        at = start + day * 86400 + 3600
        sent += _send(port, holdout.iloc[picked][[text]], at=at)
    labels = _feedback(port, sent, holdout[spec.target])
    return {
        "rows": len(sent),
        "labels": labels,
        "story": f"{days} simulated days of posts, bearish three times as common from day {shift_day + 1}",
    }


def _holdout(project) -> pd.DataFrame:
    """The labelled rows of the frozen holdout: no model was fitted on them."""
    from poc2prod.gates._prepare import prepare

    prep = prepare(project, notes=[])
    return prep.labelled.loc[prep.X_hold.index]


def _example_file(example: str, name: str) -> Path:
    from importlib import resources

    return Path(str(resources.files("poc2prod") / "examples" / example / name))


def _feedback(port: int, sent: list[tuple[str, int, Any]], truth: pd.Series) -> int:
    """Send the true labels of ``sent`` rows through /feedback; how many."""
    labels = [{"request_id": rid, "row": row, "label": _plain(truth.loc[index])} for rid, row, index in sent]
    for start in range(0, len(labels), 500):
        _post(port, "/feedback", {"feedback": labels[start : start + 500]})
    return len(labels)


def newer_data(project) -> Path:
    """Labelled applicants for the retrain gate that the champion was never fitted on: the frozen
    holdout (the shipped data has no later rows; any resample of the training rows would flatter
    whichever model saw them)."""
    from poc2prod.gates._prepare import prepare

    frame = pd.read_csv(project.root / project.spec.data.source)
    path = project.root / "newer.csv"
    frame.loc[prepare(project, notes=[]).X_hold.index].to_csv(path, index=False)
    return path


def _send(port: int, rows: pd.DataFrame, at: float | None = None) -> list[tuple[str, int, Any]]:
    """POST ``rows`` to /predict a few at a time (filed under time ``at``, default now); (request
    id, row in request, frame index) each."""
    out = []
    for start in range(0, len(rows), _BATCH):
        part = rows.iloc[start : start + _BATCH]
        records = [{k: _plain(v) for k, v in r.items()} for r in part.to_dict("records")]
        doc = _post(port, "/predict", {"rows": records, **({"time": at} if at is not None else {})})
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

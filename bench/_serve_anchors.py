"""The model servers that bench/serve_speed.py measures poc2prod's server against: MLflow 3.x
(`mlflow models serve`) and BentoML 1.4 with adaptive batching, each serving the same LightGBM text
model from its own virtualenv, built by `bash bench/setup_anchors.sh mlflow bentoml`.

The driver imports this module from poc2prod's venv, where neither tool is installed, so it uses
only the standard library: everything that needs a tool runs in a subprocess of that tool's venv.
Every server answers P(positive) per row, which is what `lgb.Booster(model_file=...).predict(X)`
returns, and its log goes to workdir/TOOL.log.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

TOOLS = ("mlflow", "bentoml")

HERE = Path(__file__).resolve().parent
JSON = "application/json"
ROUTES = {"mlflow": "/invocations", "bentoml": "/predict"}

# Saves the booster as an MLflow model directory. The signature is what `log_model` infers from an
# input example, as MLflow's docs advise: the server then checks and orders columns by name, as
# poc2prod's does with fields (without it MLflow answered about 40% more one-row requests here).
# Naming the requirement skips MLflow's inference of it, which loads the model in yet another process.
MLFLOW_SAVE = """\
import sys

import lightgbm as lgb
import mlflow.lightgbm
import pandas as pd
from mlflow.models import infer_signature

model_file, out, *features = sys.argv[1:]
booster = lgb.Booster(model_file=model_file)
example = pd.DataFrame([[0.0] * len(features)], columns=features)
mlflow.lightgbm.save_model(
    booster,
    out,
    signature=infer_signature(example, booster.predict(example)),
    pip_requirements=[f"lightgbm=={lgb.__version__}"],
)
"""

# A sync batchable API: each worker's dispatcher gathers concurrent requests into one array for a
# single predict call on its one thread (threads=1, num_threads=1). max_batch_size counts rows, so a
# request of 100 rows is a batch by itself. max_latency_ms is not a wait: the dispatcher learns its
# own batching window from recent timings, and max_latency_ms is the deadline past which it sheds
# queued requests with 503s. 1000 ms, the value in BentoML's adaptive-batching guide, shed none under
# 8 concurrent clients here, where 10 ms shed 1% of one-row requests and two thirds of 100-row ones.
BENTOML_SERVICE = """\
import bentoml
import lightgbm as lgb
import numpy as np


@bentoml.service(workers={workers}, threads=1, logging={{"access": {{"enabled": False}}}})
class LightGBMAnchor:
    def __init__(self) -> None:
        self.booster = lgb.Booster(model_file={model_file!r})

    @bentoml.api(batchable=True, batch_dim=0, max_batch_size=100, max_latency_ms=1000)
    def predict(self, data: np.ndarray) -> np.ndarray:
        return self.booster.predict(data, num_threads=1)
"""

# Server and log of each port started here, for wait_ready's failure message.
_started: dict[int, tuple[subprocess.Popen, Path]] = {}


def _venv_bin(tool: str) -> Path:
    bin_dir = HERE / f".venv-{tool}" / "bin"
    if not (bin_dir / "python").exists():
        raise RuntimeError(f"no {bin_dir.parent}: run `bash bench/setup_anchors.sh {tool}` first")
    return bin_dir


def start(
    tool: str, model_file: Path, features: list[str], port: int, workdir: Path, workers: int = 2
) -> subprocess.Popen:
    """Prepare what `tool` needs in workdir and start its HTTP server on 127.0.0.1:port with
    `workers` worker processes of one model thread each, in a process group of its own. Returns at
    once: wait with wait_ready, end it with stop."""
    bin_dir = _venv_bin(tool)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    model_file = Path(model_file).resolve()
    env = {
        **os.environ,
        # The tools' own CLIs start further programs (uvicorn, circus) by name from PATH.
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(bin_dir.parent),
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    if tool == "mlflow":
        model_dir = workdir / "mlflow-model"
        shutil.rmtree(model_dir, ignore_errors=True)
        env |= {
            "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            # Read by the uvicorn that `mlflow models serve` runs: no log line per request.
            "UVICORN_ACCESS_LOG": "false",
        }
        saved = subprocess.run(
            [bin_dir / "python", "-c", MLFLOW_SAVE, model_file, model_dir, *features],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
        )
        if saved.returncode:
            raise RuntimeError(f"saving the MLflow model failed:\n{saved.stderr[-3000:]}")
        cmd = [
            bin_dir / "mlflow", "models", "serve", "-m", model_dir, "--env-manager", "local",
            "-h", "127.0.0.1", "-p", str(port), "--workers", str(workers),
        ]  # fmt: skip
    elif tool == "bentoml":
        (workdir / "anchor_service.py").write_text(
            BENTOML_SERVICE.format(workers=workers, model_file=str(model_file))
        )
        env |= {"BENTOML_DO_NOT_TRACK": "True", "BENTOML_HOME": str(workdir / "bentoml-home")}
        cmd = [
            bin_dir / "bentoml", "serve", "anchor_service:LightGBMAnchor", "--working-dir", workdir,
            "--host", "127.0.0.1", "-p", str(port),
        ]  # fmt: skip
    else:
        raise ValueError(f"unknown tool {tool!r}: expected one of {TOOLS}")
    log = workdir / f"{tool}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(c) for c in cmd],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _started[port] = (proc, log)
    return proc


def request(tool: str, rows: list[list[float]], features: list[str]) -> tuple[str, bytes, str]:
    """(URL path, body, content type) of one prediction request for `rows`, in the input format that
    the tool's docs show: MLflow's pandas split orientation, BentoML's JSON object keyed by the API's
    parameter name holding the array."""
    data = [[float(v) for v in row] for row in rows]
    if tool == "mlflow":
        payload: dict = {"dataframe_split": {"columns": list(features), "data": data}}
    elif tool == "bentoml":
        payload = {"data": data}
    else:
        raise ValueError(f"unknown tool {tool!r}: expected one of {TOOLS}")
    return ROUTES[tool], json.dumps(payload, separators=(",", ":")).encode(), JSON


def parse(tool: str, body: bytes) -> list[float]:
    """The per-row probabilities in a response body of `tool`."""
    answer = json.loads(body)
    return [float(p) for p in (answer["predictions"] if tool == "mlflow" else answer)]


def wait_ready(tool: str, port: int, features: list[str], timeout: float = 120) -> None:
    """Poll until a real single-row prediction answers 200 with one probability; otherwise raise
    RuntimeError with the server's last log lines."""
    path, body, content_type = request(tool, [[0.0] * len(features)], features)
    proc, log = _started.get(port, (None, None))
    deadline = time.monotonic() + timeout
    problem = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            problem = f"server exited with {proc.returncode}"
            break
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}", data=body, headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                probs = parse(tool, resp.read())
            if len(probs) == 1 and 0.0 <= probs[0] <= 1.0:
                return
            problem = f"answer {probs} is not one probability"
        except urllib.error.HTTPError as e:
            problem = f"HTTP {e.code}: {e.read()[:300]!r}"
        except (OSError, ValueError, KeyError, TypeError) as e:
            problem = f"{type(e).__name__}: {e}"
        time.sleep(0.25)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log else "(no log)"
    raise RuntimeError(f"{tool} on port {port} not ready after {timeout:.0f}s ({problem}); log tail:\n{tail}")


def _start_time(pid: int) -> str | None:
    """Start time of a live process (None once it is gone or a zombie), telling a reused pid apart."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def _process_tree(pid: int) -> list[tuple[int, str]]:
    """(pid, start time) of every live descendant of pid."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(
                int(stat.parent.name)
            )
    tree, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        tree += [(kid, started) for kid in kids if (started := _start_time(kid))]
        todo += kids
    return tree


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """End a server begun by start, and every process under it, before returning. A signal to its
    process group is not enough for BentoML, whose process manager (circus) gives each worker a
    session of its own: SIGTERM lets each server stop its workers, and what is left after `timeout`
    is killed."""
    tree = _process_tree(proc.pid)

    def alive() -> list[int]:
        return [pid for pid, started in tree if _start_time(pid) == started]

    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while (proc.poll() is None or alive()) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    for pid in alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)


def version(tool: str) -> str:
    """'TOOL X.Y.Z', as installed in the tool's anchor venv."""
    if tool not in TOOLS:
        raise ValueError(f"unknown tool {tool!r}: expected one of {TOOLS}")
    out = subprocess.run(
        [_venv_bin(tool) / "python", "-c", f"import importlib.metadata as m; print(m.version({tool!r}))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return f"{tool} {out.stdout.strip()}"

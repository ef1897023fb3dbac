"""What a crash or a full disk can cost a running service: nothing it answered.

Each request's rows reach the prediction log (the operating system's cache) before its answer is
sent, so a killed process loses no answered prediction; SIGTERM drains the requests in flight; a
disk that fills up turns requests into 503s naming the problem (never an answer that was not
logged), and the service recovers by itself once space is freed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from poc2prod.store._predlog import read_log
from tests._server import Server, under_load
from tests.conftest import deploy_example, german_rows
from tests.reliability.test_bad_input import state_of

pytestmark = pytest.mark.slow

BODY = json.dumps({"rows": german_rows(2)}).encode()


def _logged(folder) -> set[str]:
    return {r["request_id"] for r in read_log(folder)}


def test_sigkill_under_load_loses_no_answered_prediction(deployed):
    before = _logged(deployed.log_folder)
    server = Server(deployed.root)
    answered = under_load(server, 2.0, lambda: server.signal(signal.SIGKILL), BODY)
    assert server.stop() == -signal.SIGKILL
    assert len(answered) > 50
    logged = _logged(deployed.log_folder) - before
    assert set(answered) <= logged  # every request that got a 200 was logged first

    again = Server(deployed.root)  # restarts and is ready on the same log folder, segments intact
    try:
        assert again.get("/ready")[0] == 200
        status, doc = again.request("POST", "/predict", BODY)
        assert status == 200 and doc["request_id"] in _logged(deployed.log_folder)
    finally:
        again.stop()


def test_sigterm_drains_gracefully(deployed):
    before = _logged(deployed.log_folder)
    server = Server(deployed.root)
    answered = under_load(server, 1.5, lambda: server.signal(signal.SIGTERM), BODY)
    # uvicorn finishes the requests in flight, shuts down, then re-raises SIGTERM as its exit status.
    assert server.stop() in (0, -signal.SIGTERM)
    logged = _logged(deployed.log_folder) - before
    assert answered and set(answered) <= logged


@pytest.fixture
def small_disk(deployed, tmp_path):
    """A copy of the deployed project whose prediction log is on a 1 MB file system of its own."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system for the log needs root")
    root = tmp_path / "credit"
    shutil.copytree(deployed.root, root, ignore=shutil.ignore_patterns("predictions"))
    folder = root / ".poc2prod" / "predictions"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], check=False)
    if mounted.returncode != 0:
        pytest.skip("this machine does not let root mount a tmpfs")
    yield root, folder
    subprocess.run(["umount", "-l", str(folder)], check=True)


def _fill(folder) -> None:
    """Write to ``folder`` until its file system has no byte left."""
    with open(folder / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass


def test_a_full_disk_answers_503_and_recovers_once_space_is_freed(small_disk):
    root, folder = small_disk
    server = Server(root)
    try:
        status, doc = server.request("POST", "/predict", BODY)
        assert status == 200
        answered = {doc["request_id"]}
        _fill(folder)
        # The segment's last page may still hold an answer or two (each logged, so answered);
        # from the first refusal on, every request is a 503.
        after = [server.request("POST", "/predict", BODY) for _ in range(20)]
        statuses = [status for status, _ in after]
        first = statuses.index(503)
        assert first <= 5 and set(statuses[first:]) == {503}, statuses
        assert "free disk space" in after[first][1]["error"], after[first]
        answered |= {doc["request_id"] for status, doc in after if status == 200}
        label = {"request_id": next(iter(answered)), "row": 0, "label": 1}
        status, doc = server.request("POST", "/feedback", json.dumps(label).encode())
        assert status == 503 and "free disk space" in doc["error"]
        assert server.get("/health")[0] == 200  # the process is alive: only what needs the disk waits

        (folder / "filler").unlink()
        for _ in range(5):
            status, doc = server.request("POST", "/predict", BODY)
            assert status == 200, doc
            answered.add(doc["request_id"])
    finally:
        assert server.stop() in (0, -signal.SIGTERM)
    # Every answered request is in the log, and a line torn by the full disk hides nothing else.
    assert answered <= _logged(folder)


@pytest.mark.parametrize("gate", ["prove", "optimize"])
def test_a_gate_interrupted_with_ctrl_c_records_nothing(gate, tmp_path):
    project = deploy_example(tmp_path / "credit")
    before = state_of(project.root)
    cli = Path(sys.executable).with_name("poc2prod")
    err = tmp_path / "stderr"
    with open(err, "w") as f:
        proc = subprocess.Popen(
            [cli, gate, "-C", str(project.root), "--budget", "120"],
            stdout=subprocess.DEVNULL,
            stderr=f,
            start_new_session=True,
            # A terminal's job gets Ctrl-C; one started in the background (as CI's may be) ignores
            # it, and would pass that on.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    mark = "✓ dummy" if gate == "prove" else "trial "  # a candidate or a trial done: well into it
    deadline = time.monotonic() + 60
    while mark not in err.read_text() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, err.read_text()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends, to every process of the job
    try:
        assert proc.wait(timeout=30) == 130, err.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    said = err.read_text().strip().splitlines()[-1]
    after = state_of(project.root)
    if gate == "optimize":  # the trials it finished stay in the study, for the next run to resume
        assert said == (
            "interrupted: no run was recorded; the trials it finished stay in the study, and the next "
            "optimize resumes it."
        )
        study = (".poc2prod/studies.db", ".poc2prod/studies/")  # its trials and their predictions
        changed = {k for k in after.keys() | before.keys() if after.get(k) != before.get(k)}
        assert changed and all(k.startswith(study) for k in changed), changed
        after = {k: v for k, v in after.items() if not k.startswith(study)}
        before = {k: v for k, v in before.items() if not k.startswith(study)}
    else:
        assert said == "interrupted: nothing from this run was recorded."
    assert after == before

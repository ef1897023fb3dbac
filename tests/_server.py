"""A real ``poc2prod serve`` for the tests that need one: a subprocess in a session of its own on a
free port of 127.0.0.1, waited on until it is ready with all its workers, and a load of clients
that remember which requests were answered."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``poc2prod serve -C root *args``, ready; its stderr kept in ``log`` (a temporary file if None)."""

    def __init__(self, root: Path, *args: str, log: Path | None = None):
        self.port = free_port()
        self._own_log = log is None  # removed on stop; a test that reads the log passes its own
        self.log = log or Path(tempfile.mkstemp(prefix="poc2prod-serve-", suffix=".log")[1])
        cli = Path(sys.executable).with_name("poc2prod")
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(
                [cli, "serve", "-C", str(root), "--port", str(self.port), *args],
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 0
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/ready")[0] == 200 and len(self.workers()) >= workers:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text(errors="replace"))
            time.sleep(0.2)
        self.stop()
        raise TimeoutError("the server did not become ready")

    def request(
        self, method: str, path: str, body: bytes | None = None, key: str | None = None
    ) -> tuple[int, dict]:
        """One request on a connection of its own: the status and the JSON answer."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"content-type": "application/json", **({"x-api-key": key} if key else {})}
        try:
            conn.request(method, path, body=body, headers=headers)
            res = conn.getresponse()
            return res.status, json.loads(res.read() or b"{}")
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, dict]:
        return self.request("GET", path)

    def workers(self) -> set[int]:
        """The live child processes of the server (its uvicorn workers)."""
        out = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and fields[0] not in ("Z", "X"):
                out.add(int(stat.parent.name))
        return out

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the server and every worker, as a terminal's kill of the session would."""
        os.killpg(self.proc.pid, sig)

    def stop(self) -> int:
        """SIGTERM (SIGKILL after 30 s); the exit status."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
        status = self.proc.wait(timeout=30)
        if self._own_log:
            self.log.unlink(missing_ok=True)
        return status


def under_load(server: Server, seconds: float, then, body: bytes, clients: int = 4) -> list[str]:
    """POST ``body`` to /predict from ``clients`` threads for ``seconds``, call ``then()``, keep
    loading for half a second more; the request ids that were answered 200."""
    stop, answered = threading.Event(), []

    def load() -> None:
        while not stop.is_set():
            try:
                status, doc = server.request("POST", "/predict", body)
            except (OSError, http.client.HTTPException):
                return  # the server is gone (perhaps between an answer's headers and its body)
            if status == 200:
                answered.append(doc["request_id"])

    threads = [threading.Thread(target=load) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    then()
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    return answered

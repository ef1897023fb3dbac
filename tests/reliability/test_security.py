"""Who and what the service lets in: the API key (compared in constant time, never written down),
the loopback interface by default, no model file deserialised unless its SHA-256 matches the
registry's, and no path from a request reaching the file system."""

from __future__ import annotations

import hmac
import json
import os
import sys
from pathlib import Path

import joblib
import pytest
from typer.testing import CliRunner

from poc2prod import Project
from poc2prod.cli import app
from poc2prod.errors import ProjectError
from tests._server import Server
from tests.conftest import deploy_example, german_rows

pytestmark = pytest.mark.slow

KEY = "k-9f8e7d6c5b4a-secret"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return deploy_example(tmp_path_factory.mktemp("security") / "credit")


class _Payload:
    """What an attacker would put in place of a model file: a pickle that runs code when loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_tampered_model_file_is_never_deserialised(project, tmp_path):
    marker = tmp_path / "the-payload-ran"
    models = list(project.root.rglob("model.joblib"))  # the artifacts of every run: prove's, deploy's
    assert len(models) >= 2
    kept = {path: path.read_bytes() for path in models}
    try:
        for path in models:
            joblib.dump(_Payload(marker), path)
        tampered = Project.load(project.root)
        with pytest.raises(ProjectError, match="does not match the SHA-256 recorded in the registry"):
            tampered.predictor()
        with pytest.raises(ProjectError, match="does not match the SHA-256 recorded with it"):
            tampered.deploy()
        data, out = str(project.root / "german_credit.csv"), str(tmp_path / "out.parquet")
        res = CliRunner().invoke(app, ["score", "-C", str(project.root), "-i", data, "-o", out])
        assert res.exit_code == 1 and "SHA-256" in res.stderr
        assert not marker.exists(), "a tampered model file was deserialised"
        joblib.load(models[0])  # the payload does run when something loads it
        assert marker.exists()
    finally:
        for path, data in kept.items():
            path.write_bytes(data)


def _listening(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp has them) listening on ``port``."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                out.add(address)
    return out


def test_the_service_listens_on_loopback_only_and_wants_the_key(project):
    server = Server(project.root, "--api-key", KEY)
    body = json.dumps({"rows": german_rows(2)}).encode()
    try:
        assert _listening(server.port) == {"0100007F"}  # 127.0.0.1, and no other interface
        assert server.request("POST", "/predict", body)[0] == 401
        status, doc = server.request("POST", "/predict", body, key="guess-" + KEY[:8])
        assert status == 401 and "guess" not in json.dumps(doc)
        assert server.request("GET", "/metrics")[0] == 401
        status, doc = server.request("POST", "/predict", body, key=KEY)
        assert status == 200
        assert server.get("/health")[0] == 200  # liveness needs no key
    finally:
        server.stop()
    # The key is in nothing the service wrote: its log, the prediction log, the tracking database.
    written = [server.log, *project.log_folder.rglob("*"), *project.state_dir.glob("*.db")]
    for path in written:
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
            assert b"guess-" not in path.read_bytes(), path


def test_the_key_is_compared_in_constant_time(project, monkeypatch):
    from starlette.testclient import TestClient

    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    with TestClient(project.app(api_key=KEY, log=False)) as client:
        assert (
            client.post("/predict", json={"rows": german_rows(1)}, headers={"x-api-key": "nope"}).status_code
            == 401
        )
        assert (
            client.post("/predict", json={"rows": german_rows(1)}, headers={"x-api-key": KEY}).status_code
            == 200
        )
    assert compared == [(b"nope", KEY.encode()), (KEY.encode(), KEY.encode())]


# Values a client might send hoping they name a file.
PATHS = [
    "../../../../etc/passwd",
    "/etc/shadow",
    "..\\..\\windows\\win.ini",
    "~root/.ssh/id_rsa",
    "%2e%2e%2fetc",
]


def test_no_path_from_a_request_reaches_the_file_system(project):
    from starlette.testclient import TestClient

    opened: list[str] = []
    listening = {"on": False}

    def audit(event: str, args: tuple) -> None:
        if listening["on"] and event in ("open", "os.listdir", "os.scandir", "os.remove", "os.rename"):
            opened.append(str(args[0]))

    sys.addaudithook(audit)  # cannot be removed: it records only while the requests run
    row = german_rows(1)[0]
    with TestClient(project.app(log=True)) as client:
        listening["on"] = True
        try:
            for value in PATHS:
                for field in ("purpose", "credit_amount"):
                    client.post("/predict?explain=true", json={"rows": [{**row, field: value}]})
                client.post("/feedback", json={"request_id": value, "row": 0, "label": 1})
                client.get(f"/{value}")
                client.get(f"/recommend/{value}")
                client.post(f"/predict/{value}", json={"rows": [row]})
                client.get("/openapi.json", headers={"x-forwarded-for": value, "host": value})
        finally:
            listening["on"] = False
    reached = [path for path in opened if any(v.split("/")[-1] in path for v in PATHS)]
    assert not reached, reached
    # What was opened at all lies in the project's own folders (the log's next segment, and so on)
    # or is Python's own (a module imported on its first use).
    allowed = [
        project.root.resolve(),
        *(Path(p).resolve() for p in sys.path if p),
        Path("/proc"),
        Path("/dev"),
    ]
    outside = [p for p in opened if not any(Path(p).resolve().is_relative_to(a) for a in allowed)]
    assert not outside, outside

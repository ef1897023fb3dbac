"""PostgreSQL as the tracking store and the home of the Optuna studies (issue 8, multi-node set-up).

A PostgreSQL server is started here, on 127.0.0.1 and a free port, as an unprivileged user; a
project keeps its MLflow runs and registry in one database of it and its Optuna study in another,
which two optimize workers share, as machines of a cluster would. What the gates say is checked
against what PostgreSQL itself holds.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from poc2prod import Project
from poc2prod.errors import ProjectError
from tests._server import free_port
from tests.conftest import GERMAN

# A bare postgresql:// URL, as a user writes it: SQLAlchemy reads it as psycopg 3, which the ray
# extra installs.
DRIVER = "postgresql"
SECRET = "pw-TOPSECRET-41"


def _server_binaries() -> Path:
    """The folder holding initdb and pg_ctl: Debian's newest /usr/lib/postgresql/N/bin, else PATH."""
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(re.sub(r"\D", "", p) or 0)
    )
    if debian:
        return Path(debian[-1]).parent
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).parent
    pytest.fail(
        "PostgreSQL's server binaries (initdb, pg_ctl) are not installed; install Debian's postgresql "
        "package, as .ci/run does.",
        pytrace=False,
    )


@dataclass
class Postgres:
    port: int

    def url(self, database: str) -> str:
        # The server trusts every local connection, so a password is accepted and ignored: it is
        # here to be kept out of every run, file and message.
        return f"{DRIVER}://postgres:{SECRET}@127.0.0.1:{self.port}/{database}"

    def query(self, database: str, sql: str, *args) -> list[tuple]:
        import psycopg

        conn = psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def create_database(self, name: str) -> None:
        import psycopg

        conn = psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL server with the databases ``mlflow``, ``optuna`` and ``loans``, stopped
    at the end."""
    bin_dir = _server_binaries()
    # PostgreSQL refuses to run as root; the server runs as nobody, in a folder nobody owns (pytest's
    # tmp_path sits under a folder only root may enter).
    as_root = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="poc2prod-pg-"))
    data, log = folder / "data", folder / "server.log"
    if as_root:
        user = pwd.getpwnam("nobody")
        os.chown(folder, user.pw_uid, user.pw_gid)

    def run(*cmd: str | Path, check: bool = True) -> subprocess.CompletedProcess:
        argv = [str(c) for c in cmd]
        if as_root:
            argv = (
                ["runuser", "-u", "nobody", "--", *argv]
                if shutil.which("runuser")
                else ["su", "nobody", "-s", "/bin/sh", "-c", shlex.join(argv)]
            )
        done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=120)
        if check and done.returncode:
            server_log = log.read_text(errors="replace") if log.is_file() else ""
            pytest.fail(
                f"{Path(cmd[0]).name} failed ({done.returncode}): {argv}\n{done.stdout}{done.stderr}"
                f"{server_log}",
                pytrace=False,
            )
        return done

    try:
        run(
            bin_dir / "initdb", "-D", data, "--auth=trust", "-U", "postgres", "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        for attempt in range(3):  # another process may take the free port before the server does
            server = Postgres(free_port())
            options = (
                f"-h 127.0.0.1 -p {server.port} -c unix_socket_directories={folder} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            done = run(
                bin_dir / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start",
                check=attempt == 2,
            )  # fmt: skip
            if done.returncode == 0:
                break
        for name in ("mlflow", "optuna", "loans"):
            server.create_database(name)
        yield server
    finally:
        if (data / "postmaster.pid").exists():  # a server runs, even one that failed to answer
            run(bin_dir / "pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60", "stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _project_on(folder: Path, tracking: dict[str, str], data: dict[str, str] | None = None) -> Project:
    """The credit example in ``folder`` with ``tracking`` (and ``data``) in its poc2prod.yaml."""
    Project.init(folder, example="credit-risk")
    path = folder / "poc2prod.yaml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec["tracking"] = tracking
    spec["data"] = data or spec["data"]
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return Project.load(folder)


@pytest.mark.slow
def test_runs_registry_and_a_shared_study_live_in_postgres(postgres, tmp_path):
    import sqlalchemy as sa
    from starlette.testclient import TestClient

    # The data in PostgreSQL too, read with a query, as a client's warehouse would be.
    engine = sa.create_engine(postgres.url("loans"))
    pd.read_csv(GERMAN).to_sql("applications", engine, index=False)
    engine.dispose()
    project = _project_on(
        tmp_path / "p",
        {"uri": postgres.url("mlflow"), "studies": postgres.url("optuna")},
        {"source": postgres.url("loans"), "query": "SELECT * FROM applications"},
    )
    assert project.tracking_uri == postgres.url("mlflow")
    assert project.studies_uri == postgres.url("optuna")

    proved = project.prove(budget=20)
    assert proved.run_id

    # Two processes tune one study in PostgreSQL: the point of a multi-node set-up.
    optimized = project.optimize(budget=25, workers=2)
    assert len(optimized.study["workers"]) == 2, optimized.study
    assert optimized.study["storage"] == postgres.url("optuna").replace(SECRET, "***")  # as reported

    deployed = project.deploy()
    assert deployed.version == 1 and deployed.source_run == optimized.run_id

    # The model served comes out of the PostgreSQL registry.
    row = pd.read_csv(project.root / "german_credit.csv").drop(columns=["class"]).head(1)
    row = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.iloc[0].items()}
    assert project.predictor().version == 1
    with TestClient(project.app(log=False)) as client:
        answer = client.post("/predict", json={"rows": [row]})
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["version"] == 1 and 0.0 <= doc["predictions"][0]["score"] <= 1.0

    # MLflow's tables, read in PostgreSQL itself.
    runs = dict(
        postgres.query(
            "mlflow",
            "select run_uuid, name from runs where status = 'FINISHED' and lifecycle_stage = 'active'",
        )
    )
    assert {proved.run_id, optimized.run_id, deployed.run_id} <= set(runs)
    assert sorted(runs.values()) == ["deploy", "optimize", "prove"]
    assert postgres.query("mlflow", "select name, version, run_id from model_versions") == [
        ("credit-risk", 1, deployed.run_id)
    ]
    assert postgres.query("mlflow", "select alias, version from registered_model_aliases") == [
        ("champion", 1)
    ]

    # Optuna's tables: the study, its trials, and trials from both workers.
    study_name = optimized.study["name"]
    assert postgres.query("optuna", "select study_name from studies") == [(study_name,)]
    finished = postgres.query(
        "optuna",
        "select count(*) from trials t join studies s using (study_id) "
        "where s.study_name = %s and t.state in ('COMPLETE', 'PRUNED')",
        study_name,
    )[0][0]
    assert finished == optimized.study["finished"] == optimized.trials >= 2
    workers = postgres.query(
        "optuna",
        "select distinct a.value_json from trial_user_attributes a join trials t using (trial_id) "
        "where a.key = 'worker' and t.state in ('COMPLETE', 'PRUNED') order by 1",
    )
    assert len(workers) == 2 and sorted(yaml.safe_load(w) for (w,) in workers) == optimized.study["workers"]

    # A second run resumes the study in PostgreSQL rather than starting afresh.
    again = project.optimize(budget=15)
    assert any("resumed the study" in note for note in again.notes), again.notes
    assert again.study["name"] == study_name and again.study["finished"] > finished
    assert again.study["finished"] == again.study["this_run"] + finished
    assert postgres.query(
        "optuna",
        "select count(*) from trials t join studies s using (study_id) "
        "where s.study_name = %s and t.state in ('COMPLETE', 'PRUNED')",
        study_name,
    ) == [(again.study["finished"],)]
    assert postgres.query("mlflow", "select count(*) from runs where name = 'optimize'") == [(2,)]

    # The password is in poc2prod.yaml, where the user put it, and nowhere else: not in a run's
    # params, tags or artifacts, a study's attributes, the report, the prediction log or a message.
    report = project.report()
    for folder in (project.root, report.parent):
        for path in folder.rglob("*"):
            if path.is_file() and path.name != "poc2prod.yaml":
                assert SECRET.encode() not in path.read_bytes(), path
    for database, table, column in [
        ("mlflow", "params", "value"),
        ("mlflow", "tags", "value"),
        ("mlflow", "model_versions", "source"),
        ("mlflow", "experiments", "artifact_location"),
        ("optuna", "study_user_attributes", "value_json"),
        ("optuna", "study_system_attributes", "value_json"),
        ("optuna", "trial_user_attributes", "value_json"),
    ]:
        sql = f"select count(*) from {table} where {column} like %s"
        leaked = postgres.query(database, sql, f"%{SECRET}%")
        assert leaked == [(0,)], (database, table)
    for result in (proved, optimized, again, deployed):
        assert SECRET not in json.dumps(result.to_dict(), default=str)


def _dead_port() -> int:
    port = free_port()
    with contextlib.closing(socket.socket()) as s:  # nothing listens there
        assert s.connect_ex(("127.0.0.1", port)) != 0
    return port


@pytest.mark.slow
def test_a_database_nobody_listens_on_is_one_clear_error_at_once(tmp_path):
    port = _dead_port()
    url = f"{DRIVER}://postgres:secret@127.0.0.1:{port}/mlflow"
    project = _project_on(tmp_path / "p", {"uri": url})
    started = time.monotonic()
    with pytest.raises(ProjectError) as caught:
        project.prove(budget=5)
    message = str(caught.value)
    assert (
        f"the database at {DRIVER}://postgres:***@127.0.0.1:{port}/mlflow (tracking.uri) cannot be reached"
        in message
    )
    assert "secret" not in message and "fix tracking.uri" in message and "\n" not in message
    with pytest.raises(ProjectError, match="tracking.uri"):
        project.models()  # the registry too: one sentence, no traceback
    studies = _project_on(tmp_path / "q", {"studies": f"{DRIVER}://postgres@127.0.0.1:{port}/optuna"})
    studies.prove(budget=5)
    with pytest.raises(ProjectError, match=r"\(tracking.studies\) cannot be reached"):
        studies.optimize(budget=10)
    assert time.monotonic() - started < 120  # not MLflow's ten retries of doubling sleeps

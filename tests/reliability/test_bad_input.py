"""Every gate against bad input: one sentence on stderr, a non-zero exit, and the project left as it
was (no run, registry entry, frozen file or log line added; nothing half-written).

Each case breaks one thing in a deployed credit project (the data the spec names, or the file a
command is given), runs the command a user would, and compares the whole project folder, databases
included, with what it held before."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from poc2prod.cli import app
from tests.conftest import GERMAN, deploy_example

pytestmark = pytest.mark.slow

runner = CliRunner()


def _write_csv(frame: pd.DataFrame) -> Callable[[Path], None]:
    return lambda path: frame.to_csv(path, index=False)


def _german() -> pd.DataFrame:
    return pd.read_csv(GERMAN)


def _latin1(path: Path) -> None:
    frame = _german()
    frame.loc[3, "purpose"] = "réparations"  # one accented value, written as cp1252 bytes
    path.write_bytes(frame.to_csv(index=False).encode("cp1252"))


def _one_class(path: Path) -> None:
    frame = _german()
    frame[frame["class"] == frame["class"].iloc[0]].to_csv(path, index=False)


def _type_change(path: Path) -> None:
    frame = _german()
    frame["credit_amount"] = [f"{v} EUR" for v in frame["credit_amount"]]  # every amount now text
    frame.to_csv(path, index=False)


# What a user can hand a gate instead of good data: a writer of the file at a path, or None for a
# file that is not there.
BAD: dict[str, Callable[[Path], None] | None] = {
    "an empty file": lambda path: path.write_bytes(b""),
    "a header only": lambda path: path.write_text(",".join(_german().columns) + "\n"),
    "semicolons where the spec says commas": lambda path: _german().to_csv(path, index=False, sep=";"),
    "text that is not UTF-8": _latin1,
    "a target with one class": _one_class,
    "a numeric column turned to text": _type_change,
    "a missing file": None,
}

# The sentence each case must end in (a fragment of it).
SAID = {
    "an empty file": "is empty; point",
    "a header only": "has a header but no rows",
    "semicolons where the spec says commas": "was read as a single column",
    "text that is not UTF-8": "is not utf-8 text (line 5 holds byte 0xe9); set data.encoding in "
    "poc2prod.yaml (this file reads as cp1252).",
    "a target with one class": "has a single class",
    "a numeric column turned to text": "credit_amount",
    "a missing file": "does not exist",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = deploy_example(tmp_path_factory.mktemp("bad") / "credit")
    spec = project.root / "poc2prod.yaml"
    spec.write_text(
        spec.read_text().replace("  source: german_credit.csv", "  source: german_credit.csv\n  sep: ','")
    )
    return project


def state_of(root: Path) -> dict[str, str]:
    """Every file under ``root`` by content; SQLite databases by their rows, not their pages."""
    state = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        if path.name.endswith(("-wal", "-shm", "-journal")):
            continue  # part of a database, compared through it
        if path.suffix == ".db":
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                state[name] = hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest()
        else:
            state[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


# Where a command-line file was given, the sentence names the option to fix.
NAMED = ("an empty file", "a header only", "a missing file")


def _refused(args: list[str], said: str, root: Path | None) -> None:
    before = state_of(root) if root else None
    res = runner.invoke(app, args, catch_exceptions=False)
    lines = res.stderr.strip().splitlines()
    assert res.exit_code != 0, res.output
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert said.lower() in lines[0].lower(), lines[0]
    assert lines[0].rstrip().endswith("."), lines[0]
    if root:
        assert state_of(root) == before, "the failed command changed the project"


def _bad_file(case: str, folder: Path, name: str = "newer.csv") -> Path:
    path = folder / name
    if BAD[case]:
        BAD[case](path)
    return path


@pytest.mark.parametrize("gate", ["prove", "optimize", "deploy"])
@pytest.mark.parametrize("case", list(BAD))
def test_the_gates_refuse_bad_project_data(project, gate, case):
    data = project.root / "german_credit.csv"
    kept = data.read_bytes()
    try:
        if BAD[case]:
            BAD[case](data)
        else:
            data.unlink()
        budget = ["--budget", "5"] if gate != "deploy" else []
        _refused([gate, "-C", str(project.root), *budget], SAID[case], project.root)
    finally:
        data.write_bytes(kept)


# A file given on the command line has its delimiter sniffed (the spec's sep is for its own source):
# semicolons there are read right.
GIVEN = [c for c in BAD if c != "semicolons where the spec says commas"]


@pytest.mark.parametrize("case", GIVEN)
def test_retrain_refuses_bad_newer_data(project, case, tmp_path):
    newer = _bad_file(case, tmp_path)
    args = ["retrain", "-C", str(project.root), "--data", str(newer)]
    _refused(args, SAID[case], project.root)
    if case in NAMED:
        _refused(args, "--data (the newer data)", project.root)


@pytest.mark.parametrize("case", [c for c in GIVEN if c != "a target with one class"])
def test_score_refuses_a_bad_input_file(project, case, tmp_path):
    source = _bad_file(case, tmp_path)
    args = ["score", "-C", str(project.root), "-i", str(source), "-o", str(tmp_path / "out.parquet")]
    _refused(args, SAID[case], project.root)
    if case in NAMED:
        _refused(args, "--input (the file to score)", project.root)
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize(
    "case", ["an empty file", "a header only", "a target with one class", "a missing file"]
)
def test_init_refuses_bad_data_and_creates_nothing(case, tmp_path):
    data = _bad_file(case, tmp_path, "loans.csv")
    _refused(["init", str(tmp_path / "p"), "--data", str(data), "--target", "class"], SAID[case], None)
    assert not (tmp_path / "p").exists()


def test_init_reads_a_cp1252_export_and_says_so(tmp_path):
    data = _bad_file("text that is not UTF-8", tmp_path, "loans.csv")
    res = runner.invoke(app, ["init", str(tmp_path / "p"), "--data", str(data), "--target", "class"])
    assert res.exit_code == 0, res.output
    assert "encoding: cp1252" in (tmp_path / "p" / "poc2prod.yaml").read_text()


# -- a project folder the user cannot write to ------------------------------------------------------


def _as_someone_else() -> list[str]:
    """The command prefix that drops root's right to write anywhere (nothing for other users)."""
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []


@pytest.fixture
def read_only(project):
    """A copy of the deployed project, readable but not writable by whoever runs the commands."""
    folder = Path(tempfile.mkdtemp(prefix="poc2prod-ro-"))
    copy = folder / "credit"
    shutil.copytree(project.root, copy)
    home = folder / "home"
    home.mkdir()
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    copy.chmod(0o555)
    (copy / ".poc2prod").chmod(0o555)
    if os.geteuid() == 0:
        os.chown(home, 65534, 65534)
    yield copy, home
    shutil.rmtree(folder)


@pytest.mark.parametrize(
    "command",
    [["prove", "--budget", "5"], ["optimize", "--budget", "5"], ["deploy"], ["monitor"], ["report"]],
    ids=lambda c: c[0],
)
def test_a_folder_without_write_permission_is_one_sentence(read_only, command):
    if shutil.which("setpriv") is None and os.geteuid() == 0:
        pytest.skip("setpriv is needed to drop root's permissions")
    copy, home = read_only
    before = state_of(copy)
    cli = Path(sys.executable).with_name("poc2prod")
    proc = subprocess.run(
        [*_as_someone_else(), str(cli), command[0], "-C", str(copy), *command[1:]],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home), "COLUMNS": "200"},
        timeout=300,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0, proc.stdout
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "writable" in lines[0] or "write" in lines[0], lines[0]
    assert state_of(copy) == before

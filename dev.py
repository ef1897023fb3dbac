"""Set up and run poc2prod from a fresh clone with nothing but Python 3.11+.

    python3 dev.py demo    # create .venv, install poc2prod, run the credit-risk demo end to end
    python3 dev.py test    # same set-up, then lint and the whole test suite (slow tests included)

The virtual environment is (re)installed only when pyproject.toml changed since the last install.
Extra arguments after `test` go to pytest (e.g. `python3 dev.py test -k spec`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".poc2prod-installed"


def run(*cmd: str | Path) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT)
    if code:
        sys.exit(code)


def ensure_env() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit(f"poc2prod needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(digest)


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("demo", "test"):
        sys.exit(__doc__)
    ensure_env()
    if argv[0] == "demo":
        run(BIN / "poc2prod", "demo", *argv[1:])
        return
    code = [p for p in ("src", "tests", "bench", "dev.py") if (ROOT / p).exists()]
    run(BIN / "ruff", "check", *code)
    run(BIN / "ruff", "format", "--check", *code)
    # The slowest tests listed at the end: what to look at when the suite's time creeps up.
    run(BIN / "python", "-m", "pytest", "-ra", "--durations=25", *argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])

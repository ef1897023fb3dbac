"""The public surface is exactly what we mean to offer, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import poc2prod


def test_all_is_the_public_api():
    assert sorted(poc2prod.__all__) == [
        "BudgetError",
        "CriterionResult",
        "DataError",
        "Poc2ProdError",
        "Project",
        "ProjectError",
        "ProveResult",
        "SchemaError",
        "Spec",
        "SpecError",
        "TargetError",
        "__version__",
    ]
    for name in poc2prod.__all__:
        assert getattr(poc2prod, name) is not None


def test_errors_share_one_base():
    for name in ("BudgetError", "DataError", "ProjectError", "SchemaError", "SpecError", "TargetError"):
        assert issubclass(getattr(poc2prod, name), poc2prod.Poc2ProdError)


def test_cli_import_does_not_load_heavy_libraries():
    code = (
        "import sys, poc2prod.cli; "
        "print(sorted(m for m in ('pandas', 'sklearn', 'mlflow', 'lightgbm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

"""poc2prod: take a client's ML use case from proof of concept to a monitored production service.

>>> import poc2prod
>>> project = poc2prod.Project.init("demo", example="credit-risk")   # doctest: +SKIP
>>> project.prove(budget=60).verdict                                  # doctest: +SKIP
'go'

Heavy modules load on first use, so importing the package (and ``poc2prod --help``) is instant.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import TYPE_CHECKING, Any

# LightGBM's and XGBoost's OpenMP threads spin-wait between rounds (GNU OpenMP: 300,000 spins).
# With two such processes on the same cores (two optimize runs, optimize beside a server) each
# spinning thread burns the time slice its team-mate needs: on 2 cores, 3 LightGBM fits of 24,000
# rows took 1.6 s alone and over 120 s two at once. 3,000 spins hold them at 13 s and cost nothing
# measurable alone (bench/booster_spin.py). The runtime reads this once, when it loads, so it is
# set here before any booster is imported; a user's own setting wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "3000")

# The error classes are light and users catch them by name, so they are imported at once.
from poc2prod.errors import (
    BudgetError,
    DataError,
    Poc2ProdError,
    ProjectError,
    SchemaError,
    SpecError,
    TargetError,
)

__version__ = "0.1.0"

__all__ = [
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

_WHERE = {
    "Project": "poc2prod.project",
    "Spec": "poc2prod.spec",
    "ProveResult": "poc2prod.gates",
    "CriterionResult": "poc2prod.gates",
}

if TYPE_CHECKING:
    from poc2prod.gates import CriterionResult, ProveResult
    from poc2prod.project import Project
    from poc2prod.spec import Spec


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'poc2prod' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

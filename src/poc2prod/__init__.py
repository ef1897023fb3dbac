"""poc2prod: take a client's ML use case from proof of concept to a monitored production service.

>>> import poc2prod
>>> project = poc2prod.Project.init("demo", example="credit-risk")   # doctest: +SKIP
>>> project.prove(budget=60).verdict                                  # doctest: +SKIP
'go'

Heavy modules load on first use, so importing the package (and ``poc2prod --help``) is instant.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

"""Every error a user can cause, as one tree.

Each message is one sentence that names the thing that is wrong and how to fix it; the CLI prints
it without a traceback and exits with status 1.

::

    Poc2ProdError
    ├── SpecError         poc2prod.yaml is unreadable, has an unknown key or a wrong value
    ├── DataError         the data source is missing, empty, unreadable, or lacks a column
    │   └── TargetError   the target cannot be learned (all missing, a single class, ...)
    ├── SchemaError       the data no longer matches the schema frozen in the project
    ├── BudgetError       the time budget is too small for the gate to produce a result
    └── ProjectError      the project folder is missing, not writable, or lacks a prior gate
"""

from __future__ import annotations

__all__ = [
    "BudgetError",
    "DataError",
    "Poc2ProdError",
    "ProjectError",
    "SchemaError",
    "SpecError",
    "TargetError",
]


class Poc2ProdError(Exception):
    """Base class of every error that poc2prod reports to a user."""


class SpecError(Poc2ProdError):
    """The project spec (poc2prod.yaml) cannot be read or is invalid."""


class DataError(Poc2ProdError):
    """The data source cannot be read or does not have what the spec asks for."""


class TargetError(DataError):
    """The target column cannot be learned from."""


class SchemaError(Poc2ProdError):
    """The data does not match the schema frozen in the project."""


class BudgetError(Poc2ProdError):
    """The time budget is too small for the gate to produce any result."""


class ProjectError(Poc2ProdError):
    """The project folder is unusable as it stands."""

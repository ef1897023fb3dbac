"""The gates a use case passes through; each writes one tracked run."""

from poc2prod.gates._prove import ProveResult, run_prove
from poc2prod.gates._verdict import CriterionResult

__all__ = ["CriterionResult", "ProveResult", "run_prove"]

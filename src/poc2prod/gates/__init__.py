"""The gates a use case passes through; each writes one tracked run."""

from poc2prod.gates._deploy import DeployResult, run_deploy
from poc2prod.gates._monitor import MonitorResult, run_monitor
from poc2prod.gates._optimize import OptimizeResult, run_optimize
from poc2prod.gates._prove import ProveResult, run_prove
from poc2prod.gates._retrain import RetrainResult, run_retrain
from poc2prod.gates._verdict import CriterionResult

__all__ = [
    "CriterionResult",
    "DeployResult",
    "MonitorResult",
    "OptimizeResult",
    "ProveResult",
    "RetrainResult",
    "run_deploy",
    "run_monitor",
    "run_optimize",
    "run_prove",
    "run_retrain",
]

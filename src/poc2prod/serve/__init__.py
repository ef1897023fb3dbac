"""Serving: the Predictor (validate, score, decide, explain), the HTTP service and batch scoring."""

from poc2prod.serve._app import ServiceConfig, create_app
from poc2prod.serve._predictor import Batch, Predictor, Problem
from poc2prod.serve._score import ScoreResult, score_file

__all__ = ["Batch", "Predictor", "Problem", "ScoreResult", "ServiceConfig", "create_app", "score_file"]
